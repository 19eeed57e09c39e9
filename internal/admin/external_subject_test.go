package admin_test

import (
	"net/http"
	"net/url"
	"testing"

	"github.com/tokend/tokend/internal/admin"
	"github.com/tokend/tokend/internal/oauth"
	"github.com/tokend/tokend/internal/scim"
	"github.com/tokend/tokend/internal/store"
	ts "github.com/tokend/tokend/internal/testserver"
)

const idp = "https://idp.example"

// TestExternalSubjectIsNotALocalUser: an upstream issuer's subject gets
// grants of its own, qualified by the issuer, even when it is spelt like a
// local user's name or ID. Revoking, disabling or deleting the local user
// alice leaves the external subject's grant alone; an admin revokes the
// external subject by its qualified name, which leaves alice alone; and
// introspection never reports the external subject as alice.
func TestExternalSubjectIsNotALocalUser(t *testing.T) {
	type action struct {
		name            string
		do              func(s *ts.Server, alice store.User, qualified string) ts.Response
		status          int
		local, external bool // whether each grant is revoked
	}
	revoke := func(body func(alice store.User, qualified string) string) func(*ts.Server, store.User, string) ts.Response {
		return func(s *ts.Server, alice store.User, qualified string) ts.Response {
			return s.Do(http.MethodPost, admin.PathRevocations, body(alice, qualified), ts.AdminBearer)
		}
	}
	actions := []action{
		{"admin revokes user alice", revoke(func(store.User, string) string { return `{"username":"alice"}` }),
			http.StatusOK, true, false},
		{"admin revokes alice's subject", revoke(func(a store.User, _ string) string { return `{"subject":"` + a.ID + `"}` }),
			http.StatusOK, true, false},
		{"SCIM disables alice", func(s *ts.Server, a store.User, _ string) ts.Response {
			return s.Do(http.MethodPatch, scim.PathUsers+"/"+a.ID,
				`{"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],"Operations":[{"op":"replace","path":"active","value":false}]}`, ts.AdminBearer)
		}, http.StatusOK, true, false},
		{"SCIM deletes alice", func(s *ts.Server, a store.User, _ string) ts.Response {
			return s.Do(http.MethodDelete, scim.PathUsers+"/"+a.ID, "", ts.AdminBearer)
		}, http.StatusNoContent, true, false},
		{"admin revokes the external subject", revoke(func(_ store.User, q string) string { return `{"subject":"` + q + `"}` }),
			http.StatusOK, false, true},
	}
	// The upstream subject is spelt like alice's username, or like her
	// user ID: the sub of her tokens.
	subs := map[string]func(alice store.User) string{
		"sub alice":         func(store.User) string { return "alice" },
		"sub alice's ID":    func(a store.User) string { return a.ID },
		"sub of an address": func(store.User) string { return "alice@example.com" },
	}
	for subName, sub := range subs {
		for _, a := range actions {
			t.Run(subName+"/"+a.name, func(t *testing.T) {
				s := ts.New(t)
				iss := s.TrustIssuer(idp)
				cid, secret := s.Client("web")
				alice := s.User("alice", false)
				local := s.PasswordTokens(cid, secret, "alice")
				external := s.AssertionTokens(cid, secret, iss, sub(alice))
				qualified := sub(alice) + "@" + idp

				checkIdentity(t, s, local.Access, alice.ID, "alice")
				checkIdentity(t, s, external.Access, qualified, "")

				if r := a.do(s, alice, qualified); r.Status != a.status {
					t.Fatalf("%s: %d %s; want %d", a.name, r.Status, r.Body, a.status)
				}
				for _, g := range []struct {
					name    string
					tk      ts.Tokens
					revoked bool
				}{{"local alice", local, a.local}, {"external subject", external, a.external}} {
					if g.revoked {
						s.CheckRevoked(t, g.tk)
					} else if !s.Active(g.tk.Access) || !s.Active(g.tk.Refresh) {
						t.Errorf("%s's grant was revoked; want it untouched", g.name)
					}
				}
			})
		}
	}
}

// checkIdentity introspects tok with the admin token and checks the
// identity it reports: sub, and username ("" for none).
func checkIdentity(t *testing.T, s *ts.Server, tok, sub, username string) {
	t.Helper()
	m := s.Post(oauth.PathIntrospect, "token="+url.QueryEscape(tok), ts.AdminBearer).Map(t)
	got, _ := m["username"].(string)
	if m["active"] != true || m["sub"] != sub || got != username {
		t.Errorf("introspection: active %v, sub %q, username %q; want active, sub %q, username %q", m["active"], m["sub"], got, sub, username)
	}
}
