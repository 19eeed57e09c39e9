package admin_test

import (
	"net/http"
	"net/url"
	"testing"

	"github.com/tokend/tokend/internal/admin"
	ts "github.com/tokend/tokend/internal/testserver"
)

// TestGlobalTokenRevocation follows draft-parecki-oauth-global-token-
// revocation-05 §3: a Subject Identifier (RFC 9493) in sub_id names the
// user; 204 once every grant of the user is revoked, 404 for no such user,
// 400 for a malformed request or an unsupported format.
func TestGlobalTokenRevocation(t *testing.T) {
	cases := []struct {
		name  string
		subID func(w *world) string
	}{
		{"opaque", func(w *world) string { return `{"format":"opaque","id":"` + w.alice.ID + `"}` }},
		{"iss_sub", func(w *world) string {
			return `{"format":"iss_sub","iss":"` + w.s.URL + `/","sub":"` + w.alice.ID + `"}`
		}},
		{"account of the issuer's host", func(w *world) string {
			u, _ := url.Parse(w.s.URL)
			return `{"format":"account","uri":"acct:alice@` + u.Host + `"}`
		}},
		{"account of the issuer's host without the port", func(w *world) string {
			u, _ := url.Parse(w.s.URL)
			return `{"format":"account","uri":"acct:alice@` + u.Hostname() + `"}`
		}},
		{"email", func(w *world) string { return `{"format":"email","email":"Alice@Example.com"}` }},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			w := newWorld(t)
			if tc.name == "email" {
				// A user whose username is an address; the request's case differs.
				w.s.User("alice@example.com", false)
				c, sec := w.s.Client("mail")
				tk := w.s.PasswordTokens(c, sec, "alice@example.com")
				r := w.s.Do(http.MethodPost, admin.PathGlobalTokenRevocation, `{"sub_id":`+tc.subID(w)+`}`, ts.AdminBearer)
				if r.Status != http.StatusNoContent || r.Body != "" {
					t.Fatalf("POST: %d %q; want 204 and no body", r.Status, r.Body)
				}
				w.s.CheckRevoked(t, tk)
				for _, tk := range w.all() {
					w.s.CheckLive(t, tk)
				}
				return
			}
			r := w.s.Do(http.MethodPost, admin.PathGlobalTokenRevocation, `{"sub_id":`+tc.subID(w)+`}`, ts.AdminBearer)
			if r.Status != http.StatusNoContent || r.Body != "" {
				t.Fatalf("POST: %d %q; want 204 and no body", r.Status, r.Body)
			}
			w.s.CheckRevoked(t, w.a1, w.a2)
			w.s.CheckLive(t, w.b1, w.b2, w.x1, w.x2)
			want := []logged{
				{"admin", "admin", w.alice.ID, w.c1, 2},
				{"admin", "admin", w.alice.ID, w.c2, 2},
			}
			got := w.logged(t)
			if len(got) != 2 || got[0] != want[0] && got[0] != want[1] || got[1] != want[0] && got[1] != want[1] || got[0] == got[1] {
				t.Errorf("revocation log %+v; want %+v", got, want)
			}
			// Again: nothing left, still a success.
			if r := w.s.Do(http.MethodPost, admin.PathGlobalTokenRevocation, `{"sub_id":`+tc.subID(w)+`}`, ts.AdminBearer); r.Status != http.StatusNoContent {
				t.Errorf("POST again: %d %s; want 204", r.Status, r.Body)
			}
		})
	}
}

func TestGlobalTokenRevocationBadInput(t *testing.T) {
	w := newWorld(t)
	cases := []struct {
		name, body string
		headers    []string
		status     int
	}{
		{"unknown user id", `{"sub_id":{"format":"opaque","id":"no-such-id"}}`, nil, 404},
		{"another issuer", `{"sub_id":{"format":"iss_sub","iss":"https://idp.example.com","sub":"` + w.alice.ID + `"}}`, nil, 404},
		{"unknown email", `{"sub_id":{"format":"email","email":"nobody@example.com"}}`, nil, 404},
		{"account of another host", `{"sub_id":{"format":"account","uri":"acct:alice@elsewhere.example"}}`, nil, 404},
		{"unsupported format", `{"sub_id":{"format":"phone_number","phone_number":"+12065550100"}}`, nil, 400},
		{"unknown format", `{"sub_id":{"format":"shoe_size","size":"42"}}`, nil, 400},
		{"no format", `{"sub_id":{"id":"` + w.alice.ID + `"}}`, nil, 400},
		{"opaque without id", `{"sub_id":{"format":"opaque","email":"alice"}}`, nil, 400},
		{"iss_sub without sub", `{"sub_id":{"format":"iss_sub","iss":"` + w.s.URL + `"}}`, nil, 400},
		{"account not an acct URI", `{"sub_id":{"format":"account","uri":"mailto:alice@example.com"}}`, nil, 400},
		{"no sub_id", `{"subject":{"format":"opaque","id":"` + w.alice.ID + `"}}`, nil, 400},
		{"sub_id a string", `{"sub_id":"` + w.alice.ID + `"}`, nil, 400},
		{"id a number", `{"sub_id":{"format":"opaque","id":7}}`, nil, 400},
		{"malformed JSON", `{"sub_id":{"format":"opaque",`, nil, 400},
		{"form body", `sub_id=x`, []string{"Content-Type: application/x-www-form-urlencoded"}, 415},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r := w.s.Do(http.MethodPost, admin.PathGlobalTokenRevocation, tc.body, append([]string{ts.AdminBearer}, tc.headers...)...)
			if r.Status != tc.status || r.Map(t)["error"] == nil {
				t.Errorf("got %d %s; want %d with an error body", r.Status, r.Body, tc.status)
			}
		})
	}
	for _, tk := range w.all() {
		w.s.CheckLive(t, tk)
	}
	if evs := w.s.Events(); len(evs) != 0 {
		t.Errorf("log holds %v; want nothing", evs)
	}
}
