package admin_test

import (
	"net/http"
	"testing"

	"github.com/tokend/tokend/internal/oauth"
	"github.com/tokend/tokend/internal/registry"
	"github.com/tokend/tokend/internal/revocation"
	"github.com/tokend/tokend/internal/store"
	ts "github.com/tokend/tokend/internal/testserver"
)

// TestClientChangesRevokeItsGrants: deleting a client (DCR DELETE, or the
// engine call `tokend client delete` makes) and rotating its secret (DCR
// PUT with a new secret, or the engine call of `tokend client
// rotate-secret`) revoke every grant of the client, users' and its own,
// and no other client's; each is logged with its reason and actor.
func TestClientChangesRevokeItsGrants(t *testing.T) {
	cases := []struct {
		name   string
		change func(t *testing.T, w *world)
		reason string
		actor  string
	}{
		{"DCR DELETE", func(t *testing.T, w *world) {
			if r := w.s.Do(http.MethodDelete, oauth.PathRegister+"/"+w.c1, "", ts.AdminBearer); r.Status != http.StatusNoContent {
				t.Fatalf("DELETE: %d %s", r.Status, r.Body)
			}
		}, store.ReasonClientDeleted, "admin"},
		{"DCR DELETE by an admin user", func(t *testing.T, w *world) {
			if r := w.s.Do(http.MethodDelete, oauth.PathRegister+"/"+w.c1, "", ts.Basic("root", ts.Password)); r.Status != http.StatusNoContent {
				t.Fatalf("DELETE: %d %s", r.Status, r.Body)
			}
		}, store.ReasonClientDeleted, "root"},
		{"engine delete (CLI)", func(t *testing.T, w *world) {
			_, err := w.engine().DeleteClient(t.Context(), w.c1, "admin")
			if err != nil {
				t.Fatal(err)
			}
		}, store.ReasonClientDeleted, "admin"},
		{"DCR PUT with a new secret", func(t *testing.T, w *world) {
			r := w.s.Do(http.MethodPut, oauth.PathRegister+"/"+w.c1,
				`{"client_name":"web","grant_types":["client_credentials","password","refresh_token"],"ext_param_client_secret":"a new secret of ours"}`, ts.AdminBearer)
			if r.Status != http.StatusOK {
				t.Fatalf("PUT: %d %s", r.Status, r.Body)
			}
		}, store.ReasonSecretRotated, "admin"},
		{"DCR PUT with a new secret by an admin user", func(t *testing.T, w *world) {
			r := w.s.Do(http.MethodPut, oauth.PathRegister+"/"+w.c1,
				`{"client_name":"web","grant_types":["client_credentials","password","refresh_token"],"ext_param_client_secret":"a new secret of ours"}`, ts.Basic("root", ts.Password))
			if r.Status != http.StatusOK {
				t.Fatalf("PUT: %d %s", r.Status, r.Body)
			}
		}, store.ReasonSecretRotated, "root"},
		{"engine secret rotation (CLI)", func(t *testing.T, w *world) {
			_, stored, err := registry.NewSecret("")
			if err != nil {
				t.Fatal(err)
			}
			_, err = w.engine().RotateSecret(t.Context(), w.c1, "admin", func(c store.Client) (store.Client, error) {
				c.SecretHash = stored
				return c, nil
			})
			if err != nil {
				t.Fatal(err)
			}
		}, store.ReasonSecretRotated, "admin"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			w := newWorld(t)
			tc.change(t, w)
			w.s.CheckRevoked(t, w.a1, w.b1, w.x1)
			w.s.CheckLive(t, w.a2, w.b2, w.x2)
			want := map[string]logged{
				w.alice.ID: {tc.reason, tc.actor, w.alice.ID, w.c1, 2},
				w.bob.ID:   {tc.reason, tc.actor, w.bob.ID, w.c1, 2},
				w.c1:       {tc.reason, tc.actor, w.c1, w.c1, 1},
			}
			got := w.logged(t)
			if len(got) != len(want) {
				t.Fatalf("revocation log %+v; want one event per grant of %s: %+v", got, w.c1, want)
			}
			for _, e := range got {
				if e != want[e.Subject] {
					t.Errorf("event %+v; want %+v", e, want[e.Subject])
				}
			}
		})
	}
}

// engine revokes as the CLI's commands do: through a revocation engine on
// the server's store.
func (w *world) engine() *revocation.Engine {
	return &revocation.Engine{Store: w.s.Store, Now: w.s.Clock.Now}
}
