package web_test

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"

	"github.com/tokend/tokend/internal/backchannel"
	"github.com/tokend/tokend/internal/oauth"
	"github.com/tokend/tokend/internal/store"
	"github.com/tokend/tokend/internal/testserver"
)

// TestLogoutTellsTheAppsBackchannel: a person signs in to two apps through
// the browser, one with openid, one with openid offline_access, in one
// session, and signs out. The first app, registered with a
// backchannel_logout_uri, receives one Logout Token naming the session of
// its ID Token and the person, which verifies with the server's JWKS; the
// second, whose offline grant outlives the session, receives none.
func TestLogoutTellsTheAppsBackchannel(t *testing.T) {
	s := testserver.New(t)
	var mu sync.Mutex
	received := map[string][]string{} // by path
	rp := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		defer mu.Unlock()
		received[r.URL.Path] = append(received[r.URL.Path], r.PostFormValue("logout_token"))
	}))
	t.Cleanup(rp.Close)
	b, online, _, a := signedInWithTokens(t, s)
	for _, c := range []struct{ name, path string }{{"Photo Album", "/album"}, {"Sync", "/sync"}} {
		id := clientNamed(t, s, c.name)
		if _, err := s.Store.UpdateClient(t.Context(), id, func(cl store.Client) (store.Client, error) {
			cl.BackchannelLogoutURI = rp.URL + c.path
			return cl, nil
		}, nil); err != nil {
			t.Fatal(err)
		}
	}
	ctx, cancel := context.WithCancel(context.Background())
	f := backchannel.New(backchannel.Config{Store: s.Store, Tokens: s.JWT, Now: s.Clock.Now, Poll: 20 * time.Millisecond})
	f.Start(ctx)
	t.Cleanup(func() { cancel(); f.Wait() })

	q := url.Values{"id_token_hint": {online.IDToken}, "client_id": {a.id}}
	p := b.submit(b.get(oauth.PathEndSession+"?"+q.Encode()).form(t), "action=sign_out")
	wantPage(t, p, http.StatusOK, "You are signed out")
	deadline := time.Now().Add(10 * time.Second)
	for {
		mu.Lock()
		n := len(received["/album"])
		mu.Unlock()
		if n > 0 || time.Now().After(deadline) {
			break
		}
		time.Sleep(10 * time.Millisecond)
	}
	time.Sleep(200 * time.Millisecond) // time for a second token, or one to the offline app, to show
	mu.Lock()
	defer mu.Unlock()
	if len(received["/album"]) != 1 || len(received["/sync"]) != 0 {
		t.Fatalf("Logout Tokens: %d to the app, %d to the offline app; want 1 and 0", len(received["/album"]), len(received["/sync"]))
	}
	logout := verifiedClaims(t, s, received["/album"][0], "logout+jwt")
	id := verifiedClaims(t, s, online.IDToken, "JWT")
	if logout["sid"] == nil || logout["sid"] != id["sid"] || logout["sub"] != id["sub"] || logout["aud"] != a.id || logout["iss"] != s.URL {
		t.Errorf("Logout Token %v; want the sid and sub of the ID Token %v, aud %s, iss %s", logout, id, a.id, s.URL)
	}
	if logout["nonce"] != nil {
		t.Errorf("the Logout Token has a nonce: %v", logout["nonce"])
	}
}

// clientNamed returns the ID of the client named name.
func clientNamed(t *testing.T, s *testserver.Server, name string) string {
	t.Helper()
	cs, err := s.Store.ListClients(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range cs {
		if c.Name == name {
			return c.ID
		}
	}
	t.Fatalf("no client %q", name)
	return ""
}

// verifiedClaims verifies raw, of typ, against the JWKS the server
// publishes, and returns its claims.
func verifiedClaims(t *testing.T, s *testserver.Server, raw, typ string) map[string]any {
	t.Helper()
	r := s.Do(http.MethodGet, oauth.PathJWKS, "")
	var jwks jose.JSONWebKeySet
	if err := json.Unmarshal([]byte(r.Body), &jwks); err != nil {
		t.Fatal(err)
	}
	jws, err := jose.ParseSigned(raw, []jose.SignatureAlgorithm{jose.RS256, jose.ES256, jose.EdDSA})
	if err != nil {
		t.Fatal(err)
	}
	h := jws.Signatures[0].Protected
	if got, _ := h.ExtraHeaders["typ"].(string); !strings.EqualFold(got, typ) {
		t.Errorf("typ %q; want %s", got, typ)
	}
	keys := jwks.Key(h.KeyID)
	if len(keys) != 1 {
		t.Fatalf("kid %q is not in the server's JWKS", h.KeyID)
	}
	payload, err := jws.Verify(keys[0])
	if err != nil {
		t.Fatal(err)
	}
	var c map[string]any
	if err := json.Unmarshal(payload, &c); err != nil {
		t.Fatal(err)
	}
	return c
}
