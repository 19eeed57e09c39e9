package backchannel_test

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"

	"github.com/tokend/tokend/internal/backchannel"
	"github.com/tokend/tokend/internal/revocation"
	"github.com/tokend/tokend/internal/store"
	"github.com/tokend/tokend/internal/store/sqlite"
	"github.com/tokend/tokend/internal/testserver"
	"github.com/tokend/tokend/internal/token"
)

const issuer = "https://tokend.test"

// fast is a follower configuration whose waits are short enough for tests.
func fast(st backchannel.Store, jwts *token.JWTs) backchannel.Config {
	return backchannel.Config{
		Store: st, Tokens: jwts, Poll: 20 * time.Millisecond,
		Backoff: 20 * time.Millisecond, MaxBackoff: 50 * time.Millisecond, Timeout: 2 * time.Second,
	}
}

// logs is a log/slog handler's output, safe for the follower's goroutines.
type logs struct {
	mu  sync.Mutex
	buf strings.Builder
}

func (l *logs) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.Write(p)
}

func (l *logs) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.String()
}

// logTo has cfg log to a new logs, which it returns.
func logTo(cfg *backchannel.Config) *logs {
	l := &logs{}
	cfg.Logger = slog.New(slog.NewTextHandler(l, nil))
	return l
}

// newJWTs returns the signer of a keyring of its own in a temporary folder.
func newJWTs(t *testing.T) *token.JWTs {
	t.Helper()
	keys, err := token.OpenKeyring(t.TempDir(), "ES256", nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := keys.EnsureActive("ES256"); err != nil {
		t.Fatal(err)
	}
	return &token.JWTs{Keys: keys, Issuer: issuer}
}

// openSQLite opens the SQLite store at path, closed when t ends.
func openSQLite(t *testing.T, path string) store.Store {
	t.Helper()
	st, err := sqlite.Open(path, sqlite.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	return st
}

func newSQLite(t *testing.T) store.Store {
	path := filepath.Join(t.TempDir(), "tokend.db")
	testserver.MigratedDatabase(t, path) // migrated once per process, copied
	return openSQLite(t, path)
}

// start starts a follower with cfg, stopped when t ends.
func start(t *testing.T, cfg backchannel.Config) (stop func()) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	f := backchannel.New(cfg)
	f.Start(ctx)
	var once sync.Once
	stop = func() { once.Do(func() { cancel(); f.Wait() }) }
	t.Cleanup(stop)
	return stop
}

// receiver is a relying party's back-channel logout endpoint: it keeps
// every Logout Token POSTed to it and answers with answer(n), n counting
// the requests from 1.
type receiver struct {
	*httptest.Server
	mu     sync.Mutex
	tokens []string
	bad    []string // what was wrong with a request, if anything
	n      int
	answer func(n int) int
}

func newReceiver(t *testing.T, answer func(n int) int) *receiver {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	return receiveOn(t, ln, answer)
}

// receiveOn is newReceiver listening on ln; answer nil always says 200.
func receiveOn(t *testing.T, ln net.Listener, answer func(n int) int) *receiver {
	r := &receiver{answer: answer}
	if r.answer == nil {
		r.answer = func(int) int { return http.StatusOK }
	}
	r.Server = httptest.NewUnstartedServer(http.HandlerFunc(r.serve))
	r.Listener.Close()
	r.Listener = ln
	r.Start()
	t.Cleanup(r.Close)
	return r
}

func (r *receiver) serve(w http.ResponseWriter, req *http.Request) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.n++
	switch {
	case req.Method != http.MethodPost:
		r.bad = append(r.bad, "method "+req.Method)
	case req.Header.Get("Content-Type") != "application/x-www-form-urlencoded":
		r.bad = append(r.bad, "Content-Type "+req.Header.Get("Content-Type"))
	}
	if err := req.ParseForm(); err != nil || len(req.PostForm) != 1 || len(req.PostForm["logout_token"]) != 1 {
		r.bad = append(r.bad, fmt.Sprintf("form %v (%v)", req.PostForm, err))
	}
	status := r.answer(r.n)
	if status == http.StatusOK {
		r.tokens = append(r.tokens, req.PostForm.Get("logout_token"))
	}
	w.WriteHeader(status)
}

// received returns the tokens accepted so far and the requests' faults.
func (r *receiver) received() (tokens, bad []string, requests int) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]string(nil), r.tokens...), append([]string(nil), r.bad...), r.n
}

// waitFor waits up to 10 s for r to have accepted n tokens, then checks
// for a while that no more come, and returns them.
func (r *receiver) waitFor(t *testing.T, n int) []string {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		got, bad, _ := r.received()
		if len(bad) > 0 {
			t.Fatalf("malformed back-channel logout requests: %q", bad)
		}
		if len(got) >= n || time.Now().After(deadline) {
			break
		}
		time.Sleep(10 * time.Millisecond)
	}
	time.Sleep(200 * time.Millisecond) // ten polls: long enough for a duplicate to show
	got, _, _ := r.received()
	if len(got) != n {
		t.Fatalf("receiver got %d Logout Tokens; want %d", len(got), n)
	}
	return got
}

// logoutClaims verifies raw against the JWKS, as a relying party does
// (Back-Channel Logout 1.0 §2.6), and returns its claims: signed by a key
// of the set, typ logout+jwt, issued by issuer to aud, the back-channel
// logout event, a jti, a lifetime of ttl, and no nonce. An aud of ""
// is not checked.
func logoutClaims(t *testing.T, raw string, jwks jose.JSONWebKeySet, aud string, ttl time.Duration) map[string]any {
	t.Helper()
	jws, err := jose.ParseSigned(raw, []jose.SignatureAlgorithm{jose.ES256, jose.RS256, jose.EdDSA})
	if err != nil {
		t.Fatalf("parse Logout Token: %v", err)
	}
	h := jws.Signatures[0].Protected
	if typ := h.ExtraHeaders["typ"]; typ != "logout+jwt" {
		t.Errorf("typ %v; want logout+jwt", typ)
	}
	keys := jwks.Key(h.KeyID)
	if len(keys) != 1 {
		t.Fatalf("kid %q is not in the JWKS", h.KeyID)
	}
	payload, err := jws.Verify(keys[0])
	if err != nil {
		t.Fatalf("Logout Token does not verify with the JWKS: %v", err)
	}
	var c map[string]any
	if err := json.Unmarshal(payload, &c); err != nil {
		t.Fatal(err)
	}
	iat, _ := c["iat"].(float64)
	exp, _ := c["exp"].(float64)
	events, _ := c["events"].(map[string]any)
	event, ok := events["http://schemas.openid.net/event/backchannel-logout"].(map[string]any)
	switch {
	case c["iss"] != issuer:
		t.Errorf("iss %v; want %s", c["iss"], issuer)
	case aud != "" && c["aud"] != aud:
		t.Errorf("aud %v; want %s", c["aud"], aud)
	case c["jti"] == nil || c["jti"] == "":
		t.Error("no jti")
	case time.Duration(exp-iat)*time.Second != ttl || time.Since(time.Unix(int64(iat), 0)) > time.Minute:
		t.Errorf("iat %v exp %v; want issued now for %s", iat, exp, ttl)
	case !ok || len(event) != 0 || len(events) != 1:
		t.Errorf("events %v; want the back-channel logout event alone, an empty object", c["events"])
	case c["nonce"] != nil:
		t.Errorf("nonce %v; a Logout Token has none", c["nonce"])
	}
	return c
}

// seed holds what the tests revoke: users u1 (alice) and u2 (bob),
// sessions, and grants made in them.
type seed struct {
	st     store.Store
	engine *revocation.Engine
}

func newSeed(t *testing.T, st store.Store) *seed {
	t.Helper()
	s := &seed{st: st, engine: &revocation.Engine{Store: st}}
	for _, u := range []store.User{{ID: "u1", Username: "alice"}, {ID: "u2", Username: "bob"}} {
		if err := st.CreateUser(t.Context(), u); err != nil {
			t.Fatal(err)
		}
	}
	return s
}

// client registers client id; uri is its back-channel logout URI, "" for
// none.
func (s *seed) client(t *testing.T, id, uri string) {
	t.Helper()
	c := store.Client{ID: id, AuthMethod: "client_secret_basic", SecretHash: "sha256$x", TokenFormat: "opaque", BackchannelLogoutURI: uri}
	if err := s.st.CreateClient(t.Context(), c); err != nil {
		t.Fatal(err)
	}
}

// session starts session sid of user.
func (s *seed) session(t *testing.T, sid, user string) {
	t.Helper()
	now := time.Now()
	sess := store.Session{ID: sid, UserID: user, Username: user, AuthTime: now, Method: "pwd",
		CreatedAt: now, LastSeen: now, ExpiresAt: now.Add(time.Hour)}
	if err := s.st.CreateSession(t.Context(), sess); err != nil {
		t.Fatal(err)
	}
}

// grant makes grant id of client for user in session sid ("" for none).
func (s *seed) grant(t *testing.T, id, client, user, sid, scope string) {
	t.Helper()
	now := time.Now()
	g := store.Grant{ID: id, ClientID: client, Subject: user, Scope: scope, SessionID: sid, CreatedAt: now, ExpiresAt: now.Add(time.Hour)}
	tok := store.Token{Hash: store.HashToken(id), Kind: store.RefreshToken, IssuedAt: now, ExpiresAt: now.Add(time.Hour)}
	if err := s.st.CreateGrant(t.Context(), g, []store.Token{tok}); err != nil {
		t.Fatal(err)
	}
}

// waitCount waits up to 10 s for the count of deliveries in state to be n.
func waitCount(t *testing.T, st store.Store, state string, n int64) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		got, err := st.CountLogouts(t.Context(), state)
		if err == nil && got == n {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d deliveries %s (%v); want %d", got, state, err, n)
		}
		time.Sleep(10 * time.Millisecond)
	}
}
