package sqlite

import (
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"
)

// tokenLayouts are shapes of the tokens table that BenchmarkTokenLayout
// compares: the store's own (rows keyed by their hash), and rows in issue
// order (a rowid) found by their hash through an index, whole or its first
// 8 bytes.
var tokenLayouts = map[string]string{
	"hash-key": ``, // the migrations' schema
	"rowid+hash-index": `CREATE TABLE tokens (
			id INTEGER PRIMARY KEY, hash BLOB NOT NULL UNIQUE, kind TEXT NOT NULL,
			grant_id TEXT NOT NULL REFERENCES grants (id) ON DELETE CASCADE,
			jti TEXT, issued_at INTEGER NOT NULL, expires_at INTEGER NOT NULL, rotated_at INTEGER,
			status_index INTEGER) STRICT`,
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
// off while it runs) and the process's CPU per issuance, for each layout
// of tokens. An experiment for issue 16's "where a token's row lands":
// the store keeps the layout that pays.
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
			fi, err := os.Stat(path + "-wal")
			if err != nil {
				b.Fatal(err)
			}
			const page = 4096 + 24 // a frame: the page and its header
			b.ReportMetric(float64(fi.Size()-32)/page/float64(b.N), "frames/op")
		})
	}
}
