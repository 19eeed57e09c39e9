package oauth_test

import (
	"encoding/json"
	"net/http"
	"reflect"
	"slices"
	"testing"

	"github.com/tokend/tokend/internal/oauth"
	"github.com/tokend/tokend/internal/token"
)

func TestDiscovery(t *testing.T) {
	h := newHarness(t)
	for _, path := range []string{
		"/.well-known/oauth-authorization-server",
		"/.well-known/openid-configuration",
		"/oauth2/token/.well-known/openid-configuration",
	} {
		t.Run(path, func(t *testing.T) {
			req, _ := http.NewRequestWithContext(t.Context(), http.MethodGet, h.srv.URL+path, nil)
			r := h.do(req)
			if r.status != http.StatusOK {
				t.Fatalf("status %d", r.status)
			}
			var m struct {
				Issuer                 string   `json:"issuer"`
				Token                  string   `json:"token_endpoint"`
				Revocation             string   `json:"revocation_endpoint"`
				RevocationAuthMethods  []string `json:"revocation_endpoint_auth_methods_supported"`
				Introspection          string   `json:"introspection_endpoint"`
				Registration           string   `json:"registration_endpoint"`
				GrantTypes             []string `json:"grant_types_supported"`
				TokenEndpointAuthMeths []string `json:"token_endpoint_auth_methods_supported"`
			}
			if err := json.Unmarshal([]byte(r.body), &m); err != nil {
				t.Fatal(err)
			}
			u := h.srv.URL
			if m.Issuer != u || m.Token != u+oauth.PathToken || m.Revocation != u+oauth.PathRevoke ||
				m.Introspection != u+oauth.PathIntrospect || m.Registration != u+oauth.PathRegister {
				t.Errorf("endpoints %+v do not match issuer %s", m, u)
			}
			for _, g := range []string{"client_credentials", "password", "refresh_token", oauth.GrantTokenExchange} {
				if !slices.Contains(m.GrantTypes, g) {
					t.Errorf("grant_types_supported %v lacks %s", m.GrantTypes, g)
				}
			}
			for _, a := range []string{"client_secret_basic", "client_secret_post", "none"} {
				if !slices.Contains(m.RevocationAuthMethods, a) || !slices.Contains(m.TokenEndpointAuthMeths, a) {
					t.Errorf("auth methods lack %s", a)
				}
			}
		})
	}
}

// browserMembers are the members the metadata holds only with browser
// sign-in served (Config.Browser).
var browserMembers = []string{
	"authorization_endpoint", "userinfo_endpoint", "end_session_endpoint", "response_modes_supported",
	"code_challenge_methods_supported", "id_token_signing_alg_values_supported", "subject_types_supported",
	"scopes_supported", "claims_supported", "prompt_values_supported",
	"authorization_response_iss_parameter_supported", "backchannel_logout_supported",
	"backchannel_logout_session_supported",
}

func withBrowser(c *oauth.Config) { c.Browser = true }

// TestDiscoveryBrowser: with browser sign-in served, every metadata path
// advertises its endpoints and what OpenID Connect Discovery asks of a
// provider; without it, none of that, and no response type.
func TestDiscoveryBrowser(t *testing.T) {
	on := newHarness(t, withJWT(t, token.EdDSA), withBrowser)
	off := newHarness(t, withJWT(t, token.EdDSA))
	u := on.srv.URL
	want := map[string]any{
		"authorization_endpoint":                         u + oauth.PathAuthorize,
		"userinfo_endpoint":                              u + oauth.PathUserinfo,
		"end_session_endpoint":                           u + oauth.PathEndSession,
		"response_types_supported":                       []any{"code"},
		"response_modes_supported":                       []any{"query"},
		"code_challenge_methods_supported":               []any{"S256"},
		"id_token_signing_alg_values_supported":          []any{"EdDSA"},
		"subject_types_supported":                        []any{"public"},
		"scopes_supported":                               []any{"openid", "profile", "email", "offline_access"},
		"prompt_values_supported":                        []any{"none", "login", "consent"},
		"authorization_response_iss_parameter_supported": true,
		"backchannel_logout_supported":                   true,
		"backchannel_logout_session_supported":           true,
	}
	for _, path := range []string{
		"/.well-known/openid-configuration",
		"/.well-known/oauth-authorization-server",
		"/oauth2/token/.well-known/openid-configuration",
	} {
		t.Run(path, func(t *testing.T) {
			m := on.get(path).json(t)
			for k, v := range want {
				if !reflect.DeepEqual(m[k], v) {
					t.Errorf("%s = %v; want %v", k, m[k], v)
				}
			}
			claims, _ := m["claims_supported"].([]any)
			for _, c := range []string{"sub", "iss", "aud", "exp", "iat", "auth_time", "nonce", "sid",
				"preferred_username", "name", "given_name", "family_name", "email", "email_verified"} {
				if !slices.Contains(claims, any(c)) {
					t.Errorf("claims_supported %v lacks %s", claims, c)
				}
			}
			m = off.get(path).json(t)
			for _, k := range browserMembers {
				if v, ok := m[k]; ok {
					t.Errorf("without browser sign-in, %s = %v; want it left out", k, v)
				}
			}
			if rt, ok := m["response_types_supported"].([]any); !ok || len(rt) != 0 {
				t.Errorf("without browser sign-in, response_types_supported = %v; want []", m["response_types_supported"])
			}
		})
	}
}
