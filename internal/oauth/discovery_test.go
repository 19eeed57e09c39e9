package oauth_test

import (
	"encoding/json"
	"net/http"
	"slices"
	"testing"

	"github.com/tokend/tokend/internal/oauth"
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
			for _, g := range []string{"client_credentials", "password", "refresh_token"} {
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
