package storetest

import (
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/tokend/tokend/internal/store"
)

// sampleDevice is the pending request named name of client c1 at epoch,
// living ten minutes, polled every five seconds at most.
func sampleDevice(name string) store.DeviceCode {
	return store.DeviceCode{
		DeviceHash: store.HashToken(name + "/device"), UserHash: store.HashToken(name + "/user"),
		ClientID: "c1", Scope: "openid profile", Status: store.DevicePending, Interval: 5 * time.Second,
		CreatedAt: epoch, ExpiresAt: at(10 * time.Minute),
	}
}

// aliceDecides is alice's (u1's) decision in session s1.
func aliceDecides(approve bool) store.DeviceDecision {
	return store.DeviceDecision{Approve: approve, UserID: "u1", Username: "alice", SessionID: "s1", AuthTime: at(-time.Minute)}
}

func createDevice(t *testing.T, s store.Store, d store.DeviceCode) {
	t.Helper()
	if err := s.CreateDeviceCode(t.Context(), d); err != nil {
		t.Fatalf("CreateDeviceCode: %v", err)
	}
}

func testDeviceCodes(t *testing.T, open opener) {
	t.Run("create get decide", func(t *testing.T) { testDeviceCreateDecide(t, open) })
	t.Run("poll", func(t *testing.T) { testDevicePoll(t, open) })
	t.Run("exchange", func(t *testing.T) { testDeviceExchange(t, open) })
	t.Run("concurrent polls and exchanges", func(t *testing.T) { testDeviceRace(t, open) })
	t.Run("sweep", func(t *testing.T) { testDeviceSweep(t, open) })
}

// testDeviceCreateDecide: a request is found by its user code while it is
// pending and unexpired; it is decided once.
func testDeviceCreateDecide(t *testing.T, open opener) {
	s := open(t)
	d := sampleDevice("tv")
	createDevice(t, s, d)
	got, err := s.GetDeviceCodeByUser(t.Context(), d.UserHash, at(time.Minute))
	if err != nil {
		t.Fatalf("GetDeviceCodeByUser: %v", err)
	}
	if diff := cmp.Diff(got, d); diff != "" {
		t.Errorf("GetDeviceCodeByUser (-got +want):\n%s", diff)
	}
	taken := sampleDevice("other")
	taken.UserHash = d.UserHash
	if err := s.CreateDeviceCode(t.Context(), taken); !errors.Is(err, store.ErrAlreadyExists) {
		t.Errorf("CreateDeviceCode with a user code taken = %v; want ErrAlreadyExists", err)
	}
	if _, err := s.GetDeviceCodeByUser(t.Context(), d.UserHash, at(10*time.Minute)); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("GetDeviceCodeByUser at expiry = %v; want ErrNotFound", err)
	}
	if _, err := s.DecideDeviceCode(t.Context(), d.UserHash, at(10*time.Minute), aliceDecides(true)); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("DecideDeviceCode at expiry = %v; want ErrNotFound", err)
	}
	got, err = s.DecideDeviceCode(t.Context(), d.UserHash, at(time.Minute), aliceDecides(true))
	if err != nil {
		t.Fatalf("DecideDeviceCode: %v", err)
	}
	want := d
	want.Status, want.UserID, want.Username, want.SessionID, want.AuthTime = store.DeviceApproved, "u1", "alice", "s1", at(-time.Minute)
	if diff := cmp.Diff(got, want); diff != "" {
		t.Errorf("DecideDeviceCode (-got +want):\n%s", diff)
	}
	if _, err := s.DecideDeviceCode(t.Context(), d.UserHash, at(time.Minute), aliceDecides(false)); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("second DecideDeviceCode = %v; want ErrNotFound", err)
	}
	if _, err := s.GetDeviceCodeByUser(t.Context(), d.UserHash, at(time.Minute)); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("GetDeviceCodeByUser of a decided request = %v; want ErrNotFound", err)
	}
}

type pollWant struct {
	at       time.Duration
	tooFast  bool
	interval time.Duration
}

func poll(t *testing.T, s store.Store, d store.DeviceCode, w pollWant) store.DeviceCode {
	t.Helper()
	got, tooFast, err := s.PollDeviceCode(t.Context(), d.DeviceHash, "c1", at(w.at))
	if err != nil {
		t.Fatalf("PollDeviceCode at %v: %v", w.at, err)
	}
	if tooFast != w.tooFast || got.Interval != w.interval || !got.LastPolledAt.Equal(at(w.at)) {
		t.Errorf("PollDeviceCode at %v = too fast %v, interval %v, last poll %v; want %v, %v, %v",
			w.at, tooFast, got.Interval, got.LastPolledAt, w.tooFast, w.interval, at(w.at))
	}
	return got
}

// testDevicePoll: a poll sooner than the interval after the last one is
// too fast and lengthens the interval by five seconds; once decided, a
// request is never too fast; another client's poll finds nothing.
func testDevicePoll(t *testing.T, open opener) {
	s := open(t)
	d := sampleDevice("tv")
	createDevice(t, s, d)
	for _, w := range []pollWant{
		{0, false, 5 * time.Second},
		{4 * time.Second, true, 10 * time.Second},
		{13 * time.Second, true, 15 * time.Second},
		{28 * time.Second, false, 15 * time.Second},
	} {
		poll(t, s, d, w)
	}
	if _, _, err := s.PollDeviceCode(t.Context(), d.DeviceHash, "c2", at(time.Minute)); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("PollDeviceCode by another client = %v; want ErrNotFound", err)
	}
	if _, _, err := s.PollDeviceCode(t.Context(), store.HashToken("nope"), "c1", at(time.Minute)); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("PollDeviceCode of an unknown code = %v; want ErrNotFound", err)
	}
	if _, err := s.DecideDeviceCode(t.Context(), d.UserHash, at(29*time.Second), aliceDecides(false)); err != nil {
		t.Fatal(err)
	}
	if got := poll(t, s, d, pollWant{30 * time.Second, false, 15 * time.Second}); got.Status != store.DeviceDenied {
		t.Errorf("Status after a denial = %q; want denied", got.Status)
	}
	if got := poll(t, s, d, pollWant{11 * time.Minute, false, 15 * time.Second}); !got.ExpiresAt.Equal(d.ExpiresAt) {
		t.Errorf("ExpiresAt = %v; want %v", got.ExpiresAt, d.ExpiresAt)
	}
}

// testDeviceExchange: an approved request is exchanged once, for a grant
// in the session that approved it; a pending, denied, expired or used
// one, or one of another client or user, is refused and writes nothing.
func testDeviceExchange(t *testing.T, open opener) {
	s := open(t)
	pending, denied, approved := sampleDevice("pending"), sampleDevice("denied"), sampleDevice("approved")
	for _, d := range []store.DeviceCode{pending, denied, approved} {
		createDevice(t, s, d)
	}
	for _, x := range []struct {
		d       store.DeviceCode
		approve bool
	}{{denied, false}, {approved, true}} {
		if _, err := s.DecideDeviceCode(t.Context(), x.d.UserHash, at(time.Minute), aliceDecides(x.approve)); err != nil {
			t.Fatal(err)
		}
	}
	otherClient, otherUser := codeGrant("g-client"), codeGrant("g-user")
	otherClient.grant.ClientID, otherUser.grant.Subject = "c2", "u2"
	for _, x := range []struct {
		name string
		d    store.DeviceCode
		now  time.Duration
		f    family
	}{
		{"pending", pending, time.Minute, codeGrant("g-pending")},
		{"denied", denied, time.Minute, codeGrant("g-denied")},
		{"expired", approved, 10 * time.Minute, codeGrant("g-expired")},
		{"other client", approved, time.Minute, otherClient},
		{"other user", approved, time.Minute, otherUser},
	} {
		if _, err := s.ExchangeDeviceCode(t.Context(), x.d.DeviceHash, at(x.now), x.f.grant, x.f.tokens()); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("ExchangeDeviceCode, %s = %v; want ErrNotFound", x.name, err)
		}
		wantAbsent(t, s, x.f.access.Hash, x.f.refresh.Hash)
	}
	f := codeGrant("g1")
	got, err := s.ExchangeDeviceCode(t.Context(), approved.DeviceHash, at(2*time.Minute), f.grant, f.tokens())
	if err != nil {
		t.Fatalf("ExchangeDeviceCode: %v", err)
	}
	if got.Status != store.DeviceUsed || got.GrantID != "g1" || got.SessionID != "s1" {
		t.Errorf("ExchangeDeviceCode = status %q, grant %q, session %q; want used, g1, s1", got.Status, got.GrantID, got.SessionID)
	}
	want := f.record(f.access)
	want.SessionID = "s1"
	if diff := cmp.Diff(lookup(t, s, f.access.Hash), want); diff != "" {
		t.Errorf("LookupToken of the exchange's token (-got +want):\n%s", diff)
	}
	again := codeGrant("g2")
	if _, err := s.ExchangeDeviceCode(t.Context(), approved.DeviceHash, at(3*time.Minute), again.grant, again.tokens()); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("second ExchangeDeviceCode = %v; want ErrNotFound", err)
	}
	wantAbsent(t, s, again.access.Hash, again.refresh.Hash)
}

// testDeviceRace: of concurrent polls at one instant one passes, and of
// concurrent exchanges one succeeds.
func testDeviceRace(t *testing.T, open opener) {
	s := open(t)
	d := sampleDevice("tv")
	createDevice(t, s, d)
	const n = 8
	var wg sync.WaitGroup
	passed := make(chan bool, n)
	for range n {
		wg.Go(func() {
			_, tooFast, err := s.PollDeviceCode(t.Context(), d.DeviceHash, "c1", epoch)
			if err != nil {
				t.Error(err)
			}
			passed <- !tooFast
		})
	}
	wg.Wait()
	close(passed)
	count := 0
	for p := range passed {
		if p {
			count++
		}
	}
	if count != 1 {
		t.Errorf("%d of %d concurrent polls passed; want 1", count, n)
	}
	if _, err := s.DecideDeviceCode(t.Context(), d.UserHash, epoch, aliceDecides(true)); err != nil {
		t.Fatal(err)
	}
	won := make(chan string, n)
	for i := range n {
		wg.Go(func() {
			f := codeGrant("race-" + string(rune('a'+i)))
			if _, err := s.ExchangeDeviceCode(t.Context(), d.DeviceHash, at(time.Second), f.grant, f.tokens()); err == nil {
				won <- f.grant.ID
			} else if !errors.Is(err, store.ErrNotFound) {
				t.Error(err)
			}
		})
	}
	wg.Wait()
	if len(won) != 1 {
		t.Errorf("%d of %d concurrent exchanges succeeded; want 1", len(won), n)
	}
}

// testDeviceSweep: DeleteExpired deletes the expired requests, freeing
// their user codes, and keeps the others.
func testDeviceSweep(t *testing.T, open opener) {
	s := open(t)
	old, live := sampleDevice("old"), sampleDevice("live")
	live.ExpiresAt = at(time.Hour)
	createDevice(t, s, old)
	createDevice(t, s, live)
	res, err := s.DeleteExpired(t.Context(), at(10*time.Minute), 100)
	if err != nil {
		t.Fatal(err)
	}
	if res.Codes != 1 {
		t.Errorf("DeleteExpired Codes = %d; want 1", res.Codes)
	}
	reuse := sampleDevice("new")
	reuse.UserHash = old.UserHash
	createDevice(t, s, reuse)
	if _, err := s.GetDeviceCodeByUser(t.Context(), live.UserHash, at(10*time.Minute)); err != nil {
		t.Errorf("GetDeviceCodeByUser of the live request after the sweep: %v", err)
	}
}
