package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/tokend/tokend/internal/admin"
	"github.com/tokend/tokend/internal/store"
	"github.com/tokend/tokend/internal/store/sqlite"
	"github.com/tokend/tokend/internal/testserver"
)

// cli runs one tokend command line in-process and returns its output.
func cli(t *testing.T, stdin string, args ...string) (string, error) {
	t.Helper()
	var out, errOut bytes.Buffer
	err := run(t.Context(), args, strings.NewReader(stdin), &out, &errOut)
	return out.String(), err
}

// migratedData returns a new data folder holding a database with every
// migration applied, a copy of one migrated once per test process: each
// command that opens a new SQLite store in the test process would
// otherwise apply the migrations again, which under the race detector
// costs about a second of CPU. Tests of a new data folder's own behaviour
// use t.TempDir.
func migratedData(t *testing.T) string {
	t.Helper()
	data := t.TempDir()
	testserver.MigratedDatabase(t, dbFile(data))
	return data
}

// seedGrants stores grants straight into the data folder's store: for
// each (subject, client) one grant with an access and a refresh token
// expiring after ttl.
func seedGrants(t *testing.T, data string, ttl time.Duration, pairs ...[2]string) {
	t.Helper()
	st, err := sqlite.Open(filepath.Join(data, "tokend.db"), sqlite.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	now := time.Now()
	for i, p := range pairs {
		id := fmt.Sprintf("%s-%s-%d", p[0], p[1], i)
		g := store.Grant{ID: id, Subject: p[0], ClientID: p[1], CreatedAt: now}
		tokens := []store.Token{
			{Hash: store.HashToken(id + "a"), Kind: store.AccessToken, IssuedAt: now, ExpiresAt: now.Add(ttl)},
			{Hash: store.HashToken(id + "r"), Kind: store.RefreshToken, IssuedAt: now, ExpiresAt: now.Add(ttl)},
		}
		if err := st.CreateGrant(t.Context(), g, tokens); err != nil {
			t.Fatal(err)
		}
	}
}

func TestRevokeAndAuditCommands(t *testing.T) {
	t.Parallel()
	data := migratedData(t)
	if _, err := cli(t, "a good password\n", "user", "add", "alice", "--password-stdin", "--data", data); err != nil {
		t.Fatal(err)
	}
	out, err := cli(t, "", "user", "list", "--data", data)
	if err != nil {
		t.Fatal(err)
	}
	var aliceID string
	for _, line := range strings.Split(out, "\n") {
		if f := strings.Fields(line); len(f) > 1 && f[0] == "alice" {
			aliceID = f[1]
		}
	}
	for _, id := range []string{"web", "app"} {
		if _, err := cli(t, "", "client", "create", "--name", id, "--id", id, "--data", data); err != nil {
			t.Fatal(err)
		}
	}
	seedGrants(t, data, time.Hour, [2]string{aliceID, "web"}, [2]string{aliceID, "app"}, [2]string{"bob-id", "web"}, [2]string{"bob-id", "app"})

	if _, err := cli(t, "", "revoke", "--reason", "admin", "--data", data); err == nil {
		t.Error("revoke without --subject, --user or --client succeeded; want an error")
	}
	if _, err := cli(t, "", "revoke", "--user", "alice", "--reason", "because", "--data", data); err == nil {
		t.Error("revoke with an unknown reason succeeded; want an error")
	}
	if _, err := cli(t, "", "revoke", "--user", "nobody", "--data", data); err == nil {
		t.Error("revoke of an unknown user succeeded; want an error")
	}
	out, err = cli(t, "", "revoke", "--user", "alice", "--client", "web", "--reason", "user_disabled", "--json", "--data", data)
	if err != nil || out != "{\n  \"grants\": 1,\n  \"tokens\": 2,\n  \"seq\": 1\n}\n" {
		t.Errorf("revoke --user alice --client web = %q, %v; want one grant of two tokens, seq 1", out, err)
	}
	out, err = cli(t, "", "revoke", "--subject", aliceID, "--data", data)
	if err != nil || out != "revoked 1 grants (2 tokens); last log event 2\n" {
		t.Errorf("revoke --subject = %q, %v; want alice's other grant", out, err)
	}
	out, err = cli(t, "", "revoke", "--client", "web", "--data", data)
	if err != nil || out != "revoked 1 grants (2 tokens); last log event 3\n" {
		t.Errorf("revoke --client web = %q, %v; want bob's web grant", out, err)
	}

	evs := auditEvents(t, data)
	want := []struct{ reason, subject, client string }{
		{"user_disabled", aliceID, "web"}, {"admin", aliceID, "app"}, {"admin", "bob-id", "web"},
	}
	if len(evs) != len(want) {
		t.Fatalf("audit lists %d events; want %d: %s", len(evs), len(want), out)
	}
	for i, w := range want {
		e := evs[i]
		if e.Seq != int64(i+1) || e.Reason != w.reason || e.Actor != "admin" || e.Subject != w.subject || e.ClientID != w.client || e.Tokens != 2 {
			t.Errorf("event %d = %+v; want reason %s, actor admin, subject %s, client %s, 2 tokens", i, e, w.reason, w.subject, w.client)
		}
	}
	out, err = cli(t, "", "audit", "--since", "1", "--limit", "1", "--data", data)
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if err != nil || len(lines) != 2 || !strings.HasPrefix(lines[1], "2 ") {
		t.Errorf("audit --since 1 --limit 1 = %q, %v; want the header and event 2", out, err)
	}
}

func TestGCCommand(t *testing.T) {
	t.Parallel()
	data := migratedData(t)
	seedGrants(t, data, -time.Minute, [2]string{"s1", "web"}, [2]string{"s2", "web"}, [2]string{"s3", "web"})
	seedGrants(t, data, time.Hour, [2]string{"s4", "web"})
	out, err := cli(t, "", "gc", "--batch", "2", "--data", data)
	if err != nil || !strings.HasPrefix(out, "deleted 3 expired grants (6 tokens), 0 used assertion jtis, 0 finished back-channel logouts, 0 finished Shared Signals SETs and 0 log events in 5 batches") {
		t.Errorf("gc = %q, %v; want 3 grants deleted in 2+1 batches, and the logouts', the SETs' and the events' pass", out, err)
	}
	out, err = cli(t, "", "gc", "--data", data)
	if err != nil || !strings.HasPrefix(out, "deleted 0 expired grants (0 tokens)") {
		t.Errorf("second gc = %q, %v; want nothing left to delete", out, err)
	}
	if _, err := cli(t, "", "gc", "--audit-retention", "0", "--data", data); err == nil {
		t.Error("gc --audit-retention 0 succeeded; want a refusal")
	}
}

// auditEvents reads the revocation log of the data folder with `tokend
// audit --json`.
func auditEvents(t *testing.T, data string) []admin.Event {
	t.Helper()
	out, err := cli(t, "", "audit", "--json", "--data", data)
	if err != nil {
		t.Fatal(err)
	}
	var evs []admin.Event
	if err := json.Unmarshal([]byte(out), &evs); err != nil {
		t.Fatalf("audit --json printed %q: %v", out, err)
	}
	return evs
}
