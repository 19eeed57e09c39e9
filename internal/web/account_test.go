package web_test

import (
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/tokend/tokend/internal/store"
	"github.com/tokend/tokend/internal/testserver"
	"github.com/tokend/tokend/internal/web"
)

// forms are every form of the page.
func (p page) forms(t *testing.T) []form {
	t.Helper()
	var out []form
	for _, m := range formRe.FindAllStringSubmatch(p.body, -1) {
		one := page{body: m[0]}
		out = append(out, one.form(t))
	}
	return out
}

// formWith returns the page's form whose fields hold every name, value
// pair of fields, failing the test when there is none.
func (p page) formWith(t *testing.T, fields ...string) form {
	t.Helper()
	for _, f := range p.forms(t) {
		ok := true
		for i := 0; i+1 < len(fields); i += 2 {
			ok = ok && f.values.Get(fields[i]) == fields[i+1]
		}
		if ok {
			return f
		}
	}
	t.Fatalf("no form with %v on the page:\n%s", fields, p.body)
	return form{}
}

// send submits f as a browser does: a GET form's fields in the query, a
// POST form's in the body, with fields set.
func (b *browser) send(f form, fields ...string) page {
	b.t.Helper()
	v := url.Values{}
	for k, vs := range f.values {
		v[k] = append([]string(nil), vs...)
	}
	for i := 0; i+1 < len(fields); i += 2 {
		v.Set(fields[i], fields[i+1])
	}
	if !strings.HasPrefix(f.action, web.PathAccount) {
		b.t.Fatalf("the form goes to %q", f.action)
	}
	if _, ok := v["csrf_token"]; !ok {
		return b.get(f.action + "?" + v.Encode())
	}
	return b.post(f.action, v)
}

// wantBack fails the test unless p sends the browser back to the account
// page with the flash message code, and returns the page it shows.
func (b *browser) wantBack(p page, code string) page {
	b.t.Helper()
	want := web.PathAccount + "?m=" + code
	if p.status != http.StatusSeeOther || p.header.Get("Location") != want {
		b.t.Fatalf("status %d, Location %q; want 303 to %s\n%s", p.status, p.header.Get("Location"), want, p.body)
	}
	return b.get(want)
}

// accountSignIn opens the account page without a session, is sent to
// sign in, signs in as user and comes back to the account page.
func (b *browser) accountSignIn(user string) page {
	b.t.Helper()
	p := b.get(web.PathAccount)
	loc := p.location(b.t)
	if p.status != http.StatusSeeOther || loc == nil {
		b.t.Fatalf("account page without a session: status %d; want a redirect to sign in", p.status)
	}
	p = b.get(loc.String())
	wantPage(b.t, p, http.StatusOK, "Sign in", "your account")
	f := p.form(b.t)
	v := f.values
	v.Set("action", "sign_in")
	v.Set("username", user)
	v.Set("password", testserver.Password)
	p = b.post(f.action, v)
	if p.status != http.StatusSeeOther || p.header.Get("Location") != web.PathAccount {
		b.t.Fatalf("sign-in: status %d, Location %q; want 303 to %s\n%s", p.status, p.header.Get("Location"), web.PathAccount, p.body)
	}
	p = b.get(web.PathAccount)
	wantPage(b.t, p, http.StatusOK, "Your account", user)
	return p
}

// connect authorizes the app for user with scope, remembering the
// consent when it is asked, and returns its tokens.
func (b *browser) connect(a app, scope, user string) testserver.Tokens {
	b.t.Helper()
	z := a.request(scope)
	p := b.get(z.path())
	if strings.Contains(p.body, `value="sign_in"`) {
		p = b.signIn(p, user)
	}
	if p.status == http.StatusOK {
		p = b.submit(p.form(b.t), "action=allow", "remember", "yes")
	}
	code := z.wantCode(b.t, b.s, p)
	tr := z.tokens(b.t, b.s, code)
	return testserver.Tokens{ClientID: a.id, Secret: a.secret, Access: tr.Access, Refresh: tr.Refresh}
}

// confirmAction presses the account page's button that asks to confirm
// the action of fields, and confirms: it returns the answer to the
// confirmation's post.
func (b *browser) confirmAction(p page, texts []string, fields ...string) page {
	b.t.Helper()
	c := b.send(p.formWith(b.t, fields...))
	wantPage(b.t, c, http.StatusOK, texts...)
	return b.send(c.form(b.t))
}

// TestAccountRemoveApp: a person with two apps removes one from the
// account page, after confirming: only that app's tokens stop, its
// consent is forgotten, and the log says user_request by the person.
func TestAccountRemoveApp(t *testing.T) {
	s := testserver.New(t)
	alice := s.User("alice", false)
	photos, calendar := newApp(s, "Photos", false), newApp(s, "Calendar", false)
	b := newBrowser(t, s)
	b.accountSignIn("alice")
	ph := b.connect(photos, "openid profile", "alice")
	cal := b.connect(calendar, "openid email offline_access", "alice")

	p := b.get(web.PathAccount)
	wantPage(t, p, http.StatusOK, "Photos", "Calendar", "Your name", "Your email address", "on 1 session")

	p = b.confirmAction(p, []string{"Remove access for Photos?"}, "do", "remove_app", "client_id", photos.id)
	p = b.wantBack(p, "app_removed")
	wantPage(t, p, http.StatusOK, "The app’s access was removed.", "Calendar")
	if apps := p.body[:strings.Index(p.body, `id="sessions"`)]; strings.Contains(apps, "Photos") {
		t.Errorf("Photos is still listed after its access was removed:\n%s", apps)
	}

	s.CheckRevoked(t, ph)
	s.CheckLive(t, cal)
	var removed int
	for _, e := range s.Events() {
		if e.ClientID != photos.id || e.Reason != store.ReasonUserRequest || e.Actor != "alice" || e.Subject != alice.ID {
			t.Errorf("event %+v; want Photos' grant revoked for user_request by alice", e)
		}
		removed++
	}
	if removed != 1 {
		t.Errorf("%d events; want 1", removed)
	}
	if _, err := s.Store.GetConsent(t.Context(), alice.ID, photos.id); err == nil {
		t.Errorf("Photos' consent is still remembered")
	}
	// The next authorization of Photos asks again; Calendar's does not.
	wantPage(t, b.get(photos.request("openid").path()), http.StatusOK, "Allow Photos?")
	z := calendar.request("openid")
	z.wantCode(t, s, b.get(z.path()))
}

// TestAccountNeedsCSRF: a post of the account page without the CSRF token,
// or with another, is refused with 403 and changes nothing.
func TestAccountNeedsCSRF(t *testing.T) {
	s := testserver.New(t)
	s.User("alice", false)
	photos := newApp(s, "Photos", false)
	b := newBrowser(t, s)
	b.accountSignIn("alice")
	ph := b.connect(photos, "openid", "alice")
	for name, token := range map[string]string{"none": "", "forged": strings.Repeat("A", 43)} {
		v := url.Values{"action": {"remove_app"}, "client_id": {photos.id}}
		if token != "" {
			v.Set("csrf_token", token)
		}
		if p := b.post(web.PathAccount, v); p.status != http.StatusForbidden {
			t.Errorf("%s CSRF token: status %d; want 403", name, p.status)
		}
	}
	s.CheckLive(t, ph)
	if n := len(s.Events()); n != 0 {
		t.Errorf("%d events; want none", n)
	}
}

// TestAccountHeaders: the account page is sent with the pages' headers,
// and holds no script.
func TestAccountHeaders(t *testing.T) {
	s := testserver.New(t)
	s.User("alice", false)
	b := newBrowser(t, s)
	p := b.accountSignIn("alice")
	if csp := p.header.Get("Content-Security-Policy"); !strings.Contains(csp, "frame-ancestors 'none'") || strings.Contains(csp, "script-src") {
		t.Errorf("Content-Security-Policy %q", csp)
	}
	if cc := p.header.Get("Cache-Control"); cc != "no-store" {
		t.Errorf("Cache-Control %q; want no-store", cc)
	}
	if scriptRe.MatchString(p.body) {
		t.Errorf("the account page holds a script or an inline style:\n%s", p.body)
	}
}

// sid is the ID of the browser's session.
func (b *browser) sid() string {
	sid, _, _ := strings.Cut(b.cookie("__Host-tokend-session"), ".")
	return sid
}

// live reports whether the session sid is live in the store.
func live(t *testing.T, s *testserver.Server, sid string) bool {
	t.Helper()
	sess, err := s.Store.GetSession(t.Context(), sid)
	if err != nil {
		t.Fatalf("GetSession: %v", err)
	}
	return sess.Live(s.Clock.Now())
}

// TestAccountSessions: from one of her browsers a person signs out
// another, whose grants are revoked, while this one goes on; she cannot
// sign out another person's session; "everywhere else" ends every other
// session of hers and leaves this one live.
func TestAccountSessions(t *testing.T) {
	s := testserver.New(t)
	s.User("alice", false)
	s.User("bob", false)
	photos := newApp(s, "Photos", false)
	here, there, bobs := newBrowser(t, s), newBrowser(t, s), newBrowser(t, s)
	here.accountSignIn("alice")
	there.accountSignIn("alice")
	bobs.accountSignIn("bob")
	tkHere := here.connect(photos, "openid", "alice")
	tkThere := there.connect(photos, "openid", "alice")

	p := here.get(web.PathAccount)
	wantPage(t, p, http.StatusOK, "This device", "Sign out everywhere else")
	p = here.confirmAction(p, []string{"Sign out A program?"}, "do", "end_session", "sid", there.sid())
	here.wantBack(p, "session_ended")
	if live(t, s, there.sid()) {
		t.Errorf("the other session is still live")
	}
	if p := there.get(web.PathAccount); p.status != http.StatusSeeOther {
		t.Errorf("the signed-out browser opens the account page: status %d", p.status)
	}
	s.CheckRevoked(t, tkThere)
	s.CheckLive(t, tkHere)

	t.Run("another person's session", func(t *testing.T) {
		here := here.in(t)
		if p := here.get("/account/confirm?do=end_session&sid=" + url.QueryEscape(bobs.sid())); p.status != http.StatusForbidden {
			t.Errorf("confirmation page for bob's session: status %d; want 403", p.status)
		}
		form := url.Values{"csrf_token": {here.cookie("__Host-tokend-csrf")}, "action": {"end_session"}, "sid": {bobs.sid()}}
		if p := here.post(web.PathAccount, form); p.status != http.StatusForbidden {
			t.Errorf("signing out bob's session: status %d; want 403", p.status)
		}
		if !live(t, s, bobs.sid()) {
			t.Errorf("bob's session ended")
		}
	})

	t.Run("everywhere else", func(t *testing.T) {
		here := here.in(t)
		third, fourth := newBrowser(t, s), newBrowser(t, s)
		third.accountSignIn("alice")
		fourth.accountSignIn("alice")
		p := here.confirmAction(here.get(web.PathAccount), []string{"Sign out everywhere else?"}, "do", "end_others")
		p = here.wantBack(p, "others_ended")
		wantPage(t, p, http.StatusOK, "You were signed out everywhere else.", "This device")
		for _, b := range []*browser{third, fourth} {
			if live(t, s, b.sid()) {
				t.Errorf("session %s is still live", b.sid())
			}
		}
		if !live(t, s, here.sid()) || !live(t, s, bobs.sid()) {
			t.Errorf("this session or bob's ended")
		}
		s.CheckLive(t, tkHere)
	})
}

// passwordGrant asks the token endpoint for tokens of user with password
// as the client, and returns the status.
func passwordGrant(s *testserver.Server, clientID, secret, user, password string) int {
	form := url.Values{"grant_type": {"password"}, "username": {user}, "password": {password}}
	return s.Post("/oauth2/token", form.Encode(), testserver.Basic(clientID, secret)).Status
}

// TestAccountPassword: a change with a wrong current password, or new
// ones that differ or are too short, changes nothing; with the right one
// the password changes, every grant of the person is revoked, her other
// session ends, and this one still opens the account page.
func TestAccountPassword(t *testing.T) {
	s := testserver.New(t)
	s.User("alice", false)
	photos := newApp(s, "Photos", false)
	cli, secret := s.Client("cli")
	here, there := newBrowser(t, s), newBrowser(t, s)
	here.accountSignIn("alice")
	there.accountSignIn("alice")
	tkHere := here.connect(photos, "openid offline_access", "alice")
	tkThere := there.connect(photos, "openid", "alice")
	tkCLI := s.PasswordTokens(cli, secret, "alice")
	const newPassword = "a much better one"

	change := func(t *testing.T, current, next, again, code string) {
		t.Helper()
		f := here.in(t).get(web.PathAccount).formWith(t, "username", "alice")
		p := here.in(t).post(f.action, url.Values{"csrf_token": f.values["csrf_token"], "action": {"change_password"},
			"current_password": {current}, "new_password": {next}, "new_password_again": {again}})
		wantPage(t, here.in(t).wantBack(p, code), http.StatusOK, "Your account", "Your password was")
	}
	for _, tc := range []struct{ name, current, next, again, code string }{
		{"wrong current password", "not it at all", newPassword, newPassword, "password_wrong"},
		{"new ones differ", testserver.Password, newPassword, newPassword + "!", "password_mismatch"},
		{"too short", testserver.Password, "short", "short", "password_rules"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			change(t, tc.current, tc.next, tc.again, tc.code)
			s.CheckLive(t, tkHere, tkThere, tkCLI)
			if !live(t, s, there.sid()) {
				t.Errorf("the other session ended")
			}
			if st := passwordGrant(s, cli, secret, "alice", testserver.Password); st != http.StatusOK {
				t.Errorf("the old password: status %d; want 200", st)
			}
		})
	}
	if n := len(s.Events()); n != 0 {
		t.Fatalf("%d events after refused changes; want none", n)
	}

	change(t, testserver.Password, newPassword, newPassword, "password_changed")
	wantPage(t, here.get(web.PathAccount), http.StatusOK, "Your account", "This device")
	if live(t, s, there.sid()) {
		t.Errorf("the other session is still live")
	}
	if !live(t, s, here.sid()) {
		t.Errorf("this session ended")
	}
	s.CheckRevoked(t, tkHere, tkThere)
	// tkCLI was issued by the password grant above too: every grant of hers.
	for _, e := range s.Events() {
		if e.Reason != store.ReasonPasswordChange || e.Actor != "alice" {
			t.Errorf("event %+v; want password_change by alice", e)
		}
	}
	s.CheckRevoked(t, tkCLI)
	if st := passwordGrant(s, cli, secret, "alice", testserver.Password); st == http.StatusOK {
		t.Errorf("the old password still gives tokens")
	}
	if st := passwordGrant(s, cli, secret, "alice", newPassword); st != http.StatusOK {
		t.Errorf("the new password: status %d; want 200", st)
	}
}

// TestAccountHistory: the person's own revocations, newest first, with
// the app, the cause and who in words; another person's are not shown.
func TestAccountHistory(t *testing.T) {
	s := testserver.New(t)
	alice := s.User("alice", false)
	s.User("bob", false)
	photos, calendar := newApp(s, "Photos", false), newApp(s, "Calendar", false)
	b, bobs := newBrowser(t, s), newBrowser(t, s)
	b.accountSignIn("alice")
	bobs.accountSignIn("bob")
	b.connect(photos, "openid", "alice")
	b.connect(calendar, "openid", "alice")
	bobs.connect(photos, "openid", "bob")
	wantPage(t, b.get(web.PathAccount), http.StatusOK, "No access of yours has ended yet.")

	b.wantBack(b.confirmAction(b.get(web.PathAccount), nil, "do", "remove_app", "client_id", photos.id), "app_removed")
	body := `{"subject":"` + alice.ID + `","client_id":"` + calendar.id + `"}`
	if r := s.Do(http.MethodPost, "/admin/revocations", body, testserver.AdminBearer); r.Status != http.StatusOK {
		t.Fatalf("admin revocation: %d %s", r.Status, r.Body)
	}
	bobs.wantBack(bobs.confirmAction(bobs.get(web.PathAccount), nil, "do", "remove_app", "client_id", photos.id), "app_removed")

	p := b.get(web.PathAccount)
	wantPage(t, p, http.StatusOK, "An administrator revoked it", "by an administrator", "You removed the app’s access", "by you")
	history := p.body[strings.Index(p.body, `id="history"`):]
	admin, removed := strings.Index(history, "An administrator revoked it"), strings.Index(history, "You removed the app’s access")
	if admin > removed {
		t.Errorf("the history is not newest first:\n%s", history)
	}
	if strings.Count(history, "You removed the app’s access") != 1 {
		t.Errorf("the history shows another person's revocation, or one twice:\n%s", history)
	}
}

// TestAccountSignIn: a wrong password on the account's sign-in page starts
// no session; a confirmation page for an unknown app says nothing of it.
func TestAccountSignIn(t *testing.T) {
	s := testserver.New(t)
	s.User("alice", false)
	b := newBrowser(t, s)
	p := b.get("/account/sign-in")
	f := p.form(t)
	f.values.Set("username", "alice")
	f.values.Set("password", "not the password")
	f.values.Set("action", "sign_in")
	wantPage(t, b.post(f.action, f.values), http.StatusBadRequest, "The username or password is not right.")
	if b.sid() != "" {
		t.Errorf("a wrong password started a session")
	}
	b.accountSignIn("alice")
	p = b.get("/account/confirm?do=remove_app&client_id=" + url.QueryEscape("Call 555-0100 now"))
	if p.status != http.StatusBadRequest || strings.Contains(p.body, "555-0100") {
		t.Errorf("confirmation for an unknown app: status %d, body:\n%s", p.status, p.body)
	}
}
