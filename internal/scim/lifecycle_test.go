package scim_test

import (
	"net/http"
	"slices"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/tokend/tokend/internal/admin"
	"github.com/tokend/tokend/internal/oauth"
	"github.com/tokend/tokend/internal/scim"
	"github.com/tokend/tokend/internal/store"
	ts "github.com/tokend/tokend/internal/testserver"
)

const patchOp = `{"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],"Operations":`

// TestUserChangesRevokeEveryGrant: a user has tokens from two clients and
// another user has tokens too; a password change, a disable or a delete
// over SCIM leaves every token of the user inactive with its refresh token
// refused, leaves the other user's tokens alone, and logs one event per
// grant with the right reason and actor.
func TestUserChangesRevokeEveryGrant(t *testing.T) {
	const newPassword = "a brand new password"
	rootBasic := ts.Basic("root", ts.Password)
	cases := []struct {
		name, method, body, auth string
		status                   int
		reason, actor            string
		// signIn is whether alice can sign in afterwards, and with which password.
		signIn   bool
		password string
	}{
		{"PUT password", http.MethodPut, `{"schemas":["` + scim.SchemaUser + `"],"userName":"alice","password":"` + newPassword + `"}`, ts.AdminBearer,
			http.StatusOK, store.ReasonPasswordChange, "admin", true, newPassword},
		{"PATCH password by path", http.MethodPatch, patchOp + `[{"op":"replace","path":"password","value":"` + newPassword + `"}]}`, ts.AdminBearer,
			http.StatusOK, store.ReasonPasswordChange, "admin", true, newPassword},
		{"PATCH add password by an admin user", http.MethodPatch, patchOp + `[{"op":"add","path":"password","value":"` + newPassword + `"}]}`, rootBasic,
			http.StatusOK, store.ReasonPasswordChange, "root", true, newPassword},
		{"PATCH active false by path", http.MethodPatch, patchOp + `[{"op":"replace","path":"active","value":false}]}`, ts.AdminBearer,
			http.StatusOK, store.ReasonUserDisabled, "admin", false, ts.Password},
		{"PATCH active false as a value object", http.MethodPatch, patchOp + `[{"op":"Replace","value":{"active":false}}]}`, rootBasic,
			http.StatusOK, store.ReasonUserDisabled, "root", false, ts.Password},
		{"PATCH active \"False\" as Entra ID sends it", http.MethodPatch, patchOp + `[{"op":"Replace","path":"active","value":"False"}]}`, ts.AdminBearer,
			http.StatusOK, store.ReasonUserDisabled, "admin", false, ts.Password},
		{"PUT active false", http.MethodPut, `{"schemas":["` + scim.SchemaUser + `"],"userName":"alice","active":false}`, ts.AdminBearer,
			http.StatusOK, store.ReasonUserDisabled, "admin", false, ts.Password},
		{"DELETE", http.MethodDelete, "", ts.AdminBearer,
			http.StatusNoContent, store.ReasonUserDeleted, "admin", false, ts.Password},
		{"DELETE by an admin user", http.MethodDelete, "", rootBasic,
			http.StatusNoContent, store.ReasonUserDeleted, "root", false, ts.Password},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			s := ts.New(t)
			c1, s1 := s.Client("web")
			c2, s2 := s.Client("mobile")
			s.User("root", true)
			alice := s.User("alice", false)
			s.User("bob", false)
			a1 := s.PasswordTokens(c1, s1, "alice")
			a2 := s.PasswordTokens(c2, s2, "alice")
			b1 := s.PasswordTokens(c1, s1, "bob")
			b2 := s.PasswordTokens(c2, s2, "bob")

			r := s.Do(tc.method, scim.PathUsers+"/"+alice.ID, tc.body, tc.auth)
			if r.Status != tc.status {
				t.Fatalf("%s: status %d, body %s; want %d", tc.method, r.Status, r.Body, tc.status)
			}
			s.CheckRevoked(t, a1, a2)
			s.CheckLive(t, b1, b2)

			var got []admin.Event
			for _, e := range s.Events() {
				got = append(got, admin.Event{Reason: e.Reason, Actor: e.Actor, Subject: e.Subject, ClientID: e.ClientID, Tokens: e.Tokens})
			}
			want := []admin.Event{
				{Reason: tc.reason, Actor: tc.actor, Subject: alice.ID, ClientID: c1, Tokens: 2},
				{Reason: tc.reason, Actor: tc.actor, Subject: alice.ID, ClientID: c2, Tokens: 2},
			}
			byClient := func(a, b admin.Event) int { return cmpString(a.ClientID, b.ClientID) }
			slices.SortFunc(got, byClient)
			slices.SortFunc(want, byClient)
			if d := cmp.Diff(got, want); d != "" {
				t.Errorf("revocation log (-got +want):\n%s", d)
			}

			signIn := s.Post(oauth.PathToken, "grant_type=password&username=alice&password="+tc.password, ts.Basic(c1, s1))
			if ok := signIn.Status == http.StatusOK; ok != tc.signIn {
				t.Errorf("alice signs in afterwards: %d %s; want success %v", signIn.Status, signIn.Body, tc.signIn)
			}
			if tc.password != ts.Password {
				old := s.Post(oauth.PathToken, "grant_type=password&username=alice&password="+ts.Password, ts.Basic(c1, s1))
				if old.Status != http.StatusBadRequest {
					t.Errorf("sign-in with the old password: %d; want 400", old.Status)
				}
			}
		})
	}
}

func cmpString(a, b string) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

// TestReenableDoesNotRevoke: active:true and changes of ignored attributes
// revoke nothing; the change of displayName and email is logged as one
// claims_changed subject entry (no grant), and active:true of a user
// enabled already as nothing.
func TestReenableDoesNotRevoke(t *testing.T) {
	s := ts.New(t)
	c, sec := s.Client("web")
	alice := s.User("alice", false)
	tk := s.PasswordTokens(c, sec, "alice")
	for _, body := range []string{
		patchOp + `[{"op":"replace","path":"active","value":true}]}`,
		patchOp + `[{"op":"replace","path":"displayName","value":"Alice"},{"op":"add","path":"emails[type eq \"work\"].value","value":"a@example.com"}]}`,
		patchOp + `[{"op":"remove","path":"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:department"}]}`,
	} {
		if r := s.Do(http.MethodPatch, scim.PathUsers+"/"+alice.ID, body, ts.AdminBearer); r.Status != http.StatusOK {
			t.Errorf("PATCH %s: %d %s; want 200", body, r.Status, r.Body)
		}
	}
	r := s.Do(http.MethodPut, scim.PathUsers+"/"+alice.ID,
		`{"schemas":["`+scim.SchemaUser+`"],"userName":"alice","active":true,"displayName":"Alice"}`, ts.AdminBearer)
	if r.Status != http.StatusOK {
		t.Errorf("PUT: %d %s; want 200", r.Status, r.Body)
	}
	s.CheckLive(t, tk)
	evs := s.Events()
	if len(evs) != 1 || evs[0].GrantID != "" || evs[0].Reason != store.ReasonClaimsChanged {
		t.Errorf("revocation log holds %v; want one claims_changed subject entry", evs)
	}
}
