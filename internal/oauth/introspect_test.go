package oauth_test

import (
	"net/http"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/tokend/tokend/internal/oauth"
	"github.com/tokend/tokend/internal/oautherr"
	"github.com/tokend/tokend/internal/registry"
	"github.com/tokend/tokend/internal/store"
)

func TestIntrospectActiveToken(t *testing.T) {
	h := newHarness(t)
	id, secret := h.client(confidential("web"))
	tk := h.passwordTokens(id, secret, "jack")
	rec := h.record(tk.Access)

	r := h.post(oauth.PathIntrospect, "token="+tk.Access, basic(id, secret))
	if r.status != http.StatusOK {
		t.Fatalf("status %d body %s", r.status, r.body)
	}
	want := map[string]any{
		"active":     true,
		"scope":      "read write",
		"client_id":  id,
		"username":   "jack",
		"sub":        rec.Subject,
		"token_type": "Bearer",
		"exp":        float64(rec.ExpiresAt.Unix()),
		"iat":        float64(rec.IssuedAt.Unix()),
		"nbf":        float64(rec.IssuedAt.Unix()),
		"iss":        h.srv.URL,
	}
	if diff := cmp.Diff(r.json(t), want); diff != "" {
		t.Errorf("introspection (-got +want):\n%s", diff)
	}
	if r.header.Get("Cache-Control") != "no-store" {
		t.Error("introspection response may be cached")
	}
}

func TestIntrospectWhoMaySee(t *testing.T) {
	h := newHarness(t)
	owner, ownerSecret := h.client(confidential("owner"))
	other, otherSecret := h.client(confidential("other"))
	rs, rsSecret := h.client(registry.Spec{Name: "api", CanIntrospect: true})
	tk := h.token(owner, ownerSecret, "grant_type=client_credentials")

	cases := []struct {
		name   string
		auth   string
		active bool
	}{
		{"owner", basic(owner, ownerSecret), true},
		{"another client", basic(other, otherSecret), false},
		{"resource server", basic(rs, rsSecret), true},
		{"admin token", "Authorization: Bearer " + testAdminToken, true},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			r := h.post(oauth.PathIntrospect, "token="+tk.Access, c.auth)
			if r.status != http.StatusOK {
				t.Fatalf("status %d body %s", r.status, r.body)
			}
			m := r.json(t)
			if m["active"] != c.active {
				t.Errorf("active = %v; want %v", m["active"], c.active)
			}
			if !c.active && len(m) != 1 {
				t.Errorf("inactive answer %v tells more than active:false", m)
			}
		})
	}
	t.Run("wrong admin token", func(t *testing.T) {
		r := h.post(oauth.PathIntrospect, "token="+tk.Access, "Authorization: Bearer not-the-admin")
		checkOAuthError(t, r, http.StatusUnauthorized, oautherr.CodeInvalidClient)
	})
	t.Run("no token", func(t *testing.T) {
		checkOAuthError(t, h.post(oauth.PathIntrospect, "", basic(owner, ownerSecret)), http.StatusBadRequest, oautherr.CodeInvalidRequest)
	})
}

func TestIntrospectInactive(t *testing.T) {
	h := newHarness(t)
	id, secret := h.client(confidential("web"))
	revoked := h.token(id, secret, "grant_type=client_credentials")
	if r := h.post(oauth.PathRevoke, "token="+revoked.Access, basic(id, secret)); r.status != http.StatusOK {
		t.Fatalf("revoke: %d", r.status)
	}
	for name, tok := range map[string]string{
		"revoked":   revoked.Access,
		"malformed": "a0d210c7a3de7d548e03f1986e9a5c39",
		"empty-ish": "tka_",
	} {
		t.Run(name, func(t *testing.T) {
			r := h.post(oauth.PathIntrospect, "token="+tok, basic(id, secret))
			if r.status != http.StatusOK || r.body != "{\"active\":false}\n" {
				t.Errorf("got %d %q; want 200 {\"active\":false}", r.status, r.body)
			}
		})
	}
}

func TestIntrospectDisabledClientsTokens(t *testing.T) {
	h := newHarness(t)
	id, secret := h.client(confidential("web"))
	tk := h.token(id, secret, "grant_type=client_credentials")
	setDisabled := func(disabled bool) {
		t.Helper()
		if _, err := h.store.UpdateClient(t.Context(), id, func(c store.Client) (store.Client, error) {
			c.Disabled = disabled
			return c, nil
		}, nil); err != nil {
			t.Fatal(err)
		}
	}
	setDisabled(true)
	if h.active(tk.Access) {
		t.Error("a disabled client's token introspects active")
	}
	// Disabled, the client gets no new token, but may still revoke the
	// ones it holds.
	checkOAuthError(t, h.post(oauth.PathToken, "grant_type=client_credentials", basic(id, secret)), http.StatusUnauthorized, oautherr.CodeInvalidClient)
	checkOAuthError(t, h.post(oauth.PathIntrospect, "token="+tk.Access, basic(id, secret)), http.StatusUnauthorized, oautherr.CodeInvalidClient)
	r := h.post(oauth.PathRevoke, "token="+tk.Access, basic(id, secret))
	checkRevokedOK(t, r)
	if r.header.Get("RevokedAccessToken") != tk.Access {
		t.Errorf("RevokedAccessToken %q; want the token revoked", r.header.Get("RevokedAccessToken"))
	}
	// Its secret is still checked.
	checkOAuthError(t, h.post(oauth.PathRevoke, "token="+tk.Access, basic(id, "wrong")), http.StatusUnauthorized, oautherr.CodeInvalidClient)
	// Enabled again, the revoked token stays revoked.
	setDisabled(false)
	if h.active(tk.Access) {
		t.Error("the token revoked while the client was disabled is active again")
	}
}

// TestPublicIntrospectorSeesOnlyItsOwn: a public client stored with
// can_introspect (registration refuses that, but a row written by other
// means may hold it) authenticates with its client_id alone, so it is
// answered as a client without the right: its own tokens, never another
// client's.
func TestPublicIntrospectorSeesOnlyItsOwn(t *testing.T) {
	h := newHarness(t)
	public := h.publicIntrospector(oauth.GrantPassword, oauth.GrantRefreshToken)
	other, otherSecret := h.client(confidential("other"))
	othersToken := h.token(other, otherSecret, "grant_type=client_credentials").Access
	h.user("jack", "correct horse battery")
	r := h.post(oauth.PathToken, "grant_type=password&username=jack&password=correct+horse+battery&client_id="+public)
	if r.status != http.StatusOK {
		t.Fatalf("token for the public client: %d %s", r.status, r.body)
	}
	ownToken := str(r.json(t)["access_token"])

	cases := []struct {
		name   string
		token  string
		active bool
	}{
		{"another client's token", othersToken, false},
		{"its own token", ownToken, true},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			r := h.post(oauth.PathIntrospect, "token="+c.token+"&client_id="+public)
			if r.status != http.StatusOK {
				t.Fatalf("status %d body %s", r.status, r.body)
			}
			if got := r.json(t)["active"]; got != c.active {
				t.Errorf("active = %v; want %v (%s)", got, c.active, r.body)
			}
			if !c.active && r.body != "{\"active\":false}\n" {
				t.Errorf("got %q; want %q", r.body, "{\"active\":false}\n")
			}
		})
	}
	if !h.active(othersToken) {
		t.Fatal("the other client's token is not active: the test shows nothing")
	}
}

// publicIntrospector stores a public client with can_introspect straight
// into the store, past the registration that would refuse it, and returns
// its client_id.
func (h *harness) publicIntrospector(grants ...string) string {
	h.t.Helper()
	now := h.clock.Now()
	c := store.Client{ID: "legacy-public-introspector", Name: "spa", AuthMethod: registry.AuthNone,
		GrantTypes: grants, TokenFormat: registry.FormatOpaque, CanIntrospect: true, CreatedAt: now, UpdatedAt: now}
	if err := h.store.CreateClient(h.t.Context(), c); err != nil {
		h.t.Fatal(err)
	}
	return c.ID
}
