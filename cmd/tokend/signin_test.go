package main

import (
	"crypto/sha256"
	"crypto/tls"
	"encoding/base64"
	"encoding/json"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"regexp"
	"strings"
	"testing"
)

// TestServeBrowserSignIn: serve mounts browser sign-in with the
// authorization code grant on: a person signs in and allows an app on the
// pages of the real binary, over TLS, and the app exchanges the code for an
// ID Token; the session cookie lives --session-ttl (12h by default).
func TestServeBrowserSignIn(t *testing.T) {
	in := startTokend(t)
	in.tokend("correct horse battery\n", "user", "add", "--password-stdin", "ada")
	const redirect = "http://127.0.0.1/cb"
	status, reg := in.postJSON("/api/identity/oauth2/dcr/v1.1/register", `{"client_name":"Photo Album",
		"grant_types":["authorization_code"],"redirect_uris":["`+redirect+`"],"token_endpoint_auth_method":"none"}`)
	clientID, _ := reg["client_id"].(string)
	if status != http.StatusCreated || clientID == "" {
		t.Fatalf("register: %d %v", status, reg)
	}
	jar, _ := cookiejar.New(nil)
	browser := &http.Client{Jar: jar,
		Transport:     &http.Transport{TLSClientConfig: &tls.Config{InsecureSkipVerify: true}},
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	verifier := strings.Repeat("v", 43)
	sum := sha256.Sum256([]byte(verifier))
	params := url.Values{"response_type": {"code"}, "client_id": {clientID}, "redirect_uri": {redirect},
		"scope": {"openid"}, "state": {"s1"}, "code_challenge_method": {"S256"},
		"code_challenge": {base64.RawURLEncoding.EncodeToString(sum[:])}}
	csrfRe := regexp.MustCompile(`name="csrf_token" value="([^"]+)"`)
	step := func(resp *http.Response, err error) (*http.Response, string) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		body, _ := io.ReadAll(resp.Body)
		return resp, string(body)
	}
	resp, body := step(browser.Get(in.base + "/oauth2/authorize?" + params.Encode()))
	m := csrfRe.FindStringSubmatch(body)
	if resp.StatusCode != http.StatusOK || m == nil || !strings.Contains(resp.Header.Get("Content-Security-Policy"), "frame-ancestors 'none'") {
		t.Fatalf("the sign-in page: %d %q\n%s", resp.StatusCode, resp.Header.Get("Content-Security-Policy"), body)
	}
	form := url.Values{"csrf_token": {m[1]}, "action": {"sign_in"}, "username": {"ada"}, "password": {"correct horse battery"}}
	for k, v := range params {
		form[k] = v
	}
	resp, body = step(browser.PostForm(in.base+"/oauth2/authorize", form))
	if resp.StatusCode != http.StatusOK || !strings.Contains(body, "Allow Photo Album?") {
		t.Fatalf("the consent page: %d\n%s", resp.StatusCode, body)
	}
	if c := strings.Join(resp.Header.Values("Set-Cookie"), "\n"); !strings.Contains(c, "__Host-tokend-session=") || !strings.Contains(c, "Max-Age=43200") {
		t.Errorf("session cookie %q; want __Host-tokend-session for 12h", c)
	}
	form.Set("action", "allow")
	resp, _ = step(browser.PostForm(in.base+"/oauth2/authorize", form))
	loc, _ := url.Parse(resp.Header.Get("Location"))
	if resp.StatusCode != http.StatusSeeOther || loc == nil || loc.Query().Get("code") == "" || loc.Query().Get("iss") != in.base {
		t.Fatalf("allow: %d, Location %q; want the code with iss %s", resp.StatusCode, resp.Header.Get("Location"), in.base)
	}
	status, tok := in.postForm("/oauth2/token", url.Values{"grant_type": {"authorization_code"}, "client_id": {clientID},
		"code": {loc.Query().Get("code")}, "redirect_uri": {redirect}, "code_verifier": {verifier}}.Encode())
	if idToken, _ := tok["id_token"].(string); status != http.StatusOK || idToken == "" {
		b, _ := json.Marshal(tok)
		t.Fatalf("token: %d %s; want an ID Token", status, b)
	}
}
