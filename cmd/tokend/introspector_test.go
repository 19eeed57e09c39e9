package main

import (
	"encoding/base64"
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/tokend/tokend/internal/oauth"
	"github.com/tokend/tokend/internal/registry"
	"github.com/tokend/tokend/internal/stack"
	"github.com/tokend/tokend/internal/store"
	"github.com/tokend/tokend/internal/store/postgres"
	"github.com/tokend/tokend/internal/store/sqlite"
)

// testBackend is a store the CLI and the server are pointed at: SQLite in
// a data folder, or a fresh PostgreSQL database (skipped when PostgreSQL
// is unreachable, as freshDatabase says).
type testBackend struct {
	name string
	// flags returns the store flags of the CLI and serve (--dsn; the data
	// folder is passed apart) for a fresh store.
	flags func(t *testing.T) []string
	// open opens the store of data and flags directly.
	open func(t *testing.T, data string, flags []string) store.Store
}

var testBackends = []testBackend{
	{"sqlite", func(*testing.T) []string { return nil }, func(t *testing.T, data string, _ []string) store.Store {
		st, err := sqlite.Open(filepath.Join(data, "tokend.db"), sqlite.Options{})
		if err != nil {
			t.Fatal(err)
		}
		return st
	}},
	{"postgres", func(t *testing.T) []string { return []string{"--dsn", freshDatabase(t)} }, func(t *testing.T, _ string, flags []string) store.Store {
		st, err := postgres.Open(t.Context(), flags[1], postgres.Options{})
		if err != nil {
			t.Fatal(err)
		}
		return st
	}},
}

// TestClientCreateRefusesPublicIntrospector: `tokend client create
// --auth-method none --can-introspect` fails and stores nothing: a public
// client would introspect every token with its client_id alone.
func TestClientCreateRefusesPublicIntrospector(t *testing.T) {
	t.Parallel()
	for _, b := range testBackends {
		t.Run(b.name, func(t *testing.T) {
			flags := append(b.flags(t), "--data", t.TempDir())
			_, err := cli(t, "", append([]string{"client", "create", "--name", "spa", "--auth-method", "none", "--can-introspect"}, flags...)...)
			if err == nil || !strings.Contains(err.Error(), "public client") {
				t.Errorf("client create of a public introspector: error %v; want a refusal naming the public client", err)
			}
			out, err := cli(t, "", append([]string{"client", "list", "--json"}, flags...)...)
			if err != nil {
				t.Fatal(err)
			}
			if got := strings.TrimSpace(out); got != "[]" {
				t.Errorf("clients after the refusal: got %q; want %q", got, "[]")
			}
			// A confidential one is created.
			if _, err := cli(t, "", append([]string{"client", "create", "--name", "api", "--can-introspect"}, flags...)...); err != nil {
				t.Errorf("client create of a confidential introspector: %v", err)
			}
		})
	}
}

// TestStoredPublicIntrospectorIsRefused: a public client whose stored row
// says can_introspect (written before registration refused it) gets
// {"active":false} for another client's live token from the real server,
// on either store.
func TestStoredPublicIntrospectorIsRefused(t *testing.T) {
	t.Parallel()
	for _, b := range testBackends {
		t.Run(b.name, func(t *testing.T) {
			data := migratedData(t)
			flags := b.flags(t)
			st := b.open(t, data, flags)
			now := time.Now()
			public := store.Client{ID: "legacy-public-introspector", Name: "spa", AuthMethod: registry.AuthNone,
				GrantTypes: []string{oauth.GrantPassword}, TokenFormat: registry.FormatOpaque,
				CanIntrospect: true, CreatedAt: now, UpdatedAt: now}
			err := st.CreateClient(t.Context(), public)
			st.Close()
			if err != nil {
				t.Fatal(err)
			}
			node, err := stack.StartTokend(t.Context(), tokendBin, data, "", flags...)
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { _ = node.Stop() })
			id, secret, err := node.CreateClient(t.Context(), append([]string{"--name", "app"}, flags...)...)
			if err != nil {
				t.Fatal(err)
			}
			post := func(path, form, auth string) (int, string) {
				t.Helper()
				req, _ := http.NewRequestWithContext(t.Context(), http.MethodPost, node.URL+path, strings.NewReader(form))
				req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
				if auth != "" {
					req.Header.Set("Authorization", auth)
				}
				resp, err := http.DefaultClient.Do(req)
				if err != nil {
					t.Fatal(err)
				}
				defer resp.Body.Close()
				b, err := io.ReadAll(resp.Body)
				if err != nil {
					t.Fatal(err)
				}
				return resp.StatusCode, string(b)
			}
			status, body := post("/oauth2/token", "grant_type=client_credentials", "Basic "+base64.StdEncoding.EncodeToString([]byte(id+":"+secret)))
			if status != http.StatusOK {
				t.Fatalf("token: %d %s", status, body)
			}
			var tk struct {
				AccessToken string `json:"access_token"`
			}
			if err := json.Unmarshal([]byte(body), &tk); err != nil {
				t.Fatal(err)
			}
			admin, err := node.AdminToken()
			if err != nil {
				t.Fatal(err)
			}
			tokenForm := "token=" + url.QueryEscape(tk.AccessToken)
			if status, body := post("/oauth2/introspect", tokenForm, "Bearer "+admin); status != http.StatusOK || !strings.Contains(body, `"active":true`) {
				t.Fatalf("introspection by the admin: %d %s; want the token active", status, body)
			}
			status, body = post("/oauth2/introspect", tokenForm+"&client_id="+public.ID, "")
			if want := "{\"active\":false}\n"; status != http.StatusOK || body != want {
				t.Errorf("introspection by the public client: got %d %q; want 200 %q", status, body, want)
			}
		})
	}
}
