package storetest

import (
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/tokend/tokend/internal/store"
)

func sampleClient(id string) store.Client {
	return store.Client{
		ID:           id,
		Name:         "Client " + id,
		SecretHash:   "sha256$" + id,
		AuthMethod:   "client_secret_basic",
		GrantTypes:   []string{"authorization_code", "refresh_token"},
		RedirectURIs: []string{"https://" + id + ".example/cb", "http://127.0.0.1:8080/cb"},
		TokenFormat:  "jwt",

		PostLogoutRedirectURIs:           []string{"https://" + id + ".example/bye", "com.example.app:/bye"},
		BackchannelLogoutURI:             "https://" + id + ".example/backchannel",
		BackchannelLogoutSessionRequired: true,
		DPoPBoundAccessTokens:            true,
		SSFStreams:                       true,

		CanIntrospect:     true,
		AccessTokenTTL:    90 * time.Second,
		AppAccessTokenTTL: 1500 * time.Millisecond,
		RefreshTokenTTL:   30 * 24 * time.Hour,
		Disabled:          true,
		CreatedAt:         epoch,
		UpdatedAt:         at(time.Minute),
	}
}

func sampleUser(id, username string) store.User {
	return store.User{
		ID: id, Username: username, PasswordHash: "$argon2id$v=19$m=65536,t=3,p=4$" + id,
		Admin: true, Disabled: false, CreatedAt: epoch, UpdatedAt: at(time.Minute),
		Email: username + "@example.com", EmailVerified: true,
		GivenName: "Given " + username, FamilyName: "Family " + username, Name: "Display " + username,
	}
}

// secretRotated and clientDeleted are the revocations of the client tests,
// at 2h: after the first access tokens expired, before the refresh tokens.
func secretRotated() store.Revocation {
	return store.Revocation{Time: at(2 * time.Hour), Reason: store.ReasonSecretRotated, Actor: "admin"}
}

func clientDeleted() store.Revocation {
	return store.Revocation{Time: at(2 * time.Hour), Reason: store.ReasonClientDeleted, Actor: "admin"}
}

// renameClient is the update of the client update tests.
func renameClient(c store.Client) (store.Client, error) {
	c.Name = "renamed"
	c.RedirectURIs = nil
	c.UpdatedAt = at(time.Hour)
	return c, nil
}

func testClients(t *testing.T, open opener) {
	t.Run("create get list", func(t *testing.T) { testClientCreateGetList(t, open) })
	t.Run("duplicate id", func(t *testing.T) { testClientDuplicateID(t, open) })
	t.Run("unknown", func(t *testing.T) { testClientUnknown(t, open) })
	t.Run("update without revoke", func(t *testing.T) { testClientUpdateWithoutRevoke(t, open) })
	t.Run("update with revoke", func(t *testing.T) { testClientUpdateWithRevoke(t, open) })
	t.Run("update fn fails", func(t *testing.T) { testClientUpdateFnFails(t, open) })
	t.Run("delete", func(t *testing.T) { testClientDelete(t, open) })
}

// testClientCreateGetList checks that every field of a client round-trips
// through GetClient and ListClients, whose order is not fixed.
func testClientCreateGetList(t *testing.T, open opener) {
	s := open(t)
	if got, err := s.ListClients(t.Context()); err != nil || len(got) != 0 {
		t.Errorf("ListClients of an empty store = %v, %v; want none", got, err)
	}
	public := store.Client{ID: "pub", AuthMethod: "none", TokenFormat: "opaque"}
	want := []store.Client{sampleClient("c2"), sampleClient("c1"), public}
	for _, c := range want {
		if err := s.CreateClient(t.Context(), c); err != nil {
			t.Fatalf("CreateClient(%s): %v", c.ID, err)
		}
	}
	for _, c := range want {
		got, err := s.GetClient(t.Context(), c.ID)
		if err != nil {
			t.Fatalf("GetClient(%s): %v", c.ID, err)
		}
		if diff := cmp.Diff(got, c, cmpOpts...); diff != "" {
			t.Errorf("GetClient(%s) (-got +want):\n%s", c.ID, diff)
		}
	}
	got, err := s.ListClients(t.Context())
	if err != nil {
		t.Fatalf("ListClients: %v", err)
	}
	byID := func(a, b store.Client) int { return strings.Compare(a.ID, b.ID) }
	slices.SortFunc(got, byID)
	slices.SortFunc(want, byID)
	if diff := cmp.Diff(got, want, cmpOpts...); diff != "" {
		t.Errorf("ListClients (-got +want):\n%s", diff)
	}
}

// testClientDuplicateID checks that CreateClient of a taken id fails and
// leaves the stored client.
func testClientDuplicateID(t *testing.T, open opener) {
	s := open(t)
	c := sampleClient("c1")
	if err := s.CreateClient(t.Context(), c); err != nil {
		t.Fatalf("CreateClient: %v", err)
	}
	other := sampleClient("c1")
	other.Name = "other"
	if err := s.CreateClient(t.Context(), other); !errors.Is(err, store.ErrAlreadyExists) {
		t.Errorf("second CreateClient = %v; want ErrAlreadyExists", err)
	}
	if got, err := s.GetClient(t.Context(), "c1"); err != nil || got.Name != c.Name {
		t.Errorf("GetClient = %q, %v; want %q", got.Name, err, c.Name)
	}
}

// testClientUnknown checks that reading, updating or deleting an unknown
// client is ErrNotFound and writes no event.
func testClientUnknown(t *testing.T, open opener) {
	s := open(t)
	if _, err := s.GetClient(t.Context(), "nope"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("GetClient = %v; want ErrNotFound", err)
	}
	called := false
	fn := func(c store.Client) (store.Client, error) { called = true; return c, nil }
	rotated := secretRotated()
	if _, err := s.UpdateClient(t.Context(), "nope", fn, &rotated); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("UpdateClient = %v; want ErrNotFound", err)
	}
	if called {
		t.Error("UpdateClient of an unknown client called fn")
	}
	if _, err := s.DeleteClient(t.Context(), "nope", clientDeleted()); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("DeleteClient = %v; want ErrNotFound", err)
	}
	if evs := events(t, s); len(evs) != 0 {
		t.Errorf("events = %+v; want none", evs)
	}
}

// clientGrants are the grants of the client revocation tests: a, b: live
// grants of c1; c: a live grant of c2; x: a grant of c1 expired before the
// revocation; r: a grant of c1 revoked earlier.
type clientGrants struct{ a, b, c, x, r family }

// setupClientGrants returns a new store holding clients c1 and c2 and the
// clientGrants, r revoked at 1m.
func setupClientGrants(t *testing.T, open opener) (store.Store, clientGrants) {
	s := open(t)
	for _, id := range []string{"c1", "c2"} {
		if err := s.CreateClient(t.Context(), sampleClient(id)); err != nil {
			t.Fatalf("CreateClient: %v", err)
		}
	}
	g := clientGrants{
		a: newFamily("a", "c1", "u1"), b: newFamily("b", "c1", "u2"), c: newFamily("c", "c2", "u1"),
		x: newFamily("x", "c1", "u1"), r: newFamily("r", "c1", "u1"),
	}
	g.x.grant.ExpiresAt, g.x.refresh.ExpiresAt = at(time.Hour), at(time.Hour)
	for _, f := range []family{g.a, g.b, g.c, g.x, g.r} {
		createFamily(t, s, f)
	}
	if _, err := s.RevokeGrant(t.Context(), "r", store.Revocation{Time: at(time.Minute), Reason: store.ReasonAdmin, Actor: "admin"}); err != nil {
		t.Fatalf("RevokeGrant: %v", err)
	}
	return s, g
}

// testClientUpdateWithoutRevoke checks that an update without a revocation
// changes the client and revokes nothing.
func testClientUpdateWithoutRevoke(t *testing.T, open opener) {
	s, g := setupClientGrants(t, open)
	res, err := s.UpdateClient(t.Context(), "c1", renameClient, nil)
	if err != nil {
		t.Fatalf("UpdateClient: %v", err)
	}
	wantResult(t, "UpdateClient", res, store.RevokeResult{})
	want := sampleClient("c1")
	want.Name, want.RedirectURIs, want.UpdatedAt = "renamed", nil, at(time.Hour)
	if got, err := s.GetClient(t.Context(), "c1"); err != nil || !cmp.Equal(got, want, cmpOpts...) {
		t.Errorf("GetClient after update = %+v, %v; want %+v", got, err, want)
	}
	wantNotRevoked(t, s, g.a.access.Hash, g.b.refresh.Hash)
	if evs := events(t, s); len(evs) != 1 {
		t.Errorf("got %d events; want only the setup's 1", len(evs))
	}
}

// testClientUpdateWithRevoke checks that a secret rotation revokes the live
// grants of the client, and no other grant.
func testClientUpdateWithRevoke(t *testing.T, open opener) {
	s, g := setupClientGrants(t, open)
	rotated := secretRotated()
	res, err := s.UpdateClient(t.Context(), "c1", renameClient, &rotated)
	if err != nil {
		t.Fatalf("UpdateClient: %v", err)
	}
	evs := events(t, s)
	wantResult(t, "UpdateClient", res, store.RevokeResult{Grants: 2, Tokens: 2, Seq: lastSeq(evs)})
	// The access tokens expired at 1h; the refresh tokens still count.
	wantEventSet(t, evs[1:], []store.Event{event(g.a, rotated, 1, g.a.refresh), event(g.b, rotated, 1, g.b.refresh)})
	wantRevoked(t, s, rotated.Time, g.a.access.Hash, g.a.refresh.Hash, g.b.access.Hash, g.b.refresh.Hash)
	wantNotRevoked(t, s, g.c.access.Hash, g.c.refresh.Hash, g.x.refresh.Hash)
	wantRevoked(t, s, at(time.Minute), g.r.refresh.Hash)
	if got, err := s.GetClient(t.Context(), "c1"); err != nil || got.Name != "renamed" {
		t.Errorf("GetClient after update = %q, %v; want renamed", got.Name, err)
	}
}

// testClientUpdateFnFails checks that an update whose fn fails changes
// nothing and revokes nothing.
func testClientUpdateFnFails(t *testing.T, open opener) {
	s, g := setupClientGrants(t, open)
	fail := func(c store.Client) (store.Client, error) { c.Name = "half"; return c, errBoom }
	rotated := secretRotated()
	if _, err := s.UpdateClient(t.Context(), "c1", fail, &rotated); !errors.Is(err, errBoom) {
		t.Errorf("UpdateClient = %v; want %v", err, errBoom)
	}
	if got, err := s.GetClient(t.Context(), "c1"); err != nil || got.Name != "Client c1" {
		t.Errorf("GetClient after failed update = %q, %v; want unchanged", got.Name, err)
	}
	wantNotRevoked(t, s, g.a.access.Hash, g.b.refresh.Hash)
	if evs := events(t, s); len(evs) != 1 {
		t.Errorf("got %d events; want only the setup's 1", len(evs))
	}
}

// testClientDelete checks that DeleteClient removes the client and revokes
// its live grants, and nothing of another client.
func testClientDelete(t *testing.T, open opener) {
	s, g := setupClientGrants(t, open)
	deleted := clientDeleted()
	res, err := s.DeleteClient(t.Context(), "c1", deleted)
	if err != nil {
		t.Fatalf("DeleteClient: %v", err)
	}
	evs := events(t, s)
	wantResult(t, "DeleteClient", res, store.RevokeResult{Grants: 2, Tokens: 2, Seq: lastSeq(evs)})
	wantEventSet(t, evs[1:], []store.Event{event(g.a, deleted, 1, g.a.refresh), event(g.b, deleted, 1, g.b.refresh)})
	if _, err := s.GetClient(t.Context(), "c1"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("GetClient after delete = %v; want ErrNotFound", err)
	}
	wantRevoked(t, s, deleted.Time, g.a.access.Hash, g.a.refresh.Hash, g.b.access.Hash, g.b.refresh.Hash)
	wantNotRevoked(t, s, g.c.access.Hash, g.c.refresh.Hash)
	if _, err := s.GetClient(t.Context(), "c2"); err != nil {
		t.Errorf("GetClient(c2) after deleting c1: %v", err)
	}
}

// passwordChanged and userDeleted are the revocations of the user tests,
// at 2h: after the first access tokens expired, before the refresh tokens.
func passwordChanged() store.Revocation {
	return store.Revocation{Time: at(2 * time.Hour), Reason: store.ReasonPasswordChange, Actor: "alice"}
}

func userDeleted() store.Revocation {
	return store.Revocation{Time: at(2 * time.Hour), Reason: store.ReasonUserDeleted, Actor: "admin"}
}

// setNewPassword is the update of the user update tests.
func setNewPassword(u store.User) (store.User, error) {
	u.PasswordHash, u.UpdatedAt = "$argon2id$new", at(time.Hour)
	return u, nil
}

func testUsers(t *testing.T, open opener) {
	t.Run("create get list", func(t *testing.T) { testUserCreateGetList(t, open) })
	t.Run("duplicates", func(t *testing.T) { testUserDuplicates(t, open) })
	t.Run("unknown", func(t *testing.T) { testUserUnknown(t, open) })
	t.Run("update without revoke", func(t *testing.T) { testUserUpdateWithoutRevoke(t, open) })
	t.Run("update with revoke", func(t *testing.T) { testUserUpdateWithRevoke(t, open) })
	t.Run("rename", func(t *testing.T) { testUserRename(t, open) })
	t.Run("update fn fails", func(t *testing.T) { testUserUpdateFnFails(t, open) })
	t.Run("delete", func(t *testing.T) { testUserDelete(t, open) })
}

// testUserCreateGetList checks that every field of a user round-trips
// through GetUser, GetUserByID and ListUsers, whose order is not fixed.
func testUserCreateGetList(t *testing.T, open opener) {
	s := open(t)
	if got, err := s.ListUsers(t.Context()); err != nil || len(got) != 0 {
		t.Errorf("ListUsers of an empty store = %v, %v; want none", got, err)
	}
	want := []store.User{sampleUser("u2", "bob"), sampleUser("u1", "alice"), {ID: "u3", Username: "carol", Disabled: true}}
	for _, u := range want {
		if err := s.CreateUser(t.Context(), u); err != nil {
			t.Fatalf("CreateUser(%s): %v", u.Username, err)
		}
	}
	for _, u := range want {
		got, err := s.GetUser(t.Context(), u.Username)
		if diff := cmp.Diff(got, u, cmpOpts...); err != nil || diff != "" {
			t.Errorf("GetUser(%s) = %v (-got +want):\n%s", u.Username, err, diff)
		}
		got, err = s.GetUserByID(t.Context(), u.ID)
		if diff := cmp.Diff(got, u, cmpOpts...); err != nil || diff != "" {
			t.Errorf("GetUserByID(%s) = %v (-got +want):\n%s", u.ID, err, diff)
		}
	}
	got, err := s.ListUsers(t.Context())
	if err != nil {
		t.Fatalf("ListUsers: %v", err)
	}
	byID := func(a, b store.User) int { return strings.Compare(a.ID, b.ID) }
	slices.SortFunc(got, byID)
	slices.SortFunc(want, byID)
	if diff := cmp.Diff(got, want, cmpOpts...); diff != "" {
		t.Errorf("ListUsers (-got +want):\n%s", diff)
	}
}

// testUserDuplicates checks that CreateUser of a taken id or a taken
// username fails and stores nothing.
func testUserDuplicates(t *testing.T, open opener) {
	s := open(t)
	if err := s.CreateUser(t.Context(), sampleUser("u1", "alice")); err != nil {
		t.Fatalf("CreateUser: %v", err)
	}
	for _, u := range []store.User{sampleUser("u1", "other"), sampleUser("u2", "alice")} {
		if err := s.CreateUser(t.Context(), u); !errors.Is(err, store.ErrAlreadyExists) {
			t.Errorf("CreateUser(%s, %s) = %v; want ErrAlreadyExists", u.ID, u.Username, err)
		}
	}
	if _, err := s.GetUser(t.Context(), "other"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("GetUser(other) = %v; want ErrNotFound", err)
	}
	if _, err := s.GetUserByID(t.Context(), "u2"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("GetUserByID(u2) = %v; want ErrNotFound", err)
	}
}

// testUserUnknown checks that reading, updating or deleting an unknown
// user is ErrNotFound and writes no event.
func testUserUnknown(t *testing.T, open opener) {
	s := open(t)
	if _, err := s.GetUser(t.Context(), "nobody"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("GetUser = %v; want ErrNotFound", err)
	}
	if _, err := s.GetUserByID(t.Context(), "nobody"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("GetUserByID = %v; want ErrNotFound", err)
	}
	fn := func(u store.User) (store.User, error) { return u, nil }
	pwChange := passwordChanged()
	if _, err := s.UpdateUser(t.Context(), "nobody", fn, &pwChange); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("UpdateUser = %v; want ErrNotFound", err)
	}
	if _, err := s.DeleteUser(t.Context(), "nobody", userDeleted()); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("DeleteUser = %v; want ErrNotFound", err)
	}
	if evs := events(t, s); len(evs) != 0 {
		t.Errorf("events = %+v; want none", evs)
	}
}

// userGrants are the grants of the user revocation tests: a, c: live
// grants of alice with two clients; b: a live grant of bob; x: a grant of
// alice expired before the revocation.
type userGrants struct{ a, b, c, x family }

// setupUserGrants returns a new store holding alice (u1), bob (u2) and the
// userGrants.
func setupUserGrants(t *testing.T, open opener) (store.Store, userGrants) {
	s := open(t)
	for _, u := range []store.User{sampleUser("u1", "alice"), sampleUser("u2", "bob")} {
		if err := s.CreateUser(t.Context(), u); err != nil {
			t.Fatalf("CreateUser: %v", err)
		}
	}
	g := userGrants{a: newFamily("a", "c1", "u1"), b: newFamily("b", "c1", "u2"), c: newFamily("c", "c2", "u1"), x: newFamily("x", "c1", "u1")}
	g.x.grant.ExpiresAt, g.x.refresh.ExpiresAt = at(time.Hour), at(time.Hour)
	for _, f := range []family{g.a, g.b, g.c, g.x} {
		createFamily(t, s, f)
	}
	return s, g
}

// testUserUpdateWithoutRevoke checks that an update without a revocation
// changes the user and revokes nothing.
func testUserUpdateWithoutRevoke(t *testing.T, open opener) {
	s, g := setupUserGrants(t, open)
	res, err := s.UpdateUser(t.Context(), "alice", setNewPassword, nil)
	if err != nil {
		t.Fatalf("UpdateUser: %v", err)
	}
	wantResult(t, "UpdateUser", res, store.RevokeResult{})
	want := sampleUser("u1", "alice")
	want.PasswordHash, want.UpdatedAt = "$argon2id$new", at(time.Hour)
	if got, err := s.GetUser(t.Context(), "alice"); err != nil || !cmp.Equal(got, want) {
		t.Errorf("GetUser after update = %+v, %v; want %+v", got, err, want)
	}
	wantNotRevoked(t, s, g.a.refresh.Hash, g.c.refresh.Hash)
	if evs := events(t, s); len(evs) != 0 {
		t.Errorf("got %d events; want none", len(evs))
	}
}

// testUserUpdateWithRevoke checks that a password change revokes the live
// grants of the user, whatever their client, and no other grant.
func testUserUpdateWithRevoke(t *testing.T, open opener) {
	s, g := setupUserGrants(t, open)
	pwChange := passwordChanged()
	res, err := s.UpdateUser(t.Context(), "alice", setNewPassword, &pwChange)
	if err != nil {
		t.Fatalf("UpdateUser: %v", err)
	}
	evs := events(t, s)
	wantResult(t, "UpdateUser", res, store.RevokeResult{Grants: 2, Tokens: 2, Seq: lastSeq(evs)})
	wantEventSet(t, evs, []store.Event{event(g.a, pwChange, 1, g.a.refresh), event(g.c, pwChange, 1, g.c.refresh)})
	wantRevoked(t, s, pwChange.Time, g.a.access.Hash, g.a.refresh.Hash, g.c.access.Hash, g.c.refresh.Hash)
	wantNotRevoked(t, s, g.b.access.Hash, g.b.refresh.Hash, g.x.refresh.Hash)
	if got, err := s.GetUser(t.Context(), "alice"); err != nil || got.PasswordHash != "$argon2id$new" {
		t.Errorf("GetUser after update = %q, %v; want the new hash", got.PasswordHash, err)
	}
}

// testUserRename checks that renaming a user to a taken username fails,
// and that a rename frees the old one.
func testUserRename(t *testing.T, open opener) {
	s, _ := setupUserGrants(t, open)
	rename := func(name string) func(store.User) (store.User, error) {
		return func(u store.User) (store.User, error) { u.Username = name; return u, nil }
	}
	if _, err := s.UpdateUser(t.Context(), "alice", rename("bob"), nil); !errors.Is(err, store.ErrAlreadyExists) {
		t.Errorf("renaming alice to bob = %v; want ErrAlreadyExists", err)
	}
	if _, err := s.UpdateUser(t.Context(), "alice", rename("alicia"), nil); err != nil {
		t.Fatalf("renaming alice to alicia: %v", err)
	}
	if got, err := s.GetUser(t.Context(), "alicia"); err != nil || got.ID != "u1" {
		t.Errorf("GetUser(alicia) = %+v, %v; want u1", got, err)
	}
	if _, err := s.GetUser(t.Context(), "alice"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("GetUser(alice) after rename = %v; want ErrNotFound", err)
	}
	if got, err := s.GetUser(t.Context(), "bob"); err != nil || got.ID != "u2" {
		t.Errorf("GetUser(bob) = %+v, %v; want u2 unchanged", got, err)
	}
}

// testUserUpdateFnFails checks that an update whose fn fails changes
// nothing and revokes nothing.
func testUserUpdateFnFails(t *testing.T, open opener) {
	s, g := setupUserGrants(t, open)
	fail := func(u store.User) (store.User, error) { u.PasswordHash = "half"; return u, errBoom }
	pwChange := passwordChanged()
	if _, err := s.UpdateUser(t.Context(), "alice", fail, &pwChange); !errors.Is(err, errBoom) {
		t.Errorf("UpdateUser = %v; want %v", err, errBoom)
	}
	if got, err := s.GetUser(t.Context(), "alice"); err != nil || got.PasswordHash != sampleUser("u1", "alice").PasswordHash {
		t.Errorf("GetUser after failed update = %q, %v; want unchanged", got.PasswordHash, err)
	}
	wantNotRevoked(t, s, g.a.refresh.Hash, g.c.refresh.Hash)
	if evs := events(t, s); len(evs) != 0 {
		t.Errorf("got %d events; want none", len(evs))
	}
}

// testUserDelete checks that DeleteUser removes the user, by username and
// by id, and revokes its live grants, and nothing of another user.
func testUserDelete(t *testing.T, open opener) {
	s, g := setupUserGrants(t, open)
	deleted := userDeleted()
	res, err := s.DeleteUser(t.Context(), "alice", deleted)
	if err != nil {
		t.Fatalf("DeleteUser: %v", err)
	}
	evs := events(t, s)
	wantResult(t, "DeleteUser", res, store.RevokeResult{Grants: 2, Tokens: 2, Seq: lastSeq(evs)})
	wantEventSet(t, evs, []store.Event{event(g.a, deleted, 1, g.a.refresh), event(g.c, deleted, 1, g.c.refresh)})
	for _, get := range []func() (store.User, error){
		func() (store.User, error) { return s.GetUser(t.Context(), "alice") },
		func() (store.User, error) { return s.GetUserByID(t.Context(), "u1") },
	} {
		if _, err := get(); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("looking up alice after delete = %v; want ErrNotFound", err)
		}
	}
	wantRevoked(t, s, deleted.Time, g.a.access.Hash, g.a.refresh.Hash, g.c.access.Hash, g.c.refresh.Hash)
	wantNotRevoked(t, s, g.b.access.Hash, g.b.refresh.Hash)
}
