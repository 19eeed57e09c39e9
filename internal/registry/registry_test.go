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
