package registry_test

import (
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/tokend/tokend/internal/oauth"
	"github.com/tokend/tokend/internal/registry"
	"github.com/tokend/tokend/internal/store"
)

// TestPublicClientCannotIntrospect: a client that authenticates with its
// client_id alone is refused can_introspect, at registration and when an
// update turns a resource server public.
func TestPublicClientCannotIntrospect(t *testing.T) {
	now := time.Now()
	cases := []struct {
		name    string
		spec    registry.Spec
		refused bool
	}{
		{"confidential introspector", registry.Spec{Name: "api", CanIntrospect: true}, false},
		{"client_secret_post introspector", registry.Spec{Name: "api", AuthMethod: registry.AuthPost, CanIntrospect: true}, false},
		{"public client", registry.Spec{Name: "spa", AuthMethod: registry.AuthNone}, false},
		{"public introspector", registry.Spec{Name: "spa", AuthMethod: registry.AuthNone, CanIntrospect: true}, true},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, _, err := oauth.Registration.New(c.spec, now)
			var inv *registry.InvalidError
			if got := errors.As(err, &inv); got != c.refused {
				t.Errorf("New: error %v; want refused %t", err, c.refused)
			}
		})
	}
	t.Run("update turning an introspector public", func(t *testing.T) {
		c, _, err := oauth.Registration.New(registry.Spec{Name: "api", CanIntrospect: true}, now)
		if err != nil {
			t.Fatal(err)
		}
		before := c
		err = oauth.Registration.Apply(&c, registry.Spec{ID: c.ID, Name: "api", AuthMethod: registry.AuthNone, CanIntrospect: true})
		var inv *registry.InvalidError
		if !errors.As(err, &inv) {
			t.Fatalf("Apply: error %v; want an InvalidError", err)
		}
		if c.SecretHash != before.SecretHash || c.AuthMethod != before.AuthMethod {
			t.Errorf("the refused update changed the client: %+v", c)
		}
	})
}

// TestMayIntrospectAny: only a confidential client with can_introspect
// may, whatever a stored row says of a public one.
func TestMayIntrospectAny(t *testing.T) {
	cases := []struct {
		name   string
		client store.Client
		want   bool
	}{
		{"confidential introspector", store.Client{SecretHash: "sha256$x", AuthMethod: registry.AuthBasic, CanIntrospect: true}, true},
		{"confidential client", store.Client{SecretHash: "sha256$x", AuthMethod: registry.AuthBasic}, false},
		{"public introspector", store.Client{AuthMethod: registry.AuthNone, CanIntrospect: true}, false},
		{"no secret, method basic", store.Client{AuthMethod: registry.AuthBasic, CanIntrospect: true}, false},
		{"secret, method none", store.Client{SecretHash: "sha256$x", AuthMethod: registry.AuthNone, CanIntrospect: true}, false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if got := registry.MayIntrospectAny(c.client); got != c.want {
				t.Errorf("MayIntrospectAny = %t; want %t", got, c.want)
			}
		})
	}
}

// TestRulesGrants: the grant types a registration gets come from the rules'
// list alone: its defaults (those a public client may use, for a public
// one), and only names it knows.
func TestRulesGrants(t *testing.T) {
	rules := registry.Rules{Grants: []registry.GrantType{
		{Name: "a", Default: true},
		{Name: "b", Public: true, Default: true},
		{Name: "c", Public: true},
	}}
	now := time.Unix(1_700_000_000, 0)
	for _, tc := range []struct {
		name    string
		spec    registry.Spec
		want    []string
		wantErr string
	}{
		{"confidential defaults", registry.Spec{}, []string{"a", "b"}, ""},
		{"public defaults", registry.Spec{AuthMethod: registry.AuthNone}, []string{"b"}, ""},
		{"asked, sorted, once", registry.Spec{GrantTypes: []string{"c", "a", "c"}}, []string{"a", "c"}, ""},
		{"unknown", registry.Spec{GrantTypes: []string{"d"}}, nil, `grant type "d" is not supported`},
		{"public asks a confidential grant", registry.Spec{AuthMethod: registry.AuthNone, GrantTypes: []string{"a"}}, nil, "a public client may not use the a grant"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, _, err := rules.New(tc.spec, now)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("got error %v; want %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(c.GrantTypes, tc.want) {
				t.Errorf("got %q; want %q", c.GrantTypes, tc.want)
			}
		})
	}
}

// TestRedirectURIs: redirection URIs and post-logout ones are absolute,
// without a fragment, and https, http to a loopback host, or of a
// private-use scheme with a dot (RFC 8252 §7.1); the back-channel logout
// URI is https or loopback http; a client of the authorization_code grant
// has a redirection URI. A refused redirection URI is marked RedirectURI
// (invalid_redirect_uri), a refused back-channel URI not.
func TestRedirectURIs(t *testing.T) {
	rules := registry.Rules{Grants: []registry.GrantType{
		{Name: "authorization_code", Public: true}, {Name: "client_credentials", Default: true},
	}}
	now := time.Unix(1_700_000_000, 0)
	good := []string{
		"https://app.example/cb", "https://app.example:8443/cb?x=1", "http://127.0.0.1:8080/cb",
		"http://[::1]/cb", "http://localhost:1234/cb", "http://LOCALHOST/cb", "com.example.app:/oauth2redirect",
	}
	bad := []string{
		"", "/cb", "app.example/cb", "https://app.example/cb#frag", "https://app.example/cb#",
		"http://app.example/cb", "http://localhost.evil.example/cb", "http://127.0.0.2/cb",
		"javascript:alert(1)", "data:text/html,x", "file:///etc/passwd", "myapp:/cb",
		"https:///cb", "https://app.example/\x7fcb",
	}
	for _, uri := range good {
		for _, spec := range []registry.Spec{
			{RedirectURIs: []string{uri}},
			{RedirectURIs: []string{"https://a.example/cb"}, PostLogoutRedirectURIs: []string{uri}},
		} {
			if _, _, err := rules.New(spec, now); err != nil {
				t.Errorf("New(%+v): %v; want accepted", spec, err)
			}
		}
	}
	for _, uri := range bad {
		for _, spec := range []registry.Spec{
			{RedirectURIs: []string{"https://a.example/cb", uri}},
			{PostLogoutRedirectURIs: []string{uri}},
		} {
			_, _, err := rules.New(spec, now)
			var inv *registry.InvalidError
			if !errors.As(err, &inv) || !inv.RedirectURI {
				t.Errorf("New(%q in %+v): error %v; want an InvalidError of a redirect URI", uri, spec, err)
			}
		}
	}

	for _, uri := range []string{"https://rp.example/logout", "https://rp.example:8443/bc?x=1", "http://127.0.0.1:9/bc", "http://[::1]:9/bc"} {
		if _, _, err := rules.New(registry.Spec{BackchannelLogoutURI: uri}, now); err != nil {
			t.Errorf("New(backchannel %q): %v; want accepted", uri, err)
		}
	}
	for _, uri := range []string{"/bc", "http://rp.example/bc", "https://rp.example/bc#x", "com.example.app:/bc", "ftp://rp.example/bc", "https:///bc"} {
		_, _, err := rules.New(registry.Spec{BackchannelLogoutURI: uri}, now)
		var inv *registry.InvalidError
		if !errors.As(err, &inv) || inv.RedirectURI {
			t.Errorf("New(backchannel %q): error %v; want an InvalidError not of a redirect URI", uri, err)
		}
	}

	_, _, err := rules.New(registry.Spec{GrantTypes: []string{"authorization_code"}}, now)
	var inv *registry.InvalidError
	if !errors.As(err, &inv) || !inv.RedirectURI {
		t.Errorf("New(authorization_code without a redirect URI): error %v; want an InvalidError of a redirect URI", err)
	}
	c, _, err := rules.New(registry.Spec{
		GrantTypes: []string{"authorization_code"}, RedirectURIs: []string{"https://a.example/cb"},
		PostLogoutRedirectURIs: []string{"https://a.example/bye"}, BackchannelLogoutURI: "https://a.example/bc",
		BackchannelLogoutSessionRequired: true,
	}, now)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(c.PostLogoutRedirectURIs, []string{"https://a.example/bye"}) || c.BackchannelLogoutURI != "https://a.example/bc" || !c.BackchannelLogoutSessionRequired {
		t.Errorf("client %+v; want the logout metadata of the spec", c)
	}
}
