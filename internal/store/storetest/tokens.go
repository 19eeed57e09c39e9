package storetest

import (
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/tokend/tokend/internal/store"
)

func testGrants(t *testing.T, open opener) {
	t.Run("create and lookup", func(t *testing.T) {
		s := open(t)
		f := newFamily("g1", "c1", "u1")
		createFamily(t, s, f)
		cc := newFamily("g2", "c2", "c2") // a client_credentials grant: one access token, no username
		cc.grant.Username, cc.access.JTI, cc.access.StatusIndex = "", "", 0
		if err := s.CreateGrant(t.Context(), cc.grant, []store.Token{cc.access}); err != nil {
			t.Fatalf("CreateGrant: %v", err)
		}
		for _, c := range []struct {
			name string
			tok  store.Token
			want store.TokenRecord
		}{
			{"access", f.access, f.record(f.access)},
			{"refresh", f.refresh, f.record(f.refresh)},
			{"client credentials", cc.access, cc.record(cc.access)},
		} {
			got, err := s.LookupToken(t.Context(), c.tok.Hash)
			if err != nil {
				t.Fatalf("LookupToken(%s): %v", c.name, err)
			}
			if diff := cmp.Diff(got, c.want); diff != "" {
				t.Errorf("LookupToken(%s) (-got +want):\n%s", c.name, diff)
			}
		}
		wantAbsent(t, s, cc.refresh.Hash, store.HashToken("unknown"))
	})

	t.Run("duplicate grant id", func(t *testing.T) {
		s := open(t)
		createFamily(t, s, newFamily("g1", "c1", "u1"))
		dup := newFamily("g1", "c2", "u2")
		dup.access.Hash, dup.refresh.Hash = store.HashToken("other access"), store.HashToken("other refresh")
		if err := s.CreateGrant(t.Context(), dup.grant, dup.tokens()); !errors.Is(err, store.ErrAlreadyExists) {
			t.Errorf("CreateGrant = %v; want ErrAlreadyExists", err)
		}
		wantAbsent(t, s, dup.access.Hash, dup.refresh.Hash)
	})

	t.Run("duplicate token hash", func(t *testing.T) {
		s := open(t)
		f := newFamily("g1", "c1", "u1")
		createFamily(t, s, f)
		dup := newFamily("g2", "c1", "u1")
		dup.refresh.Hash = f.refresh.Hash
		if err := s.CreateGrant(t.Context(), dup.grant, dup.tokens()); !errors.Is(err, store.ErrAlreadyExists) {
			t.Errorf("CreateGrant = %v; want ErrAlreadyExists", err)
		}
		wantAbsent(t, s, dup.access.Hash) // the whole grant was refused
		if got := lookup(t, s, f.refresh.Hash); got.GrantID != "g1" {
			t.Errorf("refresh token now belongs to %q; want g1", got.GrantID)
		}
	})
}

func testRevokeGrant(t *testing.T, open opener) {
	rev := store.Revocation{Time: at(150 * time.Minute), Reason: store.ReasonClientRequest, Actor: "c1"}

	t.Run("revoke twice", func(t *testing.T) {
		s := open(t)
		f, other := newFamily("g1", "c1", "u1"), newFamily("g2", "c1", "u1")
		createFamily(t, s, f)
		createFamily(t, s, other)
		// At 2h the refresh token rotates: the first access token (1h) has
		// expired, the first refresh token is rotated; at 2h30 only the new
		// access (till 3h) and refresh tokens count.
		a2, r2 := f.next(2, at(2*time.Hour))
		if _, err := s.RotateRefresh(t.Context(), f.refresh.Hash, at(2*time.Hour), []store.Token{a2, r2}, store.Revocation{}); err != nil {
			t.Fatalf("RotateRefresh: %v", err)
		}
		res, err := s.RevokeGrant(t.Context(), "g1", rev)
		if err != nil {
			t.Fatalf("RevokeGrant: %v", err)
		}
		evs := events(t, s)
		wantResult(t, "RevokeGrant", res, store.RevokeResult{Grants: 1, Tokens: 2, Seq: lastSeq(evs)})
		if res.Seq == 0 {
			t.Error("RevokeGrant returned Seq 0")
		}
		// f.access expired at 1h; f.refresh is rotated but unexpired.
		wantEvents(t, evs, []store.Event{event(f, rev, 2, f.refresh, a2, r2)})
		wantRevoked(t, s, rev.Time, f.access.Hash, f.refresh.Hash, a2.Hash, r2.Hash)
		wantNotRevoked(t, s, other.access.Hash, other.refresh.Hash)

		later := rev
		later.Time = at(3 * time.Hour)
		res, err = s.RevokeGrant(t.Context(), "g1", later)
		if err != nil {
			t.Fatalf("second RevokeGrant: %v", err)
		}
		wantResult(t, "second RevokeGrant", res, store.RevokeResult{})
		if evs2 := events(t, s); len(evs2) != 1 {
			t.Errorf("got %d events after the second RevokeGrant; want 1", len(evs2))
		}
		wantRevoked(t, s, rev.Time, f.access.Hash) // the first revocation's time stays

		rec := lookup(t, s, r2.Hash)
		want := f.record(r2)
		want.Revoked, want.RevokedAt = true, rev.Time
		if diff := cmp.Diff(rec, want); diff != "" {
			t.Errorf("LookupToken of a revoked token (-got +want):\n%s", diff)
		}
		if rec.Active(at(2 * time.Hour)) {
			t.Error("a revoked token is Active")
		}
	})

	t.Run("unknown grant", func(t *testing.T) {
		s := open(t)
		res, err := s.RevokeGrant(t.Context(), "nope", rev)
		if err != nil {
			t.Fatalf("RevokeGrant: %v", err)
		}
		wantResult(t, "RevokeGrant", res, store.RevokeResult{})
		if evs := events(t, s); len(evs) != 0 {
			t.Errorf("events = %+v; want none", evs)
		}
	})
}

// clientRequest is a revocation client c1 asks for at epoch+d.
func clientRequest(d time.Duration) store.Revocation {
	return store.Revocation{Time: at(d), Reason: store.ReasonClientRequest, Actor: "c1"}
}

func testRevokeToken(t *testing.T, open opener) {
	t.Run("owner revokes, then finds it revoked", func(t *testing.T) { testRevokeTokenTwiceByOwner(t, open) })
	t.Run("another client's token", func(t *testing.T) { testRevokeTokenOfAnotherClient(t, open) })
	t.Run("unknown token or wrong kind", func(t *testing.T) { testRevokeUnknownToken(t, open) })
	t.Run("expired token", func(t *testing.T) { testRevokeExpiredToken(t, open) })
}

// testRevokeTokenTwiceByOwner checks that the owner's RevokeToken revokes
// the token's grant and returns the record as it was before, and that a
// second one finds the token revoked and writes nothing.
func testRevokeTokenTwiceByOwner(t *testing.T, open opener) {
	rev := clientRequest(30 * time.Minute)
	s := open(t)
	f, other := newFamily("g1", "c1", "u1"), newFamily("g2", "c1", "u1")
	createFamily(t, s, f)
	createFamily(t, s, other)
	rec, res, err := s.RevokeToken(t.Context(), f.refresh.Hash, store.RefreshToken, "c1", rev)
	if err != nil {
		t.Fatalf("RevokeToken: %v", err)
	}
	if diff := cmp.Diff(rec, f.record(f.refresh)); diff != "" {
		t.Errorf("RevokeToken's record, as it was before (-got +want):\n%s", diff)
	}
	evs := events(t, s)
	wantResult(t, "RevokeToken", res, store.RevokeResult{Grants: 1, Tokens: 2, Seq: lastSeq(evs)})
	wantEvents(t, evs, []store.Event{event(f, rev, 2, f.access, f.refresh)})
	wantRevoked(t, s, rev.Time, f.access.Hash, f.refresh.Hash)
	wantNotRevoked(t, s, other.access.Hash, other.refresh.Hash)

	later := clientRequest(40 * time.Minute)
	rec, res, err = s.RevokeToken(t.Context(), f.access.Hash, store.AccessToken, "c1", later)
	if err != nil {
		t.Fatalf("second RevokeToken: %v", err)
	}
	want := f.record(f.access)
	want.Revoked, want.RevokedAt = true, rev.Time
	if diff := cmp.Diff(rec, want); diff != "" {
		t.Errorf("second RevokeToken's record (-got +want):\n%s", diff)
	}
	wantResult(t, "second RevokeToken", res, store.RevokeResult{})
	if evs := events(t, s); len(evs) != 1 {
		t.Errorf("got %d events after the second RevokeToken; want 1", len(evs))
	}
}

// testRevokeTokenOfAnotherClient checks that RevokeToken of a token of
// another client returns its record and revokes nothing.
func testRevokeTokenOfAnotherClient(t *testing.T, open opener) {
	s := open(t)
	f := newFamily("g1", "c1", "u1")
	createFamily(t, s, f)
	rec, res, err := s.RevokeToken(t.Context(), f.access.Hash, store.AccessToken, "c2", clientRequest(30*time.Minute))
	if err != nil {
		t.Fatalf("RevokeToken: %v", err)
	}
	if diff := cmp.Diff(rec, f.record(f.access)); diff != "" {
		t.Errorf("RevokeToken's record (-got +want):\n%s", diff)
	}
	wantResult(t, "RevokeToken", res, store.RevokeResult{})
	wantNotRevoked(t, s, f.access.Hash, f.refresh.Hash)
	if evs := events(t, s); len(evs) != 0 {
		t.Errorf("events = %+v; want none", evs)
	}
}

// testRevokeUnknownToken checks that RevokeToken of an unknown hash, or of
// a token of another kind than the one asked for, is ErrNotFound.
func testRevokeUnknownToken(t *testing.T, open opener) {
	s := open(t)
	f := newFamily("g1", "c1", "u1")
	createFamily(t, s, f)
	for _, c := range []struct {
		h    store.Hash
		kind store.TokenKind
	}{
		{store.HashToken("nope"), store.AccessToken},
		{f.access.Hash, store.RefreshToken},
		{f.refresh.Hash, store.AccessToken},
	} {
		_, res, err := s.RevokeToken(t.Context(), c.h, c.kind, "c1", clientRequest(30*time.Minute))
		if !errors.Is(err, store.ErrNotFound) {
			t.Errorf("RevokeToken(%x, %s) = %v; want ErrNotFound", c.h[:4], c.kind, err)
		}
		wantResult(t, "RevokeToken", res, store.RevokeResult{})
	}
	wantNotRevoked(t, s, f.access.Hash, f.refresh.Hash)
}

// testRevokeExpiredToken checks that revoking an expired access token
// revokes its grant: the token still names its grant, and whoever revokes
// it wants the refresh token stopped, whatever the token's expiry.
func testRevokeExpiredToken(t *testing.T, open opener) {
	s := open(t)
	f := newFamily("g1", "c1", "u1")
	createFamily(t, s, f)
	late := clientRequest(2 * time.Hour) // the access token expired at 1h
	_, res, err := s.RevokeToken(t.Context(), f.access.Hash, store.AccessToken, "c1", late)
	if err != nil {
		t.Fatalf("RevokeToken: %v", err)
	}
	wantResult(t, "RevokeToken", res, store.RevokeResult{Grants: 1, Tokens: 1, Seq: lastSeq(events(t, s))})
	wantRevoked(t, s, late.Time, f.access.Hash, f.refresh.Hash)
}

// reuseAt is the revocation RotateRefresh writes when client c1 presents a
// rotated refresh token at now.
func reuseAt(now time.Time) store.Revocation {
	return store.Revocation{Time: now, Reason: store.ReasonRefreshReuse, Actor: "c1"}
}

// rotate rotates old into toks at now; should old have been rotated
// already, RotateRefresh revokes its family with reuseAt(now).
func rotate(t *testing.T, s store.Store, old store.Hash, now time.Time, toks ...store.Token) (store.TokenRecord, error) {
	t.Helper()
	return s.RotateRefresh(t.Context(), old, now, toks, reuseAt(now))
}

func testRotateRefresh(t *testing.T, open opener) {
	t.Run("happy path", func(t *testing.T) { testRotateRefreshHappyPath(t, open) })
	t.Run("reuse", func(t *testing.T) { testRotateRefreshReuse(t, open) })
	for _, c := range refusedRotations {
		t.Run(c.name, func(t *testing.T) { testRefusedRotation(t, open, c) })
	}
}

// testRotateRefreshHappyPath checks that a rotation marks the old refresh
// token rotated, stores the new tokens in its grant, keeps the old access
// token live, and extends the grant's ExpiresAt to the new tokens'.
func testRotateRefreshHappyPath(t *testing.T, open opener) {
	s := open(t)
	f := newFamily("g1", "c1", "u1")
	createFamily(t, s, f)
	a2, r2 := f.next(2, at(time.Hour))
	a2.GrantID, r2.GrantID = "", "" // the new tokens join old's grant
	got, err := rotate(t, s, f.refresh.Hash, at(time.Hour), a2, r2)
	if err != nil {
		t.Fatalf("RotateRefresh: %v", err)
	}
	// RotateRefresh returns old as it is after the rotation.
	want := f.record(f.refresh)
	want.Rotated = true
	if diff := cmp.Diff(got, want); diff != "" {
		t.Errorf("RotateRefresh (-got +want):\n%s", diff)
	}
	if diff := cmp.Diff(lookup(t, s, f.refresh.Hash), want); diff != "" {
		t.Errorf("LookupToken(old) (-got +want):\n%s", diff)
	}
	a2.GrantID, r2.GrantID = "g1", "g1"
	for _, tok := range []store.Token{a2, r2} {
		if diff := cmp.Diff(lookup(t, s, tok.Hash), f.record(tok)); diff != "" {
			t.Errorf("LookupToken(new %s) (-got +want):\n%s", tok.Kind, diff)
		}
	}
	wantNotRevoked(t, s, f.access.Hash) // the old access token lives on until it expires

	// r2 outlives the grant's first ExpiresAt (24h): rotating it at 24h30
	// works only if the first rotation moved ExpiresAt to 25h.
	a3, r3 := f.next(3, at(24*time.Hour+30*time.Minute))
	if _, err := rotate(t, s, r2.Hash, at(24*time.Hour+30*time.Minute), a3, r3); err != nil {
		t.Errorf("RotateRefresh after the grant's first expiry: %v", err)
	}
	if evs := events(t, s); len(evs) != 0 {
		t.Errorf("events = %+v; want none", evs)
	}
	// The grant now ends at 48h30, so a bulk revocation at 30h still covers it.
	revAt := store.Revocation{Time: at(30 * time.Hour), Reason: store.ReasonAdmin, Actor: "admin"}
	if res, err := s.RevokeMatching(t.Context(), store.Filter{Subject: "u1"}, revAt); err != nil || res.Grants != 1 || res.Tokens != 1 {
		t.Errorf("RevokeMatching after rotations = %+v, %v; want 1 grant, 1 token (r3)", res, err)
	}
}

// testRotateRefreshReuse checks that presenting a rotated refresh token
// again is ErrRefreshReused and revokes its whole family, once.
func testRotateRefreshReuse(t *testing.T, open opener) {
	s := open(t)
	f, other := newFamily("g1", "c1", "u1"), newFamily("g2", "c1", "u1")
	createFamily(t, s, f)
	createFamily(t, s, other)
	a2, r2 := f.next(2, at(time.Hour))
	if _, err := rotate(t, s, f.refresh.Hash, at(time.Hour), a2, r2); err != nil {
		t.Fatalf("RotateRefresh: %v", err)
	}
	// At 90m the old refresh token comes back: a2 (till 2h) and r2 are live.
	a3, r3 := f.next(3, at(90*time.Minute))
	if _, err := rotate(t, s, f.refresh.Hash, at(90*time.Minute), a3, r3); !errors.Is(err, store.ErrRefreshReused) {
		t.Fatalf("RotateRefresh of a rotated token = %v; want ErrRefreshReused", err)
	}
	reused := reuseAt(at(90 * time.Minute))
	wantEvents(t, events(t, s), []store.Event{event(f, reused, 2, f.refresh, a2, r2)})
	wantRevoked(t, s, reused.Time, f.access.Hash, f.refresh.Hash, a2.Hash, r2.Hash)
	wantAbsent(t, s, a3.Hash, r3.Hash)
	wantNotRevoked(t, s, other.refresh.Hash)

	// Once revoked, the family is dead: the live refresh token is not
	// found, and the reused one is still reported, with no second event.
	if _, err := rotate(t, s, r2.Hash, at(2*time.Hour), a3, r3); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("RotateRefresh of r2 = %v; want ErrNotFound", err)
	}
	if _, err := rotate(t, s, f.refresh.Hash, at(2*time.Hour), a3, r3); !errors.Is(err, store.ErrRefreshReused) {
		t.Errorf("RotateRefresh of the reused token again = %v; want ErrRefreshReused", err)
	}
	if evs := events(t, s); len(evs) != 1 {
		t.Errorf("got %d events; want 1", len(evs))
	}
	wantAbsent(t, s, a3.Hash, r3.Hash)
}

// refusedRotation is a rotation that RotateRefresh refuses with
// ErrNotFound: of the hash old picks from the family g1, at now, after
// setup, if any, ran on the store holding g1.
type refusedRotation struct {
	name  string
	old   func(f family) store.Hash
	now   time.Time
	setup func(t *testing.T, s store.Store)
}

var refusedRotations = []refusedRotation{
	{"unknown token", func(family) store.Hash { return store.HashToken("nope") }, at(time.Hour), nil},
	{"access token", func(f family) store.Hash { return f.access.Hash }, at(time.Minute), nil},
	{"expired token", func(f family) store.Hash { return f.refresh.Hash }, at(24 * time.Hour), nil},
	{"revoked grant", func(f family) store.Hash { return f.refresh.Hash }, at(2 * time.Hour), func(t *testing.T, s store.Store) {
		if _, err := s.RevokeGrant(t.Context(), "g1", store.Revocation{Time: at(time.Hour), Reason: store.ReasonAdmin, Actor: "admin"}); err != nil {
			t.Fatalf("RevokeGrant: %v", err)
		}
	}},
}

// testRefusedRotation checks that the refused rotation c stores no new
// token, leaves the old one unrotated, and writes no event.
func testRefusedRotation(t *testing.T, open opener, c refusedRotation) {
	s := open(t)
	f := newFamily("g1", "c1", "u1")
	createFamily(t, s, f)
	if c.setup != nil {
		c.setup(t, s)
	}
	before := events(t, s)
	a2, r2 := f.next(2, c.now)
	if rec, err := rotate(t, s, c.old(f), c.now, a2, r2); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("RotateRefresh = %+v, %v; want ErrNotFound", rec, err)
	}
	wantAbsent(t, s, a2.Hash, r2.Hash)
	if rec := lookup(t, s, f.refresh.Hash); rec.Rotated {
		t.Error("refresh token marked rotated")
	}
	if evs := events(t, s); len(evs) != len(before) {
		t.Errorf("got %d events; want %d", len(evs), len(before))
	}
}

func testRevokeMatching(t *testing.T, open opener) {
	rev := store.Revocation{Time: at(30 * time.Minute), Reason: store.ReasonAdmin, Actor: "admin"}
	// Live grants of every client × subject pair, plus in each pair's image
	// an expired grant and a revoked one that no filter may count.
	fams := []family{
		newFamily("c1u1", "c1", "u1"), newFamily("c1u2", "c1", "u2"),
		newFamily("c2u1", "c2", "u1"), newFamily("c2u2", "c2", "u2"),
	}
	setup := func(t *testing.T) store.Store {
		s := open(t)
		for _, f := range fams {
			createFamily(t, s, f)
			x := newFamily(f.grant.ID+"-expired", f.grant.ClientID, f.grant.Subject)
			x.grant.ExpiresAt, x.access.ExpiresAt, x.refresh.ExpiresAt = at(time.Minute), at(time.Minute), at(time.Minute)
			createFamily(t, s, x)
			r := newFamily(f.grant.ID+"-revoked", f.grant.ClientID, f.grant.Subject)
			createFamily(t, s, r)
			if _, err := s.RevokeGrant(t.Context(), r.grant.ID, store.Revocation{Time: at(time.Minute), Reason: store.ReasonAdmin, Actor: "admin"}); err != nil {
				t.Fatalf("RevokeGrant: %v", err)
			}
		}
		return s
	}
	for _, c := range []struct {
		name   string
		filter store.Filter
		want   []string // grant IDs revoked
	}{
		{"subject", store.Filter{Subject: "u1"}, []string{"c1u1", "c2u1"}},
		{"client", store.Filter{ClientID: "c1"}, []string{"c1u1", "c1u2"}},
		{"both", store.Filter{Subject: "u2", ClientID: "c2"}, []string{"c2u2"}},
		{"no match", store.Filter{Subject: "u3"}, nil},
	} {
		t.Run(c.name, func(t *testing.T) {
			s := setup(t)
			before := len(events(t, s))
			res, err := s.RevokeMatching(t.Context(), c.filter, rev)
			if err != nil {
				t.Fatalf("RevokeMatching: %v", err)
			}
			evs := events(t, s)[before:]
			var want []store.Event
			for _, f := range fams {
				revoked := false
				for _, id := range c.want {
					revoked = revoked || f.grant.ID == id
				}
				if revoked {
					want = append(want, event(f, rev, 2, f.tokens()...))
					wantRevoked(t, s, rev.Time, f.access.Hash, f.refresh.Hash)
				} else {
					wantNotRevoked(t, s, f.access.Hash, f.refresh.Hash)
				}
				wantNotRevoked(t, s, store.HashToken(f.grant.ID+"-expired/refresh"))
				wantRevoked(t, s, at(time.Minute), store.HashToken(f.grant.ID+"-revoked/refresh"))
			}
			wantEventSet(t, evs, want)
			wantResult(t, "RevokeMatching", res, store.RevokeResult{Grants: len(want), Tokens: 2 * len(want), Seq: lastSeq(evs)})
		})
	}

	t.Run("empty filter", func(t *testing.T) {
		s := setup(t)
		before := len(events(t, s))
		if res, err := s.RevokeMatching(t.Context(), store.Filter{}, rev); err == nil {
			t.Errorf("RevokeMatching(empty filter) = %+v, nil; want an error", res)
		}
		wantNotRevoked(t, s, fams[0].access.Hash)
		if got := len(events(t, s)); got != before {
			t.Errorf("got %d events; want %d", got, before)
		}
	})
}

func testEvents(t *testing.T, open opener) {
	s := open(t)
	reasons := []string{store.ReasonClientRequest, store.ReasonAdmin, store.ReasonUserDisabled, store.ReasonPasswordChange, store.ReasonClientDeleted}
	var want []store.Event
	var seqs []int64
	for i, reason := range reasons {
		f := newFamily(fmt.Sprintf("g%d", i), fmt.Sprintf("c%d", i), fmt.Sprintf("u%d", i))
		createFamily(t, s, f)
		// Later events may carry earlier times: the log is ordered by Seq.
		rev := store.Revocation{Time: at(time.Duration(30-i) * time.Minute), Reason: reason, Actor: fmt.Sprintf("actor%d", i)}
		res, err := s.RevokeGrant(t.Context(), f.grant.ID, rev)
		if err != nil {
			t.Fatalf("RevokeGrant: %v", err)
		}
		want = append(want, event(f, rev, 2, f.tokens()...))
		seqs = append(seqs, res.Seq)
	}
	all := events(t, s)
	wantEvents(t, all, want)
	for i := range all {
		if all[i].Seq != seqs[i] {
			t.Errorf("event %d: Seq %d; want %d as RevokeGrant returned", i, all[i].Seq, seqs[i])
		}
	}
	for _, c := range []struct {
		since int64
		limit int
		want  []store.Event
	}{
		{0, 2, all[:2]},
		{seqs[0], 2, all[1:3]},
		{seqs[1], 100, all[2:]},
		{seqs[4], 100, nil},
		{seqs[4] + 1000, 1, nil},
	} {
		got, err := s.Events(t.Context(), c.since, c.limit)
		if err != nil {
			t.Fatalf("Events(%d, %d): %v", c.since, c.limit, err)
		}
		if diff := cmp.Diff(got, c.want, cmpOpts...); diff != "" {
			t.Errorf("Events(%d, %d) (-got +want):\n%s", c.since, c.limit, diff)
		}
	}
}

// testEventCoverage pins down what an event says it covered: every token of
// the grant unexpired at the revocation's time (ExpiresAt after it), rotated
// ones included, by hash; the jtis and the status list indexes of those of
// them that have one, each list on its own (in no fixed order); and the
// latest expiry among them, or the zero time when it covered no token.
// Tokens still counts only the live ones (unexpired and not rotated).
func testEventCoverage(t *testing.T, open opener) {
	t.Run("rotated family", func(t *testing.T) {
		s := open(t)
		f := newFamily("g1", "c1", "u1")
		createFamily(t, s, f)
		// At 30m the refresh token rotates into a JWT with a jti and a status
		// index (a2, till 1h30) and r2; at 50m r2 rotates into a JWT with a
		// jti only (a3, till 1h50) and r3 (till 24h50).
		a2, r2 := f.next(2, at(30*time.Minute))
		a2.JTI, a2.StatusIndex = "g1-jti-2", 1001
		a3, r3 := f.next(3, at(50*time.Minute))
		a3.JTI = "g1-jti-3"
		if _, err := s.RotateRefresh(t.Context(), f.refresh.Hash, at(30*time.Minute), []store.Token{a2, r2}, store.Revocation{}); err != nil {
			t.Fatalf("RotateRefresh: %v", err)
		}
		if _, err := s.RotateRefresh(t.Context(), r2.Hash, at(50*time.Minute), []store.Token{a3, r3}, store.Revocation{}); err != nil {
			t.Fatalf("RotateRefresh: %v", err)
		}
		// Revoked at 1h10: f.access expired at 1h, and neither its jti nor its
		// status index is covered; f.refresh and r2 are rotated, and covered.
		rev := store.Revocation{Time: at(70 * time.Minute), Reason: store.ReasonClientRequest, Actor: "c1"}
		res, err := s.RevokeGrant(t.Context(), "g1", rev)
		if err != nil {
			t.Fatalf("RevokeGrant: %v", err)
		}
		wantResult(t, "RevokeGrant", res, store.RevokeResult{Grants: 1, Tokens: 3, Seq: res.Seq})
		wantEvents(t, events(t, s), []store.Event{{
			Time: rev.Time, GrantID: "g1", ClientID: "c1", Subject: "u1", Reason: rev.Reason, Actor: rev.Actor,
			Tokens:        3, // a2, a3, r3
			TokenHashes:   []store.Hash{f.refresh.Hash, a2.Hash, r2.Hash, a3.Hash, r3.Hash},
			JTIs:          []string{"g1-jti-2", "g1-jti-3"},
			StatusIndexes: []int64{1001},
			ExpiresAt:     at(24*time.Hour + 50*time.Minute),
		}})
		// The record a status index came from is unchanged by the revocation.
		if got := lookup(t, s, a2.Hash); got.JTI != "g1-jti-2" || got.StatusIndex != 1001 {
			t.Errorf("LookupToken(a2): JTI, StatusIndex = %q, %d; want g1-jti-2, 1001", got.JTI, got.StatusIndex)
		}
	})

	t.Run("nothing unexpired", func(t *testing.T) {
		s := open(t)
		f := newFamily("g1", "c1", "u1")
		createFamily(t, s, f)
		// At 24h the refresh token expires, exactly: RevokeGrant still revokes
		// the grant, and the event covers no token.
		rev := store.Revocation{Time: at(24 * time.Hour), Reason: store.ReasonAdmin, Actor: "admin"}
		if res, err := s.RevokeGrant(t.Context(), "g1", rev); err != nil || res.Grants != 1 || res.Tokens != 0 {
			t.Fatalf("RevokeGrant = %+v, %v; want 1 grant, 0 tokens", res, err)
		}
		wantEvents(t, events(t, s), []store.Event{event(f, rev, 0)}) // no hashes, jtis, indexes; zero ExpiresAt
	})
}
