package registry_test

import (
	"errors"
	"testing"
	"time"

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
			_, _, err := registry.New(c.spec, now)
			var inv *registry.InvalidError
			if got := errors.As(err, &inv); got != c.refused {
				t.Errorf("New: error %v; want refused %t", err, c.refused)
			}
		})
	}
	t.Run("update turning an introspector public", func(t *testing.T) {
		c, _, err := registry.New(registry.Spec{Name: "api", CanIntrospect: true}, now)
		if err != nil {
			t.Fatal(err)
		}
		before := c
		err = registry.Apply(&c, registry.Spec{ID: c.ID, Name: "api", AuthMethod: registry.AuthNone, CanIntrospect: true})
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
