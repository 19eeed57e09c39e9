package admin_test

import (
	"fmt"
	"net/http"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/tokend/tokend/internal/admin"
	"github.com/tokend/tokend/internal/store"
	ts "github.com/tokend/tokend/internal/testserver"
)

// world is two clients, two users with tokens from each client, and each
// client's own client_credentials token.
type world struct {
	s                      *ts.Server
	c1, c2                 string
	alice, bob             store.User
	a1, a2, b1, b2, x1, x2 ts.Tokens
}

func newWorld(t *testing.T, opts ...ts.Option) *world {
	s := ts.New(t, opts...)
	w := &world{s: s}
	var s1, s2 string
	w.c1, s1 = s.Client("web")
	w.c2, s2 = s.Client("mobile")
	s.User("root", true)
	w.alice = s.User("alice", false)
	w.bob = s.User("bob", false)
	w.a1 = s.PasswordTokens(w.c1, s1, "alice")
	w.a2 = s.PasswordTokens(w.c2, s2, "alice")
	w.b1 = s.PasswordTokens(w.c1, s1, "bob")
	w.b2 = s.PasswordTokens(w.c2, s2, "bob")
	w.x1 = s.ClientTokens(w.c1, s1)
	w.x2 = s.ClientTokens(w.c2, s2)
	return w
}

func (w *world) all() map[string]ts.Tokens {
	return map[string]ts.Tokens{"a1": w.a1, "a2": w.a2, "b1": w.b1, "b2": w.b2, "x1": w.x1, "x2": w.x2}
}

// logged is an event without what varies from run to run.
type logged struct {
	Reason, Actor, Subject, ClientID string
	Tokens                           int
}

func (w *world) logged(t *testing.T) []logged {
	var out []logged
	for _, e := range w.s.Events() {
		out = append(out, logged{e.Reason, e.Actor, e.Subject, e.ClientID, e.Tokens})
	}
	slices.SortFunc(out, func(a, b logged) int { return strings.Compare(a.Subject+a.ClientID, b.Subject+b.ClientID) })
	return out
}

// TestBulkRevocation: by subject (a user's ID, or a client's for its
// client_credentials grants), by username, by client and by the pair,
// exactly the selected grants are revoked, the answer counts them, and
// the log holds one event per grant with the reason and actor.
func TestBulkRevocation(t *testing.T) {
	rootBasic := ts.Basic("root", ts.Password)
	cases := []struct {
		name    string
		body    func(w *world) string
		auth    string
		revoked []string
		tokens  int
		reason  string
		actor   string
	}{
		{"by subject", func(w *world) string { return `{"subject":"` + w.alice.ID + `","reason":"admin"}` },
			ts.AdminBearer, []string{"a1", "a2"}, 4, "admin", "admin"},
		{"by username, reason defaulted", func(w *world) string { return `{"username":"alice"}` },
			ts.AdminBearer, []string{"a1", "a2"}, 4, "admin", "admin"},
		{"by client", func(w *world) string { return `{"client_id":"` + w.c1 + `"}` },
			ts.AdminBearer, []string{"a1", "b1", "x1"}, 5, "admin", "admin"},
		{"by pair", func(w *world) string {
			return `{"subject":"` + w.bob.ID + `","client_id":"` + w.c2 + `","reason":"user_disabled"}`
		}, rootBasic, []string{"b2"}, 2, "user_disabled", "root"},
		{"by username and client", func(w *world) string { return `{"username":"alice","client_id":"` + w.c2 + `"}` },
			rootBasic, []string{"a2"}, 2, "admin", "root"},
		{"client_credentials grants by the client as subject", func(w *world) string { return `{"subject":"` + w.c2 + `"}` },
			ts.AdminBearer, []string{"x2"}, 1, "admin", "admin"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			w := newWorld(t)
			r := w.s.Do(http.MethodPost, admin.PathRevocations, tc.body(w), tc.auth)
			evs := w.s.Events()
			want := fmt.Sprintf(`{"grants":%d,"tokens":%d,"seq":%d}`+"\n", len(tc.revoked), tc.tokens, len(evs))
			if r.Status != http.StatusOK || r.Body != want {
				t.Fatalf("POST: %d %q; want 200 %q", r.Status, r.Body, want)
			}
			var wantLog []logged
			for name, tk := range w.all() {
				if slices.Contains(tc.revoked, name) {
					w.s.CheckRevoked(t, tk)
					rec, _ := w.s.Store.LookupToken(t.Context(), store.HashToken(tk.Access))
					n := 2
					if tk.Refresh == "" {
						n = 1
					}
					wantLog = append(wantLog, logged{tc.reason, tc.actor, rec.Subject, tk.ClientID, n})
				} else {
					w.s.CheckLive(t, tk)
				}
			}
			slices.SortFunc(wantLog, func(a, b logged) int { return strings.Compare(a.Subject+a.ClientID, b.Subject+b.ClientID) })
			if d := cmp.Diff(w.logged(t), wantLog); d != "" {
				t.Errorf("revocation log (-got +want):\n%s", d)
			}
			// Again: nothing is left to revoke, and nothing is logged.
			r = w.s.Do(http.MethodPost, admin.PathRevocations, tc.body(w), tc.auth)
			if r.Status != http.StatusOK || r.Body != `{"grants":0,"tokens":0,"seq":0}`+"\n" {
				t.Errorf("POST again: %d %q; want 200 with zero counts", r.Status, r.Body)
			}
			if n := len(w.s.Events()); n != len(evs) {
				t.Errorf("log has %d events after the repeat; want %d", n, len(evs))
			}
		})
	}
}

// TestBulkRevocationBadInput: each refused request revokes nothing.
func TestBulkRevocationBadInput(t *testing.T) {
	w := newWorld(t)
	cases := []struct {
		name, body string
		headers    []string
		status     int
	}{
		{"neither subject nor client", `{"reason":"admin"}`, nil, 400},
		{"empty object", `{}`, nil, 400},
		{"empty subject", `{"subject":"","client_id":""}`, nil, 400},
		{"null subject", `{"subject":null}`, nil, 400},
		{"malformed JSON", `{"subject":"x"`, nil, 400},
		{"NUL in the subject", `{"subject":"a\u0000b"}`, nil, 400},
		{"not an object", `["subject"]`, nil, 400},
		{"two objects", `{"subject":"x"}{"subject":"y"}`, nil, 400},
		{"misspelt member", `{"subject":"` + w.alice.ID + `","clientid":"` + w.c1 + `"}`, nil, 400},
		{"subject of the wrong type", `{"subject":42}`, nil, 400},
		{"subject and username", `{"subject":"` + w.alice.ID + `","username":"alice"}`, nil, 400},
		{"unknown reason", `{"subject":"` + w.alice.ID + `","reason":"because"}`, nil, 400},
		{"unknown username", `{"username":"nobody"}`, nil, 404},
		{"form body", `subject=x`, []string{"Content-Type: application/x-www-form-urlencoded"}, 415},
		{"text/plain body", `{"subject":"` + w.alice.ID + `"}`, []string{"Content-Type: text/plain"}, 415},
		{"too large", `{"subject":"` + strings.Repeat("x", 70<<10) + `"}`, nil, 413},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r := w.s.Do(http.MethodPost, admin.PathRevocations, tc.body, append([]string{ts.AdminBearer}, tc.headers...)...)
			m := r.Map(t)
			if r.Status != tc.status || m["error"] != "invalid_request" || m["error_description"] == "" {
				t.Errorf("got %d %s; want %d invalid_request with a description", r.Status, r.Body, tc.status)
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

func TestEventsPaging(t *testing.T) {
	w := newWorld(t)
	if r := w.s.Do(http.MethodPost, admin.PathRevocations, `{"client_id":"`+w.c1+`"}`, ts.AdminBearer); r.Status != http.StatusOK {
		t.Fatalf("revoke: %d %s", r.Status, r.Body)
	}
	all := w.s.Events()
	if len(all) != 3 {
		t.Fatalf("log holds %d events; want 3", len(all))
	}
	for i, e := range all {
		if e.Seq != int64(i+1) || e.Time != w.s.Clock.Now().UTC().Format("2006-01-02T15:04:05Z") || e.GrantID == "" {
			t.Errorf("event %d = %+v; want seq %d, the clock's time in RFC 3339 UTC and a grant", i, e, i+1)
		}
	}
	for _, tc := range []struct {
		query string
		seqs  []int64
	}{
		{"", []int64{1, 2, 3}},
		{"?since=1", []int64{2, 3}},
		{"?since=1&limit=1", []int64{2}},
		{"?limit=2", []int64{1, 2}},
		{"?since=3", []int64{}},
		{"?since=99&limit=1000", []int64{}},
	} {
		r := w.s.Do(http.MethodGet, admin.PathRevocations+tc.query, "", ts.AdminBearer)
		var evs []admin.Event
		r.JSON(t, &evs)
		seqs := []int64{}
		for _, e := range evs {
			seqs = append(seqs, e.Seq)
		}
		if r.Status != http.StatusOK || !cmp.Equal(seqs, tc.seqs) {
			t.Errorf("GET %s: %d %v; want 200 %v", tc.query, r.Status, seqs, tc.seqs)
		}
		if strings.TrimSpace(r.Body) == "null" {
			t.Errorf("GET %s answered null; want an array", tc.query)
		}
	}
	for _, q := range []string{"?since=-1", "?since=x", "?since=1.5", "?limit=0", "?limit=1001", "?limit=-5", "?limit=ten", "?since=1&since=2", "?limit="} {
		r := w.s.Do(http.MethodGet, admin.PathRevocations+q, "", ts.AdminBearer)
		if r.Status != http.StatusBadRequest || r.Map(t)["error"] != "invalid_request" {
			t.Errorf("GET %s: %d %s; want 400 invalid_request", q, r.Status, r.Body)
		}
	}
}
