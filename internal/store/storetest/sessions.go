package storetest

import (
	"errors"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/tokend/tokend/internal/store"
)

// sampleSession is a session of user u1 (alice) named id, created at
// epoch+d and living 8h, with a secret of its own.
func sampleSession(id string, d time.Duration) store.Session {
	return store.Session{
		ID: id, SecretHash: store.HashToken("secret of " + id),
		UserID: "u1", Username: "alice", AuthTime: at(d), Method: "pwd",
		UserAgent: "agent/1.0", Address: "192.0.2.1",
		CreatedAt: at(d), LastSeen: at(d), ExpiresAt: at(d + 8*time.Hour),
	}
}

// inSession returns f made in session sid, with scope.
func inSession(f family, sid, scope string) family {
	f.grant.SessionID, f.grant.Scope = sid, scope
	return f
}

func createSession(t *testing.T, s store.Store, sess store.Session) {
	t.Helper()
	if err := s.CreateSession(t.Context(), sess); err != nil {
		t.Fatalf("CreateSession(%s): %v", sess.ID, err)
	}
}

func getSession(t *testing.T, s store.Store, id string) store.Session {
	t.Helper()
	got, err := s.GetSession(t.Context(), id)
	if err != nil {
		t.Fatalf("GetSession(%s): %v", id, err)
	}
	return got
}

func testSessions(t *testing.T, open opener) {
	t.Run("create get list", func(t *testing.T) { testSessionCreateGetList(t, open) })
	t.Run("touch", func(t *testing.T) { testSessionTouch(t, open) })
	t.Run("reauthenticate", func(t *testing.T) { testSessionReauthenticate(t, open) })
	t.Run("end", func(t *testing.T) { testSessionEnd(t, open) })
	t.Run("user changes end sessions", func(t *testing.T) { testSessionUserChanges(t, open) })
	t.Run("revoke matching session", func(t *testing.T) { testRevokeMatchingSession(t, open) })
}

// testSessionCreateGetList: a session comes back as stored, its secret's
// hash with it, alone and in the user's list.
func testSessionCreateGetList(t *testing.T, open opener) {
	s := open(t)
	s1, s2 := sampleSession("s1", 0), sampleSession("s2", time.Minute)
	other := sampleSession("s3", 2*time.Minute)
	other.UserID, other.Username = "u2", "bob"
	for _, sess := range []store.Session{s1, s2, other} {
		createSession(t, s, sess)
	}
	if diff := cmp.Diff(getSession(t, s, "s1"), s1); diff != "" {
		t.Errorf("GetSession (-got +want):\n%s", diff)
	}
	if err := s.CreateSession(t.Context(), s1); !errors.Is(err, store.ErrAlreadyExists) {
		t.Errorf("CreateSession of an existing ID = %v; want ErrAlreadyExists", err)
	}
	if _, err := s.GetSession(t.Context(), "nope"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("GetSession(nope) = %v; want ErrNotFound", err)
	}
	got, err := s.ListSessions(t.Context(), "u1")
	if err != nil {
		t.Fatalf("ListSessions: %v", err)
	}
	if diff := cmp.Diff(got, []store.Session{s2, s1}, cmpOpts...); diff != "" {
		t.Errorf("ListSessions, newest first (-got +want):\n%s", diff)
	}
	if got, err := s.ListSessions(t.Context(), "nobody"); err != nil || len(got) != 0 {
		t.Errorf("ListSessions(nobody) = %v, %v; want none", got, err)
	}
}

func testSessionTouch(t *testing.T, open opener) {
	s := open(t)
	createSession(t, s, sampleSession("s1", 0))
	if err := s.TouchSession(t.Context(), "s1", at(time.Hour)); err != nil {
		t.Fatalf("TouchSession: %v", err)
	}
	if err := s.TouchSession(t.Context(), "s1", at(time.Minute)); err != nil { // older: LastSeen stays
		t.Fatalf("TouchSession: %v", err)
	}
	if got := getSession(t, s, "s1").LastSeen; !got.Equal(at(time.Hour)) {
		t.Errorf("LastSeen = %v; want %v", got, at(time.Hour))
	}
	if err := s.TouchSession(t.Context(), "nope", at(time.Hour)); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("TouchSession(nope) = %v; want ErrNotFound", err)
	}
	if _, err := s.EndSession(t.Context(), "s1", at(2*time.Hour), sessionEnded(2*time.Hour)); err != nil {
		t.Fatalf("EndSession: %v", err)
	}
	if err := s.TouchSession(t.Context(), "s1", at(3*time.Hour)); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("TouchSession of an ended session = %v; want ErrNotFound", err)
	}
}

func testSessionReauthenticate(t *testing.T, open opener) {
	s := open(t)
	createSession(t, s, sampleSession("s1", 0))
	if err := s.ReauthenticateSession(t.Context(), "s1", at(time.Hour)); err != nil {
		t.Fatalf("ReauthenticateSession: %v", err)
	}
	got := getSession(t, s, "s1")
	if !got.AuthTime.Equal(at(time.Hour)) || !got.LastSeen.Equal(at(time.Hour)) {
		t.Errorf("AuthTime, LastSeen = %v, %v; want both %v", got.AuthTime, got.LastSeen, at(time.Hour))
	}
	if !got.EndedAt.IsZero() {
		t.Errorf("EndedAt = %v; a reauthentication ends nothing", got.EndedAt)
	}
	if err := s.ReauthenticateSession(t.Context(), "nope", at(time.Hour)); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("ReauthenticateSession(nope) = %v; want ErrNotFound", err)
	}
	if _, err := s.EndSession(t.Context(), "s1", at(2*time.Hour), sessionEnded(2*time.Hour)); err != nil {
		t.Fatalf("EndSession: %v", err)
	}
	if err := s.ReauthenticateSession(t.Context(), "s1", at(3*time.Hour)); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("ReauthenticateSession of an ended session = %v; want ErrNotFound", err)
	}
}

// sessionEnded is the revocation of a sign-out by alice at epoch+d.
func sessionEnded(d time.Duration) store.Revocation {
	return store.Revocation{Time: at(d), Reason: store.ReasonSessionEnded, Actor: "alice"}
}

// testSessionEnd: ending a session revokes its live grants but the
// offline ones, one event each, and no grant of another session or of
// none; ending it again keeps its EndedAt and revokes nothing.
func testSessionEnd(t *testing.T, open opener) {
	s := open(t)
	createSession(t, s, sampleSession("s1", 0))
	createSession(t, s, sampleSession("s2", 0))
	online := inSession(newFamily("online", "c1", "u1"), "s1", "openid profile")
	offline := inSession(newFamily("offline", "c1", "u1"), "s1", "openid offline_access")
	online2 := inSession(newFamily("online2", "c2", "u1"), "s1", "openid")
	elsewhere := inSession(newFamily("elsewhere", "c1", "u1"), "s2", "openid")
	none := newFamily("none", "c1", "u1")
	for _, f := range []family{online, offline, online2, elsewhere, none} {
		createFamily(t, s, f)
	}
	if got := lookup(t, s, online.access.Hash); got.SessionID != "s1" {
		t.Errorf("LookupToken SessionID = %q; want s1", got.SessionID)
	}
	if got := lookup(t, s, none.access.Hash); got.SessionID != "" {
		t.Errorf("LookupToken SessionID of a grant without session = %q; want none", got.SessionID)
	}
	rev := sessionEnded(time.Minute)
	res, err := s.EndSession(t.Context(), "s1", rev.Time, rev)
	if err != nil {
		t.Fatalf("EndSession: %v", err)
	}
	evs := events(t, s)
	wantResult(t, "EndSession", res, store.RevokeResult{Grants: 2, Tokens: 4, Seq: lastSeq(evs)})
	wantEventSet(t, evs, []store.Event{
		event(online, rev, 2, online.tokens()...),
		event(online2, rev, 2, online2.tokens()...),
	})
	wantRevoked(t, s, rev.Time, online.access.Hash, online.refresh.Hash, online2.refresh.Hash)
	wantNotRevoked(t, s, offline.access.Hash, offline.refresh.Hash, elsewhere.refresh.Hash, none.refresh.Hash)
	if got := getSession(t, s, "s1"); !got.EndedAt.Equal(rev.Time) || got.Live(rev.Time) {
		t.Errorf("EndedAt = %v, Live = %v; want %v, false", got.EndedAt, got.Live(rev.Time), rev.Time)
	}
	if !getSession(t, s, "s2").Live(rev.Time) {
		t.Error("the other session ended too")
	}

	again := sessionEnded(time.Hour)
	res, err = s.EndSession(t.Context(), "s1", again.Time, again)
	if err != nil {
		t.Fatalf("second EndSession: %v", err)
	}
	wantResult(t, "second EndSession", res, store.RevokeResult{})
	if got := getSession(t, s, "s1").EndedAt; !got.Equal(rev.Time) {
		t.Errorf("EndedAt after a second EndSession = %v; want %v", got, rev.Time)
	}
	if _, err := s.EndSession(t.Context(), "nope", again.Time, again); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("EndSession(nope) = %v; want ErrNotFound", err)
	}
	if n := len(events(t, s)); n != 2 {
		t.Errorf("%d events; want 2", n)
	}
}

// testSessionUserChanges: a password change (UpdateUser with a
// revocation) ends the user's sessions, an update without does not, and
// deleting the user ends them too and forgets the user's consents.
func testSessionUserChanges(t *testing.T, open opener) {
	s := open(t)
	if err := s.CreateUser(t.Context(), sampleUser("u1", "alice")); err != nil {
		t.Fatalf("CreateUser: %v", err)
	}
	createSession(t, s, sampleSession("s1", 0))
	rename := func(u store.User) (store.User, error) { u.PasswordHash = "new"; return u, nil }
	if _, err := s.UpdateUser(t.Context(), "alice", rename, nil); err != nil {
		t.Fatalf("UpdateUser: %v", err)
	}
	if got := getSession(t, s, "s1"); !got.EndedAt.IsZero() {
		t.Errorf("an update without revocation ended the session at %v", got.EndedAt)
	}
	rev := store.Revocation{Time: at(time.Minute), Reason: store.ReasonPasswordChange, Actor: "alice"}
	if _, err := s.UpdateUser(t.Context(), "alice", rename, &rev); err != nil {
		t.Fatalf("UpdateUser: %v", err)
	}
	if got := getSession(t, s, "s1").EndedAt; !got.Equal(rev.Time) {
		t.Errorf("EndedAt after a password change = %v; want %v", got, rev.Time)
	}

	createSession(t, s, sampleSession("s2", time.Hour))
	putConsent(t, s, sampleConsent("c1", "openid", 0))
	del := store.Revocation{Time: at(2 * time.Hour), Reason: store.ReasonUserDeleted, Actor: "admin"}
	if _, err := s.DeleteUser(t.Context(), "alice", del); err != nil {
		t.Fatalf("DeleteUser: %v", err)
	}
	if got := getSession(t, s, "s2").EndedAt; !got.Equal(del.Time) {
		t.Errorf("EndedAt after DeleteUser = %v; want %v", got, del.Time)
	}
	if got := getSession(t, s, "s1").EndedAt; !got.Equal(rev.Time) {
		t.Errorf("EndedAt of the session ended before = %v; want %v", got, rev.Time)
	}
	if got, err := s.ListConsents(t.Context(), "u1"); err != nil || len(got) != 0 {
		t.Errorf("ListConsents after DeleteUser = %v, %v; want none", got, err)
	}
}

// testRevokeMatchingSession: RevokeMatching by session, with and without
// the offline grants, and a session with a subject is refused.
func testRevokeMatchingSession(t *testing.T, open opener) {
	s := open(t)
	online := inSession(newFamily("online", "c1", "u1"), "s1", "openid")
	offline := inSession(newFamily("offline", "c1", "u1"), "s1", "offline_access openid")
	createFamily(t, s, online)
	createFamily(t, s, offline)
	rev := store.Revocation{Time: at(time.Minute), Reason: store.ReasonAdmin, Actor: "admin"}
	if _, err := s.RevokeMatching(t.Context(), store.Filter{SessionID: "s1", Subject: "u1"}, rev); err == nil {
		t.Error("RevokeMatching by session and subject succeeded; want an error")
	}
	res, err := s.RevokeMatching(t.Context(), store.Filter{SessionID: "s1", KeepOffline: true}, rev)
	if err != nil || res.Grants != 1 {
		t.Fatalf("RevokeMatching keeping offline = %+v, %v; want 1 grant", res, err)
	}
	wantNotRevoked(t, s, offline.refresh.Hash)
	res, err = s.RevokeMatching(t.Context(), store.Filter{SessionID: "s1"}, rev)
	if err != nil || res.Grants != 1 {
		t.Fatalf("RevokeMatching = %+v, %v; want 1 grant", res, err)
	}
	wantRevoked(t, s, rev.Time, online.refresh.Hash, offline.refresh.Hash)
}
