package sqlite

import (
	"context"
	"fmt"
	"math/rand/v2"
	"path/filepath"
	"testing"
	"time"

	"github.com/tokend/tokend/internal/store"
)

// rotationLayouts are the token indexes BenchmarkRotationLayout compares,
// as DDL run on a migrated store: the store's own and those before
// migration 0018; the migration measured a layout with either of its two
// changes alone too (spread: 7.6 frames per rotation without rotated_at in
// tokens_expires_at, 8.6 with tokens_grant_id in issue order alone;
// chains: 4.35 and 3.8).
var rotationLayouts = map[string]string{
	"store": ``,
	"0017":  layout0017,
}

// BenchmarkRotationLayout rotates refresh tokens (RotateRefresh, an access
// and a refresh token each) from many callers and reports the WAL frames,
// pages written, per rotation (the checkpoint is off while it runs) and
// the process's CPU per rotation, for each layout of rotationLayouts in
// two workloads:
//
//   - spread: a store of 100,000 grants, each rotated once in a random
//     order, as a large store's refreshes come: the rotated token's row,
//     its index entries and its grant's are on pages no other rotation of
//     the batch touches;
//   - chains: 64 grants, each rotated again and again, as tokend-bench's
//     refresh phase does: the rotated token is the one its chain's last
//     rotation issued.
func BenchmarkRotationLayout(b *testing.B) {
	for _, work := range []string{"spread", "chains"} {
		for _, name := range []string{"0017", "store"} {
			b.Run(work+"/layout="+name, func(b *testing.B) {
				path := filepath.Join(b.TempDir(), "tokend.db")
				s := openTest(b, path, Options{})
				ctx := context.Background()
				if ddl := rotationLayouts[name]; ddl != "" {
					if _, err := s.wdb.ExecContext(ctx, ddl); err != nil {
						b.Fatal(err)
					}
				}
				var fn func(int)
				if work == "chains" {
					fn = rotateChains(b, s, 64)
				} else {
					fn = rotateSpread(b, s)
				}
				for _, q := range []string{`PRAGMA wal_checkpoint(TRUNCATE)`, `PRAGMA wal_autocheckpoint = 0`} {
					if _, err := s.wdb.ExecContext(ctx, q); err != nil {
						b.Fatal(err)
					}
				}
				cpu := processCPU()
				benchmark(b, true, fn)
				b.StopTimer()
				b.ReportMetric(float64((processCPU()-cpu).Microseconds())/float64(b.N), "cpu-µs/op")
				reportWALFrames(b, path)
			})
		}
	}
}

// rotateSpread stores 100,000 grants of benchGrant and returns the op
// that rotates the refresh token of grant perm[i], a random permutation.
func rotateSpread(b *testing.B, s *Store) func(i int) {
	const n = 100_000
	if b.N > n {
		b.Fatalf("b.N %d: at most %d rotations", b.N, n)
	}
	insertGrants(b, s, n)
	perm := rand.New(rand.NewPCG(1, 2)).Perm(n)
	return func(i int) {
		g, toks := benchGrant(perm[i])
		if _, err := s.RotateRefresh(context.Background(), toks[1].Hash, time.Now(), freshPair(g.ID, 0), store.Revocation{}); err != nil {
			b.Errorf("RotateRefresh: %v", err)
		}
	}
}

// rotateChains stores n grants of benchGrant and returns the op that
// takes a chain, rotates its refresh token and gives the chain back.
func rotateChains(b *testing.B, s *Store, n int) func(i int) {
	insertGrants(b, s, n)
	type chain struct {
		id   string
		step int
		h    store.Hash
	}
	free := make(chan *chain, n)
	for i := range n {
		g, toks := benchGrant(i)
		free <- &chain{id: g.ID, h: toks[1].Hash}
	}
	return func(int) {
		c := <-free
		c.step++
		fresh := freshPair(c.id, c.step)
		if _, err := s.RotateRefresh(context.Background(), c.h, time.Now(), fresh, store.Revocation{}); err != nil {
			b.Errorf("RotateRefresh: %v", err)
		}
		c.h = fresh[1].Hash
		free <- c
	}
}

// freshPair is the pair a rotation of grant id issues at its step.
func freshPair(id string, step int) []store.Token {
	now := time.Now()
	return []store.Token{
		{Hash: store.HashToken(fmt.Sprintf("%s/a%d", id, step)), Kind: store.AccessToken, IssuedAt: now, ExpiresAt: now.Add(time.Hour)},
		{Hash: store.HashToken(fmt.Sprintf("%s/r%d", id, step)), Kind: store.RefreshToken, IssuedAt: now, ExpiresAt: now.Add(24 * time.Hour)},
	}
}

// layout0017 puts back the token indexes migration 0018 changed.
const layout0017 = `DROP INDEX tokens_expires_at; CREATE INDEX tokens_expires_at ON tokens (expires_at, rotated_at);
	DROP INDEX tokens_grant_id; CREATE INDEX tokens_grant_id ON tokens (grant_id, expires_at, rotated_at)`

// TestRotationPages counts the pages rotations write (their commits' WAL
// frames) with the store's indexes and with those before migration 0018,
// in a store where a rotated token's entries are far from those its
// rotation appends: 20 grants refreshed 200 times each, their rotated
// refresh tokens kept, then 5,000 grants issued in the hour after them,
// and each of the 20 rotated once more, one commit each. The store's indexes must
// save a page per rotation at least: tokens_grant_id keeps a grant's new
// pair beside its old token, and the old token's tokens_expires_at entry
// is left alone.
func TestRotationPages(t *testing.T) {
	if testing.Short() {
		t.Skip("fills a store")
	}
	before := rotationPages(t, layout0017)
	after := rotationPages(t, "")
	t.Logf("pages per rotation: %.2f before migration 0018, %.2f after", before, after)
	if after > before-1 {
		t.Errorf("pages per rotation: %.2f before migration 0018, %.2f after; want a page less at least", before, after)
	}
}

// rotationPages runs TestRotationPages's rotations in a store with ddl
// run on its schema, and returns the pages written per rotation.
func rotationPages(t *testing.T, ddl string) float64 {
	path := filepath.Join(t.TempDir(), "tokend.db")
	s := openTest(t, path, Options{})
	ctx := t.Context()
	if ddl != "" {
		if _, err := s.wdb.ExecContext(ctx, ddl); err != nil {
			t.Fatal(err)
		}
	}
	const grants, refreshes = 20, 200
	tx, err := s.wdb.BeginTx(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer tx.Rollback()
	for i := range grants {
		id := fmt.Sprint("chain-", i)
		if _, err := tx.Exec(`INSERT INTO grants (id, client_id, subject, username, scope, created_at, expires_at)
			VALUES (?, 'c1', 'u1', 'alice', 'openid', ?, ?)`, id, ms(epoch), ms(epoch.Add(48*time.Hour))); err != nil {
			t.Fatal(err)
		}
		for n := range refreshes {
			at := epoch.Add(time.Duration(n) * time.Minute)
			var rotated any
			if n < refreshes-1 {
				rotated = ms(at.Add(time.Minute))
			}
			for _, tok := range freshPair(id, n) {
				exp := at.Add(time.Hour)
				if tok.Kind == store.RefreshToken {
					exp = at.Add(24 * time.Hour)
				} else {
					rotated = nil
				}
				if _, err := tx.Exec(`INSERT INTO tokens (hash, kind, grant_id, issued_at, expires_at, rotated_at)
					VALUES (?, ?, ?, ?, ?, ?)`, tok.Hash[:], string(tok.Kind), id, ms(at), ms(exp), rotated); err != nil {
					t.Fatal(err)
				}
			}
		}
	}
	if err := tx.Commit(); err != nil {
		t.Fatal(err)
	}
	// An hour of other grants' tokens: those they expire between the
	// rotated tokens' expiry and the new ones'.
	last := epoch.Add((refreshes - 1) * time.Minute)
	bulkGrants(t, s, "later", "u2", 5_000, last.Add(24*time.Hour+time.Minute))
	if _, err := s.wdb.ExecContext(ctx, `PRAGMA wal_checkpoint(TRUNCATE)`); err != nil {
		t.Fatal(err)
	}
	at := last.Add(time.Hour)
	for i := range grants {
		id := fmt.Sprint("chain-", i)
		if _, err := s.RotateRefresh(ctx, freshPair(id, refreshes-1)[1].Hash, at, freshPair(id, refreshes), rev); err != nil {
			t.Fatal(err)
		}
	}
	return walFrames(t, path) / grants
}
