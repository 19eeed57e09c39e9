package main

import (
	"context"
	"database/sql"
	"fmt"
	"path/filepath"
	"time"

	"github.com/jackc/pgx/v5"
	_ "modernc.org/sqlite" // the driver tokend's SQLite store uses
)

// fillBatch is how many grants one transaction of the fill writes.
const fillBatch = 250_000

// fillStore puts n live tokens into the run's store before the server
// starts, so that the revoke and introspect figures can be compared
// between a small and a large store: n/2 grants of a filler client, each
// holding an access and a refresh token (a password grant's pair), with
// random hashes, live for a day.
//
// Issuing millions of tokens through HTTP is far too slow for a run's
// setup, so the rows are written with SQL, shaped as the store writes
// them: the same tables and indexes, so lookups walk B-trees of the real
// depth.
func (b *bench) fillStore(ctx context.Context, n int) error {
	if n <= 0 {
		return nil
	}
	grants := (n + 1) / 2
	start := time.Now()
	var err error
	if b.cfg.backend == "postgres" {
		err = fillPostgres(ctx, b.cfg.dsn, grants)
	} else {
		err = fillSQLite(ctx, filepath.Join(b.cfg.data, "tokend.db"), grants, b.logf)
	}
	if err != nil {
		return fmt.Errorf("fill the store with %d tokens: %w", n, err)
	}
	b.logf("filled the store with %d live tokens (%d grants) in %s", 2*grants, grants, time.Since(start).Round(time.Second))
	return nil
}

// fillRunID keeps the fillers of two runs on one PostgreSQL database apart.
var fillRunID = time.Now().UnixNano()

// The fillers' grants: client "bench-fill", subjects spread over 100,000
// users. Times are unix milliseconds in SQLite, timestamptz in PostgreSQL.
const (
	fillSQLiteGrants = `WITH RECURSIVE n(i) AS (SELECT ?1 UNION ALL SELECT i + 1 FROM n WHERE i < ?2)
INSERT INTO grants (id, client_id, subject, username, scope, created_at, expires_at, revoked_at)
SELECT ?3 || i, 'bench-fill', 'fill-user-' || (i % 100000), 'fill-user-' || (i % 100000), 'read', ?4, ?5, NULL FROM n`
	fillSQLiteTokens = `WITH RECURSIVE n(i) AS (SELECT ?1 UNION ALL SELECT i + 1 FROM n WHERE i < ?2)
INSERT INTO tokens (hash, kind, grant_id, jti, issued_at, expires_at, rotated_at)
SELECT randomblob(32), 'access_token', ?3 || i, NULL, ?4, ?5, NULL FROM n
UNION ALL
SELECT randomblob(32), 'refresh_token', ?3 || i, NULL, ?4, ?5, NULL FROM n`
)

func fillSQLite(ctx context.Context, path string, grants int, logf func(string, ...any)) error {
	// Durability is not needed for the filler: the server checkpoints
	// the WAL and syncs on its own when it starts writing.
	db, err := sql.Open("sqlite", "file:"+path+"?_pragma=busy_timeout(10000)&_pragma=synchronous(OFF)&_pragma=cache_size(-1048576)")
	if err != nil {
		return err
	}
	defer db.Close()
	db.SetMaxOpenConns(1)
	now := time.Now()
	created, expires := now.UnixMilli(), now.Add(24*time.Hour).UnixMilli()
	prefix := fmt.Sprintf("fill-%d-", fillRunID)
	for first := 1; first <= grants; first += fillBatch {
		last := min(first+fillBatch-1, grants)
		tx, err := db.BeginTx(ctx, nil)
		if err != nil {
			return err
		}
		for _, q := range []string{fillSQLiteGrants, fillSQLiteTokens} {
			if _, err := tx.ExecContext(ctx, q, first, last, prefix, created, expires); err != nil {
				tx.Rollback()
				return err
			}
		}
		if err := tx.Commit(); err != nil {
			return err
		}
		logf("fill: %d of %d grants", last, grants)
	}
	_, err = db.ExecContext(ctx, "PRAGMA wal_checkpoint(TRUNCATE)")
	return err
}

func fillPostgres(ctx context.Context, dsn string, grants int) error {
	conn, err := pgx.Connect(ctx, dsn)
	if err != nil {
		return err
	}
	defer conn.Close(ctx)
	prefix := fmt.Sprintf("fill-%d-", fillRunID)
	for first := 1; first <= grants; first += fillBatch {
		last := min(first+fillBatch-1, grants)
		_, err := conn.Exec(ctx, `WITH g AS (
  INSERT INTO grants (id, client_id, subject, username, scope, created_at, expires_at)
  SELECT $3 || i, 'bench-fill', 'fill-user-' || (i % 100000), 'fill-user-' || (i % 100000), 'read', now(), now() + interval '1 day'
  FROM generate_series($1::bigint, $2::bigint) AS i
  RETURNING id)
INSERT INTO tokens (hash, kind, grant_id, issued_at, expires_at)
SELECT sha256(convert_to(g.id || k, 'UTF8')), k, g.id, now(), now() + interval '1 day'
FROM g, (VALUES ('access_token'), ('refresh_token')) AS kinds(k)`, first, last, prefix)
		if err != nil {
			return err
		}
	}
	return nil
}
