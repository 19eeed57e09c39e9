package oauth_test

import (
	"encoding/base64"
	"encoding/json"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/tokend/tokend/internal/oauth"
	"github.com/tokend/tokend/internal/registry"
)

// exchanger is the spec of a client an admin allowed to exchange tokens.
func exchanger(name string) registry.Spec {
	return registry.Spec{Name: name, TokenExchange: true,
		GrantTypes: []string{oauth.GrantClientCredentials, oauth.GrantPassword, oauth.GrantRefreshToken}}
}

// exchangeForm is a token exchange request for subject, an access token,
// with more parameters appended ("&scope=read").
func exchangeForm(subject, more string) string {
	return "grant_type=" + url.QueryEscape(oauth.GrantTokenExchange) +
		"&subject_token=" + url.QueryEscape(subject) +
		"&subject_token_type=" + url.QueryEscape(oauth.TokenTypeAccessToken) + more
}

// exchange runs a token exchange by client id and returns the issued
// access token, failing unless it answers 200 with what RFC 8693 §2.2.1
// says.
func (h *harness) exchange(id, secret, form string) map[string]any {
	h.t.Helper()
	r := h.post(oauth.PathToken, form, basic(id, secret))
	if r.status != http.StatusOK {
		h.t.Fatalf("token exchange: status %d, body %s", r.status, r.body)
	}
	m := r.json(h.t)
	if m["access_token"] == "" || m["token_type"] != "Bearer" || m["refresh_token"] != nil {
		h.t.Errorf("exchange answered %s; want a Bearer access token and no refresh token", r.body)
	}
	return m
}

// introspect introspects tok with the admin token.
func (h *harness) introspect(tok string) map[string]any {
	h.t.Helper()
	r := h.post(oauth.PathIntrospect, "token="+url.QueryEscape(tok), "Authorization: Bearer "+testAdminToken)
	if r.status != http.StatusOK {
		h.t.Fatalf("introspect: status %d, body %s", r.status, r.body)
	}
	return r.json(h.t)
}

func TestTokenExchangeNeverWidensScope(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	app, appSecret := h.client(confidential("app"))
	api, apiSecret := h.client(exchanger("api"))
	user := h.passwordTokens(app, appSecret, "alice") // scope "read write"

	wide := h.post(oauth.PathToken, exchangeForm(user.Access, "&scope=read+admin"), basic(api, apiSecret))
	wantError(t, wide, http.StatusBadRequest, "invalid_scope")

	m := h.exchange(api, apiSecret, exchangeForm(user.Access, "&scope=read"))
	if m["scope"] != "read" || m["issued_token_type"] != oauth.TokenTypeAccessToken {
		t.Errorf("exchange = %v; want scope read, issued_token_type access_token", m)
	}
	// Without a scope, the subject token's.
	all := h.exchange(api, apiSecret, exchangeForm(user.Access, ""))
	if all["scope"] != "read write" {
		t.Errorf("exchange without scope has scope %v; want the subject token's", all["scope"])
	}
	// The narrowed token cannot be widened again by exchanging it.
	again := h.post(oauth.PathToken, exchangeForm(str(m["access_token"]), "&scope=write"), basic(api, apiSecret))
	wantError(t, again, http.StatusBadRequest, "invalid_scope")
	in := h.introspect(str(m["access_token"]))
	if in["active"] != true || in["client_id"] != api || in["sub"] != h.record(user.Access).Subject || in["username"] != "alice" {
		t.Errorf("introspection of the exchanged token = %v; want active, the api's, alice's", in)
	}
}

func TestTokenExchangeOnlyForAllowedClients(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	app, appSecret := h.client(confidential("app"))
	other, otherSecret := h.client(confidential("other"))
	user := h.passwordTokens(app, appSecret, "alice")
	r := h.post(oauth.PathToken, exchangeForm(user.Access, ""), basic(other, otherSecret))
	wantError(t, r, http.StatusBadRequest, "unauthorized_client")

	// Only an admin's flag gives the grant: listing it is not enough.
	spec := confidential("sneaky")
	spec.GrantTypes = []string{oauth.GrantTokenExchange}
	if _, _, err := oauth.Registration.New(spec, h.clock.Now()); err == nil {
		t.Error("a registration listing the token exchange grant without the flag was accepted")
	}
	public := exchanger("public")
	public.AuthMethod = registry.AuthNone
	if _, _, err := oauth.Registration.New(public, h.clock.Now()); err == nil {
		t.Error("a public client was allowed to exchange tokens")
	}
	// Through dynamic client registration, ext_token_exchange gives it.
	reg := h.json(http.MethodPost, oauth.PathRegister, `{"client_name":"svc","ext_token_exchange":true,"grant_types":["client_credentials"]}`,
		"Authorization: Bearer "+testAdminToken)
	if reg.status != http.StatusCreated {
		t.Fatalf("register: %d %s", reg.status, reg.body)
	}
	info := reg.json(t)
	if info["ext_token_exchange"] != true || !strings.Contains(reg.body, oauth.GrantTokenExchange) {
		t.Errorf("registered %s; want ext_token_exchange and the grant type", reg.body)
	}
	h.exchange(str(info["client_id"]), str(info["client_secret"]), exchangeForm(user.Access, ""))
}

func TestTokenExchangeRefusals(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	app, appSecret := h.client(confidential("app"))
	api, apiSecret := h.client(exchanger("api"))
	user := h.passwordTokens(app, appSecret, "alice")
	revoked := h.passwordTokens(app, appSecret, "bob")
	if r := h.post(oauth.PathRevoke, "token="+revoked.Access, basic(app, appSecret)); r.status != http.StatusOK {
		t.Fatalf("revoke: %d %s", r.status, r.body)
	}
	rt := url.QueryEscape(oauth.TokenTypeRefreshToken)
	for _, tc := range []struct {
		name, form string
		code       string
	}{
		{"revoked subject token", exchangeForm(revoked.Access, ""), "invalid_grant"},
		{"a token not of this server", exchangeForm("eyJhbGciOiJub25lIn0.e30.", ""), "invalid_grant"},
		{"unknown token", exchangeForm("tkd_at_0000000000000000000000000000000000000000000", ""), "invalid_grant"},
		{"another client's refresh token", strings.Replace(exchangeForm(user.Refresh, ""), url.QueryEscape(oauth.TokenTypeAccessToken), rt, 1), "invalid_grant"},
		{"refresh token said to be an access token", exchangeForm(user.Refresh, ""), "invalid_request"},
		{"no subject_token_type", "grant_type=" + url.QueryEscape(oauth.GrantTokenExchange) + "&subject_token=" + user.Access, "invalid_request"},
		{"unsupported subject_token_type", strings.Replace(exchangeForm(user.Access, ""), url.QueryEscape(oauth.TokenTypeAccessToken), "urn%3Aietf%3Aparams%3Aoauth%3Atoken-type%3Asaml2", 1), "invalid_request"},
		{"unsupported requested_token_type", exchangeForm(user.Access, "&requested_token_type="+rt), "invalid_request"},
		{"JWT asked of a server without them", exchangeForm(user.Access, "&requested_token_type="+url.QueryEscape(oauth.TokenTypeJWT)), "invalid_request"},
		{"actor_token_type alone", exchangeForm(user.Access, "&actor_token_type="+url.QueryEscape(oauth.TokenTypeAccessToken)), "invalid_request"},
		{"revoked actor token", exchangeForm(user.Access, "&actor_token="+revoked.Access+"&actor_token_type="+url.QueryEscape(oauth.TokenTypeAccessToken)), "invalid_grant"},
		{"resource with a fragment", exchangeForm(user.Access, "&resource="+url.QueryEscape("https://api.example/#x")), "invalid_target"},
		{"relative resource", exchangeForm(user.Access, "&resource=%2Fapi"), "invalid_target"},
		{"unknown audience", exchangeForm(user.Access, "&audience=nobody"), "invalid_target"},
	} {
		r := h.post(oauth.PathToken, tc.form, basic(api, apiSecret))
		if r.status != http.StatusBadRequest || !strings.Contains(r.body, `"error":"`+tc.code+`"`) {
			t.Errorf("%s: status %d, body %s; want 400 %s", tc.name, r.status, r.body, tc.code)
		}
	}
	// Expired: the subject token lived an hour.
	h.clock.Advance(2 * time.Hour)
	r := h.post(oauth.PathToken, exchangeForm(user.Access, ""), basic(api, apiSecret))
	wantError(t, r, http.StatusBadRequest, "invalid_grant")
}

func TestTokenExchangeTargets(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	app, appSecret := h.client(confidential("app"))
	api, apiSecret := h.client(exchanger("api"))
	backend, _ := h.client(confidential("backend"))
	user := h.passwordTokens(app, appSecret, "alice")
	own := h.token(app, appSecret, "grant_type=password&username=alice&password=correct+horse+battery&scope=read")
	m := h.exchange(api, apiSecret, exchangeForm(user.Access,
		"&resource="+url.QueryEscape("https://orders.example/api")+"&audience="+backend+"&resource="+url.QueryEscape("https://billing.example")))
	in := h.introspect(str(m["access_token"]))
	aud, _ := in["aud"].([]any)
	want := map[any]bool{backend: true, "https://billing.example": true, "https://orders.example/api": true}
	if len(aud) != 3 || !want[aud[0]] || !want[aud[1]] || !want[aud[2]] {
		t.Errorf("aud = %v; want the backend and both resources", in["aud"])
	}
	// The api's own refresh token may be exchanged; the expiry follows
	// the subject token's, never later.
	if own.Refresh == "" {
		t.Fatal("no refresh token")
	}
	apiOwn := h.token(api, apiSecret, "grant_type=password&username=alice&password=correct+horse+battery&scope=read")
	rt := h.exchange(api, apiSecret, strings.Replace(exchangeForm(apiOwn.Refresh, ""), url.QueryEscape(oauth.TokenTypeAccessToken), url.QueryEscape(oauth.TokenTypeRefreshToken), 1))
	if rt["scope"] != "read" {
		t.Errorf("exchange of a refresh token = %v", rt)
	}
	h.clock.Advance(50 * time.Minute)
	late := h.exchange(api, apiSecret, exchangeForm(user.Access, ""))
	if exp, _ := late["expires_in"].(float64); exp > 600 {
		t.Errorf("an exchange 10 minutes before the subject token expires gives expires_in %v; want at most 600", exp)
	}
}

func TestTokenExchangeDelegationGivesAct(t *testing.T) {
	t.Parallel()
	h := newHarness(t, withJWT(t, "ES256"))
	app, appSecret := h.client(confidential("app"))
	api, apiSecret := h.client(exchanger("api"))
	svc, svcSecret := h.client(exchanger("svc"))
	user := h.passwordTokens(app, appSecret, "alice")
	apiActor := h.token(api, apiSecret, "grant_type=client_credentials")
	at := url.QueryEscape(oauth.TokenTypeAccessToken)

	first := h.exchange(api, apiSecret, exchangeForm(user.Access, "&actor_token="+apiActor.Access+"&actor_token_type="+at))
	in := h.introspect(str(first["access_token"]))
	if act, _ := in["act"].(map[string]any); act["sub"] != api || act["act"] != nil {
		t.Errorf("act = %v; want the api acting", in["act"])
	}
	if chain, _ := in["exchanged_from"].([]any); len(chain) != 1 || chain[0] != h.record(user.Access).GrantID {
		t.Errorf("exchanged_from = %v; want the user's grant", in["exchanged_from"])
	}

	// svc exchanges the api's delegated token, acting itself, for a JWT:
	// the api's act is nested inside svc's.
	svcActor := h.token(svc, svcSecret, "grant_type=client_credentials")
	second := h.exchange(svc, svcSecret, exchangeForm(str(first["access_token"]),
		"&actor_token="+svcActor.Access+"&actor_token_type="+at+"&requested_token_type="+url.QueryEscape(oauth.TokenTypeJWT)))
	if second["issued_token_type"] != oauth.TokenTypeJWT {
		t.Errorf("issued_token_type = %v; want jwt", second["issued_token_type"])
	}
	raw := str(second["access_token"])
	if _, err := h.cfgJWT().Verify(raw); err != nil {
		t.Fatalf("the exchanged JWT does not verify: %v", err)
	}
	parts := strings.Split(raw, ".")
	payload, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil {
		t.Fatal(err)
	}
	var claims struct {
		Sub string          `json:"sub"`
		Act json.RawMessage `json:"act"`
	}
	if err := json.Unmarshal(payload, &claims); err != nil {
		t.Fatal(err)
	}
	want := `{"sub":"` + svc + `","act":{"sub":"` + api + `"}}`
	if string(claims.Act) != want || claims.Sub != h.record(user.Access).Subject {
		t.Errorf("JWT sub, act = %s, %s; want alice's, %s", claims.Sub, claims.Act, want)
	}
	in = h.introspect(raw)
	if chain, _ := in["exchanged_from"].([]any); len(chain) != 2 {
		t.Errorf("exchanged_from = %v; want two grants", in["exchanged_from"])
	}
}

// TestTokenExchangeChainRevokedAtRoot: a chain of three exchanges, each by
// another client, is revoked whole by one revocation of the token it began
// with.
func TestTokenExchangeChainRevokedAtRoot(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	app, appSecret := h.client(confidential("app"))
	user := h.passwordTokens(app, appSecret, "alice")
	chain := []string{user.Access}
	for _, name := range []string{"gateway", "orders", "billing"} {
		id, secret := h.client(exchanger(name))
		m := h.exchange(id, secret, exchangeForm(chain[len(chain)-1], ""))
		chain = append(chain, str(m["access_token"]))
	}
	unrelated := h.passwordTokens(app, appSecret, "bob")
	last := h.introspect(chain[3])
	if from, _ := last["exchanged_from"].([]any); len(from) != 3 || from[2] != h.record(user.Access).GrantID {
		t.Fatalf("exchanged_from = %v; want three grants, the user's last", last["exchanged_from"])
	}
	for i, tok := range chain {
		if !h.active(tok) {
			t.Fatalf("token %d inactive before the revocation", i)
		}
	}
	// The app revokes its refresh token: the grant, and all below it.
	if r := h.post(oauth.PathRevoke, "token="+user.Refresh+"&token_type_hint=refresh_token", basic(app, appSecret)); r.status != http.StatusOK {
		t.Fatalf("revoke: %d %s", r.status, r.body)
	}
	for i, tok := range chain {
		if h.active(tok) {
			t.Errorf("token %d of the chain still active after its root was revoked", i)
		}
	}
	if !h.active(unrelated.Access) {
		t.Error("an unrelated token was revoked")
	}
	evs, err := h.store.Events(t.Context(), 0, 100)
	if err != nil {
		t.Fatal(err)
	}
	if len(evs) != 4 || evs[0].ParentGrantID != "" || evs[3].ParentGrantID != evs[2].GrantID {
		t.Errorf("events = %+v; want four, each naming its parent", evs)
	}
	// Nothing can be exchanged from a token of the revoked chain.
	id, secret := h.client(exchanger("late"))
	r := h.post(oauth.PathToken, exchangeForm(chain[2], ""), basic(id, secret))
	wantError(t, r, http.StatusBadRequest, "invalid_grant")
}
