package web_test

import (
	"html"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"regexp"
	"strings"
	"testing"

	"golang.org/x/oauth2"

	"github.com/tokend/tokend/internal/oauth"
	"github.com/tokend/tokend/internal/testserver"
)

// browser is a person's browser: a cookie jar, and redirects not followed,
// so that a test sees where the server sends it (the clients' redirect
// URIs are not served).
type browser struct {
	t *testing.T
	s *testserver.Server
	c *http.Client
}

func newBrowser(t *testing.T, s *testserver.Server) *browser {
	t.Helper()
	jar, err := cookiejar.New(nil)
	if err != nil {
		t.Fatal(err)
	}
	return &browser{t: t, s: s, c: &http.Client{
		Jar:           jar,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}}
}

// in returns the browser for the (sub)test t: the same cookies, failures
// reported to t.
func (b *browser) in(t *testing.T) *browser {
	c := *b
	c.t = t
	return &c
}

// page is an answer as a browser shows it.
type page struct {
	status int
	header http.Header
	body   string
}

// location is where the answer redirects, parsed; nil when it does not.
func (p page) location(t *testing.T) *url.URL {
	t.Helper()
	loc := p.header.Get("Location")
	if loc == "" {
		return nil
	}
	u, err := url.Parse(loc)
	if err != nil {
		t.Fatalf("Location %q: %v", loc, err)
	}
	return u
}

func (b *browser) do(req *http.Request) page {
	b.t.Helper()
	resp, err := b.c.Do(req)
	if err != nil {
		b.t.Fatal(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		b.t.Fatal(err)
	}
	return page{status: resp.StatusCode, header: resp.Header, body: string(body)}
}

// get loads path (with its query) from the server.
func (b *browser) get(path string) page {
	b.t.Helper()
	req, err := http.NewRequestWithContext(b.t.Context(), http.MethodGet, b.s.URL+path, nil)
	if err != nil {
		b.t.Fatal(err)
	}
	return b.do(req)
}

// post sends a form to path as a browser does.
func (b *browser) post(path string, form url.Values) page {
	b.t.Helper()
	req, err := http.NewRequestWithContext(b.t.Context(), http.MethodPost, b.s.URL+path, strings.NewReader(form.Encode()))
	if err != nil {
		b.t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	return b.do(req)
}

// cookie returns the value of the browser's cookie name, "" when none.
func (b *browser) cookie(name string) string {
	u, _ := url.Parse(b.s.URL)
	for _, c := range b.c.Jar.Cookies(u) {
		if c.Name == name {
			return c.Value
		}
	}
	return ""
}

// form is the one form of a page: where it posts, the values of its
// inputs, and its submit buttons (name=value).
type form struct {
	action  string
	values  url.Values
	buttons []string
}

var (
	formRe   = regexp.MustCompile(`(?s)<form\b([^>]*)>(.*?)</form>`)
	inputRe  = regexp.MustCompile(`<(input|button)\b([^>]*)>`)
	attrRe   = regexp.MustCompile(`([a-zA-Z-]+)(?:="([^"]*)")?`)
	scriptRe = regexp.MustCompile(`(?i)<script|\sstyle=|\son[a-z]+=`)
)

func attrs(s string) map[string]string {
	m := map[string]string{}
	for _, a := range attrRe.FindAllStringSubmatch(s, -1) {
		m[a[1]] = html.UnescapeString(a[2])
	}
	return m
}

// form parses the page's form, failing the test when it has none.
func (p page) form(t *testing.T) form {
	t.Helper()
	m := formRe.FindStringSubmatch(p.body)
	if m == nil {
		t.Fatalf("no form on the page (status %d):\n%s", p.status, p.body)
	}
	f := form{action: attrs(m[1])["action"], values: url.Values{}}
	for _, in := range inputRe.FindAllStringSubmatch(m[2], -1) {
		a := attrs(in[2])
		switch {
		case in[1] == "button":
			f.buttons = append(f.buttons, a["name"]+"="+a["value"])
		case a["type"] == "checkbox":
			// unticked: not sent
		default:
			f.values.Set(a["name"], a["value"])
		}
	}
	return f
}

// submit posts the form with the fields set and the button pressed
// ("name=value", one of the form's).
func (b *browser) submit(f form, button string, fields ...string) page {
	b.t.Helper()
	found := false
	for _, bt := range f.buttons {
		found = found || bt == button
	}
	if !found {
		b.t.Fatalf("the form has no button %q (it has %v)", button, f.buttons)
	}
	v := url.Values{}
	for k, vs := range f.values {
		v[k] = append([]string(nil), vs...)
	}
	name, value, _ := strings.Cut(button, "=")
	v.Set(name, value)
	for i := 0; i+1 < len(fields); i += 2 {
		v.Set(fields[i], fields[i+1])
	}
	if f.action != oauth.PathAuthorize && f.action != oauth.PathEndSession {
		b.t.Fatalf("the form posts to %q", f.action)
	}
	return b.post(f.action, v)
}

// app is a client of the authorization code grant, as a test drives it.
type app struct {
	id, secret string
	redirect   string
	public     bool
}

const appRedirect = "https://app.example/cb"

func newApp(s *testserver.Server, name string, public bool) app {
	id, secret := s.CodeClient(name, public, appRedirect)
	return app{id: id, secret: secret, redirect: appRedirect, public: public}
}

// authz is an authorization request of an app, with its PKCE verifier.
type authz struct {
	app      app
	verifier string
	params   url.Values
}

// request makes an authorization request of the app for scope, with state
// and nonce, and extra parameters as name, value pairs.
func (a app) request(scope string, extra ...string) authz {
	verifier := oauth2.GenerateVerifier()
	v := url.Values{
		"response_type": {"code"}, "client_id": {a.id}, "redirect_uri": {a.redirect},
		"scope": {scope}, "state": {"st-" + verifier[:8]}, "nonce": {"n-" + verifier[8:16]},
		"code_challenge": {oauth2.S256ChallengeFromVerifier(verifier)}, "code_challenge_method": {"S256"},
	}
	for i := 0; i+1 < len(extra); i += 2 {
		if extra[i+1] == "" {
			v.Del(extra[i])
		} else {
			v.Set(extra[i], extra[i+1])
		}
	}
	return authz{app: a, verifier: verifier, params: v}
}

func (z authz) path() string { return oauth.PathAuthorize + "?" + z.params.Encode() }

// wantRedirect fails the test unless p sends the browser to the app's
// redirect URI with the request's state and the server's iss, and returns
// the query it carries.
func (z authz) wantRedirect(t *testing.T, s *testserver.Server, p page) url.Values {
	t.Helper()
	u := p.location(t)
	if p.status != http.StatusSeeOther || u == nil {
		t.Fatalf("status %d, Location %q; want 303 to %s\n%s", p.status, p.header.Get("Location"), z.app.redirect, p.body)
	}
	q := u.Query()
	u.RawQuery = ""
	if u.String() != z.app.redirect {
		t.Fatalf("redirected to %s; want %s", u, z.app.redirect)
	}
	if q.Get("state") != z.params.Get("state") || q.Get("iss") != s.URL {
		t.Errorf("state %q iss %q; want %q and %q (RFC 9207)", q.Get("state"), q.Get("iss"), z.params.Get("state"), s.URL)
	}
	return q
}

// wantError fails the test unless p redirects to the app with error code.
func (z authz) wantError(t *testing.T, s *testserver.Server, p page, code string) {
	t.Helper()
	if q := z.wantRedirect(t, s, p); q.Get("error") != code || q.Has("code") {
		t.Errorf("redirect query %v; want error %s and no code", q, code)
	}
}

// wantCode fails the test unless p redirects to the app with a code, and
// returns it.
func (z authz) wantCode(t *testing.T, s *testserver.Server, p page) string {
	t.Helper()
	q := z.wantRedirect(t, s, p)
	if q.Get("code") == "" || q.Has("error") {
		t.Fatalf("redirect query %v; want a code", q)
	}
	return q.Get("code")
}

// wantPage fails the test unless p is a page of status holding each of
// the texts, and not a redirect.
func wantPage(t *testing.T, p page, status int, texts ...string) {
	t.Helper()
	if p.status != status || p.header.Get("Location") != "" {
		t.Fatalf("status %d, Location %q; want a %d page\n%s", p.status, p.header.Get("Location"), status, p.body)
	}
	for _, s := range texts {
		if !strings.Contains(p.body, html.EscapeString(s)) {
			t.Errorf("the page does not say %q:\n%s", s, p.body)
		}
	}
}

// signIn submits the sign-in page p as user with the test password.
func (b *browser) signIn(p page, user string) page {
	b.t.Helper()
	wantPage(b.t, p, http.StatusOK, "Sign in")
	return b.submit(p.form(b.t), "action=sign_in", "username", user, "password", testserver.Password)
}

// authorize runs z from the start as user and allows it, and returns the
// code: through the sign-in page when the browser has no session, the
// consent page when it is shown.
func (b *browser) authorize(z authz, user string) string {
	b.t.Helper()
	p := b.get(z.path())
	if p.status == http.StatusOK && strings.Contains(p.body, `value="sign_in"`) {
		p = b.signIn(p, user)
	}
	if p.status == http.StatusOK && strings.Contains(p.body, `value="allow"`) {
		p = b.submit(p.form(b.t), "action=allow")
	}
	return z.wantCode(b.t, b.s, p)
}

// tokenResponse is the token endpoint's answer.
type tokenResponse struct {
	Access  string `json:"access_token"`
	Refresh string `json:"refresh_token"`
	IDToken string `json:"id_token"`
	Scope   string `json:"scope"`
	Error   string `json:"error"`
}

// exchange presents code at the token endpoint as the app, with the
// request's verifier and redirect URI (form overrides them).
func (z authz) exchange(t *testing.T, s *testserver.Server, code string, form ...string) (int, tokenResponse) {
	t.Helper()
	v := url.Values{"grant_type": {"authorization_code"}, "code": {code},
		"redirect_uri": {z.params.Get("redirect_uri")}, "code_verifier": {z.verifier}}
	for i := 0; i+1 < len(form); i += 2 {
		v.Set(form[i], form[i+1])
	}
	var auth string
	if z.app.public {
		v.Set("client_id", z.app.id)
	} else {
		auth = testserver.Basic(z.app.id, z.app.secret)
	}
	r := s.Post(oauth.PathToken, v.Encode(), auth)
	var tr tokenResponse
	r.JSON(t, &tr)
	return r.Status, tr
}

// tokens exchanges code and fails the test unless tokens come back.
func (z authz) tokens(t *testing.T, s *testserver.Server, code string) tokenResponse {
	t.Helper()
	status, tr := z.exchange(t, s, code)
	if status != http.StatusOK || tr.Access == "" {
		t.Fatalf("token: %d %+v; want tokens", status, tr)
	}
	return tr
}
