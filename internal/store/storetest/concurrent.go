package storetest

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/tokend/tokend/internal/store"
)

// testCancelled checks that a write whose context is done before it is
// called fails with the context's error and writes nothing.
func testCancelled(t *testing.T, open opener) {
	rev := store.Revocation{Time: at(time.Minute), Reason: store.ReasonAdmin, Actor: "admin"}
	f := newFamily("g1", "c1", "u1")
	for _, c := range []struct {
		name  string
		write func(ctx context.Context, s store.Store) error
	}{
		{"CreateClient", func(ctx context.Context, s store.Store) error { return s.CreateClient(ctx, sampleClient("new")) }},
		{"UpdateClient", func(ctx context.Context, s store.Store) error {
			_, err := s.UpdateClient(ctx, "c1", func(c store.Client) (store.Client, error) { c.Name = "x"; return c, nil }, &rev)
			return err
		}},
		{"DeleteClient", func(ctx context.Context, s store.Store) error { _, err := s.DeleteClient(ctx, "c1", rev); return err }},
		{"CreateUser", func(ctx context.Context, s store.Store) error { return s.CreateUser(ctx, sampleUser("new", "new")) }},
		{"UpdateUser", func(ctx context.Context, s store.Store) error {
			_, err := s.UpdateUser(ctx, "alice", func(u store.User) (store.User, error) { u.PasswordHash = "x"; return u, nil }, &rev)
			return err
		}},
		{"DeleteUser", func(ctx context.Context, s store.Store) error { _, err := s.DeleteUser(ctx, "alice", rev); return err }},
		{"CreateGrant", func(ctx context.Context, s store.Store) error {
			g := newFamily("new", "c1", "u1")
			return s.CreateGrant(ctx, g.grant, g.tokens())
		}},
		{"RotateRefresh", func(ctx context.Context, s store.Store) error {
			a2, r2 := f.next(2, at(time.Minute))
			_, err := s.RotateRefresh(ctx, f.refresh.Hash, at(time.Minute), []store.Token{a2, r2}, rev)
			return err
		}},
		{"RevokeGrant", func(ctx context.Context, s store.Store) error { _, err := s.RevokeGrant(ctx, "g1", rev); return err }},
		{"RevokeMatching", func(ctx context.Context, s store.Store) error {
			_, err := s.RevokeMatching(ctx, store.Filter{Subject: "u1"}, rev)
			return err
		}},
	} {
		t.Run(c.name, func(t *testing.T) {
			s := open(t)
			if err := s.CreateClient(t.Context(), sampleClient("c1")); err != nil {
				t.Fatalf("CreateClient: %v", err)
			}
			if err := s.CreateUser(t.Context(), sampleUser("u1", "alice")); err != nil {
				t.Fatalf("CreateUser: %v", err)
			}
			createFamily(t, s, f)

			if err := c.write(cancelled(t), s); !errors.Is(err, context.Canceled) {
				t.Errorf("%s with a cancelled context = %v; want context.Canceled", c.name, err)
			}

			if got, err := s.GetClient(t.Context(), "c1"); err != nil || got.Name != sampleClient("c1").Name {
				t.Errorf("GetClient(c1) = %q, %v; want unchanged", got.Name, err)
			}
			if _, err := s.GetClient(t.Context(), "new"); !errors.Is(err, store.ErrNotFound) {
				t.Errorf("GetClient(new) = %v; want ErrNotFound", err)
			}
			if got, err := s.GetUser(t.Context(), "alice"); err != nil || got.PasswordHash != sampleUser("u1", "alice").PasswordHash {
				t.Errorf("GetUser(alice) = %q, %v; want unchanged", got.PasswordHash, err)
			}
			if _, err := s.GetUser(t.Context(), "new"); !errors.Is(err, store.ErrNotFound) {
				t.Errorf("GetUser(new) = %v; want ErrNotFound", err)
			}
			wantAbsent(t, s, newFamily("new", "c1", "u1").access.Hash)
			wantNotRevoked(t, s, f.access.Hash, f.refresh.Hash)
			if rec := lookup(t, s, f.refresh.Hash); rec.Rotated {
				t.Error("refresh token rotated")
			}
			if evs := events(t, s); len(evs) != 0 {
				t.Errorf("events = %+v; want none", evs)
			}
		})
	}
}

func testConcurrency(t *testing.T, open opener) {
	t.Run("revoke one grant in parallel", func(t *testing.T) { testRevokeOneGrantInParallel(t, open) })
	t.Run("revoke one token in parallel", func(t *testing.T) { testRevokeOneTokenInParallel(t, open) })
	t.Run("rotate one token in parallel", func(t *testing.T) { testRotateOneTokenInParallel(t, open) })
	t.Run("rotate and revoke in parallel", func(t *testing.T) { testRotateAndRevokeInParallel(t, open) })
	t.Run("create and revoke many grants", func(t *testing.T) { testCreateAndRevokeManyGrants(t, open) })
}

// testRevokeOneGrantInParallel checks that when many callers revoke one
// grant at once, exactly one of them revokes it.
func testRevokeOneGrantInParallel(t *testing.T, open opener) {
	s := open(t)
	f := newFamily("g1", "c1", "u1")
	createFamily(t, s, f)
	const n = 20
	results := make([]store.RevokeResult, n)
	errs := make([]error, n)
	parallel(n, func(i int) {
		rev := store.Revocation{Time: at(time.Minute), Reason: store.ReasonClientRequest, Actor: fmt.Sprint(i)}
		results[i], errs[i] = s.RevokeGrant(t.Context(), "g1", rev)
	})
	winners := 0
	for i := range n {
		if errs[i] != nil {
			t.Errorf("RevokeGrant %d: %v", i, errs[i])
		}
		switch results[i].Grants {
		case 1:
			winners++
			if results[i].Tokens != 2 {
				t.Errorf("winner's Tokens = %d; want 2", results[i].Tokens)
			}
		case 0:
			wantResult(t, "losing RevokeGrant", results[i], store.RevokeResult{})
		default:
			t.Errorf("RevokeGrant %d: Grants = %d", i, results[i].Grants)
		}
	}
	if winners != 1 {
		t.Errorf("%d calls reported Grants=1; want exactly 1", winners)
	}
	if evs := events(t, s); len(evs) != 1 {
		t.Errorf("got %d events; want 1", len(evs))
	}
	wantRevoked(t, s, at(time.Minute), f.access.Hash, f.refresh.Hash)
}

// testRevokeOneTokenInParallel checks that when many callers revoke one
// token at once, as its owner, exactly one of them revokes its grant; the
// others find it live or revoked, never an error.
func testRevokeOneTokenInParallel(t *testing.T, open opener) {
	s := open(t)
	f := newFamily("g1", "c1", "u1")
	createFamily(t, s, f)
	const n = 20
	results := make([]store.RevokeResult, n)
	errs := make([]error, n)
	parallel(n, func(i int) {
		rev := store.Revocation{Time: at(time.Minute), Reason: store.ReasonClientRequest, Actor: "c1"}
		_, results[i], errs[i] = s.RevokeToken(t.Context(), f.access.Hash, store.AccessToken, "c1", rev)
	})
	winners := 0
	for i := range n {
		if errs[i] != nil {
			t.Errorf("RevokeToken %d: %v", i, errs[i])
		}
		winners += results[i].Grants
	}
	if winners != 1 {
		t.Errorf("%d grants revoked in all; want exactly 1", winners)
	}
	if evs := events(t, s); len(evs) != 1 {
		t.Errorf("got %d events; want 1", len(evs))
	}
	wantRevoked(t, s, at(time.Minute), f.access.Hash, f.refresh.Hash)
}

// testRotateOneTokenInParallel checks that when many callers present one
// refresh token at once, one rotates it, every other one is a reuse, and
// the family ends revoked (RFC 9700 §4.14.2).
func testRotateOneTokenInParallel(t *testing.T, open opener) {
	s := open(t)
	f := newFamily("g1", "c1", "u1")
	createFamily(t, s, f)
	const n = 10
	errs := make([]error, n)
	news := make([][]store.Token, n)
	parallel(n, func(i int) {
		a, r := f.next(i, at(time.Hour))
		news[i] = []store.Token{a, r}
		reuse := store.Revocation{Time: at(time.Hour), Reason: store.ReasonRefreshReuse, Actor: "c1"}
		_, errs[i] = s.RotateRefresh(t.Context(), f.refresh.Hash, at(time.Hour), news[i], reuse)
	})
	ok := 0
	for i, err := range errs {
		switch {
		case err == nil:
			ok++
			wantRevoked(t, s, at(time.Hour), news[i][0].Hash, news[i][1].Hash)
		case errors.Is(err, store.ErrRefreshReused):
			wantAbsent(t, s, news[i][0].Hash, news[i][1].Hash)
		default:
			t.Errorf("RotateRefresh %d = %v; want nil or ErrRefreshReused", i, err)
		}
	}
	if ok != 1 {
		t.Errorf("%d rotations succeeded; want exactly 1", ok)
	}
	wantRevoked(t, s, at(time.Hour), f.access.Hash, f.refresh.Hash)
	evs := events(t, s)
	if len(evs) != 1 || evs[0].Reason != store.ReasonRefreshReuse {
		t.Errorf("events = %+v; want one refresh_reuse event", evs)
	}
}

// testRotateAndRevokeInParallel checks that when a rotation and a
// revocation of one family race, whichever wins, the family ends revoked,
// new tokens included.
func testRotateAndRevokeInParallel(t *testing.T, open opener) {
	s := open(t)
	const n = 20
	fams := make([]family, n)
	for i := range fams {
		fams[i] = newFamily(fmt.Sprintf("g%d", i), "c1", "u1")
		createFamily(t, s, fams[i])
	}
	rev := store.Revocation{Time: at(time.Hour), Reason: store.ReasonClientRequest, Actor: "c1"}
	rotErrs, revErrs := make([]error, n), make([]error, n)
	revRes := make([]store.RevokeResult, n)
	parallel(2*n, func(i int) {
		f := fams[i/2]
		if i%2 == 0 {
			a, r := f.next(2, at(time.Hour))
			_, rotErrs[i/2] = s.RotateRefresh(t.Context(), f.refresh.Hash, at(time.Hour), []store.Token{a, r}, rev)
		} else {
			revRes[i/2], revErrs[i/2] = s.RevokeGrant(t.Context(), f.grant.ID, rev)
		}
	})
	for i, f := range fams {
		if revErrs[i] != nil || revRes[i].Grants != 1 {
			t.Errorf("RevokeGrant(%s) = %+v, %v; want Grants=1", f.grant.ID, revRes[i], revErrs[i])
		}
		a, r := f.next(2, at(time.Hour))
		switch {
		case rotErrs[i] == nil:
			wantRevoked(t, s, rev.Time, a.Hash, r.Hash)
		case errors.Is(rotErrs[i], store.ErrNotFound):
			wantAbsent(t, s, a.Hash, r.Hash)
		default:
			t.Errorf("RotateRefresh(%s) = %v; want nil or ErrNotFound", f.grant.ID, rotErrs[i])
		}
		wantRevoked(t, s, rev.Time, f.access.Hash, f.refresh.Hash)
	}
	if evs := events(t, s); len(evs) != n {
		t.Errorf("got %d events; want %d", len(evs), n)
	}
}

// testCreateAndRevokeManyGrants checks that of distinct grants created and
// revoked at once, none is lost.
func testCreateAndRevokeManyGrants(t *testing.T, open opener) {
	s := open(t)
	const n = 200
	fams := make([]family, n)
	errs := make([]error, n)
	parallel(n, func(i int) {
		f := newFamily(fmt.Sprintf("g%03d", i), fmt.Sprintf("c%d", i%7), fmt.Sprintf("u%d", i%13))
		fams[i] = f
		if err := s.CreateGrant(t.Context(), f.grant, f.tokens()); err != nil {
			errs[i] = fmt.Errorf("CreateGrant: %w", err)
			return
		}
		rev := store.Revocation{Time: at(time.Minute), Reason: store.ReasonClientRequest, Actor: f.grant.ClientID}
		res, err := s.RevokeGrant(t.Context(), f.grant.ID, rev)
		if err == nil && (res.Grants != 1 || res.Tokens != 2 || res.Seq == 0) {
			err = fmt.Errorf("result %+v; want 1 grant, 2 tokens, a Seq", res)
		}
		if err != nil {
			errs[i] = fmt.Errorf("RevokeGrant: %w", err)
		}
	})
	for i, err := range errs {
		if err != nil {
			t.Errorf("grant %d: %v", i, err)
		}
	}
	var want []store.Event
	for _, f := range fams {
		wantRevoked(t, s, at(time.Minute), f.access.Hash, f.refresh.Hash)
		want = append(want, event(f, store.Revocation{Time: at(time.Minute), Reason: store.ReasonClientRequest, Actor: f.grant.ClientID}, 2, f.tokens()...))
	}
	wantEventSet(t, events(t, s), want)
}

// parallel runs fn(0) ... fn(n-1) in n goroutines released at once, and
// waits for them.
func parallel(n int, fn func(i int)) {
	var ready, done sync.WaitGroup
	start := make(chan struct{})
	ready.Add(n)
	for i := range n {
		done.Go(func() {
			ready.Done()
			<-start
			fn(i)
		})
	}
	ready.Wait()
	close(start)
	done.Wait()
}
