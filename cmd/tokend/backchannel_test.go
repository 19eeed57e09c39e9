package main

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"

	"github.com/tokend/tokend/internal/store"
	"github.com/tokend/tokend/internal/store/sqlite"
)

// TestBackchannelLogoutThroughServe: tokend serve delivers a Logout Token
// to a client registered with --backchannel-logout-uri when the CLI
// revokes a user's grants made in a browser session; the token verifies
// against the server's JWKS, and /metrics counts the delivery.
func TestBackchannelLogoutThroughServe(t *testing.T) {
	t.Parallel()
	in := startTokend(t)
	tokens := make(chan string, 4)
	rp := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodPost && r.Header.Get("Content-Type") == "application/x-www-form-urlencoded" {
			tokens <- r.PostFormValue("logout_token")
		}
	}))
	t.Cleanup(rp.Close)
	in.tokend("", "client", "create", "--name", "rp", "--id", "rp1", "--backchannel-logout-uri", rp.URL+"/backchannel")
	in.tokend("a good password\n", "user", "add", "alice", "--password-stdin")
	alice := seedSessionGrant(t, in.data, "alice", "sid-1", "rp1")

	in.tokend("", "revoke", "--user", "alice")
	var raw string
	select {
	case raw = <-tokens:
	case <-time.After(15 * time.Second):
		t.Fatalf("no Logout Token reached the client; log:\n%s", in.out)
	}
	c := verifyWithJWKS(t, in, raw)
	if c["aud"] != "rp1" || c["sid"] != "sid-1" || c["sub"] != alice || c["iss"] != "https://"+in.addr || c["nonce"] != nil {
		t.Errorf("Logout Token claims %v; want aud rp1, sid sid-1, sub %s, iss https://%s and no nonce", c, alice, in.addr)
	}
	if _, ok := c["events"].(map[string]any)["http://schemas.openid.net/event/backchannel-logout"]; !ok {
		t.Errorf("events %v; want the back-channel logout event", c["events"])
	}
	// The client may hold the token before the server has recorded its
	// answer.
	var metrics string
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		if metrics = in.metrics(); strings.Contains(metrics, `tokend_backchannel_logouts_total{outcome="delivered"} 1`) {
			break
		}
	}
	if !strings.Contains(metrics, `tokend_backchannel_logouts_total{outcome="delivered"} 1`) {
		t.Errorf("/metrics does not count the delivery:\n%s", grepLines(metrics, "backchannel"))
	}
	in.stop()
	if log := in.out.String(); strings.Contains(log, raw) || !strings.Contains(log, "backchannel logout delivered") {
		t.Errorf("the log holds the Logout Token, or not its delivery:\n%s", grepLines(log, "backchannel"))
	}
}

// metrics returns what the instance's /metrics answers the admin token.
func (in *instance) metrics() string {
	in.t.Helper()
	req, _ := http.NewRequestWithContext(in.t.Context(), http.MethodGet, in.base+"/metrics", nil)
	req.Header.Set("Authorization", "Bearer "+in.adminToken())
	resp, err := insecureClient().Do(req)
	if err != nil {
		in.t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return string(body)
}

// seedSessionGrant stores, beside the running server, a browser session
// sid of the user and a grant of client made in it, as sign-in would;
// it returns the user's ID.
func seedSessionGrant(t *testing.T, data, username, sid, client string) string {
	t.Helper()
	st, err := sqlite.Open(dbFile(data), sqlite.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	u, err := st.GetUser(t.Context(), username)
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	if err := st.CreateSession(t.Context(), store.Session{ID: sid, UserID: u.ID, Username: u.Username, AuthTime: now,
		Method: "pwd", CreatedAt: now, LastSeen: now, ExpiresAt: now.Add(time.Hour)}); err != nil {
		t.Fatal(err)
	}
	g := store.Grant{ID: "g-" + sid, ClientID: client, Subject: u.ID, Username: u.Username, Scope: "openid",
		SessionID: sid, CreatedAt: now, ExpiresAt: now.Add(time.Hour)}
	tok := store.Token{Hash: store.HashToken(g.ID), Kind: store.RefreshToken, IssuedAt: now, ExpiresAt: now.Add(time.Hour)}
	if err := st.CreateGrant(t.Context(), g, []store.Token{tok}); err != nil {
		t.Fatal(err)
	}
	return u.ID
}

// verifyWithJWKS checks raw as a relying party would, against the JWKS
// the instance publishes, and returns its claims.
func verifyWithJWKS(t *testing.T, in *instance, raw string) map[string]any {
	t.Helper()
	resp, err := insecureClient().Get(in.base + "/oauth2/jwks")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var jwks jose.JSONWebKeySet
	if err := json.NewDecoder(resp.Body).Decode(&jwks); err != nil {
		t.Fatal(err)
	}
	jws, err := jose.ParseSigned(raw, []jose.SignatureAlgorithm{jose.RS256, jose.ES256, jose.EdDSA})
	if err != nil {
		t.Fatal(err)
	}
	if typ := jws.Signatures[0].Protected.ExtraHeaders["typ"]; typ != "logout+jwt" {
		t.Errorf("typ %v; want logout+jwt", typ)
	}
	keys := jwks.Key(jws.Signatures[0].Protected.KeyID)
	if len(keys) != 1 {
		t.Fatalf("the Logout Token's kid is not in the server's JWKS")
	}
	payload, err := jws.Verify(keys[0])
	if err != nil {
		t.Fatalf("the Logout Token does not verify with the server's JWKS: %v", err)
	}
	var c map[string]any
	if err := json.Unmarshal(payload, &c); err != nil {
		t.Fatal(err)
	}
	return c
}

// grepLines returns the lines of s that hold word.
func grepLines(s, word string) string {
	var out []string
	for _, l := range strings.Split(s, "\n") {
		if strings.Contains(l, word) {
			out = append(out, l)
		}
	}
	return strings.Join(out, "\n")
}
