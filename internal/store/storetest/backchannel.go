package storetest

import (
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/tokend/tokend/internal/store"
)

// delivery is a pending delivery to client of session sid, queued for the
// event seq of a session_ended revocation at epoch+d, due at once.
func delivery(client, sid string, seq int64, d time.Duration) store.LogoutDelivery {
	return store.LogoutDelivery{
		ClientID: client, SessionID: sid, Subject: "u1", EventSeq: seq,
		RevokedAt: at(d), Reason: store.ReasonSessionEnded, NextAttempt: at(d), CreatedAt: at(d),
	}
}

// queued is d as queueing stores it: pending, never attempted.
func queued(d store.LogoutDelivery) store.LogoutDelivery {
	d.State = store.LogoutPending
	return d
}

// claimed is d as claim holds it until until after attempts attempts.
func claimed(d store.LogoutDelivery, claim string, until time.Time, attempts int) store.LogoutDelivery {
	d.State, d.Claim, d.ClaimedUntil, d.Attempts = store.LogoutPending, claim, until, attempts
	return d
}

var ignoreLogoutID = cmpopts.IgnoreFields(store.LogoutDelivery{}, "ID")

func testLogouts(t *testing.T, open opener) {
	t.Run("queue and cursor", func(t *testing.T) { testQueueLogouts(t, open) })
	t.Run("claim and finish", func(t *testing.T) { testClaimLogouts(t, open) })
	t.Run("finish a claim's in one write", func(t *testing.T) { testFinishLogouts(t, open) })
	t.Run("delete finished", func(t *testing.T) { testDeleteFinishedLogouts(t, open) })
	t.Run("concurrent queue and claim", func(t *testing.T) { testLogoutRaces(t, open) })
}

func cursorAt(t *testing.T, s store.Store, name string) int64 {
	t.Helper()
	seq, err := s.Cursor(t.Context(), name)
	if err != nil {
		t.Fatalf("Cursor(%s): %v", name, err)
	}
	return seq
}

// testFinishLogouts: FinishLogouts records the outcomes of a claim's
// deliveries together, each as FinishLogout would; one its claim no
// longer holds (lapsed, and claimed again by another) is ErrNotFound and
// left alone, the others are recorded all the same.
func testFinishLogouts(t *testing.T, open opener) {
	s := open(t)
	ds := []store.LogoutDelivery{delivery("c1", "s1", 1, 0), delivery("c2", "s1", 2, 0), delivery("c3", "s1", 3, 0),
		delivery("c4", "s1", 4, 0)}
	if err := s.QueueLogouts(t.Context(), "bcl", 0, 4, ds); err != nil {
		t.Fatalf("QueueLogouts: %v", err)
	}
	now := at(time.Minute)
	got, err := s.ClaimLogouts(t.Context(), "k1", now, now.Add(time.Second), 10)
	if err != nil || len(got) != 4 {
		t.Fatalf("ClaimLogouts = %d, %v; want the 4", len(got), err)
	}
	later := now.Add(2 * time.Second) // k1 has lapsed: k2 takes c4's
	if again, err := s.ClaimLogouts(t.Context(), "k2", later, later.Add(time.Minute), 1); err != nil || len(again) != 1 || again[0].ID != got[0].ID {
		t.Fatalf("claim after the lapse = %+v, %v; want the first", again, err)
	}
	retry := later.Add(time.Hour)
	outcomes := []store.LogoutOutcome{{ID: got[0].ID, State: store.LogoutDelivered, Next: later},
		{ID: got[1].ID, State: store.LogoutDelivered, Next: later}, {ID: got[2].ID, State: store.LogoutPending, Next: retry},
		{ID: got[3].ID, State: store.LogoutAbandoned, Next: later}}
	if err := s.FinishLogouts(t.Context(), "k1", later, outcomes); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("FinishLogouts with one lapsed = %v; want ErrNotFound", err)
	}
	want := map[int64]struct {
		state string
		claim string
	}{got[0].ID: {store.LogoutPending, "k2"}, got[1].ID: {store.LogoutDelivered, ""}, got[2].ID: {store.LogoutPending, ""},
		got[3].ID: {store.LogoutAbandoned, ""}}
	for id, w := range want {
		d, err := s.GetLogout(t.Context(), id)
		if err != nil || d.State != w.state || d.Claim != w.claim {
			t.Errorf("delivery %d: %s held by %q (%v); want %s held by %q", id, d.State, d.Claim, err, w.state, w.claim)
		}
		if id == got[2].ID && !d.NextAttempt.Equal(retry) {
			t.Errorf("retried delivery due %v; want %v", d.NextAttempt, retry)
		}
		if id == got[1].ID && !d.FinishedAt.Equal(later) {
			t.Errorf("delivered at %v; want %v", d.FinishedAt, later)
		}
	}
	if err := s.FinishLogouts(t.Context(), "k2", later, []store.LogoutOutcome{{ID: got[0].ID, State: "lost"}}); err == nil {
		t.Error("FinishLogouts with an unknown state succeeded")
	}
}

// claimAll claims every delivery due at now, held until now+1m.
func claimAll(t *testing.T, s store.Store, claim string, now time.Time) []store.LogoutDelivery {
	t.Helper()
	ds, err := s.ClaimLogouts(t.Context(), claim, now, now.Add(time.Minute), 100)
	if err != nil {
		t.Fatalf("ClaimLogouts(%s): %v", claim, err)
	}
	return ds
}

// testQueueLogouts: a cursor starts at 0 and moves only from where it is,
// with the deliveries queued in the same call; one that is not where the
// caller says queues nothing; a delivery of a revocation queued already
// for the same client and session is left out, in one call or two.
func testQueueLogouts(t *testing.T, open opener) {
	s := open(t)
	if got := cursorAt(t, s, "bcl"); got != 0 {
		t.Errorf("Cursor of a new store = %d; want 0", got)
	}
	a, b := delivery("c1", "s1", 3, 0), delivery("c2", "s1", 4, 0)
	dupA := delivery("c1", "s1", 5, 0) // another grant of c1 in s1, the same revocation
	if err := s.QueueLogouts(t.Context(), "bcl", 0, 5, []store.LogoutDelivery{a, b, dupA}); err != nil {
		t.Fatalf("QueueLogouts: %v", err)
	}
	if got := cursorAt(t, s, "bcl"); got != 5 {
		t.Errorf("Cursor = %d; want 5", got)
	}
	if got := cursorAt(t, s, "other"); got != 0 {
		t.Errorf("Cursor of another name = %d; want 0", got)
	}
	late := delivery("c3", "s2", 6, time.Minute)
	for _, from := range []int64{0, 4} {
		if err := s.QueueLogouts(t.Context(), "bcl", from, 9, []store.LogoutDelivery{late}); !errors.Is(err, store.ErrCursorMoved) {
			t.Errorf("QueueLogouts from %d with the cursor at 5 = %v; want ErrCursorMoved", from, err)
		}
	}
	if err := s.QueueLogouts(t.Context(), "bcl", 5, 4, nil); err == nil || errors.Is(err, store.ErrCursorMoved) {
		t.Errorf("QueueLogouts moving the cursor back = %v; want an error", err)
	}
	again := delivery("c1", "s1", 7, 0)            // c1 in s1 for the same revocation, in a later batch
	next := delivery("c1", "s1", 8, 2*time.Minute) // c1 in s1 for a later revocation
	other := delivery("c1", "s1", 9, 0)            // same time, another cause
	other.Reason = store.ReasonPasswordChange
	if err := s.QueueLogouts(t.Context(), "bcl", 5, 9, []store.LogoutDelivery{again, next, other}); err != nil {
		t.Fatalf("second QueueLogouts: %v", err)
	}
	if got := cursorAt(t, s, "bcl"); got != 9 {
		t.Errorf("Cursor = %d; want 9", got)
	}
	got := claimAll(t, s, "k", at(time.Hour))
	until := at(time.Hour + time.Minute)
	want := []store.LogoutDelivery{
		claimed(a, "k", until, 1), claimed(b, "k", until, 1), claimed(other, "k", until, 1), claimed(next, "k", until, 1),
	}
	if diff := cmp.Diff(got, want, ignoreLogoutID); diff != "" {
		t.Errorf("queued deliveries, due first (-got +want):\n%s", diff)
	}
	if n, err := s.CountLogouts(t.Context(), store.LogoutPending); err != nil || n != 4 {
		t.Errorf("CountLogouts(pending) = %d, %v; want 4", n, err)
	}
}

// testClaimLogouts: a claim takes the due deliveries no claim holds, the
// earliest due first, up to its limit; a lapsed claim can be taken over,
// and its holder can then finish nothing; finishing records the outcome.
func testClaimLogouts(t *testing.T, open opener) {
	s := open(t)
	ds := []store.LogoutDelivery{delivery("c1", "s1", 1, 0), delivery("c2", "s1", 2, time.Minute), delivery("c3", "s1", 3, 10*time.Minute)}
	if err := s.QueueLogouts(t.Context(), "bcl", 0, 3, ds); err != nil {
		t.Fatalf("QueueLogouts: %v", err)
	}
	now, until := at(2*time.Minute), at(3*time.Minute)
	got, err := s.ClaimLogouts(t.Context(), "k1", now, until, 1)
	if err != nil || len(got) != 1 || got[0].ClientID != "c1" {
		t.Fatalf("ClaimLogouts limit 1 = %+v, %v; want c1's", got, err)
	}
	got, err = s.ClaimLogouts(t.Context(), "k2", now, at(10*time.Minute), 10)
	if diff := cmp.Diff(got, []store.LogoutDelivery{claimed(ds[1], "k2", at(10*time.Minute), 1)}, ignoreLogoutID); err != nil || diff != "" {
		t.Errorf("second claim = %v: only c2's is due and unheld (-got +want):\n%s", err, diff)
	}
	all := claimAll(t, s, "k3", until) // k1's claim lapses at until, k2's holds
	if len(all) != 1 || all[0].ClientID != "c1" || all[0].Attempts != 2 {
		t.Fatalf("claim after k1 lapsed = %+v; want c1's, attempt 2", all)
	}
	c1 := all[0]
	if err := s.FinishLogout(t.Context(), c1.ID, "k1", store.LogoutDelivered, until, until); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("FinishLogout under the lapsed claim = %v; want ErrNotFound", err)
	}
	if err := s.FinishLogout(t.Context(), c1.ID, "k3", store.LogoutDelivered, until, until); err != nil {
		t.Fatalf("FinishLogout: %v", err)
	}
	want := queued(ds[0])
	want.ID, want.State, want.Attempts, want.NextAttempt, want.FinishedAt = c1.ID, store.LogoutDelivered, 2, until, until
	if got, err := s.GetLogout(t.Context(), c1.ID); err != nil || !cmp.Equal(got, want) {
		t.Errorf("GetLogout after delivery = %+v, %v; want %+v", got, err, want)
	}
	if err := s.FinishLogout(t.Context(), c1.ID, "k3", store.LogoutDelivered, until, until); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("FinishLogout of a finished delivery = %v; want ErrNotFound", err)
	}

	c2 := got[0]
	retry := at(20 * time.Minute)
	if err := s.FinishLogout(t.Context(), c2.ID, "k2", store.LogoutPending, now, retry); err != nil {
		t.Fatalf("FinishLogout pending: %v", err)
	}
	if got, err := s.ClaimLogouts(t.Context(), "k4", at(15*time.Minute), at(time.Hour), 10); err != nil || len(got) != 1 || got[0].ClientID != "c3" {
		t.Errorf("claim at 15m = %+v, %v; want c3's alone (c2's is due at 20m)", got, err)
	}
	got = claimAll(t, s, "k5", retry)
	if len(got) != 1 || got[0].ClientID != "c2" || got[0].Attempts != 2 || !got[0].NextAttempt.Equal(retry) {
		t.Fatalf("claim at 20m = %+v; want c2's, attempt 2, due at 20m", got)
	}
	if err := s.FinishLogout(t.Context(), got[0].ID, "k5", store.LogoutAbandoned, retry, retry); err != nil {
		t.Fatalf("FinishLogout abandoned: %v", err)
	}
	if d, err := s.GetLogout(t.Context(), got[0].ID); err != nil || d.State != store.LogoutAbandoned || !d.FinishedAt.Equal(retry) || d.Claim != "" {
		t.Errorf("GetLogout after abandoning = %+v, %v; want abandoned at 20m, unclaimed", d, err)
	}
	for state, want := range map[string]int64{store.LogoutPending: 1, store.LogoutDelivered: 1, store.LogoutAbandoned: 1} {
		if n, err := s.CountLogouts(t.Context(), state); err != nil || n != want {
			t.Errorf("CountLogouts(%s) = %d, %v; want %d", state, n, err, want)
		}
	}
	if _, err := s.GetLogout(t.Context(), 999); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("GetLogout(999) = %v; want ErrNotFound", err)
	}
	if err := s.FinishLogout(t.Context(), got[0].ID, "k5", "lost", retry, retry); err == nil {
		t.Error("FinishLogout with an unknown state succeeded")
	}
}

// testDeleteFinishedLogouts: the sweep's deletion takes the deliveries
// finished before its time, delivered or abandoned, and no pending one.
func testDeleteFinishedLogouts(t *testing.T, open opener) {
	s := open(t)
	var ds []store.LogoutDelivery
	for i := range 5 {
		ds = append(ds, delivery(fmt.Sprintf("c%d", i), "s1", int64(i+1), 0))
	}
	if err := s.QueueLogouts(t.Context(), "bcl", 0, 5, ds); err != nil {
		t.Fatalf("QueueLogouts: %v", err)
	}
	got := claimAll(t, s, "k", epoch)
	states := []string{store.LogoutDelivered, store.LogoutAbandoned, store.LogoutDelivered, store.LogoutPending}
	finished := []time.Duration{time.Hour, 2 * time.Hour, 5 * time.Hour, 0}
	for i, state := range states {
		if err := s.FinishLogout(t.Context(), got[i].ID, "k", state, at(finished[i]), at(finished[i])); err != nil {
			t.Fatalf("FinishLogout: %v", err)
		}
	}
	// Due to the 4th pending, finished before 3h: the 1st and 2nd.
	n, err := s.DeleteFinishedLogouts(t.Context(), at(3*time.Hour), 1)
	if err != nil || n != 1 {
		t.Errorf("DeleteFinishedLogouts limit 1 = %d, %v; want 1", n, err)
	}
	n, err = s.DeleteFinishedLogouts(t.Context(), at(3*time.Hour), 10)
	if err != nil || n != 1 {
		t.Errorf("DeleteFinishedLogouts = %d, %v; want the other 1", n, err)
	}
	for i, want := range []bool{false, false, true, true, true} {
		_, err := s.GetLogout(t.Context(), got[i].ID)
		if have := err == nil; have != want {
			t.Errorf("delivery %d kept %t (%v); want %t", i, have, err, want)
		}
	}
}

// testLogoutRaces: of followers moving one cursor from one place at once,
// one queues and the others find it moved; of claims made at once, each
// due delivery goes to one.
func testLogoutRaces(t *testing.T, open opener) {
	s := open(t)
	var ds []store.LogoutDelivery
	for i := range 20 {
		ds = append(ds, delivery(fmt.Sprintf("c%d", i), "s1", int64(i+1), 0))
	}
	const n = 8
	var wg sync.WaitGroup
	errs := make([]error, n)
	for i := range n {
		wg.Go(func() { errs[i] = s.QueueLogouts(t.Context(), "bcl", 0, 20, ds) })
	}
	wg.Wait()
	won := 0
	for _, err := range errs {
		switch {
		case err == nil:
			won++
		case !errors.Is(err, store.ErrCursorMoved):
			t.Errorf("QueueLogouts: %v", err)
		}
	}
	if won != 1 {
		t.Errorf("%d of %d followers queued; want 1", won, n)
	}
	var mu sync.Mutex
	seen := map[int64]int{}
	for i := range n {
		wg.Go(func() {
			got, err := s.ClaimLogouts(t.Context(), fmt.Sprintf("k%d", i), at(time.Minute), at(time.Hour), 3)
			if err != nil {
				t.Errorf("ClaimLogouts: %v", err)
			}
			mu.Lock()
			defer mu.Unlock()
			for _, d := range got {
				seen[d.ID]++
			}
		})
	}
	wg.Wait()
	if len(seen) != 20 {
		t.Errorf("%d deliveries claimed; want all 20", len(seen))
	}
	for id, k := range seen {
		if k != 1 {
			t.Errorf("delivery %d claimed %d times; want once", id, k)
		}
	}
}
