package web_test

import (
	"net/http"
	"net/url"
	"testing"
	"time"

	"github.com/tokend/tokend/internal/oauth"
	"github.com/tokend/tokend/internal/store"
	"github.com/tokend/tokend/internal/testserver"
)

// signedInWithTokens signs ada in at a (scope openid) and at offline
// (scope openid offline_access) in one browser session, and returns the
// browser and both apps' tokens.
func signedInWithTokens(t *testing.T, s *testserver.Server) (b *browser, online, offline tokenResponse, a app) {
	t.Helper()
	s.User("ada", false)
	a = newApp(s, "Photo Album", false)
	o := newApp(s, "Sync", false)
	b = newBrowser(t, s)
	z := a.request("openid")
	online = z.tokens(t, s, b.authorize(z, "ada"))
	zo := o.request("openid offline_access")
	offline = zo.tokens(t, s, b.authorize(zo, "ada"))
	return b, online, offline, a
}

// TestLogout: RP-initiated sign-out with the app's ID Token as hint asks
// the person to confirm, naming the account and the app; confirmed, it
// ends the session, revokes the grants made in it but the offline ones
// (session_ended, by the user, in the log), clears the cookie and shows
// that the person is signed out. The browser then has no session.
func TestLogout(t *testing.T) {
	s := testserver.New(t)
	b, online, offline, a := signedInWithTokens(t, s)
	q := url.Values{"id_token_hint": {online.IDToken}, "client_id": {a.id}, "state": {"bye"}}
	p := b.get(oauth.PathEndSession + "?" + q.Encode())
	wantPage(t, p, http.StatusOK, "Sign out?", "ada", "Photo Album asked to sign you out")
	p = b.submit(p.form(t), "action=sign_out")
	wantPage(t, p, http.StatusOK, "You are signed out")
	if b.cookie("__Host-tokend-session") != "" {
		t.Error("the session cookie is still set")
	}
	if s.Active(online.Access) {
		t.Error("the session's grant outlived the sign-out")
	}
	if !s.Active(offline.Access) || !s.Active(offline.Refresh) {
		t.Error("the offline grant was revoked with the session")
	}
	var ended int
	for _, ev := range s.Events() {
		if ev.Reason == store.ReasonSessionEnded && ev.Actor == "ada" {
			ended++
		}
	}
	if ended != 1 {
		t.Errorf("%d session_ended events by ada; want 1", ended)
	}
	z := a.request("openid", "prompt", "none")
	z.wantError(t, s, b.get(z.path()), "login_required")
	out := b.get(oauth.PathEndSession)
	wantPage(t, out, http.StatusOK, "You are signed out")
	wantHTML(t, out, `<a href="/account">Your account</a>`)
}

// TestLogoutRedirectsToRegisteredURI: a post_logout_redirect_uri the
// client registered is where the browser goes once signed out, with the
// state; a browser without a session goes there at once.
func TestLogoutRedirectsToRegisteredURI(t *testing.T) {
	s := testserver.New(t)
	b, online, _, a := signedInWithTokens(t, s)
	const bye = "https://app.example/signed-out?from=tokend"
	if _, err := s.Store.UpdateClient(t.Context(), a.id, func(c store.Client) (store.Client, error) {
		c.PostLogoutRedirectURIs = []string{bye}
		return c, nil
	}, nil); err != nil {
		t.Fatal(err)
	}
	q := url.Values{"id_token_hint": {online.IDToken}, "post_logout_redirect_uri": {bye}, "state": {"s 1"}}
	p := b.get(oauth.PathEndSession + "?" + q.Encode())
	wantPage(t, p, http.StatusOK, "Sign out?")
	p = b.submit(p.form(t), "action=sign_out")
	if loc := p.header.Get("Location"); p.status != http.StatusSeeOther || loc != bye+"&state=s+1" {
		t.Errorf("signed out: %d to %q; want 303 to %s&state=s+1", p.status, loc, bye)
	}
	if s.Active(online.Access) {
		t.Error("the session's grant outlived the sign-out")
	}
	q.Set("client_id", a.id)
	q.Del("id_token_hint")
	if p := b.get(oauth.PathEndSession + "?" + q.Encode()); p.status != http.StatusSeeOther || p.header.Get("Location") != bye+"&state=s+1" {
		t.Errorf("signed out already: %d to %q; want 303 to the registered URI", p.status, p.header.Get("Location"))
	}
}

// TestLogoutRefusesUnregisteredRedirect: a post_logout_redirect_uri the
// client did not register for sign-out (another site, or its sign-in
// redirect URI) is refused on the error page, asked or posted: no
// redirect there, and the session stays.
func TestLogoutRefusesUnregisteredRedirect(t *testing.T) {
	s := testserver.New(t)
	b, online, _, a := signedInWithTokens(t, s)
	for _, target := range []string{"https://evil.example/", appRedirect} {
		q := url.Values{"id_token_hint": {online.IDToken}, "post_logout_redirect_uri": {target}, "state": {"x"}}
		wantPage(t, b.get(oauth.PathEndSession+"?"+q.Encode()), http.StatusBadRequest, "not registered")
		f := b.get(oauth.PathEndSession + "?client_id=" + a.id).form(t)
		f.values.Set("post_logout_redirect_uri", target)
		wantPage(t, b.submit(f, "action=sign_out"), http.StatusBadRequest, "not registered")
		q.Del("id_token_hint")
		wantPage(t, b.get(oauth.PathEndSession+"?"+q.Encode()), http.StatusBadRequest, "not registered")
	}
	if !s.Active(online.Access) {
		t.Error("a refused sign-out ended the session")
	}
}

// TestLogoutHint: an expired ID Token of the session's user is a good
// hint; one of another user, a forged one, or one for another client than
// client_id is refused and ends nothing.
func TestLogoutHint(t *testing.T) {
	s := testserver.New(t)
	b, online, _, _ := signedInWithTokens(t, s)
	s.User("bob", false)
	other := newApp(s, "Other", true)
	zb := other.request("openid")
	bobs := zb.tokens(t, s, newBrowser(t, s).authorize(zb, "bob"))
	forged := online.IDToken[:len(online.IDToken)-4] + "AAAA"
	for name, q := range map[string]url.Values{
		"another user's":   {"id_token_hint": {bobs.IDToken}},
		"forged":           {"id_token_hint": {forged}},
		"another client's": {"id_token_hint": {online.IDToken}, "client_id": {other.id}},
	} {
		if p := b.get(oauth.PathEndSession + "?" + q.Encode()); p.status != http.StatusBadRequest {
			t.Errorf("%s hint: %d; want 400\n%s", name, p.status, p.body)
		}
	}
	if !s.Active(online.Access) {
		t.Fatal("a refused hint ended the session")
	}
	s.Clock.Advance(2 * time.Hour) // the ID Token has expired
	p := b.get(oauth.PathEndSession + "?id_token_hint=" + url.QueryEscape(online.IDToken))
	wantPage(t, p, http.StatusOK, "Sign out?", "Photo Album asked to sign you out")
	wantPage(t, b.submit(p.form(t), "action=sign_out"), http.StatusOK, "You are signed out")
}

// TestSignInAgainKeepsTheSession: signing in again as the same user
// (prompt=login) moves the session's auth_time and ends nothing: the
// grants made in it stay live.
func TestSignInAgainKeepsTheSession(t *testing.T) {
	s := testserver.New(t)
	u := s.User("ada", false)
	a := newApp(s, "Photo Album", true)
	b := newBrowser(t, s)
	z := a.request("openid")
	first := z.tokens(t, s, b.authorize(z, "ada"))
	s.Clock.Advance(10 * time.Minute)
	z = a.request("openid", "prompt", "login")
	second := z.tokens(t, s, b.authorize(z, "ada"))
	if !s.Active(first.Access) || !s.Active(second.Access) {
		t.Errorf("first active %v, second %v; want both", s.Active(first.Access), s.Active(second.Access))
	}
	ss, err := s.Store.ListSessions(t.Context(), u.ID)
	if err != nil || len(ss) != 1 || !ss[0].EndedAt.IsZero() || !ss[0].AuthTime.Equal(s.Clock.Now()) {
		t.Errorf("sessions %+v, %v; want one, live, authenticated again now", ss, err)
	}
}

// TestSignInAsAnotherUserEndsTheOldSession: a browser holds one session;
// signing in as someone else ends the one it had, and the grants made in
// it.
func TestSignInAsAnotherUserEndsTheOldSession(t *testing.T) {
	s := testserver.New(t)
	u := s.User("ada", false)
	s.User("bob", false)
	a := newApp(s, "Photo Album", true)
	b := newBrowser(t, s)
	z := a.request("openid")
	first := z.tokens(t, s, b.authorize(z, "ada"))
	z = a.request("openid", "prompt", "login")
	second := z.tokens(t, s, b.authorize(z, "bob"))
	if s.Active(first.Access) || !s.Active(second.Access) {
		t.Errorf("ada's active %v, bob's %v; want only bob's", s.Active(first.Access), s.Active(second.Access))
	}
	ss, err := s.Store.ListSessions(t.Context(), u.ID)
	if err != nil || len(ss) != 1 || ss[0].EndedAt.IsZero() {
		t.Errorf("ada's sessions %+v, %v; want one, ended", ss, err)
	}
}
