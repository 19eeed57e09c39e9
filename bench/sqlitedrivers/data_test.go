package sqlitedrivers

import (
	"context"
	"crypto/sha256"
	"fmt"
	"syscall"
	"testing"
	"time"
)

// epoch is when the grants of the tests and benchmarks are made.
var epoch = time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC)

// grant is grant i, like BenchmarkWrites' benchGrant: its ID leads with
// the time, as the server's do, so that grants append to their table; an
// access token (an hour) and a refresh token (a day).
func grant(i int) Grant {
	id := fmt.Sprintf("%016x-%d", epoch.UnixNano()+int64(i), i)
	now := epoch.UnixMilli()
	const hour = int64(time.Hour / time.Millisecond)
	return Grant{ID: id, ClientID: "c1", Subject: "u1", Username: "alice", Scope: "openid",
		CreatedAt: now, ExpiresAt: now + 24*hour,
		Tokens: []Token{
			{Hash: tokenHash(i, 0), Kind: "access_token", IssuedAt: now, ExpiresAt: now + hour},
			{Hash: tokenHash(i, 1), Kind: "refresh_token", IssuedAt: now, ExpiresAt: now + 24*hour},
		}}
}

// tokenHash is the hash of grant i's access (0) or refresh (1) token.
func tokenHash(i, which int) Hash {
	return sha256.Sum256(fmt.Appendf(nil, "%d/%d", i, which))
}

// revocation is the RevokeToken of grant i's token which, by its client.
func revocation(i, which int) Revocation {
	kind := "access_token"
	if which == 1 {
		kind = "refresh_token"
	}
	return Revocation{Hash: tokenHash(i, which), Kind: kind, ClientID: "c1",
		Time: epoch.UnixMilli() + 1000, Reason: "client_request", Actor: "c1"}
}

// seed issues grants [from, to) in transactions of up to 10,000 grants.
func seed(tb testing.TB, s *Store, from, to int) {
	tb.Helper()
	gs := make([]Grant, 0, 10_000)
	for i := from; i < to; {
		gs = gs[:0]
		for ; i < to && len(gs) < cap(gs); i++ {
			gs = append(gs, grant(i))
		}
		if err := s.Issue(context.Background(), gs); err != nil {
			tb.Fatal(err)
		}
	}
}

// processCPU is the process's CPU time, user and system, as
// BenchmarkWrites measures it (their sum).
func processCPU() (user, sys time.Duration) {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0, 0
	}
	return time.Duration(ru.Utime.Nano()), time.Duration(ru.Stime.Nano())
}
