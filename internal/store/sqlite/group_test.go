package sqlite

import (
	"errors"
	"fmt"
	"reflect"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/tokend/tokend/internal/store"
)

// queued runs calls as the ops of one batch, queued in order behind a
// blocked writer.
func queued(t *testing.T, s *Store, calls ...func()) {
	t.Helper()
	release := block(t, s)
	var wg sync.WaitGroup
	for i, call := range calls {
		waitQueued(t, s, i) // keep the queue in order
		wg.Go(call)
	}
	waitQueued(t, s, len(calls))
	release()
	wg.Wait()
}

// revokeOutcome is what one RevokeToken call answered.
type revokeOutcome struct {
	Rec store.TokenRecord
	Res store.RevokeResult
	Err string
}

// groupedRevocations runs, in one batch of a store with or without
// grouping, revocations of every case revokeToken tells apart, and returns
// their answers and the log.
func groupedRevocations(t *testing.T, perOp bool) ([]revokeOutcome, []store.Event) {
	s := openMigrated(t, Options{perOp: perOp})
	defer publishedEvents(t, s)()
	for _, id := range []string{"g1", "g2", "g3", "g4", "g5"} {
		g, toks := grant(id)
		if id == "g3" {
			g.ClientID = "c2"
		}
		if err := s.CreateGrant(t.Context(), g, toks); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := s.RevokeGrant(t.Context(), "g4", rev); err != nil {
		t.Fatal(err)
	}
	type call struct {
		token string
		kind  store.TokenKind
		grant string // RevokeGrant of this grant instead
	}
	calls := []call{
		{token: "g1/a", kind: store.AccessToken},
		{token: "g1/r", kind: store.RefreshToken}, // the same grant: revoked by the first
		{token: "nope", kind: store.AccessToken},  // unknown
		{token: "g2/a", kind: store.RefreshToken}, // the wrong kind
		{token: "g3/a", kind: store.AccessToken},  // another client's
		{token: "g4/a", kind: store.AccessToken},  // revoked already
		{token: "g5/r", kind: store.RefreshToken},
		{token: "g5/r", kind: store.RefreshToken}, // twice in one batch
		// RevokeGrant after the tokens, where a group runs it, so that
		// one by one they run in the same order.
		{grant: "g2"},
		{grant: "g2"},
		{grant: "g1"}, // revoked by a token
		{grant: "nope"},
		{grant: "g4"},
	}
	out := make([]revokeOutcome, len(calls))
	fns := make([]func(), len(calls))
	for i, c := range calls {
		r := store.Revocation{Time: epoch.Add(time.Duration(i+2) * time.Minute), Reason: store.ReasonClientRequest, Actor: "c1"}
		fns[i] = func() {
			var rec store.TokenRecord
			var res store.RevokeResult
			var err error
			if c.grant != "" {
				res, err = s.RevokeGrant(t.Context(), c.grant, r)
			} else {
				rec, res, err = s.RevokeToken(t.Context(), store.HashToken(c.token), c.kind, "c1", r)
			}
			out[i] = revokeOutcome{Rec: rec, Res: res}
			if err != nil {
				out[i].Err = err.Error()
			}
		}
	}
	queued(t, s, fns...)
	// The two refused calls are answered, not committed.
	if n, want := s.groupedOps.Load(), int64(len(calls)-2); perOp == (n != 0) || !perOp && n != want {
		t.Errorf("%d ops grouped (perOp %v); want %d", n, perOp, want)
	}
	evs, err := s.Events(t.Context(), 0, 0)
	if err != nil {
		t.Fatal(err)
	}
	return out, evs
}

// TestGroupedRevocationsAnswerAsAlone: a batch of revocations run as a
// group answers each call, and logs, exactly what the same calls run one
// by one do.
func TestGroupedRevocationsAnswerAsAlone(t *testing.T) {
	alone, aloneEvents := groupedRevocations(t, true)
	grouped, groupedEvents := groupedRevocations(t, false)
	for i := range alone {
		if !reflect.DeepEqual(alone[i], grouped[i]) {
			t.Errorf("call %d: grouped\n%+v\nalone\n%+v", i, grouped[i], alone[i])
		}
	}
	if !reflect.DeepEqual(aloneEvents, groupedEvents) {
		t.Errorf("grouped events\n%+v\nalone\n%+v", groupedEvents, aloneEvents)
	}
	if n := len(groupedEvents); n != 4 { // g4's, then g1's, g5's and g2's
		t.Errorf("%d events; want 4", n)
	}
	for i, want := range []string{"", "", "not found", "not found", "", "", "", "", "", "", "", "", ""} {
		if got := grouped[i].Err; (want == "") != (got == "") {
			t.Errorf("call %d: error %q; want one with %q", i, got, want)
		}
	}
	if grouped[0].Res.Grants != 1 || grouped[1].Res.Grants != 0 || !grouped[1].Rec.Revoked {
		t.Errorf("g1 revoked twice: %+v, %+v", grouped[0], grouped[1])
	}
	if grouped[8].Res.Grants != 1 || grouped[9].Res.Grants != 0 || grouped[10].Res.Grants != 0 {
		t.Errorf("g2 by ID twice, then g1: %+v, %+v, %+v", grouped[8], grouped[9], grouped[10])
	}
}

// TestGroupedIssuanceFailsAlone: in a batch of issuances run as a group,
// one whose grant ID or token is taken fails with store.ErrAlreadyExists
// and the others are stored.
func TestGroupedIssuanceFailsAlone(t *testing.T) {
	s := openMigrated(t, Options{})
	g, toks := grant("taken")
	if err := s.CreateGrant(t.Context(), g, toks); err != nil {
		t.Fatal(err)
	}
	ids := []string{"n0", "taken", "n1", "n2", "n3"}
	errs := make([]error, len(ids)+1)
	fns := make([]func(), len(ids)+1)
	for i, id := range ids {
		g, toks := grant(id)
		if id == "n2" {
			g.ID = "dup-token" // n2's tokens, under another grant: taken by then
			toks[0].GrantID, toks[1].GrantID = "", ""
		}
		fns[i] = func() { errs[i] = s.CreateGrant(t.Context(), g, toks) }
	}
	fns[len(ids)] = func() {
		g, toks := grant("n2")
		errs[len(ids)] = s.CreateGrant(t.Context(), g, toks)
	}
	queued(t, s, fns...)
	for i, err := range errs {
		wantTaken := i == 1 || i == len(ids)
		if wantTaken != errors.Is(err, store.ErrAlreadyExists) || (!wantTaken && err != nil) {
			t.Errorf("CreateGrant %d: %v (taken: %v)", i, err, wantTaken)
		}
	}
	for _, id := range []string{"n0", "n1", "n3"} {
		if _, err := s.LookupToken(t.Context(), store.HashToken(id+"/a")); err != nil {
			t.Errorf("%s: %v", id, err)
		}
	}
	rec, err := s.LookupToken(t.Context(), store.HashToken("n2/a"))
	if err != nil || rec.GrantID != "dup-token" {
		t.Errorf("n2/a = %+v, %v; want it of grant dup-token", rec, err)
	}
	if n := s.groupedOps.Load(); n != 0 {
		t.Errorf("%d ops grouped; want 0: the group failed, and ran again op by op", n)
	}
}

// TestGroupedIssuanceKeepsEveryColumn: grants created in one batch, run
// as a group, read back as the same grants created one by one, the DPoP
// key a grant's tokens are bound to included; and a grouped revocation
// answers each token's record with it. The group's statements name their
// columns apart from CreateGrant's own, so a column added to one and not
// the other fails here.
func TestGroupedIssuanceKeepsEveryColumn(t *testing.T) {
	issue := func(perOp bool) []revokeOutcome {
		s := openMigrated(t, Options{perOp: perOp})
		ids := []string{"b0", "b1", "b2"}
		fns := make([]func(), len(ids), len(ids)+1)
		for i, id := range ids {
			g, toks := grant(id)
			if i > 0 {
				g.JKT = "jkt-of-" + id // b0 stays a bearer grant
			}
			fns[i] = func() {
				if err := s.CreateGrant(t.Context(), g, toks); err != nil {
					t.Errorf("CreateGrant %s: %v", id, err)
				}
			}
		}
		// x is exchanged from b0 (RFC 8693), in the same batch: its row
		// carries its parent, actor and audience, and b0's revocation
		// below revokes it too.
		x, xToks := grant("x")
		x.ParentID, x.Act, x.Audience = "b0", `{"sub":"actor"}`, []string{"https://api.example", "svc"}
		fns = append(fns, func() {
			if err := s.CreateGrant(t.Context(), x, xToks); err != nil {
				t.Errorf("CreateGrant x: %v", err)
			}
		})
		queued(t, s, fns...)
		out := make([]revokeOutcome, 2*len(ids), 2*len(ids)+1)
		for i, id := range ids {
			rec, err := s.LookupToken(t.Context(), store.HashToken(id+"/r"))
			out[i] = revokeOutcome{Rec: rec, Err: fmt.Sprint(err)}
		}

		revs := make([]func(), len(ids))
		for i, id := range ids {
			revs[i] = func() {
				rec, res, err := s.RevokeToken(t.Context(), store.HashToken(id+"/a"), store.AccessToken, "c1", rev)
				out[len(ids)+i] = revokeOutcome{rec, res, fmt.Sprint(err)}
			}
		}
		queued(t, s, revs...)
		rec, err := s.LookupToken(t.Context(), store.HashToken("x/r"))
		return append(out, revokeOutcome{Rec: rec, Err: fmt.Sprint(err)})
	}
	grouped, alone := issue(false), issue(true)
	if !reflect.DeepEqual(grouped, alone) {
		t.Errorf("grouped:\n%+v\none by one:\n%+v", grouped, alone)
	}
	if grouped[1].Rec.JKT != "jkt-of-b1" || grouped[4].Rec.JKT != "jkt-of-b1" {
		t.Errorf("b1's records = %+v, %+v; want its DPoP key", grouped[1].Rec, grouped[4].Rec)
	}
	if x := grouped[6].Rec; x.ParentID != "b0" || x.Act != `{"sub":"actor"}` || len(x.Audience) != 2 || !x.Revoked {
		t.Errorf("x's record = %+v; want its parent, actor and audience, revoked with b0", x)
	}
	if grouped[3].Res.Grants != 2 {
		t.Errorf("b0's revocation = %+v; want 2 grants, b0 and x", grouped[3].Res)
	}
}

// rotateOutcome is what one RotateRefresh call answered.
type rotateOutcome struct {
	Rec store.TokenRecord
	Err string
}

// groupedRotations runs the rotations of these refresh tokens ("" for an
// unknown one) in one batch of a store with or without grouping, after
// setup, and returns their answers, the log and the records of every
// token, old and new, as they are afterwards.
func groupedRotations(t *testing.T, perOp bool, setup func(*Store), tokens []string) (out []rotateOutcome, evs []store.Event, after []rotateOutcome, grouped int64) {
	s := openMigrated(t, Options{perOp: perOp})
	defer publishedEvents(t, s)()
	for _, id := range []string{"g1", "g2", "g3", "g4", "g5", "g6"} {
		g, toks := grant(id)
		if err := s.CreateGrant(t.Context(), g, toks); err != nil {
			t.Fatal(err)
		}
	}
	setup(s)
	now := epoch.Add(time.Minute)
	reuse := store.Revocation{Time: now, Reason: store.ReasonRefreshReuse, Actor: "c1"}
	out = make([]rotateOutcome, len(tokens))
	fns := make([]func(), len(tokens))
	var hashes []store.Hash
	for i, tok := range tokens {
		fresh := []store.Token{
			{Hash: store.HashToken(fmt.Sprintf("new%d/a", i)), Kind: store.AccessToken, IssuedAt: now, ExpiresAt: now.Add(time.Hour)},
			{Hash: store.HashToken(fmt.Sprintf("new%d/r", i)), Kind: store.RefreshToken, IssuedAt: now, ExpiresAt: now.Add(48 * time.Hour)},
		}
		hashes = append(hashes, store.HashToken(tok), fresh[0].Hash, fresh[1].Hash)
		fns[i] = func() {
			rec, err := s.RotateRefresh(t.Context(), store.HashToken(tok), now, fresh, reuse)
			out[i] = rotateOutcome{Rec: rec}
			if err != nil {
				out[i].Err = err.Error()
			}
		}
	}
	before := s.groupedOps.Load()
	queued(t, s, fns...)
	grouped = s.groupedOps.Load() - before
	evs, err := s.Events(t.Context(), 0, 0)
	if err != nil {
		t.Fatal(err)
	}
	for _, h := range hashes {
		rec, err := s.LookupToken(t.Context(), h)
		o := rotateOutcome{Rec: rec}
		if err != nil {
			o.Err = err.Error()
		}
		after = append(after, o)
	}
	// And the rows as they are, what no record shows: when each token was
	// rotated, when each grant expires.
	rows, err := s.rdb.QueryContext(t.Context(), `SELECT hex(t.hash) || ' ' || coalesce(t.rotated_at, '-') || ' ' || g.id || ' ' || g.expires_at
		FROM tokens t JOIN grants g ON g.id = t.grant_id ORDER BY t.hash`)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	for rows.Next() {
		var row string
		if err := rows.Scan(&row); err != nil {
			t.Fatal(err)
		}
		after = append(after, rotateOutcome{Err: row})
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return out, evs, after, grouped
}

// TestGroupedRotationsAnswerAsAlone: a batch of refresh token rotations
// run as a group answers each call, logs and leaves the tokens exactly as
// the same calls run one by one; a reuse makes the batch run one by one,
// with the same answers.
func TestGroupedRotationsAnswerAsAlone(t *testing.T) {
	revokeG4 := func(s *Store) {
		if _, err := s.RevokeGrant(t.Context(), "g4", rev); err != nil {
			t.Fatal(err)
		}
	}
	rotated := func(s *Store, ids ...string) {
		for _, id := range ids {
			fresh := []store.Token{{Hash: store.HashToken(id + "/r2"), Kind: store.RefreshToken, IssuedAt: epoch, ExpiresAt: epoch.Add(time.Hour)}}
			if _, err := s.RotateRefresh(t.Context(), store.HashToken(id+"/r"), epoch, fresh, rev); err != nil {
				t.Fatal(err)
			}
		}
	}
	cases := []struct {
		name    string
		setup   func(*Store)
		tokens  []string
		errs    []string // a part of each call's error, "" for none
		grouped int64    // ops committed in a group
	}{{
		name: "grouped",
		setup: func(s *Store) {
			revokeG4(s)
			rotated(s, "g5")
			if _, err := s.RevokeGrant(t.Context(), "g5", rev); err != nil {
				t.Fatal(err)
			}
		},
		tokens:  []string{"g1/r", "g2/r", "nope", "g3/a", "g4/r", "g5/r", "g6/r"},
		errs:    []string{"", "", "not found", "not found", "not found", "reused", ""},
		grouped: 4, // g1, g2, g6 and the reuse of g5, which waits for the commit
	}, {
		name:   "a reuse runs alone",
		setup:  func(s *Store) { rotated(s, "g2") },
		tokens: []string{"g1/r", "g2/r", "g3/r", "g1/r"},
		errs:   []string{"", "reused", "", "reused"},
	}}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			alone, aloneEvents, aloneAfter, _ := groupedRotations(t, true, c.setup, c.tokens)
			grouped, groupedEvents, groupedAfter, n := groupedRotations(t, false, c.setup, c.tokens)
			if n != c.grouped {
				t.Errorf("%d ops committed in a group; want %d", n, c.grouped)
			}
			if !reflect.DeepEqual(alone, grouped) {
				t.Errorf("answers grouped\n%+v\nalone\n%+v", grouped, alone)
			}
			if !reflect.DeepEqual(aloneEvents, groupedEvents) {
				t.Errorf("events grouped\n%+v\nalone\n%+v", groupedEvents, aloneEvents)
			}
			if !reflect.DeepEqual(aloneAfter, groupedAfter) {
				t.Errorf("tokens after, grouped\n%+v\nalone\n%+v", groupedAfter, aloneAfter)
			}
			for i, want := range c.errs {
				if got := grouped[i].Err; (want == "") != (got == "") || !strings.Contains(got, want) {
					t.Errorf("call %d (%s): error %q; want one with %q", i, c.tokens[i], got, want)
				}
			}
			// Each token rotated is marked at the rotation's time, and its
			// grant lives as long as the new refresh token.
			now := epoch.Add(time.Minute)
			for i, tok := range c.tokens {
				if c.errs[i] != "" {
					continue
				}
				row := fmt.Sprintf("%X %d %s %d", store.HashToken(tok), ms(now), grouped[i].Rec.GrantID, ms(now.Add(48*time.Hour)))
				if !slices.ContainsFunc(groupedAfter, func(o rotateOutcome) bool { return o.Err == row }) {
					t.Errorf("call %d (%s): no row %q among\n%+v", i, tok, row, groupedAfter)
				}
			}
		})
	}
}
