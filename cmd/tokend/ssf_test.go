package main

import (
	"encoding/base64"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/tokend/tokend/internal/store"
	"github.com/tokend/tokend/internal/store/sqlite"
)

// startPlainTokend starts `tokend serve` over plain HTTP on a free port
// and a fresh data folder: two of them can push to each other without
// trusting each other's self-signed certificates.
func startPlainTokend(t *testing.T) *instance {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	return startTokendAt(t, t.TempDir(), addr, "TOKEND_INSECURE_HTTP=true")
}

// TestSharedSignalsBetweenTwoServers: two tokend processes, the first a
// Shared Signals transmitter pushing to the second's receiver, which
// trusts the first as an issuer (tokend issuer add). A password change on
// the first (the CLI, beside the running server) made while the second is
// stopped revokes, once the second is back, the grant of that user that
// came from the first; the first's /metrics counts the failed push and
// the delivered one.
func TestSharedSignalsBetweenTwoServers(t *testing.T) {
	t.Parallel() // its own data folders and free ports; it sets no environment
	up, rx := startPlainTokend(t), startPlainTokend(t)
	up.tokend("a good password\n", "user", "add", "alice", "--password-stdin")
	var app struct {
		ID     string `json:"client_id"`
		Secret string `json:"client_secret"`
	}
	if err := json.Unmarshal([]byte(up.tokend("", "client", "create", "--name", "app", "--grant", "password", "--json")), &app); err != nil {
		t.Fatal(err)
	}
	if status, m := up.postForm("/oauth2/token", "grant_type=password&username=alice&password=a+good+password",
		"Authorization", "Basic "+basicAuth(app.ID, app.Secret)); status != http.StatusOK {
		t.Fatalf("password grant: %d %v", status, m)
	}
	jwks := filepath.Join(t.TempDir(), "jwks.json")
	if err := os.WriteFile(jwks, []byte(get(t, up.base+"/oauth2/jwks")), 0o600); err != nil {
		t.Fatal(err)
	}
	rx.tokend("", "issuer", "add", "--iss", up.base, "--jwks-file", jwks)
	alice := userID(t, up.data, "alice")
	grant := seedUpstreamGrant(t, rx.data, alice+"@"+up.base)

	status, m := up.postJSON("/ssf/stream", `{"aud":"`+rx.base+`","events_requested":["https://schemas.openid.net/secevent/caep/event-type/credential-change"],
		"delivery":{"method":"urn:ietf:rfc:8935","endpoint_url":"`+rx.base+`/ssf/receive"}}`)
	if status != http.StatusCreated {
		t.Fatalf("create stream: %d %v", status, m)
	}
	rx.stop()
	up.tokend("a new password\n", "user", "passwd", "alice", "--password-stdin")
	waitMetric(t, up, `tokend_ssf_pushes_total{outcome="retried"} 1`)
	rx = startTokendAt(t, rx.data, rx.addr, "TOKEND_INSECURE_HTTP=true")
	deadline := time.Now().Add(30 * time.Second)
	for !revoked(t, rx.data, grant) {
		if time.Now().After(deadline) {
			t.Fatalf("the upstream grant was not revoked on the receiver; transmitter log:\n%s\nreceiver log:\n%s", up.out, rx.out)
		}
		time.Sleep(50 * time.Millisecond)
	}
	if out := rx.tokend("", "audit"); !strings.Contains(out, store.ReasonUpstreamSignal) || !strings.Contains(out, up.base) {
		t.Errorf("receiver's audit log does not show the upstream_signal revocation by %s:\n%s", up.base, out)
	}
	metrics := waitMetric(t, up, `tokend_ssf_pushes_total{outcome="delivered"} 1`)
	if sets := grepLines(metrics, `tokend_ssf_stream_sets{state="delivered"`); !strings.HasSuffix(strings.TrimSpace(sets), "} 1") {
		t.Errorf("/metrics does not count the SET delivered:\n%s", grepLines(metrics, "tokend_ssf_"))
	}
	up.stop()
	rx.stop()
}

// waitMetric waits up to 20 s for the instance's /metrics to hold line,
// and returns them.
func waitMetric(t *testing.T, in *instance, line string) string {
	t.Helper()
	var metrics string
	for deadline := time.Now().Add(20 * time.Second); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		if metrics = in.metrics(); strings.Contains(metrics, line) {
			return metrics
		}
	}
	t.Fatalf("/metrics does not hold %s:\n%s", line, grepLines(metrics, "tokend_ssf_"))
	return ""
}

// basicAuth is the credentials of HTTP Basic authentication (RFC 7617).
func basicAuth(id, secret string) string {
	return base64.StdEncoding.EncodeToString([]byte(id + ":" + secret))
}

func get(t *testing.T, url string) string {
	t.Helper()
	resp, err := insecureClient().Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return string(b)
}

// userID reads the ID of user name from the data folder's store.
func userID(t *testing.T, data, name string) string {
	t.Helper()
	st, err := sqlite.Open(dbFile(data), sqlite.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	u, err := st.GetUser(t.Context(), name)
	if err != nil {
		t.Fatal(err)
	}
	return u.ID
}

// seedUpstreamGrant stores, beside the running server, a grant for the
// upstream subject as the JWT bearer grant makes them, and returns the
// hash of its token.
func seedUpstreamGrant(t *testing.T, data, subject string) store.Hash {
	t.Helper()
	st, err := sqlite.Open(dbFile(data), sqlite.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	now := time.Now()
	if err := st.CreateClient(t.Context(), store.Client{ID: "api", AuthMethod: "client_secret_basic", SecretHash: "sha256$x",
		TokenFormat: "opaque", CreatedAt: now, UpdatedAt: now}); err != nil {
		t.Fatal(err)
	}
	h := store.HashToken("upstream grant token")
	g := store.Grant{ID: "g-upstream", ClientID: "api", Subject: subject, CreatedAt: now, ExpiresAt: now.Add(time.Hour)}
	if err := st.CreateGrant(t.Context(), g, []store.Token{{Hash: h, Kind: store.AccessToken, IssuedAt: now, ExpiresAt: now.Add(time.Hour)}}); err != nil {
		t.Fatal(err)
	}
	return h
}

// revoked reports whether the store beside the running server holds the
// token with hash h revoked.
func revoked(t *testing.T, data string, h store.Hash) bool {
	t.Helper()
	st, err := sqlite.Open(dbFile(data), sqlite.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	rec, err := st.LookupToken(t.Context(), h)
	if err != nil {
		t.Fatal(err)
	}
	return rec.Revoked
}
