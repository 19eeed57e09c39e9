package admin_test

import (
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/tokend/tokend/internal/admin"
	"github.com/tokend/tokend/internal/store"
	ts "github.com/tokend/tokend/internal/testserver"
	"github.com/tokend/tokend/internal/token"
)

// at fills the {name} wildcards of a path pattern with values, escaped
// as a path segment: at(admin.PathSession, "sid", "s1").
func at(pattern string, nameValues ...string) string {
	for i := 0; i+1 < len(nameValues); i += 2 {
		pattern = strings.ReplaceAll(pattern, "{"+nameValues[i]+"}", url.PathEscape(nameValues[i+1]))
	}
	return pattern
}

// startSession stores a browser session sid of u, created now and live
// for ttl (browser sign-in, which makes them, is not this package's).
func startSession(t *testing.T, s *ts.Server, sid string, u store.User, ttl time.Duration) store.Session {
	t.Helper()
	now := s.Clock.Now()
	sess := store.Session{ID: sid, UserID: u.ID, Username: u.Username, AuthTime: now.Add(-time.Second), Method: "pwd",
		UserAgent: "Mozilla/5.0 (" + sid + ")", Address: "192.0.2.7", CreatedAt: now, LastSeen: now, ExpiresAt: now.Add(ttl)}
	if err := s.Store.CreateSession(t.Context(), sess); err != nil {
		t.Fatal(err)
	}
	return sess
}

// sessionGrant stores a grant of the client for u with scope, made in the
// session sid ("" for none), with a fresh access and refresh token, as the
// authorization code exchange would.
func sessionGrant(t *testing.T, s *ts.Server, sid string, u store.User, clientID, secret, scope string) ts.Tokens {
	t.Helper()
	now := s.Clock.Now()
	tk := ts.Tokens{ClientID: clientID, Secret: secret}
	var err error
	if tk.Access, err = token.New(store.AccessToken); err != nil {
		t.Fatal(err)
	}
	if tk.Refresh, err = token.New(store.RefreshToken); err != nil {
		t.Fatal(err)
	}
	id := fmt.Sprintf("g-%s-%s-%s", sid, clientID, strings.ReplaceAll(scope, " ", "+"))
	g := store.Grant{ID: id, ClientID: clientID, Subject: u.ID, Username: u.Username, Scope: scope, SessionID: sid,
		CreatedAt: now, ExpiresAt: now.Add(24 * time.Hour)}
	err = s.Store.CreateGrant(t.Context(), g, []store.Token{
		{Hash: store.HashToken(tk.Access), Kind: store.AccessToken, GrantID: id, IssuedAt: now, ExpiresAt: now.Add(time.Hour)},
		{Hash: store.HashToken(tk.Refresh), Kind: store.RefreshToken, GrantID: id, IssuedAt: now, ExpiresAt: now.Add(24 * time.Hour)},
	})
	if err != nil {
		t.Fatal(err)
	}
	return tk
}

func stamp(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.UTC().Format(time.RFC3339Nano)
}

func shown(s store.Session, live bool) admin.Session {
	return admin.Session{ID: s.ID, CreatedAt: stamp(s.CreatedAt), LastSeen: stamp(s.LastSeen), AuthTime: stamp(s.AuthTime),
		Method: s.Method, UserAgent: s.UserAgent, Address: s.Address, ExpiresAt: stamp(s.ExpiresAt), EndedAt: stamp(s.EndedAt), Live: live}
}

func (w *world) sessions(t *testing.T, username string) []admin.Session {
	t.Helper()
	r := w.s.Do(http.MethodGet, at(admin.PathUserSessions, "username", username), "", ts.AdminBearer)
	if r.Status != http.StatusOK || r.Header.Get("Cache-Control") != "no-store" {
		t.Fatalf("GET sessions: %d %s (Cache-Control %q); want 200, no-store", r.Status, r.Body, r.Header.Get("Cache-Control"))
	}
	var out []admin.Session
	r.JSON(t, &out)
	return out
}

// TestEndSession: the admin lists a user's sessions, live, expired and
// ended, newest first; DELETE ends one, which revokes the grants made in
// it but the offline_access one, answers what it revoked, logs
// session_ended with the admin user as actor, and leaves every other
// grant live.
func TestEndSession(t *testing.T) {
	w := newWorld(t)
	portal, secret := w.s.Client("portal")
	old := startSession(t, w.s, "s-old", w.alice, time.Minute)
	w.s.Clock.Advance(2 * time.Minute) // s-old has expired
	other := startSession(t, w.s, "s-other", w.alice, 8*time.Hour)
	w.s.Clock.Advance(time.Second)
	sess := startSession(t, w.s, "s-1", w.alice, 8*time.Hour)
	startSession(t, w.s, "s-bob", w.bob, 8*time.Hour)
	online := sessionGrant(t, w.s, "s-1", w.alice, portal, secret, "openid profile")
	offline := sessionGrant(t, w.s, "s-1", w.alice, portal, secret, "openid offline_access")
	elsewhere := sessionGrant(t, w.s, "s-other", w.alice, portal, secret, "openid")
	bobs := sessionGrant(t, w.s, "s-bob", w.bob, portal, secret, "openid")

	if d := cmp.Diff(w.sessions(t, "alice"), []admin.Session{shown(sess, true), shown(other, true), shown(old, false)}); d != "" {
		t.Errorf("alice's sessions (-got +want):\n%s", d)
	}

	w.s.Clock.Advance(time.Minute)
	r := w.s.Do(http.MethodDelete, at(admin.PathSession, "sid", "s-1"), "", ts.Basic("root", ts.Password))
	if want := `{"grants":1,"tokens":2,"seq":1}` + "\n"; r.Status != http.StatusOK || r.Body != want {
		t.Fatalf("DELETE: %d %q; want 200 %q", r.Status, r.Body, want)
	}
	w.s.CheckRevoked(t, online)
	w.s.CheckLive(t, offline, elsewhere, bobs)
	for _, tk := range w.all() {
		w.s.CheckLive(t, tk)
	}
	want := []logged{{store.ReasonSessionEnded, "root", w.alice.ID, portal, 2}}
	if d := cmp.Diff(w.logged(t), want); d != "" {
		t.Errorf("revocation log (-got +want):\n%s", d)
	}
	sess.EndedAt = w.s.Clock.Now()
	if got := w.sessions(t, "alice"); len(got) != 3 || !cmp.Equal(got[0], shown(sess, false)) {
		t.Errorf("after DELETE, alice's sessions are %+v; want s-1 ended at %s and not live", got, stamp(sess.EndedAt))
	}

	// Again: the session is ended still, nothing is left to revoke.
	r = w.s.Do(http.MethodDelete, at(admin.PathSession, "sid", "s-1"), "", ts.AdminBearer)
	if r.Status != http.StatusOK || r.Body != `{"grants":0,"tokens":0,"seq":0}`+"\n" {
		t.Errorf("DELETE again: %d %q; want 200 with zero counts", r.Status, r.Body)
	}
	if n := len(w.s.Events()); n != 1 {
		t.Errorf("log has %d events after the repeat; want 1", n)
	}
}

// TestForgetConsent: the admin lists a user's consents by client; DELETE
// withdraws one, which revokes every grant of that client for the user
// (offline ones and those made outside a session too), answers what it
// revoked and logs consent_revoked with the admin token's actor.
func TestForgetConsent(t *testing.T) {
	w := newWorld(t)
	portal, secret := w.s.Client("portal")
	now := w.s.Clock.Now()
	consents := []store.Consent{
		{UserID: w.alice.ID, ClientID: portal, Scope: "openid profile", CreatedAt: now, UpdatedAt: now},
		{UserID: w.alice.ID, ClientID: w.c1, Scope: "read", CreatedAt: now, UpdatedAt: now},
		{UserID: w.bob.ID, ClientID: portal, Scope: "openid", CreatedAt: now, UpdatedAt: now},
	}
	for _, c := range consents {
		if err := w.s.Store.PutConsent(t.Context(), c); err != nil {
			t.Fatal(err)
		}
	}
	w.s.Clock.Advance(time.Minute)
	consents[0].Scope, consents[0].UpdatedAt = "openid profile email", w.s.Clock.Now()
	if err := w.s.Store.PutConsent(t.Context(), consents[0]); err != nil {
		t.Fatal(err)
	}
	startSession(t, w.s, "s-1", w.alice, 8*time.Hour)
	online := sessionGrant(t, w.s, "s-1", w.alice, portal, secret, "openid profile")
	offline := sessionGrant(t, w.s, "s-1", w.alice, portal, secret, "openid offline_access")
	bobs := sessionGrant(t, w.s, "", w.bob, portal, secret, "openid")

	want := []admin.Consent{
		{ClientID: portal, Scope: "openid profile email", CreatedAt: stamp(now), UpdatedAt: stamp(w.s.Clock.Now())},
		{ClientID: w.c1, Scope: "read", CreatedAt: stamp(now), UpdatedAt: stamp(now)},
	}
	slices.SortFunc(want, func(a, b admin.Consent) int { return strings.Compare(a.ClientID, b.ClientID) })
	r := w.s.Do(http.MethodGet, at(admin.PathUserConsents, "username", "alice"), "", ts.AdminBearer)
	var got []admin.Consent
	r.JSON(t, &got)
	if d := cmp.Diff(got, want); r.Status != http.StatusOK || d != "" {
		t.Errorf("GET consents: %d; (-got +want):\n%s", r.Status, d)
	}

	r = w.s.Do(http.MethodDelete, at(admin.PathUserConsent, "username", "alice", "client_id", portal), "", ts.AdminBearer)
	if want := `{"grants":2,"tokens":4,"seq":2}` + "\n"; r.Status != http.StatusOK || r.Body != want {
		t.Fatalf("DELETE: %d %q; want 200 %q", r.Status, r.Body, want)
	}
	w.s.CheckRevoked(t, online, offline)
	w.s.CheckLive(t, bobs)
	for _, tk := range w.all() {
		w.s.CheckLive(t, tk)
	}
	wantLog := []logged{
		{store.ReasonConsentRevoked, "admin", w.alice.ID, portal, 2},
		{store.ReasonConsentRevoked, "admin", w.alice.ID, portal, 2},
	}
	if d := cmp.Diff(w.logged(t), wantLog); d != "" {
		t.Errorf("revocation log (-got +want):\n%s", d)
	}
	r = w.s.Do(http.MethodGet, at(admin.PathUserConsents, "username", "alice"), "", ts.AdminBearer)
	got = nil
	r.JSON(t, &got)
	if len(got) != 1 || got[0].ClientID != w.c1 {
		t.Errorf("after DELETE, alice's consents are %+v; want only %s's", got, w.c1)
	}
	if _, err := w.s.Store.GetConsent(t.Context(), w.bob.ID, portal); err != nil {
		t.Errorf("bob's consent to portal: %v; want it kept", err)
	}
}

// TestSessionsAndConsentsNotFound: an unknown user, session or consent is
// 404 with an OAuth error body, and nothing is revoked.
func TestSessionsAndConsentsNotFound(t *testing.T) {
	w := newWorld(t)
	if err := w.s.Store.PutConsent(t.Context(), store.Consent{UserID: w.alice.ID, ClientID: w.c1, Scope: "read",
		CreatedAt: w.s.Clock.Now(), UpdatedAt: w.s.Clock.Now()}); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct{ method, path string }{
		{http.MethodGet, at(admin.PathUserSessions, "username", "nobody")},
		{http.MethodGet, at(admin.PathUserConsents, "username", "nobody")},
		{http.MethodDelete, at(admin.PathSession, "sid", "no-such-session")},
		{http.MethodDelete, at(admin.PathUserConsent, "username", "nobody", "client_id", w.c1)},
		{http.MethodDelete, at(admin.PathUserConsent, "username", "alice", "client_id", w.c2)},
		{http.MethodDelete, at(admin.PathUserConsent, "username", "bob", "client_id", w.c1)},
	} {
		r := w.s.Do(c.method, c.path, "", ts.AdminBearer)
		if r.Status != http.StatusNotFound || r.Map(t)["error"] == nil {
			t.Errorf("%s %s: %d %s; want 404 with an error body", c.method, c.path, r.Status, r.Body)
		}
	}
	for _, tk := range w.all() {
		w.s.CheckLive(t, tk)
	}
	if evs := w.s.Events(); len(evs) != 0 {
		t.Errorf("log holds %v; want nothing", evs)
	}
	// A user without sessions or consents has empty lists, not null.
	for _, p := range []string{admin.PathUserSessions, admin.PathUserConsents} {
		if r := w.s.Do(http.MethodGet, at(p, "username", "bob"), "", ts.AdminBearer); r.Status != http.StatusOK || r.Body != "[]\n" {
			t.Errorf("GET %s of bob: %d %q; want 200 []", p, r.Status, r.Body)
		}
	}
}
