package main

import (
	"bufio"
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/tokend/tokend/internal/stack"
)

const multiAdminToken = "multi-instance-admin-token-0123456789"

// freshDatabase creates a database for one test on the PostgreSQL at
// TOKEND_TEST_POSTGRES_DSN and drops it afterwards. It skips when
// PostgreSQL is unreachable, unless TOKEND_REQUIRE_POSTGRES=1 (CI).
func freshDatabase(t *testing.T) string {
	t.Helper()
	base := os.Getenv("TOKEND_TEST_POSTGRES_DSN")
	if base == "" {
		base = "postgres://postgres@127.0.0.1:5432/test?sslmode=disable"
	}
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, base)
	if err != nil {
		if os.Getenv("TOKEND_REQUIRE_POSTGRES") == "1" {
			t.Fatalf("PostgreSQL is required: %v", err)
		}
		t.Skipf("PostgreSQL unreachable: %v", err)
	}
	defer conn.Close(ctx)
	name := "tokend_multi_" + strings.ToLower(rand.Text()[:10])
	if _, err := conn.Exec(ctx, "CREATE DATABASE "+name); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if c, err := pgx.Connect(ctx, base); err == nil {
			_, _ = c.Exec(ctx, "DROP DATABASE IF EXISTS "+name+" WITH (FORCE)")
			c.Close(ctx)
		}
	})
	u, _ := url.Parse(base)
	u.Path = "/" + name
	return u.String()
}

// cluster is several tokend processes sharing one PostgreSQL database, as
// behind a load balancer: one issuer, one admin token, one set of keys.
type cluster struct {
	t     *testing.T
	dsn   string
	nodes []*stack.Tokend
}

const clusterIssuer = "http://tokend.cluster.test"

func startCluster(t *testing.T, n int) *cluster {
	t.Helper()
	c := &cluster{t: t, dsn: freshDatabase(t)}
	for i := 0; i < n; i++ {
		data := t.TempDir()
		if i > 0 { // share the first node's signing keys
			copyDir(t, filepath.Join(c.nodes[0].Data, "keys"), filepath.Join(data, "keys"))
		}
		// One admin token, in each node's folder rather than in
		// TOKEND_ADMIN_TOKEN: a test that sets the environment cannot run
		// in parallel with the others.
		if err := os.WriteFile(filepath.Join(data, "admin-token"), []byte(multiAdminToken+"\n"), 0o600); err != nil {
			t.Fatal(err)
		}
		c.nodes = append(c.nodes, c.start(data, ""))
	}
	return c
}

func (c *cluster) start(data, addr string) *stack.Tokend {
	c.t.Helper()
	node, err := stack.StartTokend(c.t.Context(), tokendBin, data, addr, "--dsn", c.dsn, "--issuer", clusterIssuer)
	if err != nil {
		c.t.Fatal(err)
	}
	c.t.Cleanup(func() { _ = node.Stop() })
	return node
}

// restartNode stops node i and starts it again on its data and address.
func (c *cluster) restartNode(i int) {
	c.t.Helper()
	old := c.nodes[i]
	if err := old.Stop(); err != nil {
		c.t.Fatalf("stop node %d: %v", i, err)
	}
	c.nodes[i] = c.start(old.Data, old.Addr)
}

func copyDir(t *testing.T, from, to string) {
	t.Helper()
	if err := os.MkdirAll(to, 0o700); err != nil {
		t.Fatal(err)
	}
	entries, err := os.ReadDir(from)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		b, err := os.ReadFile(filepath.Join(from, e.Name()))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(to, e.Name()), b, 0o600); err != nil {
			t.Fatal(err)
		}
	}
}

func (c *cluster) do(node int, method, path, body, contentType string, header ...string) (int, map[string]any) {
	c.t.Helper()
	req, _ := http.NewRequestWithContext(c.t.Context(), method, c.nodes[node].URL+path, strings.NewReader(body))
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		c.t.Fatalf("%s %s on node %d: %v", method, path, node, err)
	}
	defer resp.Body.Close()
	var m map[string]any
	_ = json.NewDecoder(resp.Body).Decode(&m)
	return resp.StatusCode, m
}

func (c *cluster) form(node int, path, form, auth string) (int, map[string]any) {
	return c.do(node, http.MethodPost, path, form, "application/x-www-form-urlencoded", "Authorization", auth)
}

func (c *cluster) tokens(node int, auth, form string) (access, refresh string) {
	c.t.Helper()
	status, m := c.form(node, "/oauth2/token", form, auth)
	if status != http.StatusOK {
		c.t.Fatalf("token on node %d: %d %v", node, status, m)
	}
	refresh, _ = m["refresh_token"].(string)
	return m["access_token"].(string), refresh
}

func (c *cluster) active(node int, tok string) bool {
	c.t.Helper()
	status, m := c.form(node, "/oauth2/introspect", "token="+url.QueryEscape(tok), "Bearer "+multiAdminToken)
	if status != http.StatusOK {
		c.t.Fatalf("introspect on node %d: %d %v", node, status, m)
	}
	return m["active"] == true
}

// follow reads the revocation feed of node from seq 0, reconnecting with
// Last-Event-ID whenever the stream breaks, and records every seq.
type follower struct {
	mu   sync.Mutex
	seqs []int64
}

func (f *follower) run(ctx context.Context, base string) {
	last := ""
	for ctx.Err() == nil {
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, base+"/oauth2/revocations/stream", nil)
		req.Header.Set("Authorization", "Bearer "+multiAdminToken)
		if last != "" {
			req.Header.Set("Last-Event-ID", last)
		}
		resp, err := http.DefaultClient.Do(req)
		if err == nil {
			sc := bufio.NewScanner(resp.Body)
			event := ""
			for sc.Scan() {
				line := sc.Text()
				switch {
				case strings.HasPrefix(line, "event: "):
					event = strings.TrimPrefix(line, "event: ")
				case strings.HasPrefix(line, "id: ") && event == "":
					// id comes first in our frames; remember it with its event
					last = strings.TrimPrefix(line, "id: ")
				case strings.HasPrefix(line, "data: ") && event == "revocation":
					var ev struct {
						Seq int64 `json:"seq"`
					}
					if json.Unmarshal([]byte(strings.TrimPrefix(line, "data: ")), &ev) == nil {
						f.mu.Lock()
						f.seqs = append(f.seqs, ev.Seq)
						f.mu.Unlock()
						last = strconv.FormatInt(ev.Seq, 10)
					}
				case line == "":
					event = ""
				}
			}
			resp.Body.Close()
		}
		select {
		case <-ctx.Done():
		case <-time.After(200 * time.Millisecond):
		}
	}
}

func (f *follower) seen() []int64 {
	f.mu.Lock()
	defer f.mu.Unlock()
	return slices.Clone(f.seqs)
}

// TestSeveralInstancesOnPostgres: three tokend processes on one database.
// Tokens issued on the first are revoked on the second and introspect
// inactive on the third right after the 200, for every kind of revocation;
// an instance restarts (and, with TOKEND_TEST_PG_RESTART=1, PostgreSQL
// itself) with nothing lost; the third node's feed, followed throughout,
// has every event of the log exactly once.
func TestSeveralInstancesOnPostgres(t *testing.T) {
	if os.Getenv("TOKEND_TEST_PG_RESTART") != "1" { // a restart would break the other tests on PostgreSQL
		t.Parallel()
	}
	c := startCluster(t, 3)
	ctx := t.Context()
	id, secret, err := c.nodes[0].CreateClient(ctx, "--dsn", c.dsn, "--name", "app")
	if err != nil {
		t.Fatal(err)
	}
	jid, jsecret, err := c.nodes[0].CreateClient(ctx, "--dsn", c.dsn, "--name", "jwt-app", "--token-format", "jwt")
	if err != nil {
		t.Fatal(err)
	}
	auth := "Basic " + base64.StdEncoding.EncodeToString([]byte(id+":"+secret))
	jauth := "Basic " + base64.StdEncoding.EncodeToString([]byte(jid+":"+jsecret))
	for _, u := range []string{"una", "ulf"} {
		status, m := c.do(0, http.MethodPost, "/scim2/Users", `{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User"],"userName":"`+u+`","password":"correct horse battery"}`,
			"application/scim+json", "Authorization", "Bearer "+multiAdminToken)
		if status != http.StatusCreated {
			t.Fatalf("SCIM create %s: %d %v", u, status, m)
		}
	}
	feedCtx, stopFeed := context.WithCancel(ctx)
	defer stopFeed()
	var f follower
	go f.run(feedCtx, c.nodes[2].URL)

	var revoked []string // every token a revocation's 200 covered
	mustBeInactive := func(step string, toks ...string) {
		t.Helper()
		for _, tok := range toks {
			if c.active(2, tok) {
				t.Errorf("%s: a revoked token is active on the third node", step)
			}
		}
		revoked = append(revoked, toks...)
	}
	revoke := func(node int, a, tok string) {
		t.Helper()
		if status, m := c.form(node, "/oauth2/revoke", "token="+url.QueryEscape(tok), a); status != http.StatusOK {
			t.Fatalf("revoke on node %d: %d %v", node, status, m)
		}
	}
	password := "grant_type=password&username=una&password=correct+horse+battery"

	rounds := []string{"first", "after restarting node 1"}
	if os.Getenv("TOKEND_TEST_PG_RESTART") == "1" {
		rounds = append(rounds, "after restarting PostgreSQL")
	}
	for r, round := range rounds {
		switch r {
		case 1:
			c.restartNode(1)
		case 2:
			restartPostgres(t)
		}
		// Single token.
		a, _ := c.tokens(0, auth, "grant_type=client_credentials")
		revoke(1, auth, a)
		mustBeInactive(round+": single", a)
		// A token the third node has cached (it introspected it): the
		// revocation reaches it through the log, within the NOTIFY delay.
		a, _ = c.tokens(0, auth, "grant_type=client_credentials")
		if !c.active(2, a) {
			t.Fatalf("%s: a fresh token is inactive on the third node", round)
		}
		revoke(1, auth, a)
		seen := time.Now()
		for c.active(2, a) {
			if time.Since(seen) > time.Second {
				t.Errorf("%s: a revoked token cached on the third node is still active after 1 s", round)
				break
			}
			time.Sleep(2 * time.Millisecond)
		}
		revoked = append(revoked, a)
		// Cascade: revoking the refresh token revokes the access token.
		a, rt := c.tokens(0, auth, password)
		revoke(1, auth, rt)
		mustBeInactive(round+": cascade", a, rt)
		// Refresh reuse: rotate on the second node, replay on the first.
		a, rt = c.tokens(0, auth, password)
		a2, rt2 := c.tokens(1, auth, "grant_type=refresh_token&refresh_token="+rt)
		if status, m := c.form(0, "/oauth2/token", "grant_type=refresh_token&refresh_token="+rt, auth); status != http.StatusBadRequest || m["error"] != "invalid_grant" {
			t.Fatalf("refresh reuse: %d %v", status, m)
		}
		mustBeInactive(round+": refresh reuse", a, a2, rt2)
		// Bulk: every grant of a user, by an admin on the second node.
		b1, _ := c.tokens(0, auth, "grant_type=password&username=ulf&password=correct+horse+battery")
		b2, _ := c.tokens(0, jauth, "grant_type=password&username=ulf&password=correct+horse+battery")
		if status, m := c.do(1, http.MethodPost, "/admin/revocations", `{"username":"ulf","reason":"admin"}`, "application/json", "Authorization", "Bearer "+multiAdminToken); status != http.StatusOK {
			t.Fatalf("bulk: %d %v", status, m)
		}
		mustBeInactive(round+": bulk", b1, b2)
		// A JWT signed on the first node, revoked on the second.
		j, _ := c.tokens(0, jauth, "grant_type=client_credentials")
		revoke(1, jauth, j)
		mustBeInactive(round+": JWT", j)
		// Nothing acknowledged before is lost.
		for _, tok := range revoked {
			if c.active(2, tok) {
				t.Fatalf("%s: a token revoked earlier is active again", round)
			}
		}
	}

	// The feed of the third node has every event of the log, once each.
	// The log is read through the first node, whose own hub may learn of
	// the last revocation a moment after the third node's feed does: both
	// are read again until they agree or the deadline passes.
	logEvents := func() []int64 {
		status, m := c.do(0, http.MethodGet, "/oauth2/revocations?since=0&limit=1000", "", "", "Authorization", "Bearer "+multiAdminToken)
		if status != http.StatusOK {
			t.Fatalf("events: %d %v", status, m)
		}
		var seqs []int64
		events, _ := m["events"].([]any)
		for _, e := range events {
			seqs = append(seqs, int64(e.(map[string]any)["seq"].(float64)))
		}
		return seqs
	}
	want := logEvents()
	deadline := time.Now().Add(10 * time.Second)
	for !slices.Equal(f.seen(), want) && time.Now().Before(deadline) {
		time.Sleep(50 * time.Millisecond)
		want = logEvents()
	}
	if got := f.seen(); !slices.Equal(got, want) {
		t.Errorf("feed of the third node: %v; want the log's %v", got, want)
	}
	if len(want) < 6 {
		t.Errorf("only %d events in the log", len(want))
	}
}

// restartPostgres restarts the local PostgreSQL cluster and waits for it.
func restartPostgres(t *testing.T) {
	t.Helper()
	versions, err := os.ReadDir("/etc/postgresql")
	if err != nil || len(versions) == 0 {
		t.Fatalf("no local PostgreSQL cluster to restart: %v", err)
	}
	cmd := exec.Command("pg_ctlcluster", "--skip-systemctl-redirect", versions[0].Name(), "main", "restart")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("restart PostgreSQL: %v\n%s", err, out)
	}
	for i := 0; i < 100; i++ {
		if exec.Command("pg_isready", "-h", "127.0.0.1", "-q").Run() == nil {
			return
		}
		time.Sleep(100 * time.Millisecond)
	}
	t.Fatal("PostgreSQL did not come back")
}

// TestPostgresOutage: with PostgreSQL stopped for 10 s during revocation
// load, a revocation is answered 200 only when it committed, else 503
// temporarily_unavailable with Retry-After (RFC 7009 §2.2.1); tokend
// recovers by itself, and every 200 is still revoked afterwards. It stops
// the shared PostgreSQL, so it runs only with TOKEND_TEST_PG_RESTART=1.
func TestPostgresOutage(t *testing.T) {
	if os.Getenv("TOKEND_TEST_PG_RESTART") != "1" {
		t.Skip("stops PostgreSQL: set TOKEND_TEST_PG_RESTART=1")
	}
	c := startCluster(t, 1)
	ctx := t.Context()
	id, secret, err := c.nodes[0].CreateClient(ctx, "--dsn", c.dsn, "--name", "app")
	if err != nil {
		t.Fatal(err)
	}
	auth := "Basic " + base64.StdEncoding.EncodeToString([]byte(id+":"+secret))
	var pool []string
	for i := 0; i < 400; i++ {
		a, _ := c.tokens(0, auth, "grant_type=client_credentials")
		pool = append(pool, a)
	}
	version, err := os.ReadDir("/etc/postgresql")
	if err != nil || len(version) == 0 {
		t.Fatalf("no local PostgreSQL cluster: %v", err)
	}
	pgctl := func(action string) {
		if out, err := exec.Command("pg_ctlcluster", "--skip-systemctl-redirect", version[0].Name(), "main", action).CombinedOutput(); err != nil {
			t.Fatalf("pg_ctlcluster %s: %v\n%s", action, err, out)
		}
	}
	var acked []string
	var unavailable int
	stopped := make(chan struct{})
	go func() {
		time.Sleep(300 * time.Millisecond)
		pgctl("stop")
		close(stopped)
		time.Sleep(10 * time.Second)
		pgctl("start")
	}()
	defer func() {
		_ = exec.Command("pg_ctlcluster", "--skip-systemctl-redirect", version[0].Name(), "main", "start").Run()
	}()
	client := &http.Client{Timeout: 30 * time.Second}
	deadline := time.Now().Add(25 * time.Second)
	for i, tok := range pool {
		if time.Now().After(deadline) {
			break
		}
		req, _ := http.NewRequestWithContext(ctx, http.MethodPost, c.nodes[0].URL+"/oauth2/revoke", strings.NewReader("token="+tok))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		req.Header.Set("Authorization", auth)
		resp, err := client.Do(req)
		if err != nil {
			t.Fatalf("revocation %d: %v", i, err)
		}
		var body map[string]any
		_ = json.NewDecoder(resp.Body).Decode(&body)
		resp.Body.Close()
		switch resp.StatusCode {
		case http.StatusOK:
			acked = append(acked, tok)
		case http.StatusServiceUnavailable:
			unavailable++
			if body["error"] != "temporarily_unavailable" || resp.Header.Get("Retry-After") == "" {
				t.Errorf("503 without temporarily_unavailable and Retry-After: %v %v", body, resp.Header)
			}
		default:
			t.Errorf("revocation %d: status %d %v; want 200 or 503", i, resp.StatusCode, body)
		}
		time.Sleep(40 * time.Millisecond)
	}
	<-stopped
	if unavailable == 0 {
		t.Error("no 503 while PostgreSQL was stopped")
	}
	// tokend recovers by itself once PostgreSQL is back.
	for i := 0; ; i++ {
		if exec.Command("pg_isready", "-h", "127.0.0.1", "-q").Run() == nil {
			if status, _ := c.form(0, "/oauth2/introspect", "token=x", "Bearer "+multiAdminToken); status == http.StatusOK {
				break
			}
		}
		if i > 300 {
			t.Fatal("tokend did not recover after PostgreSQL came back")
		}
		time.Sleep(100 * time.Millisecond)
	}
	for _, tok := range acked {
		if c.active(0, tok) {
			t.Fatal("a revocation answered 200 during the outage was lost")
		}
	}
	t.Logf("%d revocations acknowledged, %d answered 503 during a 10 s outage", len(acked), unavailable)
}
