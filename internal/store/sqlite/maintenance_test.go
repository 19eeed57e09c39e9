package sqlite

import (
	"database/sql"
	"errors"
	"path/filepath"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/tokend/tokend/internal/store"
	"github.com/tokend/tokend/internal/store/migration"
)

// TestMigration0002 upgrades a file written by the first schema: the
// events logged then get their coverage from the tokens still stored.
func TestMigration0002(t *testing.T) {
	ms, err := migration.Load(migrationFiles, "migrations")
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "tokend.db")
	db, err := sql.Open("sqlite", dsn(path, true))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := db.Exec(`CREATE TABLE schema_migrations (version INTEGER PRIMARY KEY, applied_at INTEGER NOT NULL) STRICT`); err != nil {
		t.Fatal(err)
	}
	if err := apply(t.Context(), db, ms[0]); err != nil {
		t.Fatal(err)
	}
	a1, r1, a2, x := store.HashToken("a1"), store.HashToken("r1"), store.HashToken("a2"), store.HashToken("x")
	for _, q := range []struct {
		sql  string
		args []any
	}{
		{`INSERT INTO grants VALUES ('g1', 'c1', 'u1', 'alice', 'openid', 0, 90000, 60000),
			('g2', 'c1', 'u1', 'alice', 'openid', 0, 1000, 60000)`, nil},
		// At the revocation (60s): a1 has expired, a2 is live, r1 is rotated.
		{`INSERT INTO tokens VALUES (?, 'access_token', 'g1', 'jti-1', 0, 30000, NULL),
			(?, 'refresh_token', 'g1', NULL, 0, 90000, 40000),
			(?, 'access_token', 'g1', 'jti-2', 40000, 70000, NULL),
			(?, 'access_token', 'g2', NULL, 0, 1000, NULL)`,
			[]any{a1[:], r1[:], a2[:], x[:]}},
		{`INSERT INTO revocation_events (time, grant_id, client_id, subject, reason, actor, tokens)
			VALUES (60000, 'g1', 'c1', 'u1', 'admin', 'admin', 1), (60000, 'g2', 'c1', 'u1', 'admin', 'admin', 0)`, nil},
	} {
		if _, err := db.Exec(q.sql, q.args...); err != nil {
			t.Fatal(err)
		}
	}
	db.Close()

	s := openTest(t, path, Options{})
	evs, err := s.Events(t.Context(), 0, 0)
	if err != nil {
		t.Fatal(err)
	}
	ev := func(grant string, tokens int) store.Event {
		return store.Event{Time: time.UnixMilli(60000).UTC(), GrantID: grant, ClientID: "c1", Subject: "u1",
			Reason: "admin", Actor: "admin", Tokens: tokens}
	}
	want := []store.Event{ev("g1", 1), ev("g2", 0)}
	want[0].TokenHashes = []store.Hash{r1, a2}
	want[0].JTIs = []string{"jti-2"}
	want[0].ExpiresAt = time.UnixMilli(90000).UTC()
	opts := []cmp.Option{
		cmpopts.IgnoreFields(store.Event{}, "Seq"), cmpopts.EquateEmpty(),
		cmpopts.SortSlices(func(a, b store.Hash) bool { return string(a[:]) < string(b[:]) }),
	}
	if diff := cmp.Diff(evs, want, opts...); diff != "" {
		t.Errorf("events after migrating (-got +want):\n%s", diff)
	}
	if rec, err := s.LookupToken(t.Context(), a2); err != nil || rec.StatusIndex != 0 || rec.JTI != "jti-2" {
		t.Errorf("LookupToken(a2) = %+v, %v; want jti-2 and no status index", rec, err)
	}
	if first, err := s.ReserveStatusIndexes(t.Context(), 1); err != nil || first != 1 {
		t.Errorf("ReserveStatusIndexes = %d, %v; want 1", first, err)
	}
}

// TestQueryPlans checks that the statements on the revoke and sweep paths
// find their rows through an index: a full scan of tokens would hold the
// writer, and the revocations queued behind it, for seconds.
func TestQueryPlans(t *testing.T) {
	s := openMigrated(t, Options{})
	queries := []string{qExpiredGrants, qDeleteGrantTokens, qDeleteGrants, qDeleteUsedJTIs, qDeleteEvents,
		qAnyExpired, qAnyEventsBefore, qUseJTI, qReserve}
	for _, cond := range revokeConds {
		events, grants := revokeSQL(cond)
		queries = append(queries, events, grants)
	}
	for _, q := range queries {
		plan := queryPlan(t, s, q, "[]", 1, 2, 3, 4)
		for _, step := range plan {
			if strings.HasPrefix(step, "SCAN ") && step != "SCAN CONSTANT ROW" && !strings.HasPrefix(step, "SCAN json_each") {
				t.Errorf("%s\nscans a table:\n\t%s", q, strings.Join(plan, "\n\t"))
			}
		}
	}
}

// TestStatsPlan checks that Stats counts the tokens from indexes alone
// (see qStats): reading every live token's row costs seconds of CPU on a
// large store.
func TestStatsPlan(t *testing.T) {
	s := openMigrated(t, Options{})
	plan := queryPlan(t, s, qStats, 1)
	tokens := 0
	for _, step := range plan {
		if strings.Contains(step, " tokens ") || strings.HasSuffix(step, " t") || strings.Contains(step, " t USING") {
			tokens++
			if !strings.Contains(step, "USING COVERING INDEX") {
				t.Errorf("Stats reads tokens' rows:\n\t%s", strings.Join(plan, "\n\t"))
			}
		}
	}
	if tokens != 2 {
		t.Errorf("Stats plan has %d steps over tokens; want 2:\n\t%s", tokens, strings.Join(plan, "\n\t"))
	}
}

// TestSweepIdle: when nothing has expired, DeleteExpired and
// DeleteEventsBefore read and do not write, so a sweeper may call them
// often without taking the write lock.
func TestSweepIdle(t *testing.T) {
	var commits atomic.Int64
	s := openMigrated(t, Options{OnCommit: func(int) { commits.Add(1) }})
	g, toks := grant("g1")
	if err := s.CreateGrant(t.Context(), g, toks); err != nil {
		t.Fatal(err)
	}
	if _, err := s.RevokeGrant(t.Context(), "g1", rev); err != nil {
		t.Fatal(err)
	}
	before := commits.Load()
	if res, err := s.DeleteExpired(t.Context(), epoch, 0); err != nil || res != (store.SweepResult{}) {
		t.Errorf("DeleteExpired = %+v, %v; want nothing", res, err)
	}
	if n, err := s.DeleteEventsBefore(t.Context(), rev.Time, 0); err != nil || n != 0 {
		t.Errorf("DeleteEventsBefore = %d, %v; want 0", n, err)
	}
	if n := commits.Load() - before; n != 0 {
		t.Errorf("%d commits; want none", n)
	}
	// Once there is something to delete, a limit of 0 means the default.
	if res, err := s.DeleteExpired(t.Context(), epoch.Add(25*time.Hour), 0); err != nil || res.Grants != 1 {
		t.Errorf("DeleteExpired(limit 0) = %+v, %v; want 1 grant", res, err)
	}
	// The event goes once its covered tokens (the refresh token lives
	// 24 h) have expired too.
	if n, err := s.DeleteEventsBefore(t.Context(), rev.Time.Add(time.Millisecond), 0); err != nil || n != 0 {
		t.Errorf("DeleteEventsBefore(event's time) = %d, %v; want 0 while its tokens live", n, err)
	}
	if n, err := s.DeleteEventsBefore(t.Context(), epoch.Add(25*time.Hour), 0); err != nil || n != 1 {
		t.Errorf("DeleteEventsBefore(limit 0) = %d, %v; want 1", n, err)
	}
}

// TestMigration0013 upgrades a file whose tokens are keyed by hash: every
// token keeps its columns, the rows are in issue order, and a token's
// hash is still refused twice.
func TestMigration0013(t *testing.T) {
	ms, err := migration.Load(migrationFiles, "migrations")
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "tokend.db")
	db, err := sql.Open("sqlite", dsn(path, true))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := db.Exec(`CREATE TABLE schema_migrations (version INTEGER PRIMARY KEY, applied_at INTEGER NOT NULL) STRICT`); err != nil {
		t.Fatal(err)
	}
	for _, m := range ms[:12] {
		if err := apply(t.Context(), db, m); err != nil {
			t.Fatal(err)
		}
	}
	a, r, j := store.HashToken("a"), store.HashToken("r"), store.HashToken("j")
	if _, err := db.Exec(`INSERT INTO grants (id, client_id, subject, username, scope, created_at, expires_at)
		VALUES ('g1', 'c1', 'u1', 'alice', 'openid', 0, 9000000000000)`); err != nil {
		t.Fatal(err)
	}
	if _, err := db.Exec(`INSERT INTO tokens (hash, kind, grant_id, jti, status_index, issued_at, expires_at, rotated_at)
		VALUES (?, 'refresh_token', 'g1', NULL, NULL, 2000, 9000000000000, 3000),
			(?, 'access_token', 'g1', 'jti-1', 7, 3000, 9000000000000, NULL),
			(?, 'access_token', 'g1', NULL, NULL, 1000, 9000000000000, NULL)`, r[:], j[:], a[:]); err != nil {
		t.Fatal(err)
	}
	db.Close()

	s := openTest(t, path, Options{})
	for _, c := range []struct {
		h       store.Hash
		jti     string
		index   int64
		rotated bool
	}{{a, "", 0, false}, {r, "", 0, true}, {j, "jti-1", 7, false}} {
		rec, err := s.LookupToken(t.Context(), c.h)
		if err != nil || rec.GrantID != "g1" || rec.JTI != c.jti || rec.StatusIndex != c.index || rec.Rotated != c.rotated {
			t.Errorf("LookupToken = %+v, %v; want jti %q, index %d, rotated %v", rec, err, c.jti, c.index, c.rotated)
		}
	}
	var order []int64
	rows, err := s.rdb.Query(`SELECT issued_at FROM tokens ORDER BY id`)
	if err != nil {
		t.Fatal(err)
	}
	for rows.Next() {
		var at int64
		rows.Scan(&at)
		order = append(order, at)
	}
	rows.Close()
	if !slices.Equal(order, []int64{1000, 2000, 3000}) {
		t.Errorf("tokens in row order issued at %v; want in issue order", order)
	}
	g, toks := grant("g2")
	toks[0].Hash = a
	if err := s.CreateGrant(t.Context(), g, toks); !errors.Is(err, store.ErrAlreadyExists) {
		t.Errorf("CreateGrant with a stored token's hash = %v; want ErrAlreadyExists", err)
	}
}

// queryPlan returns the steps of SQLite's plan for q with args, as
// EXPLAIN QUERY PLAN details them.
func queryPlan(t *testing.T, s *Store, q string, args ...any) []string {
	t.Helper()
	rows, err := s.wdb.Query("EXPLAIN QUERY PLAN "+q, args...)
	if err != nil {
		t.Fatalf("EXPLAIN %s: %v", q, err)
	}
	defer rows.Close()
	var plan []string
	for rows.Next() {
		var id, parent, unused int
		var detail string
		if err := rows.Scan(&id, &parent, &unused, &detail); err != nil {
			t.Fatal(err)
		}
		plan = append(plan, detail)
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return plan
}
