package sweep_test

import (
	"errors"
	"fmt"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/tokend/tokend/internal/store"
	"github.com/tokend/tokend/internal/store/sqlite"
	"github.com/tokend/tokend/internal/sweep"
)

// TestSweepSQLite: against a real SQLite store and an injected clock, a
// sweep deletes the grants that expired (revoked or not) with their
// tokens, and the log events older than the retention window, and leaves
// every live grant and recent event.
func TestSweepSQLite(t *testing.T) {
	st, err := sqlite.Open(filepath.Join(t.TempDir(), "tokend.db"), sqlite.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	ctx := t.Context()
	n := 0
	grant := func(access, refresh time.Duration) (store.Grant, []store.Token) {
		n++
		g := store.Grant{ID: fmt.Sprintf("g%02d", n), ClientID: "c", Subject: "s", CreatedAt: t0}
		tokens := []store.Token{{Hash: store.HashToken(g.ID + "a"), Kind: store.AccessToken, IssuedAt: t0, ExpiresAt: t0.Add(access)}}
		if refresh > 0 {
			tokens = append(tokens, store.Token{Hash: store.HashToken(g.ID + "r"), Kind: store.RefreshToken, IssuedAt: t0, ExpiresAt: t0.Add(refresh)})
		}
		if err := st.CreateGrant(ctx, g, tokens); err != nil {
			t.Fatal(err)
		}
		return g, tokens
	}
	var expired, live [][]store.Token
	for range 5 { // expire at t0+1h, refresh tokens at t0+90m
		_, tks := grant(time.Hour, 90*time.Minute)
		expired = append(expired, tks)
	}
	_, tks := grant(time.Hour, 0) // access only
	expired = append(expired, tks)
	g, tks := grant(time.Hour, 0) // revoked long ago, expired an hour ago: its event stays
	if _, err := st.RevokeGrant(ctx, g.ID, store.Revocation{Time: t0.Add(-100 * 24 * time.Hour), Reason: store.ReasonAdmin, Actor: "admin"}); err != nil {
		t.Fatal(err)
	}
	expired = append(expired, tks)
	// Issued, revoked and expired 100 days ago: its event is past the
	// retention, and so is every token it covers.
	old := t0.Add(-100 * 24 * time.Hour)
	oldTokens := []store.Token{{Hash: store.HashToken("old-a"), Kind: store.AccessToken, IssuedAt: old, ExpiresAt: old.Add(time.Hour)}}
	if err := st.CreateGrant(ctx, store.Grant{ID: "old", ClientID: "c", Subject: "s", CreatedAt: old}, oldTokens); err != nil {
		t.Fatal(err)
	}
	if _, err := st.RevokeGrant(ctx, "old", store.Revocation{Time: old.Add(time.Minute), Reason: store.ReasonAdmin, Actor: "admin"}); err != nil {
		t.Fatal(err)
	}
	expired = append(expired, oldTokens)
	_, tks = grant(3*time.Hour, 48*time.Hour) // live
	live = append(live, tks)
	g, tks = grant(3*time.Hour, 0) // live, revoked recently: its event stays
	if _, err := st.RevokeGrant(ctx, g.ID, store.Revocation{Time: t0, Reason: store.ReasonAdmin, Actor: "admin"}); err != nil {
		t.Fatal(err)
	}
	live = append(live, tks)

	now := t0.Add(2 * time.Hour)
	logouts := finishedLogouts(t, st, now.Add(-8*24*time.Hour), now.Add(-24*time.Hour))
	s := sweep.New(sweep.Config{Store: st, BatchSize: 2, Pause: -1, Now: func() time.Time { return now }})
	got, err := s.Once(ctx)
	if err != nil {
		t.Fatal(err)
	}
	// Four full batches, an empty one, the logouts', the SETs', the events'.
	want := sweep.Result{Grants: 8, Tokens: 13, Logouts: 1, Events: 1, Batches: 4 + 1 + 1 + 1 + 1}
	if got != want {
		t.Errorf("Once = %+v; want %+v", got, want)
	}
	for _, tks := range expired {
		for _, tk := range tks {
			if _, err := st.LookupToken(ctx, tk.Hash); !errors.Is(err, store.ErrNotFound) {
				t.Errorf("token of expired grant %s: %v; want deleted", tk.GrantID, err)
			}
		}
	}
	for _, tks := range live {
		for _, tk := range tks {
			if _, err := st.LookupToken(ctx, tk.Hash); err != nil {
				t.Errorf("token of live grant %s: %v; want kept", tk.GrantID, err)
			}
		}
	}
	evs, err := st.Events(ctx, 0, 0)
	if err != nil {
		t.Fatal(err)
	}
	if len(evs) != 2 || evs[0].GrantID != "g07" || !evs[1].Time.Equal(t0) {
		t.Errorf("events left %+v; want g07's (its token expired within the retention) and the one of t0", evs)
	}
	for i, want := range []bool{false, true, true} { // finished 8 days ago, a day ago, pending
		if _, err := st.GetLogout(ctx, logouts[i]); (err == nil) != want {
			t.Errorf("logout delivery %d: %v; want kept %t", i, err, want)
		}
	}
	// A second sweep finds nothing.
	if got, err := s.Once(ctx); err != nil || got != (sweep.Result{Batches: 4}) {
		t.Errorf("second Once = %+v, %v; want nothing deleted", got, err)
	}
}

// finishedLogouts queues three back-channel logout deliveries, finishes
// the first at first and the second at second, leaves the third pending,
// and returns their IDs.
func finishedLogouts(t *testing.T, st store.Store, first, second time.Time) []int64 {
	t.Helper()
	var ds []store.LogoutDelivery
	for i := range 3 {
		ds = append(ds, store.LogoutDelivery{ClientID: "rp", SessionID: "s" + strconv.Itoa(i), Subject: "u1",
			EventSeq: int64(i + 1), RevokedAt: first, Reason: store.ReasonSessionEnded, NextAttempt: first, CreatedAt: first})
	}
	if err := st.QueueLogouts(t.Context(), "test", 0, 3, ds); err != nil {
		t.Fatal(err)
	}
	claimed, err := st.ClaimLogouts(t.Context(), "k", first, first.Add(time.Minute), 3)
	if err != nil || len(claimed) != 3 {
		t.Fatalf("ClaimLogouts = %d, %v; want 3", len(claimed), err)
	}
	for i, at := range []time.Time{first, second} {
		if err := st.FinishLogout(t.Context(), claimed[i].ID, "k", store.LogoutDelivered, at, at); err != nil {
			t.Fatal(err)
		}
	}
	return []int64{claimed[0].ID, claimed[1].ID, claimed[2].ID}
}
