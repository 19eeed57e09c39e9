package main

import (
	"context"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/coreos/go-oidc/v3/oidc"
	"github.com/go-jose/go-jose/v4"
	"golang.org/x/oauth2"
)

// screenshots is where TestSignInInABrowser and TestAccountInABrowser
// write PNGs of the pages they see; a relative path is taken from the
// repository's root, so that
//
//	go test ./cmd/tokend/ -run 'InABrowser$' -args -screenshots docs/screenshots
//
// remakes the README's pictures wherever the tests run from.
var screenshots = flag.String("screenshots", "", "directory, relative to the repository's root, that the browser tests write their PNGs of the sign-in and account pages to; none when empty")

// The relying party and the person of the browser test.
const (
	rpName     = "Photo Album"
	rpUser     = "alice"
	rpPassword = "correct horse battery staple"
	rpEmail    = "alice@example.com"
	rpFullName = "Alice Liddell"
)

// stepWait bounds each step of the browser test: a page to load, an
// answer to come, the Logout Token to be delivered. The machine may be
// busy with other builds, so it is generous; a step that works takes well
// under a second.
const stepWait = 30 * time.Second

// The viewports of the screenshots: a laptop's, and the narrowest phones'
// in common use, in CSS pixels, where rows of names, dates and buttons are
// the most crowded. The phone's pictures are taken at one device pixel to
// the CSS pixel: the long pages at a phone's twice would be PNGs of 720 by
// 3,100 pixels and a quarter of a megabyte.
const (
	laptopWidth, laptopHeight = 1280, 800
	phoneWidth, phoneHeight   = 360, 800
)

// TestSignInInABrowser drives headless Chromium through browser sign-in
// against the real binary, with TLS on, and a relying party that uses the
// libraries an application would (golang.org/x/oauth2, go-oidc): the login
// URL, the sign-in and consent pages, the callback, the code exchange and
// the ID Token, userinfo, a replayed code, a second sign-in on the
// session's cookie, and sign-out with its confirmation page, the
// post-logout redirect and the back-channel Logout Token.
func TestSignInInABrowser(t *testing.T) {
	t.Parallel() // its own tokend, data folder, port, relying parties and Chromium
	chrome := chromiumPath(t)
	began := time.Now()
	var in *instance
	// Registered before startTokendAt's own cleanup, so it runs after
	// the process has ended and its log is no longer written to.
	t.Cleanup(func() {
		if t.Failed() && in != nil {
			t.Logf("tokend's log:\n%s", in.out)
		}
	})
	in = startTokendAt(t, t.TempDir(), freeLocalhost(t))
	addPerson(in)
	f := newRPFlow(t, in, newRelyingParty(t, rpName), false)
	b := newBrowser(t, chrome, screenshotDir(t))
	t.Logf("tokend, the relying party and Chromium ready in %s", time.Since(began).Round(time.Millisecond))

	req := f.newRequest()
	b.signInWithPassword(req.url, rpName, f.conf.Scopes)
	first := f.exchange(req, f.callback(b, req))
	t.Logf("signed in with a password and consent, tokens exchanged (sid %s)", first.sid)

	f.replay(first)
	// Package backchannel tells an app of every revocation of a grant it
	// had in a session, whatever revoked it; the replay's comes first, so
	// that the one after the sign-out is the sign-out's own.
	f.logoutToken(first, "the code replay")

	req = f.newRequest()
	b.open("the login URL again, signed in", req.url)
	second := f.exchange(req, f.callback(b, req))
	if second.sid != first.sid {
		t.Errorf("the second sign-in, on the session's cookie, has sid %q; the first had %q", second.sid, first.sid)
	}
	t.Logf("signed in again without a password or a consent page")

	state := rand.Text()
	b.signOut(f.logoutURL(second.rawID, state))
	f.signedOut(b, state)
	b.signedOutPage(f.endSession)
	b.errorPage(f.provider.Endpoint().AuthURL)
	f.logoutToken(second, "the sign-out")
	for _, tok := range second.tokens() {
		if f.active(tok) {
			t.Errorf("a token of the session is still active at introspection after sign-out: %.12s…", tok)
		}
	}
	t.Logf("the whole flow took %s", time.Since(began).Round(time.Millisecond))
}

// chromiumPath returns the browser to drive. Without one the test skips,
// unless CI or TOKEND_REQUIRE_BROWSER=1 says it must run.
func chromiumPath(t *testing.T) string {
	t.Helper()
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	const msg = "Chromium is not installed; the browser sign-in test needs it: apt-get install chromium"
	if os.Getenv("CI") != "" || os.Getenv("TOKEND_REQUIRE_BROWSER") == "1" {
		t.Fatal(msg)
	}
	t.Skip(msg)
	return ""
}

// screenshotDir resolves -screenshots against the repository's root (the
// test runs in cmd/tokend) and makes the folder; "" when none was asked.
func screenshotDir(t *testing.T) string {
	t.Helper()
	dir := *screenshots
	if dir == "" {
		return ""
	}
	if !filepath.IsAbs(dir) {
		dir = filepath.Join(moduleRoot(t), dir)
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	t.Logf("writing screenshots to %s", dir)
	return dir
}

// freeLocalhost returns localhost with a port free at the moment.
func freeLocalhost(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return fmt.Sprintf("localhost:%d", ln.Addr().(*net.TCPAddr).Port)
}

// receive waits at most stepWait for what the relying party was sent.
func receive[T any](t *testing.T, ch <-chan T, what string) T {
	t.Helper()
	timer := time.NewTimer(stepWait)
	defer timer.Stop()
	select {
	case v := <-ch:
		return v
	case <-timer.C:
		t.Fatalf("%s did not come within %s", what, stepWait)
		panic("unreachable")
	}
}

// relyingParty is the application a person signs in to: plain HTTP on
// loopback, as RFC 8252 allows, with a callback, a page to land on after
// signing out, and a back-channel logout endpoint. It only records what
// it is sent; the test judges it.
type relyingParty struct {
	name         string
	srv          *httptest.Server
	callbacks    chan url.Values
	signedOut    chan url.Values
	logoutTokens chan string
}

func newRelyingParty(t *testing.T, name string) *relyingParty {
	rp := &relyingParty{name: name, callbacks: make(chan url.Values, 4), signedOut: make(chan url.Values, 4),
		logoutTokens: make(chan string, 8)}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /callback", func(w http.ResponseWriter, r *http.Request) {
		offer(rp.callbacks, r.URL.Query())
		rp.page(w, "Signed in to "+rp.name)
	})
	mux.HandleFunc("GET /signed-out", func(w http.ResponseWriter, r *http.Request) {
		offer(rp.signedOut, r.URL.Query())
		rp.page(w, "Signed out of "+rp.name)
	})
	// Back-Channel Logout 1.0 §2.8: a form POST; 200 with no-store.
	mux.HandleFunc("POST /backchannel", func(w http.ResponseWriter, r *http.Request) {
		raw := r.PostFormValue("logout_token")
		if raw == "" {
			http.Error(w, "no logout_token", http.StatusBadRequest)
			return
		}
		offer(rp.logoutTokens, raw)
		w.Header().Set("Cache-Control", "no-store")
	})
	rp.srv = httptest.NewServer(mux)
	t.Cleanup(rp.srv.Close)
	return rp
}

// offer hands v to the test without ever blocking a handler.
func offer[T any](ch chan<- T, v T) {
	select {
	case ch <- v:
	default:
	}
}

// page is the relying party's page. Its noscript paragraph is parsed as
// an element only where scripts are off, which lets the test see from the
// DOM alone that a browser really runs none.
func (rp *relyingParty) page(w http.ResponseWriter, heading string) {
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	fmt.Fprintf(w, "<!doctype html><title>%s</title><h1>%s</h1>\n<noscript><p id=%q>Scripts are off.</p></noscript>\n",
		rp.name, heading, noScriptID)
}

// noScriptID is the id of the relying party's noscript paragraph.
const noScriptID = "no-script"

func (rp *relyingParty) url(path string) string { return rp.srv.URL + path }

// rpFlow is the relying party's side of the protocol, with the libraries
// an application uses; ctx carries the HTTP client that trusts tokend's
// certificate, which oauth2 and go-oidc take from it.
type rpFlow struct {
	t          *testing.T
	in         *instance
	rp         *relyingParty
	ctx        context.Context
	http       *http.Client
	conf       oauth2.Config
	provider   *oidc.Provider
	verifier   *oidc.IDTokenVerifier
	endSession string
}

// addPerson registers the person of the browser tests with the CLI.
func addPerson(in *instance) {
	in.t.Helper()
	in.tokend(rpPassword+"\n", "user", "add", "--password-stdin", "--email", rpEmail, "--name", rpFullName, rpUser)
}

// newRPFlow registers the relying party as a client with the CLI and reads
// the provider's metadata. Its login asks for openid, profile and email,
// and offline_access too when offline is set, which brings a refresh
// token and a grant that outlives the session.
func newRPFlow(t *testing.T, in *instance, rp *relyingParty, offline bool) *rpFlow {
	t.Helper()
	var c struct {
		ID     string `json:"client_id"`
		Secret string `json:"client_secret"`
	}
	scopes := []string{oidc.ScopeOpenID, "profile", "email"}
	args := []string{"client", "create", "--json", "--name", rp.name, "--grant", "authorization_code",
		"--redirect-uri", rp.url("/callback"), "--post-logout-redirect-uri", rp.url("/signed-out"),
		"--backchannel-logout-uri", rp.url("/backchannel"), "--backchannel-logout-session-required"}
	if offline {
		scopes = append(scopes, oidc.ScopeOfflineAccess)
		args = append(args, "--grant", "refresh_token")
	}
	out := in.tokend("", args...)
	if err := json.Unmarshal([]byte(out), &c); err != nil || c.Secret == "" {
		t.Fatalf("client create printed %q: %v", out, err)
	}

	f := &rpFlow{t: t, in: in, rp: rp, http: trustingClient(t, in)}
	f.ctx = oidc.ClientContext(t.Context(), f.http)
	var err error
	if f.provider, err = oidc.NewProvider(f.ctx, in.base); err != nil {
		t.Fatalf("OpenID Connect discovery: %v", err)
	}
	var meta struct {
		EndSession string `json:"end_session_endpoint"`
	}
	if err := f.provider.Claims(&meta); err != nil || meta.EndSession == "" {
		t.Fatalf("the metadata has no end_session_endpoint (%v)", err)
	}
	f.endSession = meta.EndSession
	endpoint := f.provider.Endpoint()
	endpoint.AuthStyle = oauth2.AuthStyleInHeader
	f.conf = oauth2.Config{ClientID: c.ID, ClientSecret: c.Secret, Endpoint: endpoint,
		RedirectURL: rp.url("/callback"), Scopes: scopes}
	f.verifier = f.provider.Verifier(&oidc.Config{ClientID: c.ID})
	return f
}

// trustingClient is an HTTP client that trusts the data folder's
// self-signed certificate, and nothing else beyond the system's roots.
func trustingClient(t *testing.T, in *instance) *http.Client {
	t.Helper()
	pem, err := os.ReadFile(filepath.Join(in.data, "tls", "cert.pem"))
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(pem) {
		t.Fatal("tls/cert.pem holds no certificate")
	}
	return &http.Client{Timeout: stepWait, Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}}}
}

// authRequest is one login attempt of the relying party: the URL the
// browser opens and the values it must see again.
type authRequest struct {
	url, state, nonce, verifier string
}

func (f *rpFlow) newRequest() authRequest {
	r := authRequest{state: rand.Text(), nonce: rand.Text(), verifier: oauth2.GenerateVerifier()}
	r.url = f.conf.AuthCodeURL(r.state, oauth2.S256ChallengeOption(r.verifier), oidc.Nonce(r.nonce))
	return r
}

// callback returns the code the browser brought to the relying party's
// callback, after checking state and iss (RFC 9207).
func (f *rpFlow) callback(b *browser, req authRequest) string {
	f.t.Helper()
	if loc := b.location(); !strings.HasPrefix(loc, f.rp.url("/callback?")) {
		f.t.Fatalf("the browser is at %s, showing %q, not at the relying party's callback", loc, b.heading())
	}
	q := receive(f.t, f.rp.callbacks, "the relying party's callback")
	if e := q.Get("error"); e != "" {
		f.t.Fatalf("the callback got error=%s: %s", e, q.Get("error_description"))
	}
	if got := q.Get("state"); got != req.state {
		f.t.Errorf("callback state = %q, want %q", got, req.state)
	}
	if got := q.Get("iss"); got != f.in.base {
		f.t.Errorf("callback iss = %q, want the issuer %q", got, f.in.base)
	}
	code := q.Get("code")
	if code == "" {
		f.t.Fatalf("the callback has no code: %v", q)
	}
	return code
}

// login is what the relying party holds after a sign-in.
type login struct {
	req   authRequest
	code  string
	tok   *oauth2.Token
	rawID string
	id    *oidc.IDToken
	sid   string
}

// tokens are the login's access token and its refresh token, if it got
// one (with openid, only offline_access brings one).
func (l login) tokens() []string {
	if l.tok.RefreshToken == "" {
		return []string{l.tok.AccessToken}
	}
	return []string{l.tok.AccessToken, l.tok.RefreshToken}
}

// exchange redeems the code with the PKCE verifier and checks what it
// brings as a relying party must: the ID Token's signature, issuer,
// audience and expiry (go-oidc), its nonce, sid and at_hash, and the
// profile at userinfo.
func (f *rpFlow) exchange(req authRequest, code string) login {
	f.t.Helper()
	tok, err := f.conf.Exchange(f.ctx, code, oauth2.VerifierOption(req.verifier))
	if err != nil {
		f.t.Fatalf("exchange the code: %v", err)
	}
	l := login{req: req, code: code, tok: tok}
	l.rawID, _ = tok.Extra("id_token").(string)
	if l.rawID == "" {
		f.t.Fatal("the token response has no id_token")
	}
	if l.id, err = f.verifier.Verify(f.ctx, l.rawID); err != nil {
		f.t.Fatalf("verify the ID Token: %v", err)
	}
	var claims struct {
		Sid string `json:"sid"`
	}
	if err := l.id.Claims(&claims); err != nil {
		f.t.Fatal(err)
	}
	l.sid = claims.Sid
	switch {
	case l.id.Nonce != req.nonce:
		f.t.Errorf("ID Token nonce = %q, want %q", l.id.Nonce, req.nonce)
	case l.sid == "":
		f.t.Error("the ID Token has no sid")
	case l.id.AccessTokenHash == "":
		f.t.Error("the ID Token has no at_hash")
	}
	if err := l.id.VerifyAccessToken(tok.AccessToken); err != nil {
		f.t.Errorf("at_hash: %v", err)
	}
	f.userinfo(l)
	if tok.RefreshToken == "" {
		f.t.Log("no refresh token: with openid, only offline_access brings one")
	}
	for _, tok := range l.tokens() {
		if !f.active(tok) {
			f.t.Errorf("a token just issued is not active at introspection: %.12s…", tok)
		}
	}
	return l
}

// userinfo checks the profile claims the user was registered with.
func (f *rpFlow) userinfo(l login) {
	f.t.Helper()
	ui, err := f.provider.UserInfo(f.ctx, oauth2.StaticTokenSource(l.tok))
	if err != nil {
		f.t.Fatalf("userinfo: %v", err)
	}
	var claims struct {
		Name     string `json:"name"`
		Username string `json:"preferred_username"`
	}
	if err := ui.Claims(&claims); err != nil {
		f.t.Fatal(err)
	}
	if ui.Subject != l.id.Subject || ui.Email != rpEmail || claims.Name != rpFullName || claims.Username != rpUser {
		f.t.Errorf("userinfo: sub %q, email %q, name %q, preferred_username %q; want %q, %q, %q, %q",
			ui.Subject, ui.Email, claims.Name, claims.Username, l.id.Subject, rpEmail, rpFullName, rpUser)
	}
}

// replay presents the login's code again: refused with invalid_grant, and
// the tokens it brought are revoked (RFC 6749 §4.1.2).
func (f *rpFlow) replay(l login) {
	f.t.Helper()
	_, err := f.conf.Exchange(f.ctx, l.code, oauth2.VerifierOption(l.req.verifier))
	var re *oauth2.RetrieveError
	if !errors.As(err, &re) || re.ErrorCode != "invalid_grant" {
		f.t.Fatalf("the code presented a second time: %v; want invalid_grant", err)
	}
	for _, tok := range l.tokens() {
		if f.active(tok) {
			f.t.Errorf("after the code was replayed, a token it brought is still active: %.12s…", tok)
		}
	}
	f.t.Log("the replayed code was refused with invalid_grant and its tokens revoked")
}

// active asks introspection, with the client's own credentials, whether
// tok is active.
func (f *rpFlow) active(tok string) bool {
	f.t.Helper()
	req, err := http.NewRequestWithContext(f.t.Context(), http.MethodPost, f.in.base+"/oauth2/introspect",
		strings.NewReader(url.Values{"token": {tok}}.Encode()))
	if err != nil {
		f.t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.SetBasicAuth(url.QueryEscape(f.conf.ClientID), url.QueryEscape(f.conf.ClientSecret))
	resp, err := f.http.Do(req)
	if err != nil {
		f.t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	var m struct {
		Active bool `json:"active"`
	}
	if resp.StatusCode != http.StatusOK || json.Unmarshal(body, &m) != nil {
		f.t.Fatalf("introspect: %s %s", resp.Status, body)
	}
	return m.Active
}

// logoutURL is the relying party's RP-Initiated Logout request.
func (f *rpFlow) logoutURL(idTokenHint, state string) string {
	return f.endSession + "?" + url.Values{"id_token_hint": {idTokenHint},
		"post_logout_redirect_uri": {f.rp.url("/signed-out")}, "state": {state}}.Encode()
}

// signedOut checks that the browser came back to the post-logout URI with
// the state.
func (f *rpFlow) signedOut(b *browser, state string) {
	f.t.Helper()
	if loc := b.location(); !strings.HasPrefix(loc, f.rp.url("/signed-out?")) {
		f.t.Fatalf("the browser is at %s, showing %q, not at the post-logout redirect URI", loc, b.heading())
	}
	q := receive(f.t, f.rp.signedOut, "the relying party's post-logout redirect URI")
	if got := q.Get("state"); got != state {
		f.t.Errorf("post-logout state = %q, want %q", got, state)
	}
}

// backchannelEvent is the member of a Logout Token's events claim
// (Back-Channel Logout 1.0 §2.4).
const backchannelEvent = "http://schemas.openid.net/event/backchannel-logout"

// logoutToken waits for the Logout Token that after tells the relying
// party of at its back-channel logout URI, and checks it as the relying
// party must: go-oidc checks the signature with the provider's keys, iss,
// aud, exp, jti, the event and that there is no nonce; then its typ, and
// that its sid and sub are those of l's ID Token.
func (f *rpFlow) logoutToken(l login, after string) {
	f.t.Helper()
	began := time.Now()
	raw := receive(f.t, f.rp.logoutTokens, "the Logout Token of "+after+" at the back-channel logout URI")
	waited := time.Since(began)
	lt, err := f.verifier.VerifyLogout(f.ctx, raw)
	if err != nil {
		f.t.Fatalf("verify the Logout Token: %v", err)
	}
	jws, err := jose.ParseSigned(raw, []jose.SignatureAlgorithm{jose.RS256, jose.ES256, jose.EdDSA})
	if err != nil {
		f.t.Fatal(err)
	}
	if typ := jws.Signatures[0].Header.ExtraHeaders[jose.HeaderType]; typ != "logout+jwt" {
		f.t.Errorf("Logout Token typ = %v, want logout+jwt", typ)
	}
	var claims struct {
		Events map[string]json.RawMessage `json:"events"`
	}
	if err := lt.Claims(&claims); err != nil {
		f.t.Fatal(err)
	}
	if ev := strings.Join(strings.Fields(string(claims.Events[backchannelEvent])), ""); ev != "{}" || len(claims.Events) != 1 {
		f.t.Errorf("Logout Token events = %v, want only %s: {}", claims.Events, backchannelEvent)
	}
	if lt.SessionID != l.sid || lt.Subject != l.id.Subject {
		f.t.Errorf("Logout Token sid %q, sub %q; want the ID Token's %q, %q", lt.SessionID, lt.Subject, l.sid, l.id.Subject)
	}
	f.t.Logf("the Logout Token of %s came to the back-channel logout URI after %s (sid %s)",
		after, waited.Round(time.Millisecond), lt.SessionID)
}
