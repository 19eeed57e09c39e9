package storetest

import (
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/tokend/tokend/internal/store"
)

// testProfileAndLogoutMetadata: an update changes, and clears, a client's
// logout metadata and a user's profile claims.
func testProfileAndLogoutMetadata(t *testing.T, open opener) {
	s := open(t)
	c := sampleClient("c1")
	if err := s.CreateClient(t.Context(), c); err != nil {
		t.Fatalf("CreateClient: %v", err)
	}
	for _, change := range []func(*store.Client){
		func(c *store.Client) {
			c.PostLogoutRedirectURIs = []string{"https://c1.example/other"}
			c.BackchannelLogoutURI = "https://c1.example/bc2"
			c.BackchannelLogoutSessionRequired = false
		},
		func(c *store.Client) {
			c.PostLogoutRedirectURIs, c.BackchannelLogoutURI = nil, ""
		},
	} {
		change(&c)
		if _, err := s.UpdateClient(t.Context(), c.ID, func(store.Client) (store.Client, error) { return c, nil }, nil); err != nil {
			t.Fatalf("UpdateClient: %v", err)
		}
		if got, err := s.GetClient(t.Context(), c.ID); err != nil || !cmp.Equal(got, c, cmpOpts...) {
			t.Errorf("GetClient after update = %+v, %v; want %+v", got, err, c)
		}
	}

	u := sampleUser("u1", "alice")
	if err := s.CreateUser(t.Context(), u); err != nil {
		t.Fatalf("CreateUser: %v", err)
	}
	for _, change := range []func(*store.User){
		func(u *store.User) {
			u.Email, u.EmailVerified, u.GivenName, u.FamilyName, u.Name = "a@example.org", false, "A", "L", "A L"
		},
		func(u *store.User) {
			*u = store.User{ID: u.ID, Username: u.Username, CreatedAt: u.CreatedAt, UpdatedAt: u.UpdatedAt}
		},
	} {
		change(&u)
		if _, err := s.UpdateUser(t.Context(), u.Username, func(store.User) (store.User, error) { return u, nil }, nil); err != nil {
			t.Fatalf("UpdateUser: %v", err)
		}
		if got, err := s.GetUserByID(t.Context(), u.ID); err != nil || !cmp.Equal(got, u) {
			t.Errorf("GetUserByID after update = %+v, %v; want %+v", got, err, u)
		}
	}
}

// testEventSessionIDs: an event carries the session of the grant it
// revoked, "" for a grant made outside one, whatever the cause: a
// sign-out, a password change.
func testEventSessionIDs(t *testing.T, open opener) {
	s := open(t)
	if err := s.CreateUser(t.Context(), sampleUser("u1", "alice")); err != nil {
		t.Fatalf("CreateUser: %v", err)
	}
	createSession(t, s, sampleSession("s1", 0))
	createSession(t, s, sampleSession("s2", 0))
	ended := inSession(newFamily("ended", "c1", "u1"), "s1", "openid")
	other := inSession(newFamily("other", "c2", "u1"), "s2", "openid")
	none := newFamily("none", "c1", "u1")
	for _, f := range []family{ended, other, none} {
		createFamily(t, s, f)
	}
	rev := sessionEnded(time.Minute)
	if _, err := s.EndSession(t.Context(), "s1", rev.Time, rev); err != nil {
		t.Fatalf("EndSession: %v", err)
	}
	pw := store.Revocation{Time: at(2 * time.Minute), Reason: store.ReasonPasswordChange, Actor: "alice"}
	if _, err := s.UpdateUser(t.Context(), "alice", func(u store.User) (store.User, error) { return u, nil }, &pw); err != nil {
		t.Fatalf("UpdateUser: %v", err)
	}
	got := map[string]string{}
	for _, e := range events(t, s) {
		got[e.Reason+" "+e.GrantID] = e.SessionID
	}
	want := map[string]string{
		store.ReasonSessionEnded + " ended":   "s1",
		store.ReasonPasswordChange + " other": "s2",
		store.ReasonPasswordChange + " none":  "",
	}
	if diff := cmp.Diff(got, want); diff != "" {
		t.Errorf("the events' SessionID by reason and grant (-got +want):\n%s", diff)
	}
}
