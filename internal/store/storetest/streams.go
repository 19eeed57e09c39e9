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

const (
	pushMethod = "urn:ietf:rfc:8935"
	pollMethod = "urn:ietf:rfc:8936"
)

func sampleStream(id, method string) store.Stream {
	return store.Stream{ID: id, Owner: "rp", Method: method, Status: "enabled",
		Config: []byte(`{"aud":"rp"}`), CreatedAt: epoch, UpdatedAt: epoch}
}

// testStreams: streams round-trip, update in place, and go with their SETs.
func testStreams(t *testing.T, open opener) {
	s := open(t)
	ctx := t.Context()
	a, b := sampleStream("a", pushMethod), sampleStream("b", pollMethod)
	b.Owner = ""
	for _, st := range []store.Stream{b, a} {
		if err := s.CreateStream(ctx, st); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.CreateStream(ctx, a); !errors.Is(err, store.ErrAlreadyExists) {
		t.Errorf("CreateStream of a taken ID = %v; want ErrAlreadyExists", err)
	}
	got, err := s.ListStreams(ctx)
	if err != nil || !cmp.Equal(got, []store.Stream{a, b}) {
		t.Errorf("ListStreams = %v, %v; want a, b", got, err)
	}
	upd, err := s.UpdateStream(ctx, "a", func(st store.Stream) (store.Stream, error) {
		st.Status, st.Reason, st.Config, st.UpdatedAt = "paused", "receiver down", []byte(`{"aud":"x"}`), at(time.Hour)
		return st, nil
	})
	want := a
	want.Status, want.Reason, want.Config, want.UpdatedAt = "paused", "receiver down", []byte(`{"aud":"x"}`), at(time.Hour)
	if err != nil || !cmp.Equal(upd, want) {
		t.Errorf("UpdateStream = %+v, %v; want %+v", upd, err, want)
	}
	if got, err := s.GetStream(ctx, "a"); err != nil || !cmp.Equal(got, want) {
		t.Errorf("GetStream after update = %+v, %v; want %+v", got, err, want)
	}
	refuse := errors.New("no")
	if _, err := s.UpdateStream(ctx, "a", func(st store.Stream) (store.Stream, error) { return st, refuse }); !errors.Is(err, refuse) {
		t.Errorf("UpdateStream whose fn fails = %v; want its error", err)
	}
	if _, err := s.UpdateStream(ctx, "zz", func(st store.Stream) (store.Stream, error) { return st, nil }); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("UpdateStream of an unknown stream = %v; want ErrNotFound", err)
	}
	if err := s.QueueSETs(ctx, "", 0, 0, []store.StreamSET{set("a", "j1", 0)}); err != nil {
		t.Fatal(err)
	}
	if err := s.DeleteStream(ctx, "a"); err != nil {
		t.Fatal(err)
	}
	if _, err := s.GetStream(ctx, "a"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("GetStream of a deleted stream = %v; want ErrNotFound", err)
	}
	if err := s.DeleteStream(ctx, "a"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("DeleteStream twice = %v; want ErrNotFound", err)
	}
	if err := s.CreateStream(ctx, sampleStream("a", pushMethod)); err != nil {
		t.Fatal(err)
	}
	if n, err := s.CountSETs(ctx, "a", store.SETPending); err != nil || n != 0 {
		t.Errorf("a stream made again with a deleted one's ID has %d SETs (%v); want none", n, err)
	}
}

// set is a SET of stream with jti for log event seq, queued seq seconds
// after epoch and due then.
func set(stream, jti string, seq int64) store.StreamSET {
	d := time.Duration(seq) * time.Second
	return store.StreamSET{StreamID: stream, JTI: jti, EventSeq: seq, Claims: []byte(`{"jti":"` + jti + `"}`),
		NextAttempt: at(d), CreatedAt: at(d)}
}

var ignoreSETID = cmpopts.IgnoreFields(store.StreamSET{}, "ID")

func jtis(sets []store.StreamSET) []string {
	out := make([]string, len(sets))
	for i, e := range sets {
		out[i] = e.JTI
	}
	return out
}

// testStreamSETs: queueing moves the cursor or refuses as QueueLogouts
// does; polls see the pending SETs in order until acknowledged; pushes
// claim each enabled push stream's head alone.
func testStreamSETs(t *testing.T, open opener) {
	s := open(t)
	ctx := t.Context()
	for _, st := range []store.Stream{sampleStream("push", pushMethod), sampleStream("poll", pollMethod), sampleStream("off", pushMethod)} {
		if err := s.CreateStream(ctx, st); err != nil {
			t.Fatal(err)
		}
	}
	first := []store.StreamSET{set("push", "p1", 1), set("push", "p2", 2), set("poll", "q1", 1), set("poll", "q2", 2),
		set("poll", "q3", 3), set("off", "o1", 1), set("gone", "g1", 1)}
	if err := s.QueueSETs(ctx, "ssf", 0, 5, first); err != nil {
		t.Fatal(err)
	}
	if err := s.QueueSETs(ctx, "ssf", 0, 7, []store.StreamSET{set("push", "p9", 9)}); !errors.Is(err, store.ErrCursorMoved) {
		t.Errorf("QueueSETs from a stale cursor = %v; want ErrCursorMoved", err)
	}
	// A SET queued twice (by a follower that read the same events) is left out.
	if err := s.QueueSETs(ctx, "ssf", 5, 6, []store.StreamSET{set("push", "p2", 2), set("push", "p3", 3)}); err != nil {
		t.Fatal(err)
	}
	if c := cursorAt(t, s, "ssf"); c != 6 {
		t.Errorf("cursor at %d; want 6", c)
	}
	pending, err := s.PendingSETs(ctx, "poll", 2)
	want := []store.StreamSET{set("poll", "q1", 1), set("poll", "q2", 2)}
	for i := range want {
		want[i].State = store.SETPending
	}
	if err != nil || !cmp.Equal(pending, want, ignoreSETID) {
		t.Errorf("PendingSETs(poll, 2) = %v, %v; want %v", pending, err, want)
	}
	if err := s.AckSETs(ctx, "poll", []string{"q1", "p1", "nope"}, map[string]string{"q2": "invalid_key"}, at(time.Hour)); err != nil {
		t.Fatal(err)
	}
	if pending, err := s.PendingSETs(ctx, "poll", 10); err != nil || !cmp.Equal(jtis(pending), []string{"q3"}) {
		t.Errorf("pending after ack = %v, %v; want q3 alone", jtis(pending), err)
	}
	if n, _ := s.CountSETs(ctx, "poll", store.SETFailed); n != 1 {
		t.Errorf("%d failed; want q2", n)
	}
	if n, _ := s.CountSETs(ctx, "push", store.SETPending); n != 3 {
		t.Errorf("push has %d pending; want 3: an ack names the stream it is for", n)
	}

	testPushClaims(t, s)
}

// testPushClaims: of each enabled push stream, a run from its head is
// claimed, as long as asked, and the next run once this one is finished;
// a SET released unattempted counts no attempt; FinishSETs records what
// its claim still holds and says when it held not all.
func testPushClaims(t *testing.T, s store.Store) {
	ctx := t.Context()
	if _, err := s.UpdateStream(ctx, "off", func(st store.Stream) (store.Stream, error) { st.Status = "paused"; return st, nil }); err != nil {
		t.Fatal(err)
	}
	now := at(time.Minute)
	claim := func(name string, perStream int) []store.StreamSET {
		t.Helper()
		got, err := s.ClaimSETs(ctx, name, now, now.Add(time.Minute), 10, perStream)
		if err != nil {
			t.Fatal(err)
		}
		return got
	}
	finish := func(name string, outcomes ...store.SETOutcome) error {
		return s.FinishSETs(ctx, name, now, outcomes)
	}
	got := claim("c1", 1)
	if !cmp.Equal(jtis(got), []string{"p1"}) || got[0].Attempts != 1 || got[0].Claim != "c1" {
		t.Fatalf("first claim = %+v; want p1 alone (the paused and poll streams' SETs are not pushed), attempt 1", got)
	}
	p1 := got[0].ID
	if again := claim("c2", 10); len(again) != 0 {
		t.Errorf("a held head was claimed again, or its stream's next: %v; the next must wait for it", jtis(again))
	}
	if err := finish("c2", store.SETOutcome{ID: p1, State: store.SETDelivered}); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("FinishSETs under another claim = %v; want ErrNotFound", err)
	}
	// A failed attempt makes it due again later, and it stays the head.
	if err := finish("c1", store.SETOutcome{ID: p1, State: store.SETPending, Next: now.Add(time.Hour), Error: "503"}); err != nil {
		t.Fatal(err)
	}
	if again := claim("c3", 10); len(again) != 0 {
		t.Errorf("claimed %v while the head waits to be retried; want nothing, in order", jtis(again))
	}
	now = now.Add(2 * time.Hour)
	got = claim("c4", 2)
	if !cmp.Equal(jtis(got), []string{"p1", "p2"}) || got[0].Attempts != 2 || got[0].Error != "503" || got[1].Attempts != 1 {
		t.Fatalf("claim after the backoff = %+v; want the run p1 (attempt 2, its error kept), p2", got)
	}
	if err := finish("c4", store.SETOutcome{ID: p1, State: store.SETDelivered}, store.SETOutcome{ID: got[1].ID}); err != nil {
		t.Fatal(err)
	}
	got = claim("c5", 10)
	if !cmp.Equal(jtis(got), []string{"p2", "p3"}) || got[0].Attempts != 1 {
		t.Fatalf("claim after p1 delivered, p2 released = %+v; want the run p2 (attempt 1: the release counted none), p3", got)
	}
	p2, p3 := got[0].ID, got[1].ID
	err := finish("c5", store.SETOutcome{ID: p2, State: store.SETDelivered}, store.SETOutcome{ID: p1, State: store.SETDelivered})
	if !errors.Is(err, store.ErrNotFound) {
		t.Errorf("FinishSETs naming a SET the claim does not hold = %v; want ErrNotFound", err)
	}
	if err := finish("c5", store.SETOutcome{ID: p3, State: store.SETFailed, Error: "invalid_key"}); err != nil {
		t.Errorf("FinishSETs of p3 = %v; want it recorded", err)
	}
	if n, _ := s.CountSETs(ctx, "push", store.SETDelivered); n != 2 {
		t.Errorf("push has %d delivered; want p1, and p2 though its FinishSETs named a SET not held", n)
	}
	if n, err := s.DeleteFinishedSETs(ctx, now.Add(time.Second), 100); err != nil || n != 5 {
		t.Errorf("DeleteFinishedSETs = %d, %v; want 5 (p1, p2, p3, q1, q2)", n, err)
	}
}

// testStreamSETRaces: of followers queueing the same events at once, one
// does; of claims made at once, each stream's run (its two SETs) goes to
// one, whole.
func testStreamSETRaces(t *testing.T, open opener) {
	s := open(t)
	ctx := t.Context()
	var sets []store.StreamSET
	for i := range 10 {
		id := fmt.Sprintf("s%d", i)
		if err := s.CreateStream(ctx, sampleStream(id, pushMethod)); err != nil {
			t.Fatal(err)
		}
		sets = append(sets, set(id, "first", 1), set(id, "second", 2))
	}
	const n = 8
	var wg sync.WaitGroup
	errs := make([]error, n)
	for i := range n {
		wg.Go(func() { errs[i] = s.QueueSETs(ctx, "ssf", 0, 20, sets) })
	}
	wg.Wait()
	won := 0
	for _, err := range errs {
		switch {
		case err == nil:
			won++
		case !errors.Is(err, store.ErrCursorMoved):
			t.Errorf("QueueSETs: %v", err)
		}
	}
	if won != 1 {
		t.Errorf("%d of %d followers queued; want 1", won, n)
	}
	var mu sync.Mutex
	seen := map[int64]int{}
	byStream := map[string]string{} // the claim that took a stream's run
	for i := range n {
		wg.Go(func() {
			k := fmt.Sprintf("k%d", i)
			got, err := s.ClaimSETs(ctx, k, at(time.Minute), at(time.Hour), 3, 2)
			if err != nil {
				t.Errorf("ClaimSETs: %v", err)
			}
			mu.Lock()
			defer mu.Unlock()
			for _, e := range got {
				if other, ok := byStream[e.StreamID]; ok && other != k {
					t.Errorf("%s of %s claimed by %s, its stream's run by %s", e.JTI, e.StreamID, k, other)
				}
				byStream[e.StreamID] = k
				seen[e.ID]++
			}
		})
	}
	wg.Wait()
	if len(seen) != 20 {
		t.Errorf("%d SETs claimed; want all 20, each stream's two as one run", len(seen))
	}
	for id, k := range seen {
		if k != 1 {
			t.Errorf("SET %d claimed %d times; want once", id, k)
		}
	}
}
