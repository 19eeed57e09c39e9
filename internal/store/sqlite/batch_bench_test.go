package sqlite

import (
	"context"
	"database/sql"
	"fmt"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/tokend/tokend/internal/store"
)

// BenchmarkWrites measures the writer's hot ops, an issuance (CreateGrant
// with an access and a refresh token), a revocation (RevokeToken of a
// distinct token each, or RevokeGrant by ID) and a refresh token's rotation
// (RotateRefresh, each of a distinct grant), from 32 × GOMAXPROCS callers, so
// that batches hold many of them. mode=perop runs every op on its own
// statements; mode=batched lets the writer run a batch's ops of one kind
// on shared statements (Options.perOp). Run the modes in turn, several
// times, and compare them within a run: the machine is shared. The grants a
// revocation phase revokes are inserted before the timer starts, on the
// writer's connection but not through the writer, so that a CPU profile
// of the writer (pprof -focus 'Store..run') leaves them out.
func BenchmarkWrites(b *testing.B) {
	for _, kind := range []string{"issue", "revoke", "revoke-by-id", "rotate"} {
		for _, mode := range []string{"perop", "batched"} {
			b.Run(kind+"/mode="+mode, func(b *testing.B) {
				var c commits
				s := openTest(b, filepath.Join(b.TempDir(), "tokend.db"), Options{OnCommit: c.observe, perOp: mode == "perop"})
				fn := func(i int) {
					g, toks := benchGrant(i)
					if err := s.CreateGrant(context.Background(), g, toks); err != nil {
						b.Error(err)
					}
				}
				switch kind {
				case "revoke-by-id": // RevokeGrant, what the cache calls for a token it holds
					insertGrants(b, s, b.N)
					fn = func(i int) {
						g, _ := benchGrant(i)
						res, err := s.RevokeGrant(context.Background(), g.ID, store.Revocation{Time: time.Now(), Reason: store.ReasonClientRequest, Actor: g.ClientID})
						if err != nil || res.Grants != 1 {
							b.Errorf("RevokeGrant = %+v, %v", res, err)
						}
					}
				case "rotate":
					insertGrants(b, s, b.N)
					fn = func(i int) {
						g, toks := benchGrant(i)
						now := time.Now()
						fresh := []store.Token{
							{Hash: store.HashToken(g.ID + "/a2"), Kind: store.AccessToken, IssuedAt: now, ExpiresAt: now.Add(time.Hour)},
							{Hash: store.HashToken(g.ID + "/r2"), Kind: store.RefreshToken, IssuedAt: now, ExpiresAt: now.Add(24 * time.Hour)},
						}
						if _, err := s.RotateRefresh(context.Background(), toks[1].Hash, now, fresh, store.Revocation{}); err != nil {
							b.Errorf("RotateRefresh: %v", err)
						}
					}
				case "revoke":
					insertGrants(b, s, b.N)
					fn = func(i int) {
						g, toks := benchGrant(i)
						_, res, err := s.RevokeToken(context.Background(), toks[i%2].Hash, toks[i%2].Kind, g.ClientID, store.Revocation{Time: time.Now(), Reason: store.ReasonClientRequest, Actor: g.ClientID})
						if err != nil || res.Grants != 1 {
							b.Errorf("RevokeToken = %+v, %v", res, err)
						}
					}
				}
				c = commits{}
				cpu := processCPU()
				benchmark(b, true, fn)
				b.ReportMetric(float64((processCPU()-cpu).Microseconds())/float64(b.N), "cpu-µs/op")
				c.report(b)
			})
		}
	}
}

// processCPU returns the CPU time, user and system, the process has used:
// on a shared machine, what an op costs, where its wall time also measures
// the neighbours' load and the disk's fsync.
func processCPU() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// benchGrant is grant i of BenchmarkWrites: its ID leads with the time, as
// the server's do, so that grants append to their table.
func benchGrant(i int) (store.Grant, []store.Token) {
	id := fmt.Sprintf("%016x-%d", epoch.UnixNano()+int64(i), i)
	now := time.Now()
	g := store.Grant{ID: id, ClientID: "c1", Subject: "u1", Username: "alice", Scope: "openid",
		CreatedAt: now, ExpiresAt: now.Add(24 * time.Hour)}
	return g, []store.Token{
		{Hash: store.HashToken(id + "/a"), Kind: store.AccessToken, GrantID: id, IssuedAt: now, ExpiresAt: now.Add(time.Hour)},
		{Hash: store.HashToken(id + "/r"), Kind: store.RefreshToken, GrantID: id, IssuedAt: now, ExpiresAt: now.Add(24 * time.Hour)},
	}
}

// insertGrants inserts grants 0 ... n-1 of benchGrant in one transaction
// on the writer's connection, bypassing the writer, which must be idle.
func insertGrants(b testing.TB, s *Store, n int) {
	b.Helper()
	sqlTx, err := s.wdb.Begin()
	if err != nil {
		b.Fatal(err)
	}
	t := &tx{ctx: context.Background(), tx: sqlTx, stmts: map[*stmt]*sql.Stmt{}}
	for i := range n {
		g, toks := benchGrant(i)
		if err := s.insertGrant(t, g, ms(g.ExpiresAt), toks); err != nil {
			sqlTx.Rollback()
			b.Fatal(err)
		}
	}
	if err := sqlTx.Commit(); err != nil {
		b.Fatal(err)
	}
}
