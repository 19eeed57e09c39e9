package storetest

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/tokend/tokend/internal/store"
)

// exchanged is a grant exchanged (RFC 8693) from parent: one access token,
// living 30 minutes, with an actor and an audience.
func exchanged(id, clientID string, parent family) family {
	f := newFamily(id, clientID, parent.grant.Subject)
	f.grant.ParentID = parent.grant.ID
	f.grant.Act = `{"sub":"actor-of-` + id + `"}`
	f.grant.Audience = []string{"https://api.example/" + id, "svc-" + id}
	f.grant.ExpiresAt = at(30 * time.Minute)
	f.access.ExpiresAt = at(30 * time.Minute)
	f.refresh = store.Token{}
	return f
}

func createExchanged(t *testing.T, s store.Store, f family) {
	t.Helper()
	if err := s.CreateGrant(t.Context(), f.grant, []store.Token{f.access}); err != nil {
		t.Fatalf("CreateGrant(%s): %v", f.grant.ID, err)
	}
}

// chain creates a root grant and n grants exchanged one from the other,
// each named prefix and its depth, and returns them root first.
func chain(t *testing.T, s store.Store, prefix, clientID string, n int) []family {
	t.Helper()
	fs := []family{newFamily(prefix+"-0", clientID, "u-"+prefix)}
	createFamily(t, s, fs[0])
	for i := 1; i <= n; i++ {
		f := exchanged(fmt.Sprintf("%s-%d", prefix, i), clientID, fs[i-1])
		createExchanged(t, s, f)
		fs = append(fs, f)
	}
	return fs
}

// testTokenExchange: an exchanged grant keeps its parent, actor and
// audience; GrantChain walks its parents; a revocation of a grant, by
// whatever cause, revokes every grant exchanged from it, transitively, in
// the same call, with one event per grant naming its parent; no grant can
// be exchanged from a revoked one.
func testTokenExchange(t *testing.T, open opener) {
	t.Run("stored and read back", func(t *testing.T) { testExchangeStored(t, open) })
	t.Run("revoking the root revokes the chain", func(t *testing.T) { testExchangeRevokeRoot(t, open) })
	t.Run("a parent's event before its children's", func(t *testing.T) { testExchangeEventOrder(t, open) })
	t.Run("revoking the middle leaves what is above", func(t *testing.T) { testExchangeRevokeMiddle(t, open) })
	t.Run("every cause cascades", func(t *testing.T) { testExchangeEveryCause(t, open) })
	t.Run("concurrent revocations and exchanges", func(t *testing.T) { testExchangeConcurrent(t, open) })
}

// testExchangeStored: stored and read back.
func testExchangeStored(t *testing.T, open opener) {
	s := open(t)
	fs := chain(t, s, "g", "c1", 2)
	got := lookup(t, s, fs[2].access.Hash)
	want := fs[2].record(fs[2].access)
	want.ParentID, want.Act, want.Audience = fs[1].grant.ID, fs[2].grant.Act, fs[2].grant.Audience
	if diff := cmp.Diff(got, want, cmpOpts...); diff != "" {
		t.Errorf("LookupToken(exchanged) (-got +want):\n%s", diff)
	}
	if got := lookup(t, s, fs[0].access.Hash); got.ParentID != "" || got.Act != "" || len(got.Audience) != 0 {
		t.Errorf("a grant not exchanged reads back parent %q, act %q, audience %q", got.ParentID, got.Act, got.Audience)
	}
	for _, tc := range []struct {
		id   string
		want []string
	}{{"g-2", []string{"g-1", "g-0"}}, {"g-1", []string{"g-0"}}, {"g-0", nil}, {"unknown", nil}} {
		chain, err := s.GrantChain(t.Context(), tc.id)
		if err != nil {
			t.Fatalf("GrantChain(%s): %v", tc.id, err)
		}
		if diff := cmp.Diff(chain, tc.want, cmpOpts...); diff != "" {
			t.Errorf("GrantChain(%s) (-got +want):\n%s", tc.id, diff)
		}
	}
}

// testExchangeRevokeRoot: revoking the root revokes the chain.
func testExchangeRevokeRoot(t *testing.T, open opener) {
	s := open(t)
	fs := chain(t, s, "g", "c1", 3)
	sibling := exchanged("sibling", "c2", fs[1])
	createExchanged(t, s, sibling)
	other := chain(t, s, "other", "c1", 1)
	rev := store.Revocation{Time: at(10 * time.Minute), Reason: store.ReasonClientRequest, Actor: "c1"}
	res, err := s.RevokeGrant(t.Context(), "g-0", rev)
	if err != nil {
		t.Fatalf("RevokeGrant: %v", err)
	}
	if res.Grants != 5 || res.Tokens != 6 {
		t.Errorf("RevokeGrant = %+v; want 5 grants, 6 tokens", res)
	}
	wantRevoked(t, s, rev.Time, fs[0].access.Hash, fs[0].refresh.Hash, fs[1].access.Hash, fs[2].access.Hash,
		fs[3].access.Hash, sibling.access.Hash)
	wantNotRevoked(t, s, other[0].access.Hash, other[1].access.Hash)
	evs := events(t, s)
	if len(evs) != 5 || res.Seq != evs[len(evs)-1].Seq {
		t.Fatalf("%d events, the last %d; want 5, the last %d", len(evs), evs[len(evs)-1].Seq, res.Seq)
	}
	parents := map[string]string{}
	for i, e := range evs {
		if e.Reason != rev.Reason || e.Actor != rev.Actor || !e.Time.Equal(rev.Time) {
			t.Errorf("event %d of %s: %s by %s at %v; want the root's cause", i, e.GrantID, e.Reason, e.Actor, e.Time)
		}
		if _, seen := parents[e.ParentGrantID]; e.ParentGrantID != "" && !seen {
			t.Errorf("event %d of %s comes before its parent %s's", i, e.GrantID, e.ParentGrantID)
		}
		parents[e.GrantID] = e.ParentGrantID
	}
	want := map[string]string{"g-0": "", "g-1": "g-0", "g-2": "g-1", "g-3": "g-2", "sibling": "g-1"}
	if diff := cmp.Diff(parents, want); diff != "" {
		t.Errorf("events' parents (-got +want):\n%s", diff)
	}
	if evs[0].GrantID != "g-0" {
		t.Errorf("the first event is of %s; want the root's", evs[0].GrantID)
	}
	if err := s.CreateGrant(t.Context(), exchanged("late", "c1", fs[2]).grant, nil); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("CreateGrant from a revoked grant: %v; want ErrNotFound", err)
	}
	if _, err := s.LookupToken(t.Context(), exchanged("late", "c1", fs[2]).access.Hash); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("the refused grant's token: %v; want ErrNotFound", err)
	}
}

// testExchangeEventOrder: a parent's event before its children's.
func testExchangeEventOrder(t *testing.T, open opener) {
	s := open(t)
	// Issued in one millisecond, with IDs that sort against the chain.
	root := newFamily("a", "c1", "u1")
	createFamily(t, s, root)
	child := exchanged("c", "c1", root)
	createExchanged(t, s, child)
	grandchild := exchanged("b", "c1", child)
	createExchanged(t, s, grandchild)
	if _, err := s.RevokeGrant(t.Context(), "a", store.Revocation{Time: at(time.Minute), Reason: store.ReasonAdmin, Actor: "admin"}); err != nil {
		t.Fatal(err)
	}
	var order []string
	for _, e := range events(t, s) {
		order = append(order, e.GrantID)
	}
	if diff := cmp.Diff(order, []string{"a", "c", "b"}); diff != "" {
		t.Errorf("events' grants (-got +want):\n%s", diff)
	}
}

// testExchangeRevokeMiddle: revoking the middle leaves what is above.
func testExchangeRevokeMiddle(t *testing.T, open opener) {
	s := open(t)
	fs := chain(t, s, "g", "c1", 3)
	rev := store.Revocation{Time: at(time.Minute), Reason: store.ReasonAdmin, Actor: "admin"}
	if _, res, err := s.RevokeToken(t.Context(), fs[2].access.Hash, store.AccessToken, "c1", rev); err != nil || res.Grants != 2 {
		t.Fatalf("RevokeToken = %+v, %v; want 2 grants", res, err)
	}
	wantNotRevoked(t, s, fs[0].access.Hash, fs[1].access.Hash)
	wantRevoked(t, s, rev.Time, fs[2].access.Hash, fs[3].access.Hash)
	// Revoking the root now revokes what is left, and nothing twice.
	res, err := s.RevokeGrant(t.Context(), "g-0", rev)
	if err != nil || res.Grants != 2 {
		t.Fatalf("RevokeGrant(root) = %+v, %v; want 2 grants", res, err)
	}
	if n := len(events(t, s)); n != 4 {
		t.Errorf("%d events; want 4, one per grant", n)
	}
}

// testExchangeEveryCause: every cause cascades.
func testExchangeEveryCause(t *testing.T, open opener) {
	s := open(t)
	bySubject := chain(t, s, "subject", "c1", 2)
	// An exchange by another client, for another subject (an actor's
	// token exchanged in the subject's place), is reached too.
	foreign := exchanged("foreign", "c2", bySubject[1])
	foreign.grant.Subject = "someone-else"
	createExchanged(t, s, foreign)
	rev := store.Revocation{Time: at(time.Minute), Reason: store.ReasonUserDisabled, Actor: "admin"}
	res, err := s.RevokeMatching(t.Context(), store.Filter{Subject: "u-subject"}, rev)
	if err != nil || res.Grants != 4 {
		t.Fatalf("RevokeMatching = %+v, %v; want 4 grants", res, err)
	}
	wantRevoked(t, s, rev.Time, foreign.access.Hash, bySubject[2].access.Hash)
	if n := len(events(t, s)); n != 4 {
		t.Errorf("%d events; want 4, one per grant", n)
	}
}

// testExchangeConcurrent: concurrent revocations and exchanges.
func testExchangeConcurrent(t *testing.T, open opener) {
	s := open(t)
	const n = 16
	chains := make([][]family, n)
	for i := range chains {
		chains[i] = chain(t, s, fmt.Sprintf("c%d", i), "c1", 3)
	}
	rev := store.Revocation{Time: at(time.Minute), Reason: store.ReasonClientRequest, Actor: "c1"}
	var wg sync.WaitGroup
	results := make([]store.RevokeResult, n)
	errs := make([]error, 2*n)
	for i := range chains {
		wg.Add(2)
		go func() { // revocations by token and by grant, grouped by a writer that can
			defer wg.Done()
			if i%2 == 0 {
				_, results[i], errs[i] = s.RevokeToken(t.Context(), chains[i][0].access.Hash, store.AccessToken, "c1", rev)
			} else {
				results[i], errs[i] = s.RevokeGrant(t.Context(), chains[i][0].grant.ID, rev)
			}
		}()
		go func() { // and exchanges from another grant of the chain
			defer wg.Done()
			errs[n+i] = s.CreateGrant(t.Context(), exchanged(fmt.Sprintf("c%d-x", i), "c1", chains[i][2]).grant,
				[]store.Token{exchanged(fmt.Sprintf("c%d-x", i), "c1", chains[i][2]).access})
		}()
	}
	wg.Wait()
	total := 0
	for i := range chains {
		if errs[i] != nil {
			t.Fatalf("revocation %d: %v", i, errs[i])
		}
		x := exchanged(fmt.Sprintf("c%d-x", i), "c1", chains[i][2])
		want := 4
		switch {
		case errs[n+i] == nil: // exchanged before the revocation: revoked with it
			want = 5
			wantRevoked(t, s, rev.Time, x.access.Hash)
		case errors.Is(errs[n+i], store.ErrNotFound): // after: refused
		default:
			t.Fatalf("exchange %d: %v", i, errs[n+i])
		}
		if results[i].Grants != want {
			t.Errorf("revocation %d revoked %d grants; want %d", i, results[i].Grants, want)
		}
		total += want
		for _, f := range chains[i] {
			wantRevoked(t, s, rev.Time, f.access.Hash)
		}
	}
	if got := len(events(t, s)); got != total {
		t.Errorf("%d events; want %d, one per grant", got, total)
	}
}

// testParentAndChildAtOnce: a grant and one exchanged from it, revoked at
// the same moment by two callers, are each logged once, and the two
// results add up to the grants revoked: whichever comes first takes the
// child, the other finds it revoked. A writer that runs both in one
// transaction must not log the child twice.
func testParentAndChildAtOnce(t *testing.T, open opener) {
	s := open(t)
	const n = 16
	chains := make([][]family, n)
	for i := range chains {
		chains[i] = chain(t, s, fmt.Sprintf("p%d", i), "c1", 2)
	}
	rev := store.Revocation{Time: at(time.Minute), Reason: store.ReasonClientRequest, Actor: "c1"}
	results := make([]store.RevokeResult, 2*n)
	errs := make([]error, 2*n)
	var wg sync.WaitGroup
	for i := range chains {
		for j, g := range []int{0, 1} { // the root, and the grant exchanged from it
			wg.Add(1)
			go func() {
				defer wg.Done()
				results[2*i+j], errs[2*i+j] = s.RevokeGrant(t.Context(), chains[i][g].grant.ID, rev)
			}()
		}
	}
	wg.Wait()
	total := 0
	for i, err := range errs {
		if err != nil {
			t.Fatalf("revocation %d: %v", i, err)
		}
		total += results[i].Grants
	}
	seen := map[string]int{}
	for _, e := range events(t, s) {
		seen[e.GrantID]++
	}
	for _, c := range chains {
		for _, f := range c {
			wantRevoked(t, s, rev.Time, f.access.Hash)
			if seen[f.grant.ID] != 1 {
				t.Errorf("grant %s logged %d times; want once", f.grant.ID, seen[f.grant.ID])
			}
		}
	}
	if want := 3 * n; total != want {
		t.Errorf("the revocations revoked %d grants together; want %d, each grant once", total, want)
	}
}

// BenchRevokeExchangeChain revokes the first grant of a chain of 1,000
// grants exchanged one from the other (RFC 8693), b.N times: one
// RevokeGrant, which revokes the 1,001 grants and appends their events in
// one transaction. Each chain is built off the clock. Both backends run
// it, as BenchmarkRevokeExchangeChain.
func BenchRevokeExchangeChain(b *testing.B, s store.Store) {
	const depth = 1000
	rev := store.Revocation{Time: at(time.Minute), Reason: store.ReasonClientRequest, Actor: "c1"}
	b.ResetTimer()
	for i := range b.N {
		b.StopTimer()
		root := exchangeChain(b, s, fmt.Sprint("chain", i), depth)
		b.StartTimer()
		res, err := s.RevokeGrant(context.Background(), root, rev)
		if err != nil || res.Grants != depth+1 {
			b.Fatalf("RevokeGrant = %+v, %v; want %d grants", res, err, depth+1)
		}
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/(depth+1), "ns/grant")
}

// exchangeChain stores a grant prefix-0, with a JWT access token and a
// refresh token, and n grants exchanged one from the other, prefix-1 to
// prefix-n, each with one access token; it returns the first grant's ID.
func exchangeChain(tb testing.TB, s store.Store, prefix string, n int) string {
	tb.Helper()
	root := newFamily(prefix+"-0", "c1", "u-"+prefix)
	if err := s.CreateGrant(context.Background(), root.grant, root.tokens()); err != nil {
		tb.Fatal(err)
	}
	parent := root
	for i := 1; i <= n; i++ {
		f := exchanged(fmt.Sprintf("%s-%d", prefix, i), "c1", parent)
		if err := s.CreateGrant(context.Background(), f.grant, []store.Token{f.access}); err != nil {
			tb.Fatal(err)
		}
		parent = f
	}
	return root.grant.ID
}
