package rs

import (
	"bytes"
	"compress/zlib"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"
)

// fakeAS is a hand-written authorization server: metadata, JWKS, one
// status list, introspection and a revocation feed the test drives.
type fakeAS struct {
	t   *testing.T
	srv *httptest.Server
	key *ecdsa.PrivateKey
	kid string

	mu          sync.Mutex
	revokedBits map[int64]bool
	active      map[string]map[string]any // opaque token → introspection answer
	feedDown    bool                      // the feed answers 503
	listDown    bool                      // the status list answers 503
	lastEventID []string                  // Last-Event-ID of each feed request
	events      []string                  // SSE blocks sent to every stream, in order

	jwksFetches, listFetches, introspections, feedConnects atomic.Int64
	push                                                   chan struct{} // wakes streams
	dropStreams                                            chan struct{} // closes streams
}

const (
	asClientID     = "rs-client"
	asClientSecret = "rs secret/with:odd chars"
	audience       = "https://api.example"
)

func newFakeAS(t *testing.T) *fakeAS {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	a := &fakeAS{t: t, key: key, kid: "k1", revokedBits: map[int64]bool{}, active: map[string]map[string]any{},
		push: make(chan struct{}), dropStreams: make(chan struct{})}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /.well-known/oauth-authorization-server", func(w http.ResponseWriter, r *http.Request) {
		json.NewEncoder(w).Encode(map[string]string{
			"issuer": a.srv.URL, "jwks_uri": a.srv.URL + "/jwks",
			"introspection_endpoint": a.srv.URL + "/introspect", "revocation_feed_endpoint": a.srv.URL + "/feed",
		})
	})
	mux.HandleFunc("GET /jwks", func(w http.ResponseWriter, r *http.Request) {
		a.jwksFetches.Add(1)
		json.NewEncoder(w).Encode(jose.JSONWebKeySet{Keys: []jose.JSONWebKey{{Key: &a.key.PublicKey, KeyID: a.kid, Algorithm: "ES256", Use: "sig"}}})
	})
	mux.HandleFunc("GET /statuslists/0", a.statusList)
	mux.HandleFunc("POST /introspect", a.introspect)
	mux.HandleFunc("GET /feed", a.feed)
	a.srv = httptest.NewServer(mux)
	t.Cleanup(a.srv.Close)
	return a
}

func (a *fakeAS) authorised(r *http.Request) bool {
	id, secret, ok := r.BasicAuth()
	return ok && id == asClientID && secret == "rs+secret%2Fwith%3Aodd+chars" // RFC 6749 §2.3.1 form-encoding
}

func (a *fakeAS) sign(typ string, claims any) string {
	a.t.Helper()
	signer, err := jose.NewSigner(jose.SigningKey{Algorithm: jose.ES256, Key: a.key},
		(&jose.SignerOptions{}).WithType(jose.ContentType(typ)).WithHeader("kid", a.kid))
	if err != nil {
		a.t.Fatal(err)
	}
	payload, _ := json.Marshal(claims)
	jws, err := signer.Sign(payload)
	if err != nil {
		a.t.Fatal(err)
	}
	s, _ := jws.CompactSerialize()
	return s
}

// jwt issues an access token; edit changes its claims.
func (a *fakeAS) jwt(idx int64, edit func(map[string]any)) string {
	now := time.Now()
	c := map[string]any{
		"iss": a.srv.URL, "sub": "alice", "aud": audience, "client_id": "app", "scope": "read write",
		"iat": now.Unix(), "exp": now.Add(time.Hour).Unix(), "jti": "jti-" + strconv.FormatInt(idx, 10),
		"status": map[string]any{"status_list": map[string]any{"idx": idx, "uri": a.srv.URL + "/statuslists/0"}},
	}
	if edit != nil {
		edit(c)
	}
	return a.sign("at+jwt", c)
}

func (a *fakeAS) statusList(w http.ResponseWriter, r *http.Request) {
	a.listFetches.Add(1)
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.listDown {
		w.WriteHeader(http.StatusServiceUnavailable)
		return
	}
	bits := make([]byte, 16)
	for i := range a.revokedBits {
		bits[i/8] |= 1 << (i % 8)
	}
	var z bytes.Buffer
	zw := zlib.NewWriter(&z)
	zw.Write(bits)
	zw.Close()
	now := time.Now()
	w.Header().Set("Content-Type", "application/statuslist+jwt")
	fmt.Fprint(w, a.sign("statuslist+jwt", map[string]any{
		"sub": a.srv.URL + "/statuslists/0", "iat": now.Unix(), "exp": now.Add(time.Hour).Unix(), "ttl": 300,
		"status_list": map[string]any{"bits": 1, "lst": base64.RawURLEncoding.EncodeToString(z.Bytes())},
	}))
}

func (a *fakeAS) introspect(w http.ResponseWriter, r *http.Request) {
	a.introspections.Add(1)
	if !a.authorised(r) {
		w.WriteHeader(http.StatusUnauthorized)
		return
	}
	a.mu.Lock()
	ans, ok := a.active[r.PostFormValue("token")]
	a.mu.Unlock()
	if !ok {
		ans = map[string]any{"active": false}
	}
	json.NewEncoder(w).Encode(ans)
}

// feed sends every block of a.events past the Last-Event-ID, then "ready",
// then whatever is pushed, until dropStreams is closed.
func (a *fakeAS) feed(w http.ResponseWriter, r *http.Request) {
	a.feedConnects.Add(1)
	a.mu.Lock()
	a.lastEventID = append(a.lastEventID, r.Header.Get("Last-Event-ID"))
	down := a.feedDown
	drop := a.dropStreams
	a.mu.Unlock()
	if !a.authorised(r) {
		w.WriteHeader(http.StatusUnauthorized)
		return
	}
	if down {
		w.WriteHeader(http.StatusServiceUnavailable)
		return
	}
	w.Header().Set("Content-Type", "text/event-stream")
	from, _ := strconv.Atoi(r.Header.Get("Last-Event-ID"))
	sent := from
	ready := false
	for {
		a.mu.Lock()
		evs := a.events[min(sent, len(a.events)):]
		push := a.push
		a.mu.Unlock()
		for _, e := range evs {
			sent++
			fmt.Fprintf(w, "id: %d\n%s\n\n", sent, e)
		}
		if !ready {
			fmt.Fprintf(w, ": caught up\nid: %d\nevent: ready\ndata: {\"seq\":%d}\n\n", sent, sent)
			ready = true
		}
		w.(http.Flusher).Flush()
		select {
		case <-push:
		case <-drop:
			return
		case <-r.Context().Done():
			return
		}
	}
}

// revoke appends a revocation of jti and the hash of token to the feed.
func (a *fakeAS) revoke(jti, token string) {
	h := sha256.Sum256([]byte(token))
	data, _ := json.Marshal(map[string]any{
		"seq": len(a.events) + 1, "jti": []string{jti},
		"token_hashes": []string{base64.RawURLEncoding.EncodeToString(h[:])}, "exp": time.Now().Add(time.Hour).Unix(),
	})
	a.mu.Lock()
	a.events = append(a.events, "event: revocation\ndata: "+string(data))
	close(a.push)
	a.push = make(chan struct{})
	a.mu.Unlock()
}

// subjectEntry publishes a revocation message that covers no token, as a
// subject entry of tokend's log would be if a feed sent one (tokend's does
// not): no jti, no hash, no exp.
func (a *fakeAS) subjectEntry() {
	data, _ := json.Marshal(map[string]any{"seq": len(a.events) + 1, "jti": []string{}, "token_hashes": []string{},
		"sub": "carol", "reason": "user_disabled"})
	a.mu.Lock()
	a.events = append(a.events, "event: revocation\ndata: "+string(data))
	close(a.push)
	a.push = make(chan struct{})
	a.mu.Unlock()
}

// drop closes every open stream (a restart of the server).
func (a *fakeAS) drop() {
	a.mu.Lock()
	close(a.dropStreams)
	a.dropStreams = make(chan struct{})
	a.mu.Unlock()
}

func (a *fakeAS) set(fn func(a *fakeAS)) {
	a.mu.Lock()
	defer a.mu.Unlock()
	fn(a)
}
