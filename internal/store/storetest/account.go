package storetest

import (
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/tokend/tokend/internal/store"
)

// testListUserGrants: a user's live grants, oldest first, with the issue
// time of their newest token (a refresh moves it); revoked and expired
// grants and other subjects' are left out.
func testListUserGrants(t *testing.T, open opener) {
	s := open(t)
	a := inSession(newFamily("g-a", "c1", "u1"), "s1", "openid profile")
	b := newFamily("g-b", "c2", "u1")
	b.grant.CreatedAt = at(time.Minute)
	revoked := newFamily("g-revoked", "c1", "u1")
	expired := expiring("g-expired", "c1", "u1", at(time.Hour))
	other := newFamily("g-other", "c1", "u2")
	for _, f := range []family{a, b, revoked, expired, other} {
		createFamily(t, s, f)
	}
	if _, err := s.RevokeGrant(t.Context(), "g-revoked", passwordChanged()); err != nil {
		t.Fatalf("RevokeGrant: %v", err)
	}
	acc, ref := b.next(1, at(3*time.Hour))
	if _, err := s.RotateRefresh(t.Context(), b.refresh.Hash, at(3*time.Hour), []store.Token{acc, ref}, passwordChanged()); err != nil {
		t.Fatalf("RotateRefresh: %v", err)
	}
	got, err := s.ListUserGrants(t.Context(), "u1", at(2*time.Hour))
	if err != nil {
		t.Fatalf("ListUserGrants: %v", err)
	}
	bGrant := b.grant
	bGrant.ExpiresAt = ref.ExpiresAt
	want := []store.GrantActivity{{Grant: a.grant, LastIssued: epoch}, {Grant: bGrant, LastIssued: at(3 * time.Hour)}}
	if diff := cmp.Diff(want, got, cmpOpts...); diff != "" {
		t.Errorf("ListUserGrants (-want +got):\n%s", diff)
	}
	if got, err := s.ListUserGrants(t.Context(), "nobody", epoch); err != nil || len(got) != 0 {
		t.Errorf("ListUserGrants(nobody) = %v, %v; want none", got, err)
	}
}

// testUserEvents: a subject's own events, newest first, at most limit.
func testUserEvents(t *testing.T, open opener) {
	s := open(t)
	for i, f := range []family{newFamily("g1", "c1", "u1"), newFamily("g2", "c1", "u2"), newFamily("g3", "c2", "u1"), newFamily("g4", "c1", "u1")} {
		createFamily(t, s, f)
		rev := store.Revocation{Time: at(time.Duration(i) * time.Minute), Reason: store.ReasonUserRequest, Actor: "alice"}
		if _, err := s.RevokeGrant(t.Context(), f.grant.ID, rev); err != nil {
			t.Fatalf("RevokeGrant: %v", err)
		}
	}
	got, err := s.UserEvents(t.Context(), "u1", 2)
	if err != nil {
		t.Fatalf("UserEvents: %v", err)
	}
	var ids []string
	for _, e := range got {
		ids = append(ids, e.GrantID)
		if e.Reason != store.ReasonUserRequest || e.Actor != "alice" || e.Subject != "u1" {
			t.Errorf("event %+v; want reason user_request by alice for u1", e)
		}
	}
	if want := []string{"g4", "g3"}; !cmp.Equal(ids, want) {
		t.Errorf("UserEvents(u1, 2) grants = %v; want %v", ids, want)
	}
	if got, err := s.UserEvents(t.Context(), "u1", 50); err != nil || len(got) != 3 {
		t.Errorf("UserEvents(u1, 50) = %d events, %v; want 3", len(got), err)
	}
}

// testKeepSession: a password change that keeps a session ends the
// user's other sessions and revokes every grant, the kept session's
// too, while the kept session goes on.
func testKeepSession(t *testing.T, open opener) {
	s := open(t)
	if err := s.CreateUser(t.Context(), sampleUser("u1", "alice")); err != nil {
		t.Fatalf("CreateUser: %v", err)
	}
	createSession(t, s, sampleSession("s1", 0))
	createSession(t, s, sampleSession("s2", 0))
	kept := inSession(newFamily("g-kept", "c1", "u1"), "s1", "openid")
	ended := inSession(newFamily("g-ended", "c1", "u1"), "s2", "openid")
	createFamily(t, s, kept)
	createFamily(t, s, ended)
	rev := passwordChanged()
	rev.KeepSession = "s1"
	res, err := s.UpdateUser(t.Context(), "alice", setNewPassword, &rev)
	if err != nil {
		t.Fatalf("UpdateUser: %v", err)
	}
	if res.Grants != 2 {
		t.Errorf("UpdateUser revoked %d grants; want 2", res.Grants)
	}
	if got := getSession(t, s, "s1"); !got.EndedAt.IsZero() {
		t.Errorf("the kept session ended at %v", got.EndedAt)
	}
	if got := getSession(t, s, "s2").EndedAt; !got.Equal(rev.Time) {
		t.Errorf("EndedAt of the other session = %v; want %v", got, rev.Time)
	}
	wantRevoked(t, s, rev.Time, kept.access.Hash, ended.access.Hash)
}

// testSearchEvents: the log's events that a filter selects, newest first,
// at most limit; each field of the filter narrows it.
func testSearchEvents(t *testing.T, open opener) {
	s := open(t)
	reasons := []string{store.ReasonAdmin, store.ReasonUserRequest, store.ReasonAdmin, store.ReasonAdmin}
	for i, f := range []family{newFamily("g1", "c1", "u1"), newFamily("g2", "c1", "u2"), newFamily("g3", "c2", "u1"), newFamily("g4", "c1", "u1")} {
		createFamily(t, s, f)
		rev := store.Revocation{Time: at(time.Duration(i) * time.Minute), Reason: reasons[i], Actor: "root"}
		if _, err := s.RevokeGrant(t.Context(), f.grant.ID, rev); err != nil {
			t.Fatalf("RevokeGrant: %v", err)
		}
	}
	search := func(f store.EventFilter, limit int, want ...string) {
		t.Helper()
		got, err := s.SearchEvents(t.Context(), f, limit)
		var ids []string
		for _, e := range got {
			ids = append(ids, e.GrantID)
		}
		if err != nil || !cmp.Equal(ids, want, cmpopts.EquateEmpty()) {
			t.Errorf("SearchEvents(%+v, %d) = %v, %v; want %v", f, limit, ids, err, want)
		}
	}
	search(store.EventFilter{}, 10, "g4", "g3", "g2", "g1")
	search(store.EventFilter{}, 2, "g4", "g3")
	search(store.EventFilter{Reason: store.ReasonAdmin}, 10, "g4", "g3", "g1")
	search(store.EventFilter{ClientID: "c1"}, 10, "g4", "g2", "g1")
	search(store.EventFilter{Subject: "u1", ClientID: "c1"}, 10, "g4", "g1")
	search(store.EventFilter{Reason: store.ReasonUserRequest, Subject: "u1"}, 10)
	search(store.EventFilter{Since: at(2 * time.Minute)}, 10, "g4", "g3")
	search(store.EventFilter{Since: at(2 * time.Minute), ClientID: "c1"}, 10, "g4")
}
