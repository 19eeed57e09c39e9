package web_test

import (
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/tokend/tokend/internal/oauth"
	"github.com/tokend/tokend/internal/testserver"
)

const wantCSP = "default-src 'none'; style-src 'self'; img-src 'self' data:; frame-ancestors 'none'; base-uri 'none'"

// TestPageHeaders: every page may not be framed (X-Frame-Options and the
// CSP's frame-ancestors), loads only its own style sheet and images, is
// never cached, sends no Referer, and holds no script and no inline style
// or handler, which the CSP would block anyway. Its cookies are __Host-,
// Secure, HttpOnly and SameSite=Lax. The style sheet it links is served,
// cached for a year.
func TestPageHeaders(t *testing.T) {
	s := testserver.New(t)
	s.User("ada", false)
	a := newApp(s, "Photo Album", true)
	b := newBrowser(t, s)
	z := a.request("openid")
	signIn := b.get(z.path())
	consent := b.signIn(signIn, "ada")
	pages := map[string]page{
		"sign-in":   signIn,
		"consent":   consent,
		"error":     b.get(a.request("openid", "redirect_uri", "https://evil.example/").path()),
		"logout":    b.get(oauth.PathEndSession),
		"wrong":     b.post(oauth.PathAuthorize, url.Values{"action": {"allow"}}),
		"method":    b.do(mustRequest(t, http.MethodPut, s.URL+oauth.PathAuthorize)),
		"signedout": newBrowser(t, s).get(oauth.PathEndSession),
	}
	for name, p := range pages {
		t.Run(name, func(t *testing.T) {
			want := map[string]string{
				"X-Frame-Options": "DENY", "Content-Security-Policy": wantCSP, "Cache-Control": "no-store",
				"Referrer-Policy": "no-referrer", "X-Content-Type-Options": "nosniff", "Content-Type": "text/html; charset=utf-8",
			}
			for k, v := range want {
				if got := p.header.Get(k); got != v {
					t.Errorf("%s: %q; want %q", k, got, v)
				}
			}
			if m := scriptRe.FindString(p.body); m != "" {
				t.Errorf("the page holds %q", m)
			}
			if !strings.Contains(p.body, `<html lang="en">`) || !strings.Contains(p.body, `name="viewport"`) {
				t.Error("the page has no language or no viewport")
			}
		})
	}
	setCookies := signIn.header.Values("Set-Cookie")
	setCookies = append(setCookies, consent.header.Values("Set-Cookie")...)
	if len(setCookies) != 2 {
		t.Fatalf("cookies set %q; want the CSRF cookie, then the session cookie", setCookies)
	}
	for _, c := range setCookies {
		if !strings.HasPrefix(c, "__Host-tokend-") || !strings.Contains(c, "; Path=/") || strings.Contains(c, "Domain=") ||
			!strings.Contains(c, "; HttpOnly") || !strings.Contains(c, "; Secure") || !strings.Contains(c, "; SameSite=Lax") {
			t.Errorf("cookie %q; want __Host-, Path=/, no Domain, HttpOnly, Secure, SameSite=Lax", c)
		}
	}
	css := cssPath(t, signIn)
	r := s.Do(http.MethodGet, css, "")
	if r.Status != http.StatusOK || !strings.HasPrefix(r.Header.Get("Content-Type"), "text/css") ||
		!strings.Contains(r.Header.Get("Cache-Control"), "max-age=31536000") || !strings.Contains(r.Body, "prefers-color-scheme: dark") {
		t.Errorf("style sheet %s: %d %q %q", css, r.Status, r.Header.Get("Content-Type"), r.Header.Get("Cache-Control"))
	}
	if r := s.Do(http.MethodGet, "/assets/nosuch.css", ""); r.Status != http.StatusNotFound {
		t.Errorf("an unknown asset: %d; want 404", r.Status)
	}
}

func cssPath(t *testing.T, p page) string {
	t.Helper()
	i := strings.Index(p.body, `rel="stylesheet" href="`)
	if i < 0 {
		t.Fatal("no style sheet linked")
	}
	rest := p.body[i+len(`rel="stylesheet" href="`):]
	return rest[:strings.IndexByte(rest, '"')]
}

func mustRequest(t *testing.T, method, url string) *http.Request {
	t.Helper()
	req, err := http.NewRequestWithContext(t.Context(), method, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	return req
}

// TestCSRF: a sign-in, a consent and a sign-out posted without the CSRF
// token, with another one, or from a browser without the CSRF cookie (a
// form posted from another site) get 403 and do nothing: no session, no
// code, no sign-out.
func TestCSRF(t *testing.T) {
	s := testserver.New(t)
	u := s.User("ada", false)
	a := newApp(s, "Photo Album", true)
	b := newBrowser(t, s)
	z := a.request("openid")
	signIn := b.get(z.path()).form(t)
	forged := func(f form, how string) form {
		g := form{action: f.action, values: url.Values{}, buttons: f.buttons}
		for k, v := range f.values {
			g.values[k] = v
		}
		switch how {
		case "missing":
			g.values.Del("csrf_token")
		case "wrong":
			g.values.Set("csrf_token", strings.Repeat("A", 43))
		}
		return g
	}
	for _, how := range []string{"missing", "wrong"} {
		p := b.submit(forged(signIn, how), "action=sign_in", "username", "ada", "password", testserver.Password)
		wantPage(t, p, http.StatusForbidden, "could not be verified")
	}
	crossSite := newBrowser(t, s) // no CSRF cookie: the form came from elsewhere
	wantPage(t, crossSite.submit(signIn, "action=sign_in", "username", "ada", "password", testserver.Password),
		http.StatusForbidden, "could not be verified")
	if ss, _ := s.Store.ListSessions(t.Context(), u.ID); len(ss) != 0 {
		t.Fatalf("a forged sign-in started %d sessions", len(ss))
	}

	consent := b.signIn(b.get(z.path()), "ada").form(t)
	for _, how := range []string{"missing", "wrong"} {
		wantPage(t, b.submit(forged(consent, how), "action=allow", "remember", "yes"), http.StatusForbidden, "could not be verified")
	}
	if _, err := s.Store.GetConsent(t.Context(), u.ID, a.id); err == nil {
		t.Error("a forged consent was remembered")
	}
	logout := b.get(oauth.PathEndSession).form(t)
	for _, how := range []string{"missing", "wrong"} {
		wantPage(t, b.submit(forged(logout, how), "action=sign_out"), http.StatusForbidden, "could not be verified")
	}
	if ss, _ := s.Store.ListSessions(t.Context(), u.ID); len(ss) != 1 || !ss[0].EndedAt.IsZero() {
		t.Errorf("sessions %+v; want the one, not ended by a forged sign-out", ss)
	}
	z.wantCode(t, s, b.submit(consent, "action=allow"))
}

// TestBadInputIsNeverA500: malformed requests get an error page of a 4xx
// status, never a 500.
func TestBadInputIsNeverA500(t *testing.T) {
	s := testserver.New(t)
	a := newApp(s, "Photo Album", true)
	b := newBrowser(t, s)
	z := a.request("openid")
	huge := strings.Repeat("x", 70<<10)
	for _, tc := range []struct {
		name, method, path, contentType, body string
	}{
		{"a malformed query", http.MethodGet, oauth.PathAuthorize + "?client_id=%zz", "", ""},
		{"a repeated client_id", http.MethodGet, z.path() + "&client_id=" + a.id, "", ""},
		{"a repeated state", http.MethodGet, z.path() + "&state=again", "", ""},
		{"a NUL", http.MethodGet, z.path() + "&nonce=%00", "", ""},
		{"invalid UTF-8", http.MethodGet, z.path() + "&nonce=%ff", "", ""},
		{"a huge state", http.MethodGet, z.path() + "&login_hint=" + strings.Repeat("y", 5000), "", ""},
		{"a huge max_age", http.MethodGet, z.path() + "&max_age=99999999999999999999", "", ""},
		{"multipart", http.MethodPost, oauth.PathAuthorize, "multipart/form-data; boundary=x", "--x--"},
		{"no content type", http.MethodPost, oauth.PathAuthorize, "", z.params.Encode()},
		{"a huge body", http.MethodPost, oauth.PathAuthorize, "application/x-www-form-urlencoded", "a=" + huge},
		{"an unknown action", http.MethodPost, oauth.PathAuthorize, "application/x-www-form-urlencoded", z.params.Encode() + "&action=fly"},
		{"a hint that is no JWT", http.MethodGet, oauth.PathEndSession + "?id_token_hint=abc", "", ""},
		{"a repeated hint", http.MethodGet, oauth.PathEndSession + "?id_token_hint=a&id_token_hint=b", "", ""},
		{"logout of an unknown client", http.MethodGet, oauth.PathEndSession + "?client_id=nosuch", "", ""},
		{"DELETE", http.MethodDelete, oauth.PathEndSession, "", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			req, err := http.NewRequestWithContext(t.Context(), tc.method, s.URL+tc.path, strings.NewReader(tc.body))
			if err != nil {
				t.Fatal(err)
			}
			if tc.contentType != "" {
				req.Header.Set("Content-Type", tc.contentType)
			}
			p := b.in(t).do(req)
			if p.status < 300 || p.status >= 500 || p.header.Get("Content-Security-Policy") != wantCSP {
				t.Errorf("%d (CSP %q); want a 4xx page or a 303\n%s", p.status, p.header.Get("Content-Security-Policy"), p.body)
			}
		})
	}
}
