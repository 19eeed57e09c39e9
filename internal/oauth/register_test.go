package oauth_test

import (
	"net/http"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/tokend/tokend/internal/identity"
	"github.com/tokend/tokend/internal/oauth"
	"github.com/tokend/tokend/internal/oautherr"
	"github.com/tokend/tokend/internal/registry"
)

func (h *harness) json(method, path, body string, headers ...string) response {
	h.t.Helper()
	req, err := http.NewRequestWithContext(h.t.Context(), method, h.srv.URL+path, strings.NewReader(body))
	if err != nil {
		h.t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	for _, hv := range headers {
		if hv == "" {
			continue
		}
		k, v, _ := strings.Cut(hv, ":")
		req.Header.Set(k, strings.TrimSpace(v))
	}
	return h.do(req)
}

const adminBearer = "Authorization: Bearer " + testAdminToken

func TestRegisterWSO2Client(t *testing.T) {
	h := newHarness(t)
	// The body WSO2's DCR documentation shows, with its extensions.
	body := `{"client_name":"playground_2","grant_types":["password","client_credentials","refresh_token"],
		"redirect_uris":["http://localhost:8080/playground2/oauth2client"],
		"ext_param_client_id":"provided_client_id0001","ext_param_client_secret":"provided_secret0001",
		"ext_token_type":"JWT","ext_application_token_lifetime":1200,"ext_user_token_lifetime":900,
		"ext_refresh_token_lifetime":7200,"unknown":{"x":1}}`
	r := h.json(http.MethodPost, oauth.PathRegister, body, adminBearer)
	if r.status != http.StatusCreated {
		t.Fatalf("status %d body %s", r.status, r.body)
	}
	m := r.json(t)
	if m["client_id"] != "provided_client_id0001" || m["client_secret"] != "provided_secret0001" ||
		m["client_name"] != "playground_2" || m["ext_token_type"] != "JWT" {
		t.Errorf("registration response %v", m)
	}
	c, err := h.store.GetClient(t.Context(), "provided_client_id0001")
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(c.SecretHash, "provided_secret0001") || !strings.HasPrefix(c.SecretHash, "$argon2id$") {
		t.Errorf("chosen secret stored as %q; want an argon2id hash", c.SecretHash)
	}
	if c.AppAccessTokenTTL.Seconds() != 1200 || c.AccessTokenTTL.Seconds() != 900 || c.RefreshTokenTTL.Seconds() != 7200 {
		t.Errorf("lifetimes %v %v %v", c.AppAccessTokenTTL, c.AccessTokenTTL, c.RefreshTokenTTL)
	}
	// The chosen secret works at the token endpoint.
	tk := h.token("provided_client_id0001", "provided_secret0001", "grant_type=client_credentials")
	if tk.ExpiresIn != 1200 {
		t.Errorf("expires_in %v; want the application token lifetime 1200", tk.ExpiresIn)
	}

	// GET does not return the secret: only its hash is kept.
	g := h.json(http.MethodGet, oauth.PathRegister+"/provided_client_id0001", "", adminBearer)
	if g.status != http.StatusOK || g.json(t)["client_secret"] != nil {
		t.Errorf("GET: %d %s", g.status, g.body)
	}
	// Duplicate client_id.
	dup := h.json(http.MethodPost, oauth.PathRegister, body, adminBearer)
	checkOAuthError(t, dup, http.StatusBadRequest, oautherr.CodeInvalidClientMetadata)

	// PUT with a new secret rotates it and revokes the client's grants.
	p := h.json(http.MethodPut, oauth.PathRegister+"/provided_client_id0001",
		`{"client_name":"renamed","grant_types":["client_credentials"],"ext_param_client_secret":"another_secret02"}`, adminBearer)
	if p.status != http.StatusOK || p.json(t)["client_name"] != "renamed" {
		t.Fatalf("PUT: %d %s", p.status, p.body)
	}
	if h.active(tk.Access) {
		t.Error("token of the old secret still active after a secret change")
	}

	// DELETE removes the client and revokes its tokens.
	tk2 := h.token("provided_client_id0001", "another_secret02", "grant_type=client_credentials")
	d := h.json(http.MethodDelete, oauth.PathRegister+"/provided_client_id0001", "", adminBearer)
	if d.status != http.StatusNoContent {
		t.Fatalf("DELETE: %d %s", d.status, d.body)
	}
	if h.active(tk2.Access) {
		t.Error("token of a deleted client still active")
	}
	if g := h.json(http.MethodGet, oauth.PathRegister+"/provided_client_id0001", "", adminBearer); g.status != http.StatusNotFound {
		t.Errorf("GET after DELETE: %d", g.status)
	}
}

func TestRegisterPublicAndGenerated(t *testing.T) {
	h := newHarness(t)
	r := h.json(http.MethodPost, oauth.PathRegister, `{"client_name":"spa","ext_public_client":true,"grant_types":["password","refresh_token"]}`, adminBearer)
	if r.status != http.StatusCreated {
		t.Fatalf("status %d body %s", r.status, r.body)
	}
	m := r.json(t)
	if m["client_secret"] != nil || m["token_endpoint_auth_method"] != "none" || m["ext_public_client"] != true {
		t.Errorf("public registration %v", m)
	}
	r = h.json(http.MethodPost, oauth.PathRegister, `{"client_name":"backend","grant_types":["client_credentials"]}`, adminBearer)
	m = r.json(t)
	id, secret := str(m["client_id"]), str(m["client_secret"])
	if len(id) != 28 || len(secret) < 43 {
		t.Fatalf("generated id %q / secret of %d chars", id, len(secret))
	}
	c, _ := h.store.GetClient(t.Context(), id)
	if !strings.HasPrefix(c.SecretHash, "sha256$") {
		t.Errorf("generated secret stored as %q; want sha256$", c.SecretHash)
	}
	h.token(id, secret, "grant_type=client_credentials")
}

func TestRegisterBadInput(t *testing.T) {
	h := newHarness(t)
	cases := []struct{ name, body string }{
		{"not json", `{"client_name":`},
		{"unknown grant", `{"client_name":"x","grant_types":["authorization_code_magic"]}`},
		{"public with client_credentials", `{"client_name":"x","ext_public_client":true,"grant_types":["client_credentials"]}`},
		{"bad token type", `{"client_name":"x","ext_token_type":"SAML"}`},
		{"bad client id", `{"client_name":"x","ext_param_client_id":"a b/c"}`},
		{"short chosen secret", `{"client_name":"x","ext_param_client_secret":"short"}`},
		{"NUL in the name", `{"client_name":"a\u0000b"}`},
		{"wrong type", `{"client_name":12}`},
		{"http back-channel URI", `{"client_name":"x","backchannel_logout_uri":"http://rp.example/bc"}`},
		{"relative back-channel URI", `{"client_name":"x","backchannel_logout_uri":"/bc"}`},
		{"back-channel URI with a fragment", `{"client_name":"x","backchannel_logout_uri":"https://rp.example/bc#x"}`},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			checkOAuthError(t, h.json(http.MethodPost, oauth.PathRegister, c.body, adminBearer), http.StatusBadRequest, oautherr.CodeInvalidClientMetadata)
		})
	}
}

// TestRegisterBadRedirectURIs: a redirection URI or post-logout one that
// is refused, and an authorization_code client without one, are
// invalid_redirect_uri (RFC 7591 §3.2.2), at creation and at an update.
func TestRegisterBadRedirectURIs(t *testing.T) {
	h := newHarness(t)
	cases := []struct{ name, body string }{
		{"fragment", `{"client_name":"x","redirect_uris":["https://rp.example/cb#x"]}`},
		{"relative", `{"client_name":"x","redirect_uris":["/cb"]}`},
		{"http to a remote host", `{"client_name":"x","redirect_uris":["http://rp.example/cb"]}`},
		{"scheme without a dot", `{"client_name":"x","redirect_uris":["javascript:alert(1)"]}`},
		{"post-logout http to a remote host", `{"client_name":"x","post_logout_redirect_uris":["http://rp.example/bye"]}`},
		{"authorization_code without one", `{"client_name":"x","grant_types":["authorization_code"]}`},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			checkOAuthError(t, h.json(http.MethodPost, oauth.PathRegister, c.body, adminBearer), http.StatusBadRequest, oautherr.CodeInvalidRedirectURI)
		})
	}
	r := h.json(http.MethodPost, oauth.PathRegister, `{"client_name":"x","ext_param_client_id":"upd"}`, adminBearer)
	if r.status != http.StatusCreated {
		t.Fatalf("POST: %d %s", r.status, r.body)
	}
	put := h.json(http.MethodPut, oauth.PathRegister+"/upd", `{"client_name":"x","redirect_uris":["http://rp.example/cb"]}`, adminBearer)
	checkOAuthError(t, put, http.StatusBadRequest, oautherr.CodeInvalidRedirectURI)
}

// TestRegisterLogoutMetadata: post_logout_redirect_uris,
// backchannel_logout_uri and backchannel_logout_session_required are
// stored and returned by POST, GET and PUT, under their standard names; a
// PUT without them clears them, as it replaces the registration
// (RFC 7592 §2.2).
func TestRegisterLogoutMetadata(t *testing.T) {
	h := newHarness(t)
	body := `{"client_name":"rp","ext_param_client_id":"rp1","grant_types":["authorization_code","refresh_token"],
		"redirect_uris":["https://rp.example/cb","com.example.rp:/cb"],
		"post_logout_redirect_uris":["https://rp.example/bye","http://127.0.0.1:8080/bye"],
		"backchannel_logout_uri":"https://rp.example/backchannel","backchannel_logout_session_required":true}`
	want := map[string]any{
		"redirect_uris":                       []any{"https://rp.example/cb", "com.example.rp:/cb"},
		"post_logout_redirect_uris":           []any{"https://rp.example/bye", "http://127.0.0.1:8080/bye"},
		"backchannel_logout_uri":              "https://rp.example/backchannel",
		"backchannel_logout_session_required": true,
	}
	check := func(what string, m map[string]any, want map[string]any) {
		t.Helper()
		for k, v := range want {
			if diff := cmp.Diff(m[k], v); diff != "" {
				t.Errorf("%s: %s (-got +want):\n%s", what, k, diff)
			}
		}
	}
	r := h.json(http.MethodPost, oauth.PathRegister, body, adminBearer)
	if r.status != http.StatusCreated {
		t.Fatalf("POST: %d %s", r.status, r.body)
	}
	check("POST", r.json(t), want)
	c, err := h.store.GetClient(t.Context(), "rp1")
	if err != nil {
		t.Fatal(err)
	}
	if c.BackchannelLogoutURI != "https://rp.example/backchannel" || !c.BackchannelLogoutSessionRequired ||
		!slices.Equal(c.PostLogoutRedirectURIs, []string{"https://rp.example/bye", "http://127.0.0.1:8080/bye"}) {
		t.Errorf("stored client %+v; want the logout metadata registered", c)
	}
	check("GET", h.json(http.MethodGet, oauth.PathRegister+"/rp1", "", adminBearer).json(t), want)

	p := h.json(http.MethodPut, oauth.PathRegister+"/rp1", `{"client_name":"rp","grant_types":["client_credentials"]}`, adminBearer)
	if p.status != http.StatusOK {
		t.Fatalf("PUT: %d %s", p.status, p.body)
	}
	check("PUT", p.json(t), map[string]any{
		"post_logout_redirect_uris": []any{}, "backchannel_logout_uri": nil, "backchannel_logout_session_required": false,
	})
}

func TestRegisterRequiresAdmin(t *testing.T) {
	h := newHarness(t)
	u, err := identity.NewUser("root", "admin password", true, h.clock.Now())
	if err != nil {
		t.Fatal(err)
	}
	if err := h.store.CreateUser(t.Context(), u); err != nil {
		t.Fatal(err)
	}
	h.user("plain", "plain password")
	body := `{"client_name":"x"}`
	cases := []struct {
		name   string
		header string
		status int
	}{
		{"none", "", http.StatusUnauthorized},
		{"wrong bearer", "Authorization: Bearer nope", http.StatusUnauthorized},
		{"wrong password", basic("root", "nope"), http.StatusUnauthorized},
		{"non-admin user", basic("plain", "plain password"), http.StatusForbidden},
		{"admin user", basic("root", "admin password"), http.StatusCreated},
		{"admin token", adminBearer, http.StatusCreated},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			r := h.json(http.MethodPost, oauth.PathRegister, body, c.header)
			if r.status != c.status {
				t.Errorf("status %d; want %d (%s)", r.status, c.status, r.body)
			}
		})
	}
	for _, m := range []string{http.MethodGet, http.MethodPut, http.MethodDelete} {
		r := h.json(m, oauth.PathRegister+"/anything", body)
		if r.status != http.StatusUnauthorized {
			t.Errorf("%s without credentials: %d; want 401", m, r.status)
		}
	}
}

// TestRegisterOlderTokenTypeName: WSO2's older name for the token type,
// token_type_extension, makes a JWT client as ext_token_type does.
func TestRegisterOlderTokenTypeName(t *testing.T) {
	h := newHarness(t)
	r := h.json(http.MethodPost, oauth.PathRegister, `{"client_name":"old","grant_types":["client_credentials"],"token_type_extension":"JWT"}`, adminBearer)
	if r.status != http.StatusCreated {
		t.Fatalf("status %d body %s", r.status, r.body)
	}
	c, err := h.store.GetClient(t.Context(), str(r.json(t)["client_id"]))
	if err != nil {
		t.Fatal(err)
	}
	if c.TokenFormat != registry.FormatJWT {
		t.Errorf("token format %q; want %q", c.TokenFormat, registry.FormatJWT)
	}
}

// TestRegisterUpdateKeepsIntrospectorConfidential: can_introspect is not
// DCR metadata, so a PUT keeps it; a PUT that would make such a client
// public is refused (RFC 7591 §3.2.2 invalid_client_metadata) and changes
// nothing, since a public client would need only its client_id to
// introspect every token.
func TestRegisterUpdateKeepsIntrospectorConfidential(t *testing.T) {
	cases := []struct {
		name   string
		body   string
		status int
	}{
		{"token_endpoint_auth_method none", `{"client_name":"api","token_endpoint_auth_method":"none","grant_types":["password"]}`, http.StatusBadRequest},
		{"ext_public_client", `{"client_name":"api","ext_public_client":true,"grant_types":["password"]}`, http.StatusBadRequest},
		{"rename", `{"client_name":"renamed api","grant_types":["client_credentials"]}`, http.StatusOK},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			h := newHarness(t)
			id, secret := h.client(registry.Spec{Name: "api", CanIntrospect: true})
			r := h.json(http.MethodPut, oauth.PathRegister+"/"+id, c.body, adminBearer)
			if c.status != http.StatusOK {
				checkOAuthError(t, r, c.status, oautherr.CodeInvalidClientMetadata)
			} else if r.status != c.status {
				t.Fatalf("PUT: %d %s; want %d", r.status, r.body, c.status)
			}
			got, err := h.store.GetClient(t.Context(), id)
			if err != nil {
				t.Fatal(err)
			}
			if got.Public() || !got.CanIntrospect {
				t.Errorf("after the PUT: public %t, can_introspect %t; want a confidential introspector", got.Public(), got.CanIntrospect)
			}
			// Its secret still authenticates it.
			h.token(id, secret, "grant_type=client_credentials")
		})
	}
}

// TestRegisterRequiresJSON: a registration sent as anything but
// application/json is refused with 415 invalid_client_metadata before it
// is read. A browser posts text/plain or a form cross-site without a CORS
// preflight, with an admin's Basic credentials if it holds them; with
// application/json it must ask first, and the DCR endpoints never grant
// that.
func TestRegisterRequiresJSON(t *testing.T) {
	h := newHarness(t)
	u, err := identity.NewUser("root", "admin password", true, h.clock.Now())
	if err != nil {
		t.Fatal(err)
	}
	if err := h.store.CreateUser(t.Context(), u); err != nil {
		t.Fatal(err)
	}
	id, _ := h.client(confidential("web"))
	body := `{"client_name":"evil","ext_param_client_id":"chosen_by_a_page","ext_param_client_secret":"chosen secret 0001"}`
	cases := []struct {
		name        string
		method      string
		path        string
		contentType string
		status      int
	}{
		{"text/plain", http.MethodPost, oauth.PathRegister, "text/plain", http.StatusUnsupportedMediaType},
		{"text/plain with charset", http.MethodPost, oauth.PathRegister, "text/plain;charset=UTF-8", http.StatusUnsupportedMediaType},
		{"form", http.MethodPost, oauth.PathRegister, "application/x-www-form-urlencoded", http.StatusUnsupportedMediaType},
		{"no content type", http.MethodPost, oauth.PathRegister, "", http.StatusUnsupportedMediaType},
		{"json suffix", http.MethodPost, oauth.PathRegister, "application/jsonx", http.StatusUnsupportedMediaType},
		{"PUT text/plain", http.MethodPut, oauth.PathRegister + "/" + id, "text/plain", http.StatusUnsupportedMediaType},
		{"json with charset", http.MethodPost, oauth.PathRegister, "Application/JSON; charset=utf-8", http.StatusCreated},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			req, err := http.NewRequestWithContext(t.Context(), c.method, h.srv.URL+c.path, strings.NewReader(body))
			if err != nil {
				t.Fatal(err)
			}
			if c.contentType != "" {
				req.Header.Set("Content-Type", c.contentType)
			}
			req.SetBasicAuth("root", "admin password")
			r := h.do(req)
			if c.status != http.StatusCreated {
				checkOAuthError(t, r, c.status, oautherr.CodeInvalidClientMetadata)
				if _, err := h.store.GetClient(t.Context(), "chosen_by_a_page"); err == nil {
					t.Fatal("the refused request created its client")
				}
				return
			}
			if r.status != c.status {
				t.Errorf("status %d body %s; want %d", r.status, r.body, c.status)
			}
		})
	}
}
