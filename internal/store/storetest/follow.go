package storetest

import (
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/tokend/tokend/internal/store"
)

// testFollowWhileRevoking checks the promise of Events to readers that
// resume from the last Seq they saw (the feed, the back-channel and SSF
// followers): while many callers revoke at once, by grant, by token and in
// bulk, so that transactions take their sequence numbers in one order and
// commit in another, a reader following the log ends with every event
// exactly once, in Seq order, none skipped.
func testFollowWhileRevoking(t *testing.T, open opener) {
	s := open(t)
	const writers, perWriter = 12, 30
	fams := make([][]family, writers)
	for w := range writers {
		for i := range perWriter {
			// Writer w's grants alone have subject u<w>: its bulk
			// revocations reach none of the others'.
			f := newFamily(fmt.Sprintf("g%02d-%02d", w, i), fmt.Sprintf("c%d", w), fmt.Sprintf("u%d-%d", w, i/3))
			createFamily(t, s, f)
			fams[w] = append(fams[w], f)
		}
	}
	revokeAll := func(w int) error {
		rev := store.Revocation{Time: at(time.Minute), Reason: store.ReasonAdmin, Actor: "admin"}
		for i := 0; i < perWriter; i += 3 {
			f := fams[w][i]
			if _, err := s.RevokeGrant(t.Context(), f.grant.ID, rev); err != nil {
				return err
			}
			g := fams[w][i+1]
			if _, _, err := s.RevokeToken(t.Context(), g.refresh.Hash, store.RefreshToken, g.grant.ClientID, rev); err != nil {
				return err
			}
			// The third grant of the subject, alone still live.
			if _, err := s.RevokeMatching(t.Context(), store.Filter{Subject: f.grant.Subject}, rev); err != nil {
				return err
			}
		}
		return nil
	}
	var wg sync.WaitGroup
	errs := make([]error, writers)
	for w := range writers {
		wg.Go(func() { errs[w] = revokeAll(w) })
	}
	done := make(chan struct{})
	go func() { wg.Wait(); close(done) }()

	r := &follower{t: t, s: s, seen: map[int64]bool{}}
	for running := true; running; {
		select {
		case <-done:
			running = false
		default:
		}
		r.read()
	}
	for _, err := range errs {
		if err != nil {
			t.Fatalf("revoking: %v", err)
		}
	}
	// Every revocation has committed: one more pass returns the rest.
	for r.read() == r.limit {
	}
	all := events(t, s)
	if len(all) != writers*perWriter {
		t.Fatalf("the log holds %d events; want %d", len(all), writers*perWriter)
	}
	var missed []int64
	for _, e := range all {
		if !r.seen[e.Seq] {
			missed = append(missed, e.Seq)
		}
	}
	if len(missed) > 0 || len(r.seen) != len(all) {
		t.Errorf("the reader saw %d events of %d; skipped %v", len(r.seen), len(all), missed)
	}
}

// follower reads the log as the feed does: from the last Seq it saw, a
// few events at a time.
type follower struct {
	t     *testing.T
	s     store.Store
	seen  map[int64]bool
	last  int64
	limit int
}

// read reads once from the last Seq seen, checks that what it got comes
// in Seq order and was not seen before, and returns how many it got.
func (r *follower) read() int {
	r.t.Helper()
	if r.limit == 0 {
		r.limit = 7
	}
	evs, err := r.s.Events(r.t.Context(), r.last, r.limit)
	if err != nil {
		r.t.Fatalf("Events(%d): %v", r.last, err)
	}
	for _, e := range evs {
		if e.Seq <= r.last || r.seen[e.Seq] {
			r.t.Fatalf("Events(%d) returned Seq %d after %d", r.last, e.Seq, r.last)
		}
		r.seen[e.Seq] = true
		r.last = e.Seq
	}
	return len(evs)
}
