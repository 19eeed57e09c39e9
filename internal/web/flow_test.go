package web_test

import (
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/tokend/tokend/internal/store"
	"github.com/tokend/tokend/internal/testserver"
	"github.com/tokend/tokend/internal/token"
	"github.com/tokend/tokend/internal/web"
)

// TestSignInToTokens: a person signs in on the sign-in page, allows the
// app on the consent page, and the app exchanges the code for an ID Token
// and tokens at the token endpoint, as a public client and as a
// confidential one. The ID Token names the user, the app, the request's
// nonce, the session (the sid of the session cookie) and when the user
// signed in. The code presented again is refused and takes the tokens
// with it.
func TestSignInToTokens(t *testing.T) {
	for _, public := range []bool{true, false} {
		name := map[bool]string{true: "public", false: "confidential"}[public]
		t.Run(name, func(t *testing.T) {
			s := testserver.New(t)
			u := s.User("ada", false)
			a := newApp(s, "Photo Album", public)
			b := newBrowser(t, s)
			z := a.request("openid profile offline_access")

			p := b.get(z.path())
			wantPage(t, p, http.StatusOK, "Sign in", "Photo Album")
			p = b.signIn(p, "ada")
			wantPage(t, p, http.StatusOK, "Allow Photo Album?", "ada", "Confirm that it is you", "Your name",
				"Stay connected when you are not signed in", "Remember this decision")
			code := z.wantCode(t, s, b.submit(p.form(t), "action=allow"))

			sess, err := s.Store.ListSessions(t.Context(), u.ID)
			if err != nil || len(sess) != 1 {
				t.Fatalf("sessions %+v, %v; want one", sess, err)
			}
			if sid, _, _ := strings.Cut(b.cookie("__Host-tokend-session"), "."); sid != sess[0].ID {
				t.Errorf("the session cookie names %q; want the session %q", sid, sess[0].ID)
			}
			tr := z.tokens(t, s, code)
			if tr.Refresh == "" || tr.Scope != "openid profile offline_access" {
				t.Errorf("refresh %q scope %q; want a refresh token (offline_access) and the scope asked", tr.Refresh, tr.Scope)
			}
			claims, err := s.JWT.VerifyIDToken(tr.IDToken)
			if err != nil {
				t.Fatalf("id_token: %v", err)
			}
			want := token.IDClaims{Issuer: s.URL, Subject: u.ID, Audience: token.Audience{a.id}, Nonce: z.params.Get("nonce"),
				SessionID: sess[0].ID, AuthTime: sess[0].AuthTime.Unix()}
			if claims.Issuer != want.Issuer || claims.Subject != want.Subject || !claims.Audience.Contains(a.id) ||
				claims.Nonce != want.Nonce || claims.SessionID != want.SessionID || claims.AuthTime != want.AuthTime {
				t.Errorf("id_token claims %+v; want %+v", claims, want)
			}
			if !s.Active(tr.Access) {
				t.Fatal("the access token is not active")
			}

			status, again := z.exchange(t, s, code)
			if status != http.StatusBadRequest || again.Error != "invalid_grant" {
				t.Errorf("the code again: %d %+v; want 400 invalid_grant", status, again)
			}
			if s.Active(tr.Access) || s.Active(tr.Refresh) {
				t.Error("the code presented twice left its tokens active (RFC 6749 §4.1.2)")
			}
		})
	}
}

// TestTokenEndpointHoldsTheCodeToItsRequest: a code from the pages is
// refused at the token endpoint with another redirect URI, without the
// verifier or with another one, and by another client; after all that it
// is still good for its own.
func TestTokenEndpointHoldsTheCodeToItsRequest(t *testing.T) {
	s := testserver.New(t)
	s.User("ada", false)
	a := newApp(s, "Photo Album", false)
	other := newApp(s, "Other", false)
	b := newBrowser(t, s)
	z := a.request("openid")
	code := b.authorize(z, "ada")
	stolen := z
	stolen.app = other
	for _, tc := range []struct {
		name string
		z    authz
		form []string
	}{
		{"another redirect URI", z, []string{"redirect_uri", "https://app.example/cb/other"}},
		{"no verifier", z, []string{"code_verifier", ""}},
		{"another verifier", z, []string{"code_verifier", strings.Repeat("A", 43)}},
		{"the challenge as the verifier (plain)", z, []string{"code_verifier", z.params.Get("code_challenge")}},
		{"another client", stolen, nil},
	} {
		if status, tr := tc.z.exchange(t, s, code, tc.form...); status != http.StatusBadRequest || tr.Error != "invalid_grant" {
			t.Errorf("%s: %d %+v; want 400 invalid_grant", tc.name, status, tr)
		}
	}
	z.tokens(t, s, code)
}

// TestCodeBoundToDPoPKey: dpop_jkt (RFC 9449 §10) is carried through the
// sign-in and consent pages into the code, which the token endpoint then
// refuses to a request that proves no key.
func TestCodeBoundToDPoPKey(t *testing.T) {
	s := testserver.New(t)
	s.User("ada", false)
	a := newApp(s, "Photo Album", true)
	b := newBrowser(t, s)
	const jkt = "NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs"
	z := a.request("openid", "dpop_jkt", jkt)
	code := b.authorize(z, "ada")
	stored, err := s.Store.GetAuthCode(t.Context(), store.HashToken(code), time.Now())
	if err != nil || stored.JKT != jkt {
		t.Fatalf("the code is bound to %q (%v); want %q", stored.JKT, err, jkt)
	}
	if status, tr := z.exchange(t, s, code); status != http.StatusBadRequest || tr.Error != "invalid_grant" {
		t.Errorf("a bound code without a proof: %d %+v; want 400 invalid_grant", status, tr)
	}
}

// TestOpenRedirectRefused: a client that is unknown or disabled, or a
// redirect URI the client did not register (another host, another path,
// an extra query, another scheme, another port), gets the error page and
// no redirect, whatever else is wrong with the request.
func TestOpenRedirectRefused(t *testing.T) {
	s := testserver.New(t)
	a := newApp(s, "Photo Album", true)
	off := newApp(s, "Switched Off", true)
	if _, err := s.Store.UpdateClient(t.Context(), off.id, func(c store.Client) (store.Client, error) {
		c.Disabled = true
		return c, nil
	}, nil); err != nil {
		t.Fatal(err)
	}
	b := newBrowser(t, s)
	for _, tc := range []struct {
		name  string
		z     authz
		words string
	}{
		{"another host", a.request("openid", "redirect_uri", "https://evil.example/cb"), "not registered"},
		{"a subdomain", a.request("openid", "redirect_uri", "https://app.example.evil.example/cb"), "not registered"},
		{"an extra path", a.request("openid", "redirect_uri", "https://app.example/cb/evil"), "not registered"},
		{"an extra query", a.request("openid", "redirect_uri", "https://app.example/cb?next=https://evil.example"), "not registered"},
		{"http", a.request("openid", "redirect_uri", "http://app.example/cb"), "not registered"},
		{"another port", a.request("openid", "redirect_uri", "https://app.example:8443/cb"), "not registered"},
		{"a fragment", a.request("openid", "redirect_uri", "https://app.example/cb#x"), "not registered"},
		{"and a bad response_type", a.request("openid", "redirect_uri", "https://evil.example/cb", "response_type", "token"), "not registered"},
		{"an unknown client", a.request("openid", "client_id", "nosuch", "redirect_uri", "https://evil.example/cb"), "not known"},
		{"no client", a.request("openid", "client_id", ""), "did not say who it is"},
		{"a disabled client", off.request("openid"), "turned off"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := b.in(t).get(tc.z.path())
			wantPage(t, p, http.StatusBadRequest, tc.words)
			if strings.Contains(p.body, "evil.example") {
				t.Error("the error page shows the unregistered address")
			}
		})
	}
	// Omitted, the only registered redirect URI is used; a code for it
	// must then be exchanged without one (RFC 6749 §4.1.3).
	z := a.request("openid", "redirect_uri", "")
	code := b.authorize(z, mustUser(s, "ada"))
	z.tokens(t, s, code)
}

func mustUser(s *testserver.Server, name string) string {
	s.User(name, false)
	return name
}

// TestAuthorizationErrorsRedirected: once the client and its redirect URI
// are good, what else is wrong goes back to the client with error, state
// and iss: an unsupported response type, PKCE missing or downgraded to
// plain, and a client not registered for the grant.
func TestAuthorizationErrorsRedirected(t *testing.T) {
	s := testserver.New(t)
	a := newApp(s, "Photo Album", true)
	cc, _ := s.Client("machine") // client_credentials and the like, no authorization_code
	if _, err := s.Store.UpdateClient(t.Context(), cc, func(c store.Client) (store.Client, error) {
		c.RedirectURIs = []string{appRedirect}
		return c, nil
	}, nil); err != nil {
		t.Fatal(err)
	}
	b := newBrowser(t, s)
	for _, tc := range []struct {
		name string
		z    authz
		code string
	}{
		{"response_type token", a.request("openid", "response_type", "token"), "unsupported_response_type"},
		{"no response_type", a.request("openid", "response_type", ""), "invalid_request"},
		{"PKCE plain", a.request("openid", "code_challenge_method", "plain"), "invalid_request"},
		{"PKCE without a method", a.request("openid", "code_challenge_method", ""), "invalid_request"},
		{"no PKCE", a.request("openid", "code_challenge", "", "code_challenge_method", ""), "invalid_request"},
		{"a challenge that is no digest", a.request("openid", "code_challenge", "short"), "invalid_request"},
		{"a dpop_jkt that is no thumbprint", a.request("openid", "dpop_jkt", "short"), "invalid_request"},
		{"a dpop_jkt with a character base64url has not", a.request("openid", "dpop_jkt", strings.Repeat("~", 43)), "invalid_request"},
		{"not registered for the grant", app{id: cc, redirect: appRedirect}.request("openid"), "unauthorized_client"},
		{"a bad scope", a.request("open\"id"), "invalid_scope"},
		{"an unknown prompt", a.request("openid", "prompt", "later"), "invalid_request"},
		{"prompt none with login", a.request("openid", "prompt", "none login"), "invalid_request"},
		{"a negative max_age", a.request("openid", "max_age", "-1"), "invalid_request"},
		{"a request object", a.request("openid", "request", "eyJ.e30."), "request_not_supported"},
		{"response_mode fragment", a.request("openid", "response_mode", "fragment"), "invalid_request"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tc.z.wantError(t, s, b.in(t).get(tc.z.path()), tc.code)
		})
	}
}

// TestPromptNone: without a session the client gets login_required; with
// one but no remembered consent, consent_required; with both, the code.
// No page is shown.
func TestPromptNone(t *testing.T) {
	s := testserver.New(t)
	s.User("ada", false)
	a := newApp(s, "Photo Album", true)
	b := newBrowser(t, s)
	z := a.request("openid", "prompt", "none")
	z.wantError(t, s, b.get(z.path()), "login_required")

	b.authorize(a.request("profile"), "ada") // signed in, consent not remembered
	z.wantError(t, s, b.get(z.path()), "consent_required")

	remembered := a.request("openid")
	p := b.get(remembered.path())
	remembered.wantCode(t, s, b.submit(p.form(t), "action=allow", "remember", "yes"))
	code := z.wantCode(t, s, b.get(z.path()))
	z.tokens(t, s, code)
}

// TestPromptLoginAndMaxAge: prompt=login, max_age=0 and a max_age the
// session outlived show the sign-in page to a signed-in browser; the sign-in
// satisfies them, so the consent page that follows does not ask again, and
// the ID Token's auth_time is the new sign-in's. A max_age the session is
// within does not ask.
func TestPromptLoginAndMaxAge(t *testing.T) {
	s := testserver.New(t)
	s.User("ada", false)
	a := newApp(s, "Photo Album", true)
	b := newBrowser(t, s)
	b.authorize(a.request("openid"), "ada")
	for _, tc := range []struct {
		name  string
		extra []string
	}{
		{"prompt=login", []string{"prompt", "login"}},
		{"prompt=login consent", []string{"prompt", "login consent"}},
		{"max_age=0", []string{"max_age", "0"}},
		{"max_age=60 after two minutes", []string{"max_age", "60"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			b := b.in(t)
			s.Clock.Advance(2 * time.Minute)
			z := a.request("openid", tc.extra...)
			p := b.get(z.path())
			wantPage(t, p, http.StatusOK, "Sign in")
			p = b.signIn(p, "ada")
			signedIn := s.Clock.Now()
			wantPage(t, p, http.StatusOK, "Allow Photo Album?")
			s.Clock.Advance(5 * time.Second) // the person reads the consent page
			code := z.wantCode(t, s, b.submit(p.form(t), "action=allow"))
			claims, err := s.JWT.VerifyIDToken(z.tokens(t, s, code).IDToken)
			if err != nil || claims.AuthTime != signedIn.Unix() {
				t.Errorf("auth_time %d, %v; want the new sign-in's, %d", claims.AuthTime, err, signedIn.Unix())
			}
		})
	}
	z := a.request("openid", "max_age", "3600")
	if p := b.get(z.path()); strings.Contains(p.body, `value="sign_in"`) {
		t.Error("max_age=3600 asked a session of seconds to sign in again")
	}
}

// TestRememberedConsent: a remembered consent skips the consent page for
// the scopes it covers, not for a scope beyond them, nor with
// prompt=consent; unremembered, the page is shown every time.
func TestRememberedConsent(t *testing.T) {
	s := testserver.New(t)
	s.User("ada", false)
	a := newApp(s, "Photo Album", true)
	b := newBrowser(t, s)
	z := a.request("openid profile")
	p := b.signIn(b.get(z.path()), "ada")
	z.wantCode(t, s, b.submit(p.form(t), "action=allow"))
	wantPage(t, b.get(z.path()), http.StatusOK, "Allow Photo Album?") // not remembered
	p = b.get(z.path())
	z.wantCode(t, s, b.submit(p.form(t), "action=allow", "remember", "yes"))

	for _, scope := range []string{"openid profile", "profile", "openid"} {
		z := a.request(scope)
		z.tokens(t, s, z.wantCode(t, s, b.get(z.path())))
	}
	wantPage(t, b.get(a.request("openid email").path()), http.StatusOK, "Your email address")
	wantPage(t, b.get(a.request("openid", "prompt", "consent").path()), http.StatusOK, "Allow Photo Album?")
	other := newApp(s, "Other App", true)
	wantPage(t, b.get(other.request("openid").path()), http.StatusOK, "Allow Other App?")
}

// TestDeny: Deny sends access_denied to the client, and no code.
func TestDeny(t *testing.T) {
	s := testserver.New(t)
	s.User("ada", false)
	a := newApp(s, "Photo Album", true)
	b := newBrowser(t, s)
	z := a.request("openid")
	p := b.signIn(b.get(z.path()), "ada")
	z.wantError(t, s, b.submit(p.form(t), "action=deny", "remember", "yes"), "access_denied")
	if _, err := s.Store.GetConsent(t.Context(), mustID(t, s, "ada"), a.id); err == nil {
		t.Error("a denial was remembered as a consent")
	}
}

func mustID(t *testing.T, s *testserver.Server, username string) string {
	t.Helper()
	u, err := s.Store.GetUser(t.Context(), username)
	if err != nil {
		t.Fatal(err)
	}
	return u.ID
}

// TestSignInFailures: an unknown user and a wrong password get the same
// page and message; missing fields are asked for; too many wrong guesses
// get 429 with Retry-After and the wait in minutes, and then not even the
// right password is checked.
func TestSignInFailures(t *testing.T) {
	s := testserver.New(t)
	s.User("ada", false)
	a := newApp(s, "Photo Album", true)
	b := newBrowser(t, s)
	z := a.request("openid", "login_hint", "ada")
	p := b.get(z.path())
	if f := p.form(t); f.values.Get("username") != "ada" {
		t.Errorf("username prefilled %q; want the login_hint", f.values.Get("username"))
	}
	var bodies []string
	for _, user := range []string{"ada", "nobody"} {
		p := b.submit(b.get(z.path()).form(t), "action=sign_in", "username", user, "password", "wrong password!")
		wantPage(t, p, http.StatusBadRequest, "The username or password is not right.")
		bodies = append(bodies, strings.ReplaceAll(p.body, `name="username" type="text" value="`+user+`"`, ""))
	}
	if bodies[0] != bodies[1] {
		t.Error("the page of an unknown user differs from that of a wrong password")
	}
	wantPage(t, b.submit(b.get(z.path()).form(t), "action=sign_in", "password", ""), http.StatusBadRequest, "Enter your username and your password.")

	for range testserver.FailLimit {
		b.submit(b.get(z.path()).form(t), "action=sign_in", "username", "ada", "password", "wrong password!")
	}
	p = b.submit(b.get(z.path()).form(t), "action=sign_in", "username", "ada", "password", testserver.Password)
	wantPage(t, p, http.StatusTooManyRequests, "Too many attempts", "Try again in 1 minute.")
	if p.header.Get("Retry-After") == "" {
		t.Error("429 without Retry-After")
	}
	if b.cookie("__Host-tokend-session") != "" {
		t.Error("a refused sign-in set a session cookie")
	}
}

// TestDisabledUserSessionRefused: the session of a user disabled since
// (even by a change that did not end it) is not used: the sign-in page
// again, login_required with prompt=none.
func TestDisabledUserSessionRefused(t *testing.T) {
	s := testserver.New(t)
	s.User("ada", false)
	a := newApp(s, "Photo Album", true)
	b := newBrowser(t, s)
	b.authorize(a.request("openid"), "ada")
	if _, err := s.Store.UpdateUser(t.Context(), "ada", func(u store.User) (store.User, error) {
		u.Disabled = true
		return u, nil
	}, nil); err != nil {
		t.Fatal(err)
	}
	z := a.request("openid", "prompt", "none")
	z.wantError(t, s, b.get(z.path()), "login_required")
	wantPage(t, b.get(a.request("openid").path()), http.StatusOK, "Sign in")
}

// TestSessionLifetime: a session is touched at most once a minute, and is
// not used once it has expired.
func TestSessionLifetime(t *testing.T) {
	s := testserver.New(t)
	u := s.User("ada", false)
	a := newApp(s, "Photo Album", true)
	b := newBrowser(t, s)
	z := a.request("openid", "prompt", "none")
	b.authorize(a.request("openid"), "ada")
	p := b.get(a.request("openid").path())
	b.submit(p.form(t), "action=allow", "remember", "yes")
	start := s.Clock.Now()
	lastSeen := func() time.Time {
		ss, err := s.Store.ListSessions(t.Context(), u.ID)
		if err != nil || len(ss) != 1 {
			t.Fatalf("sessions %v, %v", ss, err)
		}
		return ss[0].LastSeen
	}
	s.Clock.Advance(30 * time.Second)
	z.wantCode(t, s, b.get(z.path()))
	if !lastSeen().Equal(start) {
		t.Errorf("LastSeen moved within a minute")
	}
	s.Clock.Advance(31 * time.Second)
	z.wantCode(t, s, b.get(z.path()))
	if got := lastSeen(); !got.Equal(s.Clock.Now()) {
		t.Errorf("LastSeen %v; want %v", got, s.Clock.Now())
	}
	s.Clock.Advance(web.DefaultSessionTTL)
	z.wantError(t, s, b.get(z.path()), "login_required")
}

// TestSessionCookieNeedsItsSecret: the sid is public (ID Tokens carry
// it); a cookie with the sid of a live session and any other secret is no
// session.
func TestSessionCookieNeedsItsSecret(t *testing.T) {
	s := testserver.New(t)
	s.User("ada", false)
	a := newApp(s, "Photo Album", true)
	b := newBrowser(t, s)
	first := a.request("openid")
	p := b.signIn(b.get(first.path()), "ada")
	first.wantCode(t, s, b.submit(p.form(t), "action=allow", "remember", "yes"))
	z := a.request("openid", "prompt", "none")
	z.wantCode(t, s, b.get(z.path()))

	sid, secret, _ := strings.Cut(b.cookie("__Host-tokend-session"), ".")
	for _, forged := range []string{sid + "." + strings.Repeat("A", len(secret)), sid + ".", sid, secret + "." + sid} {
		m := newBrowser(t, s)
		u, _ := url.Parse(s.URL)
		m.c.Jar.SetCookies(u, []*http.Cookie{{Name: "__Host-tokend-session", Value: forged, Path: "/", Secure: true}})
		z.wantError(t, s, m.get(z.path()), "login_required")
	}
}
