package oauth_test

import (
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/tokend/tokend/internal/oauth"
	"github.com/tokend/tokend/internal/oautherr"
	"github.com/tokend/tokend/internal/registry"
	"github.com/tokend/tokend/internal/store"
	"github.com/tokend/tokend/internal/token"
)

func TestClientCredentialsToken(t *testing.T) {
	h := newHarness(t)
	id, secret := h.client(confidential("svc"))
	r := h.post(oauth.PathToken, "grant_type=client_credentials&scope=read", basic(id, secret))
	if r.status != http.StatusOK {
		t.Fatalf("status %d body %s", r.status, r.body)
	}
	for k, want := range map[string]string{"Cache-Control": "no-store", "Pragma": "no-cache"} {
		if got := r.header.Get(k); got != want {
			t.Errorf("%s = %q; want %q", k, got, want)
		}
	}
	m := r.json(t)
	if m["token_type"] != "Bearer" || m["expires_in"] != float64(3600) || m["scope"] != "read" {
		t.Errorf("response %v; want Bearer, 3600 s, scope read", m)
	}
	if _, ok := m["refresh_token"]; ok {
		t.Error("client_credentials issued a refresh token (RFC 6749 §4.4.3 says it should not)")
	}
	access := str(m["access_token"])
	if kind, ok := token.Parse(access); !ok || kind != store.AccessToken {
		t.Errorf("access token %q is not a well-formed opaque access token", access)
	}
	rec := h.record(access)
	if rec.ClientID != id || rec.Subject != id || rec.Scope != "read" {
		t.Errorf("stored %+v; want client and subject %s, scope read", rec, id)
	}
}

func TestPasswordGrantAndRefreshRotation(t *testing.T) {
	h := newHarness(t)
	id, secret := h.client(confidential("web"))
	tk := h.passwordTokens(id, secret, "frank")
	if tk.Refresh == "" || tk.Scope != "read write" {
		t.Fatalf("tokens %+v; want a refresh token and scope 'read write'", tk)
	}
	next := h.token(id, secret, "grant_type=refresh_token&refresh_token="+tk.Refresh)
	if next.Refresh == "" || next.Refresh == tk.Refresh || next.Access == tk.Access {
		t.Fatalf("refresh did not rotate: %+v", next)
	}
	if h.active(tk.Refresh) {
		t.Error("the rotated refresh token is still active")
	}
	if !h.active(next.Access) || !h.active(next.Refresh) || !h.active(tk.Access) {
		t.Error("the new tokens (and the first access token) should be active")
	}

	// Presenting the rotated token again revokes the whole grant
	// (RFC 9700 §4.14.2).
	r := h.post(oauth.PathToken, "grant_type=refresh_token&refresh_token="+tk.Refresh, basic(id, secret))
	checkOAuthError(t, r, http.StatusBadRequest, oautherr.CodeInvalidGrant)
	for _, tok := range []string{tk.Access, next.Access, next.Refresh} {
		if h.active(tok) {
			t.Error("a token of the family is still active after refresh token reuse")
		}
	}
	evs, err := h.store.Events(t.Context(), 0, 10)
	if err != nil || len(evs) != 1 || evs[0].Reason != store.ReasonRefreshReuse {
		t.Errorf("events %+v (%v); want one refresh_reuse event", evs, err)
	}
}

func TestTokenEndpointErrors(t *testing.T) {
	h := newHarness(t)
	id, secret := h.client(confidential("web"))
	ccOnly, ccSecret := h.client(registry.Spec{Name: "cc", GrantTypes: []string{oauth.GrantClientCredentials}})
	other, otherSecret := h.client(confidential("other"))
	tk := h.passwordTokens(id, secret, "gina")
	auth := basic(id, secret)
	cases := []struct {
		name   string
		form   string
		auth   string
		status int
		code   string
	}{
		{"no grant type", "scope=x", auth, 400, oautherr.CodeInvalidRequest},
		{"unknown grant type", "grant_type=magic", auth, 400, oautherr.CodeUnsupportedGrantType},
		{"grant not registered", "grant_type=password&username=gina&password=correct+horse+battery", basic(ccOnly, ccSecret), 400, oautherr.CodeUnauthorizedClient},
		{"wrong password", "grant_type=password&username=gina&password=nope", auth, 400, oautherr.CodeInvalidGrant},
		{"unknown user", "grant_type=password&username=nobody&password=whatever1", auth, 400, oautherr.CodeInvalidGrant},
		{"missing password", "grant_type=password&username=gina", auth, 400, oautherr.CodeInvalidRequest},
		{"refresh of another client", "grant_type=refresh_token&refresh_token=" + tk.Refresh, basic(other, otherSecret), 400, oautherr.CodeInvalidGrant},
		{"access token as refresh", "grant_type=refresh_token&refresh_token=" + tk.Access, auth, 400, oautherr.CodeInvalidGrant},
		{"garbage refresh", "grant_type=refresh_token&refresh_token=abc", auth, 400, oautherr.CodeInvalidGrant},
		{"wider scope on refresh", "grant_type=refresh_token&refresh_token=" + tk.Refresh + "&scope=admin", auth, 400, oautherr.CodeInvalidScope},
		{"bad scope character", "grant_type=client_credentials&scope=%22q", auth, 400, oautherr.CodeInvalidScope},
		{"wrong secret", "grant_type=client_credentials", basic(id, "x"), 401, oautherr.CodeInvalidClient},
		{"repeated grant_type", "grant_type=client_credentials&grant_type=password", auth, 400, oautherr.CodeInvalidRequest},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			checkOAuthError(t, h.post(oauth.PathToken, c.form, c.auth), c.status, c.code)
		})
	}
	if !h.active(tk.Refresh) {
		t.Error("a refused request changed the refresh token")
	}
}

func TestPublicClientCannotUseClientCredentials(t *testing.T) {
	h := newHarness(t)
	pub, _ := h.client(registry.Spec{Name: "spa", AuthMethod: registry.AuthNone})
	r := h.post(oauth.PathToken, "grant_type=client_credentials&client_id="+pub)
	checkOAuthError(t, r, http.StatusBadRequest, oautherr.CodeUnauthorizedClient)
}

func TestTokenLifetimesAndExpiry(t *testing.T) {
	h := newHarness(t)
	id, secret := h.client(registry.Spec{Name: "short", AppAccessTokenTTL: 10 * time.Minute})
	tk := h.token(id, secret, "grant_type=client_credentials")
	if tk.ExpiresIn != 600 {
		t.Errorf("expires_in %v; want 600", tk.ExpiresIn)
	}
	h.clock.Advance(9 * time.Minute)
	if !h.active(tk.Access) {
		t.Error("token inactive before its expiry")
	}
	h.clock.Advance(2 * time.Minute)
	if h.active(tk.Access) {
		t.Error("token active after its expiry")
	}
}

func TestDisabledUserCannotSignIn(t *testing.T) {
	h := newHarness(t)
	id, secret := h.client(confidential("web"))
	h.user("henry", "correct horse battery")
	_, err := h.store.UpdateUser(t.Context(), "henry", func(u store.User) (store.User, error) {
		u.Disabled = true
		return u, nil
	}, nil)
	if err != nil {
		t.Fatal(err)
	}
	r := h.post(oauth.PathToken, "grant_type=password&username=henry&password=correct+horse+battery", basic(id, secret))
	checkOAuthError(t, r, http.StatusBadRequest, oautherr.CodeInvalidGrant)
}

// Parallel refresh and revoke of one family: whatever the order, the family
// ends revoked, and no refresh may succeed after the revocation's 200.
func TestParallelRefreshAndRevoke(t *testing.T) {
	h := newHarness(t)
	id, secret := h.client(confidential("web"))
	tk := h.passwordTokens(id, secret, "ivy")
	var wg sync.WaitGroup
	issued := make(chan string, 8)
	for i := 0; i < 4; i++ {
		wg.Add(2)
		go func() {
			defer wg.Done()
			r := h.post(oauth.PathToken, "grant_type=refresh_token&refresh_token="+tk.Refresh, basic(id, secret))
			if r.status == http.StatusOK {
				m := r.json(t)
				issued <- str(m["access_token"])
				issued <- str(m["refresh_token"])
			}
		}()
		go func() {
			defer wg.Done()
			r := h.post(oauth.PathRevoke, "token="+tk.Access, basic(id, secret))
			if r.status != http.StatusOK {
				t.Errorf("revoke: %d %s", r.status, r.body)
			}
		}()
	}
	wg.Wait()
	close(issued)
	for tok := range issued {
		if h.active(tok) {
			t.Errorf("a token issued by a racing refresh is active after the revocation")
		}
	}
	if h.active(tk.Access) || h.active(tk.Refresh) {
		t.Error("the family is not revoked")
	}
}

// TestDefaultRefreshLifetime: a refresh token lives 86400 s by default:
// it is accepted a second before, refused a second after.
func TestDefaultRefreshLifetime(t *testing.T) {
	h := newHarness(t)
	id, secret := h.client(confidential("web"))
	h.user("erin", "correct horse battery")
	password := "grant_type=password&username=erin&password=correct+horse+battery"
	early, late := h.token(id, secret, password), h.token(id, secret, password)
	h.clock.Advance(24*time.Hour - time.Second)
	if r := h.post(oauth.PathToken, "grant_type=refresh_token&refresh_token="+early.Refresh, basic(id, secret)); r.status != http.StatusOK {
		t.Errorf("refresh a second before 24 h: %d %s; want 200", r.status, r.body)
	}
	h.clock.Advance(2 * time.Second)
	checkOAuthError(t, h.post(oauth.PathToken, "grant_type=refresh_token&refresh_token="+late.Refresh, basic(id, secret)),
		http.StatusBadRequest, oautherr.CodeInvalidGrant)
}
