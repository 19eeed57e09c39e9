package sqlite

import (
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"
)

// tokenLayouts are shapes of the tokens table that BenchmarkTokenLayout
// compares: rows keyed by their hash, as before migration 0013, and rows in issue
// order (a rowid) found by their hash through an index, whole (the
// store's own since migration 0013) or its first 8 bytes.
var tokenLayouts = map[string]string{
	// Before migration 0013.
	"hash-key": `CREATE TABLE tokens (
			hash BLOB PRIMARY KEY, kind TEXT NOT NULL,
			grant_id TEXT NOT NULL REFERENCES grants (id) ON DELETE CASCADE,
			jti TEXT, issued_at INTEGER NOT NULL, expires_at INTEGER NOT NULL, rotated_at INTEGER,
			status_index INTEGER) STRICT, WITHOUT ROWID`,
	"rowid+hash-index": ``, // the migrations' schema, since 0013
	"rowid+prefix-index": `CREATE TABLE tokens (
			id INTEGER PRIMARY KEY, hash BLOB NOT NULL, kind TEXT NOT NULL,
			grant_id TEXT NOT NULL REFERENCES grants (id) ON DELETE CASCADE,
			jti TEXT, issued_at INTEGER NOT NULL, expires_at INTEGER NOT NULL, rotated_at INTEGER,
			status_index INTEGER) STRICT;
		CREATE INDEX tokens_hash8 ON tokens (substr(hash, 1, 8))`,
}

// BenchmarkTokenLayout issues grants (an access and a refresh token each)
// from many callers into a store that holds 100,000 grants already, and
// reports the WAL frames, pages written, per issuance (the checkpoint is
// off while it runs), the process's CPU per issuance, and the CPU of a
// lookup by hash, for each layout of tokens: issue 16's "where a token's
// row lands", which chose migration 0013.
func BenchmarkTokenLayout(b *testing.B) {
	for _, name := range []string{"hash-key", "rowid+hash-index", "rowid+prefix-index"} {
		b.Run("layout="+name, func(b *testing.B) {
			path := filepath.Join(b.TempDir(), "tokend.db")
			s := openTest(b, path, Options{})
			ctx := context.Background()
			if ddl := tokenLayouts[name]; ddl != "" {
				if _, err := s.wdb.ExecContext(ctx, `DROP TABLE tokens; `+ddl+`;
					CREATE INDEX tokens_grant_id ON tokens (grant_id, expires_at, rotated_at);
					CREATE INDEX tokens_expires_at ON tokens (expires_at, rotated_at)`); err != nil {
					b.Fatal(err)
				}
			}
			bulkGrants(b, s, "old", "u0", 100_000, time.Now().Add(24*time.Hour))
			for _, q := range []string{`PRAGMA wal_checkpoint(TRUNCATE)`, `PRAGMA wal_autocheckpoint = 0`} {
				if _, err := s.wdb.ExecContext(ctx, q); err != nil {
					b.Fatal(err)
				}
			}
			cpu := processCPU()
			benchmark(b, true, func(i int) {
				g, toks := benchGrant(i)
				if err := s.CreateGrant(ctx, g, toks); err != nil {
					b.Error(err)
				}
			})
			b.StopTimer()
			b.ReportMetric(float64((processCPU()-cpu).Microseconds())/float64(b.N), "cpu-µs/op")
			reportWALFrames(b, path)
			b.ReportMetric(lookupCost(b, s, name), "lookup-µs")
		})
	}
}

// lookupCost returns the mean CPU time, in µs, of finding one of the
// benchmark's tokens by its hash with its grant, qLookupToken's join, on
// the read pool, one lookup at a time: what an introspection that misses
// the cache pays for the layout.
func lookupCost(b *testing.B, s *Store, layout string) float64 {
	q := `SELECT t.kind, g.client_id FROM tokens t JOIN grants g ON g.id = t.grant_id WHERE t.hash = ?1`
	if layout == "rowid+prefix-index" {
		q += ` AND substr(t.hash, 1, 8) = substr(?1, 1, 8)`
	}
	st, err := s.rdb.Prepare(q)
	if err != nil {
		b.Fatal(err)
	}
	defer st.Close()
	n := min(b.N, 20_000)
	cpu := processCPU()
	for i := range n {
		_, toks := benchGrant(i)
		var kind, client string
		if err := st.QueryRow(toks[0].Hash[:]).Scan(&kind, &client); err != nil {
			b.Fatalf("lookup %d: %v", i, err)
		}
	}
	return float64((processCPU() - cpu).Microseconds()) / float64(n)
}

// reportWALFrames reports the frames the WAL at path holds per op; the
// caller keeps SQLite from checkpointing it meanwhile.
func reportWALFrames(b *testing.B, path string) {
	b.ReportMetric(walFrames(b, path)/float64(b.N), "frames/op")
}

// walFrames counts the frames the WAL at path holds: the pages written,
// each once per commit that changed it, since it was last reset.
func walFrames(tb testing.TB, path string) float64 {
	tb.Helper()
	fi, err := os.Stat(path + "-wal")
	if err != nil {
		tb.Fatal(err)
	}
	const frame = 4096 + 24 // the page and its header
	return float64(fi.Size()-32) / frame
}
