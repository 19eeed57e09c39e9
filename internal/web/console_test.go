package web_test

import (
	"html"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"

	"github.com/tokend/tokend/internal/store"
	"github.com/tokend/tokend/internal/testserver"
	"github.com/tokend/tokend/internal/web"
)

// consoleSignIn opens the console without a session, is sent to sign in,
// signs in as user and comes back to the console: the page it shows.
func (b *browser) consoleSignIn(user string) page {
	b.t.Helper()
	p := b.get(web.PathConsole)
	loc := p.location(b.t)
	if p.status != http.StatusSeeOther || loc == nil || loc.Path != "/console/sign-in" {
		b.t.Fatalf("console without a session: status %d, Location %v; want 303 to sign in", p.status, loc)
	}
	p = b.get(loc.String())
	wantPage(b.t, p, http.StatusOK, "Sign in", "the admin console")
	f := p.form(b.t)
	f.values.Set("action", "sign_in")
	f.values.Set("username", user)
	f.values.Set("password", testserver.Password)
	p = b.post(f.action, f.values)
	if p.status != http.StatusSeeOther || p.header.Get("Location") != web.PathConsole {
		b.t.Fatalf("sign-in: status %d, Location %q; want 303 to %s\n%s", p.status, p.header.Get("Location"), web.PathConsole, p.body)
	}
	return b.get(web.PathConsole)
}

// csend submits a console form as a browser does: a GET form's fields in
// the query, a POST form's in the body, with fields set.
func (b *browser) csend(f form, fields ...string) page {
	b.t.Helper()
	v := url.Values{}
	for k, vs := range f.values {
		v[k] = append([]string(nil), vs...)
	}
	for i := 0; i+1 < len(fields); i += 2 {
		v.Set(fields[i], fields[i+1])
	}
	if !strings.HasPrefix(f.action, web.PathConsole) {
		b.t.Fatalf("the form goes to %q", f.action)
	}
	if _, ok := v["csrf_token"]; !ok {
		return b.get(f.action + "?" + v.Encode())
	}
	return b.post(f.action, v)
}

// cconfirm presses the button of the form with fields on p, which opens
// a confirmation page saying texts, and confirms it with confirmFields:
// the answer to the confirmation's post.
func (b *browser) cconfirm(p page, texts []string, fields []string, confirmFields ...string) page {
	b.t.Helper()
	c := b.csend(p.formWith(b.t, fields...))
	wantPage(b.t, c, http.StatusOK, texts...)
	return b.csend(c.form(b.t), confirmFields...)
}

// cback fails the test unless p sends the browser to path with the flash
// code, and returns the page it shows.
func (b *browser) cback(p page, path, code string) page {
	b.t.Helper()
	want := path + "?m=" + code
	if p.status != http.StatusSeeOther || p.header.Get("Location") != want {
		b.t.Fatalf("status %d, Location %q; want 303 to %s\n%s", p.status, p.header.Get("Location"), want, p.body)
	}
	return b.get(want)
}

// wantActor fails the test unless every event of the log has reason and
// actor, and there are n of them.
func wantActor(t *testing.T, s *testserver.Server, n int, reason, actor string) {
	t.Helper()
	evs := s.Events()
	for _, e := range evs {
		if e.Reason != reason || e.Actor != actor {
			t.Errorf("event %+v; want %s by %s", e, reason, actor)
		}
	}
	if len(evs) != n {
		t.Errorf("%d events; want %d", len(evs), n)
	}
}

// TestConsoleRefusesNonAdmin: a person who is not an admin is refused
// every page and every action of the console, and nothing changes; a
// browser without a session is sent to sign in.
func TestConsoleRefusesNonAdmin(t *testing.T) {
	s := testserver.New(t)
	s.User("root", true)
	alice := s.User("alice", false)
	photos := newApp(s, "Photos", false)
	b := newBrowser(t, s)
	for _, path := range []string{web.PathConsole, "/console/users/alice", "/console/confirm?do=revoke_all&username=alice",
		"/console/clients/" + photos.id, "/console/revoke", "/console/log"} {
		if p := b.get(path); p.status != http.StatusSeeOther || p.header.Get("Location") != "/console/sign-in" {
			t.Errorf("GET %s without a session: %d %q; want 303 to sign in", path, p.status, p.header.Get("Location"))
		}
	}
	p := b.get("/console/sign-in")
	f := p.form(t)
	f.values.Set("username", "alice")
	f.values.Set("password", testserver.Password)
	if p := b.post(f.action, f.values); p.status != http.StatusSeeOther {
		t.Fatalf("sign-in: %d", p.status)
	}
	tk := b.connect(photos, "openid", "alice")
	for _, path := range []string{web.PathConsole, web.PathConsole + "?q=a", "/console/users/alice", "/console/users/root",
		"/console/confirm?do=revoke_all&username=alice", "/console/clients/" + photos.id,
		"/console/confirm?do=rotate_secret&client_id=" + photos.id, "/console/revoke?username=alice", "/console/log",
		"/console/log?username=alice"} {
		p := b.get(path)
		wantPage(t, p, http.StatusForbidden, "This page is for administrators")
		if strings.Contains(p.body, alice.ID) || strings.Contains(p.body, "Photos") {
			t.Errorf("GET %s shows what it should not:\n%s", path, p.body)
		}
	}
	csrf := b.cookie("__Host-tokend-csrf")
	for _, action := range []string{"revoke_all", "disable", "delete", "reset_password"} {
		v := url.Values{"csrf_token": {csrf}, "action": {action}, "confirm": {"alice"},
			"new_password": {"another password 1"}, "new_password_again": {"another password 1"}}
		wantPage(t, b.post("/console/users/alice", v), http.StatusForbidden, "This page is for administrators")
	}
	for _, action := range []string{"rotate_secret", "disable_client", "delete_client"} {
		v := url.Values{"csrf_token": {csrf}, "action": {action}, "confirm": {photos.id}}
		p := b.post("/console/clients/"+photos.id, v)
		wantPage(t, p, http.StatusForbidden, "This page is for administrators")
	}
	for _, action := range []string{"count", "revoke"} {
		v := url.Values{"csrf_token": {csrf}, "action": {action}, "username": {"alice"}}
		wantPage(t, b.post("/console/revoke", v), http.StatusForbidden, "This page is for administrators")
	}
	if c, err := s.Store.GetClient(t.Context(), photos.id); err != nil || c.Disabled {
		t.Errorf("Photos changed: %+v, %v", c, err)
	}
	s.CheckLive(t, tk)
	if n := len(s.Events()); n != 0 {
		t.Errorf("%d events; want none", n)
	}
	if u, err := s.Store.GetUser(t.Context(), "alice"); err != nil || u.Disabled || u.PasswordHash != alice.PasswordHash {
		t.Errorf("alice changed: %+v, %v", u, err)
	}
}

// TestConsoleSearch: the box finds users by a part of the username or the
// ID and clients by a part of the name or the ID, case aside.
func TestConsoleSearch(t *testing.T) {
	s := testserver.New(t)
	s.User("root", true)
	alice := s.User("alice", false)
	s.User("bob", false)
	photos := newApp(s, "Photos", false)
	b := newBrowser(t, s)
	p := b.consoleSignIn("root")
	wantPage(t, p, http.StatusOK, "Admin console", "alice", "bob", "Photos", "live grants")

	p = b.csend(p.formWith(t, "q", ""), "q", "LIC")
	wantPage(t, p, http.StatusOK, "alice", "No client matches.")
	if strings.Contains(p.body, ">bob<") {
		t.Errorf("bob is listed for LIC:\n%s", p.body)
	}
	p = b.get(web.PathConsole + "?q=" + url.QueryEscape(alice.ID[2:10]))
	wantPage(t, p, http.StatusOK, "/console/users/alice")
	p = b.get(web.PathConsole + "?q=hot")
	wantPage(t, p, http.StatusOK, "Photos", "/console/clients/"+photos.id, "No user matches.")
	p = b.get(web.PathConsole + "?q=" + photos.id)
	wantPage(t, p, http.StatusOK, "Photos")
}

// TestConsoleRevokeEverything: an admin finds a user and revokes every
// token of theirs, after confirming: the tokens are inactive, and the
// log says admin by the admin.
func TestConsoleRevokeEverything(t *testing.T) {
	s := testserver.New(t)
	s.User("root", true)
	s.User("alice", false)
	s.User("bob", false)
	photos := newApp(s, "Photos", false)
	id, secret := s.Client("Backend")
	ta, tb := s.PasswordTokens(id, secret, "alice"), s.PasswordTokens(id, secret, "bob")
	alices := newBrowser(t, s)
	alices.accountSignIn("alice")
	tp := alices.connect(photos, "openid", "alice")

	b := newBrowser(t, s)
	b.consoleSignIn("root")
	p := b.get(web.PathConsole + "?q=ali")
	wantPage(t, p, http.StatusOK, "/console/users/alice")
	p = b.get("/console/users/alice")
	wantPage(t, p, http.StatusOK, "alice", "Photos", "Backend", "Sessions")
	wantHTML(t, p, `<a href="/account">Your account</a>`, "<strong>2</strong> live grants · <strong>1</strong> live session", `href="/console/log?username=alice"`)
	p = b.cconfirm(p, []string{"Revoke every token of alice?"}, []string{"do", "revoke_all"})
	p = b.cback(p, "/console/users/alice", "revoked_all")
	wantPage(t, p, http.StatusOK, "Every token of the user was revoked.")
	wantHTML(t, p, "<strong>0</strong> live grants")
	s.CheckRevoked(t, ta, tp)
	s.CheckLive(t, tb)
	wantActor(t, s, 2, store.ReasonAdmin, "root")
}

// TestConsoleEndSession: an admin signs a user out of one session: its
// grants are revoked for session_ended by the admin, the user's other
// session goes on.
func TestConsoleEndSession(t *testing.T) {
	s := testserver.New(t)
	s.User("root", true)
	s.User("alice", false)
	photos := newApp(s, "Photos", false)
	one, two := newBrowser(t, s), newBrowser(t, s)
	one.accountSignIn("alice")
	two.accountSignIn("alice")
	t1, t2 := one.connect(photos, "openid", "alice"), two.connect(photos, "openid", "alice")

	b := newBrowser(t, s)
	b.consoleSignIn("root")
	p := b.get("/console/users/alice")
	p = b.cconfirm(p, []string{"Sign out alice on"}, []string{"sid", one.sid()})
	b.cback(p, "/console/users/alice", "session_ended")
	s.CheckRevoked(t, t1)
	s.CheckLive(t, t2)
	if live(t, s, one.sid()) || !live(t, s, two.sid()) {
		t.Errorf("the first session is live, or the second is not")
	}
	wantActor(t, s, 1, store.ReasonSessionEnded, "root")
	// A session of another user is not this user's to end.
	s.User("bob", false)
	bobs := newBrowser(t, s)
	bobs.accountSignIn("bob")
	v := url.Values{"csrf_token": {b.cookie("__Host-tokend-csrf")}, "action": {"end_session"}, "sid": {bobs.sid()}}
	wantPage(t, b.post("/console/users/alice", v), http.StatusForbidden)
	if !live(t, s, bobs.sid()) {
		t.Errorf("bob's session ended through alice's page")
	}
}

// TestConsoleDisableEnable: a disabled user's tokens stop and they cannot
// sign in; enabled again, they can, and enabling revoked nothing: the log
// has its user_enabled subject entry (no grant), by the admin.
func TestConsoleDisableEnable(t *testing.T) {
	s := testserver.New(t)
	s.User("root", true)
	s.User("alice", false)
	id, secret := s.Client("Backend")
	tk := s.PasswordTokens(id, secret, "alice")
	b := newBrowser(t, s)
	b.consoleSignIn("root")
	p := b.cconfirm(b.get("/console/users/alice"), []string{"Disable alice?"}, []string{"do", "disable"})
	p = b.cback(p, "/console/users/alice", "user_disabled")
	wantPage(t, p, http.StatusOK, "The user was disabled", "Disabled")
	if !strings.Contains(p.body, `value="enable"`) {
		t.Errorf("a disabled user's page has no Enable button:\n%s", p.body)
	}
	s.CheckRevoked(t, tk)
	if st := passwordGrant(s, id, secret, "alice", testserver.Password); st == http.StatusOK {
		t.Errorf("a disabled user got tokens")
	}
	wantActor(t, s, 1, store.ReasonUserDisabled, "root")

	p = b.csend(p.formWith(t, "action", ""), "action", "enable")
	p = b.cback(p, "/console/users/alice", "user_enabled")
	wantPage(t, p, http.StatusOK, "The user was enabled")
	if st := passwordGrant(s, id, secret, "alice", testserver.Password); st != http.StatusOK {
		t.Errorf("an enabled user: password grant %d; want 200", st)
	}
	evs := s.Events()
	if len(evs) != 2 || evs[0].Reason != store.ReasonUserDisabled || evs[1].Reason != store.ReasonUserEnabled ||
		evs[1].Actor != "root" || evs[1].GrantID != "" {
		t.Errorf("log %+v; want alice's disable, then her user_enabled subject entry by root", evs)
	}
}

// TestConsoleResetPassword: passwords that differ change nothing; the
// reset one works, the old one is refused, and every token of the user
// is inactive, for password_change by the admin.
func TestConsoleResetPassword(t *testing.T) {
	s := testserver.New(t)
	s.User("root", true)
	s.User("alice", false)
	id, secret := s.Client("Backend")
	tk := s.PasswordTokens(id, secret, "alice")
	b := newBrowser(t, s)
	b.consoleSignIn("root")
	p := b.get("/console/users/alice")
	f := p.formWith(t, "action", "")
	const next = "a brand new password"
	p = b.cback(b.csend(f, "action", "reset_password", "new_password", next, "new_password_again", next+"!"), "/console/users/alice", "password_mismatch")
	wantPage(t, p, http.StatusOK, "The two passwords are not the same.")
	s.CheckLive(t, tk)
	p = b.cback(b.csend(f, "action", "reset_password", "new_password", next, "new_password_again", next), "/console/users/alice", "password_reset")
	wantPage(t, p, http.StatusOK, "The password was reset.")
	s.CheckRevoked(t, tk)
	if st := passwordGrant(s, id, secret, "alice", testserver.Password); st == http.StatusOK {
		t.Errorf("the old password still works")
	}
	if st := passwordGrant(s, id, secret, "alice", next); st != http.StatusOK {
		t.Errorf("the new password: %d; want 200", st)
	}
	wantActor(t, s, 1, store.ReasonPasswordChange, "root")
}

// TestConsoleDeleteUser: a deletion typed wrongly deletes nothing; typed
// rightly, the user is gone, for user_deleted by the admin.
func TestConsoleDeleteUser(t *testing.T) {
	s := testserver.New(t)
	s.User("root", true)
	s.User("alice", false)
	id, secret := s.Client("Backend")
	tk := s.PasswordTokens(id, secret, "alice")
	b := newBrowser(t, s)
	b.consoleSignIn("root")
	p := b.get("/console/users/alice")
	c := b.csend(p.formWith(t, "do", "delete"))
	wantPage(t, c, http.StatusOK, "Delete alice?", "Type alice to confirm")
	b.cback(b.csend(c.form(t), "confirm", "alic"), "/console/users/alice", "type_mismatch")
	s.CheckLive(t, tk)
	p = b.cback(b.csend(c.form(t), "confirm", "alice"), web.PathConsole, "user_deleted")
	wantPage(t, p, http.StatusOK, "The user was deleted")
	s.CheckRevoked(t, tk)
	if _, err := s.Store.GetUser(t.Context(), "alice"); err == nil {
		t.Errorf("alice still exists")
	}
	wantActor(t, s, 1, store.ReasonUserDeleted, "root")
	wantPage(t, b.get("/console/users/alice"), http.StatusNotFound, "No such user")
}

// TestConsoleNeedsCSRF: an admin's post without the CSRF token, or with
// another, is refused with 403 and does nothing.
func TestConsoleNeedsCSRF(t *testing.T) {
	s := testserver.New(t)
	s.User("root", true)
	s.User("alice", false)
	id, secret := s.Client("Backend")
	tk := s.PasswordTokens(id, secret, "alice")
	b := newBrowser(t, s)
	b.consoleSignIn("root")
	for name, token := range map[string]string{"none": "", "forged": strings.Repeat("A", 43)} {
		for _, action := range []string{"revoke_all", "disable"} {
			v := url.Values{"action": {action}}
			if token != "" {
				v.Set("csrf_token", token)
			}
			if p := b.post("/console/users/alice", v); p.status != http.StatusForbidden {
				t.Errorf("%s CSRF token, %s: status %d; want 403", name, action, p.status)
			}
		}
	}
	s.CheckLive(t, tk)
	if n := len(s.Events()); n != 0 {
		t.Errorf("%d events; want none", n)
	}
}

// TestConsoleHeaders: the console is sent with the pages' headers, and
// holds no script nor inline style.
func TestConsoleHeaders(t *testing.T) {
	s := testserver.New(t)
	s.User("root", true)
	s.User("alice", false)
	b := newBrowser(t, s)
	b.consoleSignIn("root")
	for _, path := range []string{web.PathConsole, "/console/users/alice", "/console/confirm?do=delete&username=alice"} {
		p := b.get(path)
		wantPage(t, p, http.StatusOK)
		if csp := p.header.Get("Content-Security-Policy"); !strings.Contains(csp, "frame-ancestors 'none'") || strings.Contains(csp, "script-src") {
			t.Errorf("%s: Content-Security-Policy %q", path, csp)
		}
		if cc := p.header.Get("Cache-Control"); cc != "no-store" {
			t.Errorf("%s: Cache-Control %q; want no-store", path, cc)
		}
		if scriptRe.MatchString(p.body) {
			t.Errorf("%s holds a script or an inline style:\n%s", path, p.body)
		}
	}
}

// clientCredentials asks the token endpoint for a client_credentials
// token with id and secret, and returns the status.
func clientCredentials(s *testserver.Server, id, secret string) int {
	return s.Post("/oauth2/token", "grant_type=client_credentials", testserver.Basic(id, secret)).Status
}

// TestConsoleRotateSecret: the client's page counts its live grants; a
// rotation, once confirmed, shows the new secret on its answer and
// nowhere else (not in the Location, not on the page after), the old
// secret stops working and the client's tokens are revoked, for
// secret_rotated by the admin.
func TestConsoleRotateSecret(t *testing.T) {
	s := testserver.New(t)
	s.User("root", true)
	s.User("alice", false)
	id, secret := s.Client("Backend")
	tk := s.PasswordTokens(id, secret, "alice")
	b := newBrowser(t, s)
	b.consoleSignIn("root")
	p := b.get("/console/clients/" + id)
	wantPage(t, p, http.StatusOK, "Backend", id, "1 grant, 2 tokens", "client_secret_basic")
	p = b.cconfirm(p, []string{"Rotate the secret of Backend?"}, []string{"do", "rotate_secret"})
	wantPage(t, p, http.StatusOK, "The new secret of Backend", "shown only this once")
	m := regexp.MustCompile(`id="secret" class="secret" type="text" value="([^"]+)"`).FindStringSubmatch(p.body)
	if m == nil {
		t.Fatalf("no secret on the answer:\n%s", p.body)
	}
	next := html.UnescapeString(m[1])
	if st := clientCredentials(s, id, secret); st == http.StatusOK {
		t.Errorf("the old secret still works")
	}
	if st := clientCredentials(s, id, next); st != http.StatusOK {
		t.Errorf("the new secret: %d; want 200", st)
	}
	s.CheckRevoked(t, tk)
	wantActor(t, s, 1, store.ReasonSecretRotated, "root")
	if p := b.get("/console/clients/" + id); strings.Contains(p.body, next) {
		t.Errorf("the client's page shows the secret again")
	}
}

// TestConsoleClientDisableDelete: a disabled client is refused at the
// token endpoint and enabled again works; its deletion, typed rightly,
// revokes its tokens for client_deleted by the admin.
func TestConsoleClientDisableDelete(t *testing.T) {
	s := testserver.New(t)
	s.User("root", true)
	id, secret := s.Client("Backend")
	b := newBrowser(t, s)
	b.consoleSignIn("root")
	path := "/console/clients/" + id
	p := b.cback(b.cconfirm(b.get(path), []string{"Disable Backend?"}, []string{"do", "disable_client"}), path, "client_disabled")
	wantPage(t, p, http.StatusOK, "The client was disabled", "Disabled")
	if st := clientCredentials(s, id, secret); st == http.StatusOK {
		t.Errorf("a disabled client got a token")
	}
	p = b.cback(b.csend(p.formWith(t, "csrf_token", b.cookie("__Host-tokend-csrf")), "action", "enable_client"), path, "client_enabled")
	if st := clientCredentials(s, id, secret); st != http.StatusOK {
		t.Errorf("an enabled client: %d; want 200", st)
	}
	tk := s.ClientTokens(id, secret)
	c := b.csend(p.formWith(t, "do", "delete_client"))
	wantPage(t, c, http.StatusOK, "Delete Backend?", "Type "+id+" to confirm")
	b.cback(b.csend(c.form(t), "confirm", "Backend"), path, "type_mismatch")
	s.CheckLive(t, tk)
	b.cback(b.csend(c.form(t), "confirm", id), web.PathConsole, "client_deleted")
	s.CheckRevoked(t, tk)
	if _, err := s.Store.GetClient(t.Context(), id); err == nil {
		t.Errorf("the client still exists")
	}
	for _, e := range s.Events() {
		if e.Reason != store.ReasonClientDeleted || e.Actor != "root" {
			t.Errorf("event %+v; want client_deleted by root", e)
		}
	}
}

// TestConsoleBulkRevoke: the first post counts what the filter selects
// and revokes nothing; the second, from the page it shows, revokes that
// and nothing else, for admin by the admin; a filter naming nobody is
// refused.
func TestConsoleBulkRevoke(t *testing.T) {
	s := testserver.New(t)
	s.User("root", true)
	s.User("alice", false)
	s.User("bob", false)
	id, secret := s.Client("Backend")
	other, otherSecret := s.Client("Reports")
	ta, ta2 := s.PasswordTokens(id, secret, "alice"), s.PasswordTokens(id, secret, "alice")
	tb, tr := s.PasswordTokens(id, secret, "bob"), s.PasswordTokens(other, otherSecret, "alice")
	b := newBrowser(t, s)
	b.consoleSignIn("root")
	p := b.get("/console/revoke?client_id=" + id)
	f := p.formWith(t, "client_id", id)

	wantPage(t, b.csend(f, "action", "count"), http.StatusOK, "This will revoke 3 grants (6 tokens)")
	wantPage(t, b.csend(f, "action", "count", "username", "nobody"), http.StatusBadRequest, "No user is named nobody.")
	c := b.csend(f, "action", "count", "username", "alice")
	wantPage(t, c, http.StatusOK, "This will revoke 2 grants (4 tokens)", "alice", "Backend")
	s.CheckLive(t, ta, ta2, tb, tr)
	if n := len(s.Events()); n != 0 {
		t.Fatalf("counting revoked: %d events", n)
	}
	v := c.formWith(t, "username", "alice").values
	v.Del("csrf_token")
	v.Set("action", "revoke")
	wantPage(t, b.post("/console/revoke", v), http.StatusForbidden)
	s.CheckLive(t, ta, ta2, tb, tr)

	p = b.cback(b.csend(c.formWith(t, "username", "alice"), "action", "revoke"), "/console/revoke", "bulk_revoked")
	wantPage(t, p, http.StatusOK, "The grants were revoked.")
	s.CheckRevoked(t, ta, ta2)
	s.CheckLive(t, tb, tr)
	wantActor(t, s, 2, store.ReasonAdmin, "root")
	wantPage(t, b.csend(f, "action", "count", "username", "alice"), http.StatusOK, "Nothing to revoke")
	// The two events, of one second, reason, actor, app and user, are
	// one row of the log.
	log := b.get("/console/log")
	if n := strings.Count(log.body, reasonCell("admin")); n != 1 {
		t.Errorf("the log shows the bulk revocation's two events in %d rows; want 1", n)
	}
	wantHTML(t, log, `<td data-label="Grants">2</td><td data-label="Tokens">4</td>`)
}

// TestConsoleLog: the log page lists the events newest first, filtered by
// reason, client and user, and draws the last hour's chart from the same
// filter.
func TestConsoleLog(t *testing.T) {
	s := testserver.New(t)
	s.User("root", true)
	s.User("alice", false)
	s.User("bob", false)
	id, secret := s.Client("Backend")
	ta := s.PasswordTokens(id, secret, "alice")
	s.PasswordTokens(id, secret, "bob")
	if r := s.Post("/oauth2/revoke", "token="+ta.Refresh, testserver.Basic(id, secret)); r.Status != http.StatusOK {
		t.Fatalf("revoke: %d", r.Status)
	}
	b := newBrowser(t, s)
	b.consoleSignIn("root")
	b.cback(b.cconfirm(b.get("/console/users/bob"), []string{"Disable bob?"}, []string{"do", "disable"}), "/console/users/bob", "user_disabled")

	p := b.get("/console/log")
	wantPage(t, p, http.StatusOK, "Revocation log", "The last hour: 2 revocations", "client_request", "user_disabled")
	if i, j := strings.Index(p.body, reasonCell("user_disabled")), strings.Index(p.body, reasonCell("client_request")); i < 0 || j < 0 || i > j {
		t.Errorf("the log is not newest first:\n%s", p.body)
	}
	if n := strings.Count(p.body, "<rect "); n != 60 {
		t.Errorf("%d bars; want one a minute", n)
	}
	if n := strings.Count(p.body, "<rect ") - strings.Count(p.body, `data-count="0"`); n < 1 || n > 2 {
		t.Errorf("%d bars drawn; want one or two minutes", n)
	}
	p = b.csend(p.formWith(t, "client_id", ""), "reason", "user_disabled")
	wantPage(t, p, http.StatusOK, "The last hour: 1 revocation", "user_disabled", "root", "bob")
	if strings.Contains(p.body, reasonCell("client_request")) {
		t.Errorf("the filter by reason lets another reason through:\n%s", p.body)
	}
	p = b.get("/console/log?username=alice")
	wantPage(t, p, http.StatusOK, "The last hour: 1 revocation", "client_request")
	p = b.get("/console/log?client_id=nobody")
	wantPage(t, p, http.StatusOK, "No revocation matches.", "The last hour: 0 revocations")
	wantPage(t, b.get("/console/log?username=nobody"), http.StatusOK, "No user is named nobody.")
}

// reasonCell is the log table's cell of reason.
func reasonCell(reason string) string { return `<td data-label="Reason">` + reason + `</td>` }

// wantHTML fails the test unless p's markup holds each of snippets.
func wantHTML(t *testing.T, p page, snippets ...string) {
	t.Helper()
	for _, s := range snippets {
		if !strings.Contains(p.body, s) {
			t.Errorf("the page does not hold %s:\n%s", s, p.body)
		}
	}
}
