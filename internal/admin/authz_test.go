package admin_test

import (
	"net/http"
	"testing"
	"time"

	"github.com/tokend/tokend/internal/admin"
	"github.com/tokend/tokend/internal/oauth"
	"github.com/tokend/tokend/internal/scim"
	"github.com/tokend/tokend/internal/store"
	ts "github.com/tokend/tokend/internal/testserver"
)

// TestEveryAdminEndpointRefusesNonAdmins: without credentials 401 with a
// WWW-Authenticate challenge, with a wrong token or password 401, as a
// user who is no admin 403; and the request changed nothing.
func TestEveryAdminEndpointRefusesNonAdmins(t *testing.T) {
	w := newWorld(t, ts.WithFailLimit(1000)) // this test fails authentication on purpose, often
	user := "/" + w.alice.ID
	// A session and a consent, each with a grant, that a DELETE let
	// through would revoke.
	startSession(t, w.s, "s-1", w.alice, time.Hour)
	inSession := sessionGrant(t, w.s, "s-1", w.alice, w.c2, "", "openid")
	if err := w.s.Store.PutConsent(t.Context(), store.Consent{UserID: w.alice.ID, ClientID: w.c1, Scope: "read",
		CreatedAt: w.s.Clock.Now(), UpdatedAt: w.s.Clock.Now()}); err != nil {
		t.Fatal(err)
	}
	patch := `{"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],"Operations":[{"op":"replace","path":"active","value":false}]}`
	put := `{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User"],"userName":"alice","password":"a new password"}`
	endpoints := []struct {
		method, path, body string
		scim               bool
	}{
		{http.MethodPost, admin.PathRevocations, `{"subject":"` + w.alice.ID + `"}`, false},
		{http.MethodGet, admin.PathRevocations, "", false},
		{http.MethodPost, admin.PathGlobalTokenRevocation, `{"sub_id":{"format":"opaque","id":"` + w.alice.ID + `"}}`, false},
		{http.MethodPost, scim.PathUsers, `{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User"],"userName":"eve","password":"eve's password"}`, true},
		{http.MethodGet, scim.PathUsers, "", true},
		{http.MethodGet, scim.PathUsers + user, "", true},
		{http.MethodPut, scim.PathUsers + user, put, true},
		{http.MethodPatch, scim.PathUsers + user, patch, true},
		{http.MethodDelete, scim.PathUsers + user, "", true},
		{http.MethodPost, oauth.PathRegister, `{"client_name":"eve"}`, false},
		{http.MethodGet, oauth.PathRegister + "/" + w.c1, "", false},
		{http.MethodPut, oauth.PathRegister + "/" + w.c1, `{"client_name":"eve","ext_param_client_secret":"eve's own secret"}`, false},
		{http.MethodDelete, oauth.PathRegister + "/" + w.c1, "", false},
		{http.MethodGet, at(admin.PathUserSessions, "username", "alice"), "", false},
		{http.MethodDelete, at(admin.PathSession, "sid", "s-1"), "", false},
		{http.MethodGet, at(admin.PathUserConsents, "username", "alice"), "", false},
		{http.MethodDelete, at(admin.PathUserConsent, "username", "alice", "client_id", w.c1), "", false},
	}
	callers := []struct {
		name, auth string
		status     int
	}{
		{"no credentials", "", http.StatusUnauthorized},
		{"wrong admin token", "Authorization: Bearer not-the-admin-token", http.StatusUnauthorized},
		{"non-admin user", ts.Basic("bob", ts.Password), http.StatusForbidden},
	}
	for _, e := range endpoints {
		for _, c := range callers {
			t.Run(e.method+" "+e.path+" "+c.name, func(t *testing.T) {
				r := w.s.Do(e.method, e.path, e.body, c.auth)
				if r.Status != c.status {
					t.Fatalf("got %d %s; want %d", r.Status, r.Body, c.status)
				}
				if c.status == http.StatusUnauthorized && len(r.Header.Values("WWW-Authenticate")) == 0 {
					t.Error("401 without WWW-Authenticate")
				}
				m := r.Map(t)
				if e.scim {
					if r.Header.Get("Content-Type") != scim.ContentType || m["status"] == nil {
						t.Errorf("SCIM refusal %s (%s); want a SCIM error", r.Body, r.Header.Get("Content-Type"))
					}
				} else if m["error"] == nil {
					t.Errorf("refusal %s; want an OAuth error body", r.Body)
				}
			})
		}
	}
	// Nothing was revoked, created, changed or deleted.
	for _, tk := range w.all() {
		w.s.CheckLive(t, tk)
	}
	w.s.CheckLive(t, inSession)
	if sess, err := w.s.Store.GetSession(t.Context(), "s-1"); err != nil || !sess.EndedAt.IsZero() {
		t.Errorf("session s-1: ended at %v (err %v); want it live", sess.EndedAt, err)
	}
	if _, err := w.s.Store.GetConsent(t.Context(), w.alice.ID, w.c1); err != nil {
		t.Errorf("alice's consent: %v; want it kept", err)
	}
	if evs := w.s.Events(); len(evs) != 0 {
		t.Errorf("log holds %v; want nothing", evs)
	}
	if us, err := w.s.Store.ListUsers(t.Context()); err != nil || len(us) != 3 {
		t.Errorf("users %d, %v; want the 3 there were", len(us), err)
	}
	if cs, err := w.s.Store.ListClients(t.Context()); err != nil || len(cs) != 2 {
		t.Errorf("clients %d, %v; want the 2 there were", len(cs), err)
	}
	// And the admin user is let through everywhere the others were not.
	for _, e := range endpoints {
		if e.method == http.MethodDelete || e.method == http.MethodPut || e.method == http.MethodPatch {
			continue // covered by the endpoint tests; here they would change the world
		}
		if r := w.s.Do(e.method, e.path, e.body, ts.Basic("root", ts.Password)); r.Status >= 400 {
			t.Errorf("admin user: %s %s = %d %s; want success", e.method, e.path, r.Status, r.Body)
		}
	}
}

// TestAdminGuessingIsRateLimited: after FailLimit wrong passwords of the
// admin user, even the right one is refused with 429 and Retry-After until
// the window closes.
func TestAdminGuessingIsRateLimited(t *testing.T) {
	s := ts.New(t)
	s.User("root", true)
	for i := range ts.FailLimit {
		if r := s.Do(http.MethodGet, scim.PathUsers, "", ts.Basic("root", "guess")); r.Status != http.StatusUnauthorized {
			t.Fatalf("guess %d: %d; want 401", i+1, r.Status)
		}
	}
	for _, path := range []string{scim.PathUsers, admin.PathRevocations} {
		r := s.Do(http.MethodGet, path, "", ts.Basic("root", ts.Password))
		if r.Status != http.StatusTooManyRequests || r.Header.Get("Retry-After") != "60" {
			t.Errorf("GET %s with the right password after %d guesses: %d, Retry-After %q; want 429, 60", path, ts.FailLimit, r.Status, r.Header.Get("Retry-After"))
		}
	}
	s.Clock.Advance(61 * time.Second)
	if r := s.Do(http.MethodGet, scim.PathUsers, "", ts.Basic("root", ts.Password)); r.Status != http.StatusOK {
		t.Errorf("after the window: %d %s; want 200", r.Status, r.Body)
	}
}
