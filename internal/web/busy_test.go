package web

import (
	"net/http"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/tokend/tokend/internal/identity"
	"github.com/tokend/tokend/internal/oauth"
	"github.com/tokend/tokend/internal/store"
	"github.com/tokend/tokend/internal/store/sqlite"
)

// TestSignInBusy: a sign-in that finds every password check slot taken
// for longer than it waits gets 503 with Retry-After, and no guess is
// counted; once a slot is free, the same sign-in goes through.
func TestSignInBusy(t *testing.T) {
	st, err := sqlite.Open(filepath.Join(t.TempDir(), "tokend.db"), sqlite.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	now := time.Now()
	u, err := identity.NewUser("ada", "correct horse battery", false, now)
	if err != nil {
		t.Fatal(err)
	}
	c := store.Client{ID: "app", Name: "App", AuthMethod: "none", GrantTypes: []string{grantAuthorizationCode},
		RedirectURIs: []string{"https://app.example/cb"}, TokenFormat: "opaque", CreatedAt: now, UpdatedAt: now}
	if err := st.CreateUser(t.Context(), u); err != nil {
		t.Fatal(err)
	}
	if err := st.CreateClient(t.Context(), c); err != nil {
		t.Fatal(err)
	}
	p := New(Config{Issuer: "https://tokend.example", Store: st, AuthorizePath: oauth.PathAuthorize, EndSessionPath: oauth.PathEndSession})
	p.slotWait = 20 * time.Millisecond
	mux := http.NewServeMux()
	p.Mount(mux)
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)

	csrf := strings.Repeat("C", 43)
	form := url.Values{"response_type": {"code"}, "client_id": {"app"}, "scope": {"openid"},
		"code_challenge": {rfcChallenge}, "code_challenge_method": {"S256"},
		"username": {"ada"}, "password": {"correct horse battery"}, "action": {actionSignIn}, csrfField: {csrf}}
	post := func() *http.Response {
		req, err := http.NewRequestWithContext(t.Context(), http.MethodPost, srv.URL+oauth.PathAuthorize, strings.NewReader(form.Encode()))
		if err != nil {
			t.Fatal(err)
		}
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		req.AddCookie(&http.Cookie{Name: csrfCookie, Value: csrf})
		resp, err := srv.Client().Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp
	}
	for range cap(p.slots) {
		p.slots <- struct{}{}
	}
	if resp := post(); resp.StatusCode != http.StatusServiceUnavailable || resp.Header.Get("Retry-After") != "5" {
		t.Errorf("a sign-in with every slot taken: %d, Retry-After %q; want 503 and 5", resp.StatusCode, resp.Header.Get("Retry-After"))
	}
	for len(p.slots) > 0 {
		<-p.slots
	}
	if resp := post(); resp.StatusCode != http.StatusOK {
		t.Errorf("a sign-in with a free slot: %d; want 200 (the consent page)", resp.StatusCode)
	}
}
