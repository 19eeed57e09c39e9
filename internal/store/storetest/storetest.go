package storetest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"hash/fnv"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/tokend/tokend/internal/store"
)

// Run runs the conformance suite. open must return a new, empty store each
// time it is called; it may be called from parallel subtests. Run closes
// every store it opens when the test that opened it ends, so Close must be
// safe to call twice if open registers its own cleanup too.
//
// Every time the suite writes has millisecond precision, and it compares
// times with time.Time.Equal: a backend must store times at least to the
// millisecond, and need not do better.
func Run(t *testing.T, open func(t *testing.T) store.Store) {
	newStore := func(t *testing.T) store.Store {
		t.Helper()
		s := open(t)
		t.Cleanup(func() {
			if err := s.Close(); err != nil {
				t.Errorf("Close: %v", err)
			}
		})
		return s
	}
	t.Run("Ping", func(t *testing.T) {
		t.Parallel()
		if err := newStore(t).Ping(t.Context()); err != nil {
			t.Errorf("Ping: %v", err)
		}
	})
	t.Run("Clients", func(t *testing.T) { t.Parallel(); testClients(t, newStore) })
	t.Run("Users", func(t *testing.T) { t.Parallel(); testUsers(t, newStore) })
	t.Run("Grants", func(t *testing.T) { t.Parallel(); testGrants(t, newStore) })
	t.Run("RevokeGrant", func(t *testing.T) { t.Parallel(); testRevokeGrant(t, newStore) })
	t.Run("RevokeToken", func(t *testing.T) { t.Parallel(); testRevokeToken(t, newStore) })
	t.Run("RotateRefresh", func(t *testing.T) { t.Parallel(); testRotateRefresh(t, newStore) })
	t.Run("TokenFacts", func(t *testing.T) { t.Parallel(); testTokenFacts(t, newStore) })
	t.Run("RevokeMatching", func(t *testing.T) { t.Parallel(); testRevokeMatching(t, newStore) })
	t.Run("Events", func(t *testing.T) { t.Parallel(); testEvents(t, newStore) })
	t.Run("FollowWhileRevoking", func(t *testing.T) { t.Parallel(); testFollowWhileRevoking(t, newStore) })
	t.Run("SubjectEntries", func(t *testing.T) { t.Parallel(); testSubjectEntries(t, newStore) })
	t.Run("EventCoverage", func(t *testing.T) { t.Parallel(); testEventCoverage(t, newStore) })
	t.Run("Issuers", func(t *testing.T) { t.Parallel(); testIssuers(t, newStore) })
	t.Run("UseJTI", func(t *testing.T) { t.Parallel(); testUseJTI(t, newStore) })
	t.Run("DeleteExpired", func(t *testing.T) { t.Parallel(); testDeleteExpired(t, newStore) })
	t.Run("DeleteEventsBefore", func(t *testing.T) { t.Parallel(); testDeleteEventsBefore(t, newStore) })
	t.Run("Stats", func(t *testing.T) { t.Parallel(); testStats(t, newStore) })
	t.Run("StatsSessions", func(t *testing.T) { t.Parallel(); testStatsSessions(t, newStore) })
	t.Run("CountMatching", func(t *testing.T) { t.Parallel(); testCountMatching(t, newStore) })
	t.Run("ReserveStatusIndexes", func(t *testing.T) { t.Parallel(); testReserveStatusIndexes(t, newStore) })
	t.Run("CancelledContext", func(t *testing.T) { t.Parallel(); testCancelled(t, newStore) })
	t.Run("Concurrency", func(t *testing.T) { t.Parallel(); testConcurrency(t, newStore) })
	t.Run("Sessions", func(t *testing.T) { t.Parallel(); testSessions(t, newStore) })
	t.Run("AuthCodes", func(t *testing.T) { t.Parallel(); testAuthCodes(t, newStore) })
	t.Run("AuthCodeRace", func(t *testing.T) { t.Parallel(); testCodeRace(t, newStore) })
	t.Run("DeviceCodes", func(t *testing.T) { t.Parallel(); testDeviceCodes(t, newStore) })
	t.Run("Consents", func(t *testing.T) { t.Parallel(); testConsents(t, newStore) })
	t.Run("SweepSessionsAndCodes", func(t *testing.T) { t.Parallel(); testSweepSessionsAndCodes(t, newStore) })
	t.Run("TokenExchange", func(t *testing.T) { t.Parallel(); testTokenExchange(t, newStore) })
	t.Run("ParentAndChildAtOnce", func(t *testing.T) { t.Parallel(); testParentAndChildAtOnce(t, newStore) })
	t.Run("DPoPBinding", func(t *testing.T) { t.Parallel(); testDPoPBinding(t, newStore) })
	t.Run("ProfileAndLogoutMetadata", func(t *testing.T) { t.Parallel(); testProfileAndLogoutMetadata(t, newStore) })
	t.Run("EventSessionIDs", func(t *testing.T) { t.Parallel(); testEventSessionIDs(t, newStore) })
	t.Run("Logouts", func(t *testing.T) { t.Parallel(); testLogouts(t, newStore) })
	t.Run("ListUserGrants", func(t *testing.T) { t.Parallel(); testListUserGrants(t, newStore) })
	t.Run("UserEvents", func(t *testing.T) { t.Parallel(); testUserEvents(t, newStore) })
	t.Run("SearchEvents", func(t *testing.T) { t.Parallel(); testSearchEvents(t, newStore) })
	t.Run("KeepSession", func(t *testing.T) { t.Parallel(); testKeepSession(t, newStore) })
	t.Run("Streams", func(t *testing.T) { t.Parallel(); testStreams(t, newStore) })
	t.Run("StreamSETs", func(t *testing.T) { t.Parallel(); testStreamSETs(t, newStore) })
	t.Run("StreamSETRaces", func(t *testing.T) { t.Parallel(); testStreamSETRaces(t, newStore) })
}

// opener opens a fresh store that is closed when t ends.
type opener func(t *testing.T) store.Store

// epoch is the suite's "now". Every time the suite writes is a whole number
// of milliseconds (see Run).
var epoch = time.Date(2030, time.January, 2, 3, 4, 5, 678_000_000, time.UTC)

// at returns epoch+d.
func at(d time.Duration) time.Time { return epoch.Add(d) }

// cmpOpts treats nil and empty slices alike: a backend may return either.
var cmpOpts = []cmp.Option{cmpopts.EquateEmpty()}

// family is a grant with a first access and refresh token, issued at epoch:
// the access token (a JWT: it has a jti and a status list index) lives 1h,
// the refresh token and the grant 24h.
type family struct {
	grant   store.Grant
	access  store.Token
	refresh store.Token
}

func newFamily(id, clientID, subject string) family {
	return family{
		grant: store.Grant{
			ID: id, ClientID: clientID, Subject: subject, Username: "name-of-" + subject,
			Scope: "openid profile", CreatedAt: epoch, ExpiresAt: at(24 * time.Hour),
		},
		access: store.Token{
			Hash: store.HashToken(id + "/access"), Kind: store.AccessToken, GrantID: id,
			JTI: id + "-jti", StatusIndex: statusIndex(id), IssuedAt: epoch, ExpiresAt: at(time.Hour),
		},
		refresh: store.Token{
			Hash: store.HashToken(id + "/refresh"), Kind: store.RefreshToken, GrantID: id,
			IssuedAt: epoch, ExpiresAt: at(24 * time.Hour),
		},
	}
}

func (f family) tokens() []store.Token { return []store.Token{f.access, f.refresh} }

// statusIndex gives the access token of the family named id a status list
// index of its own.
func statusIndex(id string) int64 {
	h := fnv.New32a()
	h.Write([]byte(id))
	return 1 + int64(h.Sum32())
}

// record is what LookupToken should return for tok of f while nothing
// happened to it.
func (f family) record(tok store.Token) store.TokenRecord {
	return store.TokenRecord{
		Token: tok, ClientID: f.grant.ClientID, Subject: f.grant.Subject,
		Username: f.grant.Username, Scope: f.grant.Scope, JKT: f.grant.JKT,
	}
}

// next returns a new access and refresh token for f, issued at iat, named
// by n: what a rotation at iat hands out.
func (f family) next(n int, iat time.Time) (access, refresh store.Token) {
	access = store.Token{
		Hash: store.HashToken(fmt.Sprintf("%s/access/%d", f.grant.ID, n)), Kind: store.AccessToken,
		GrantID: f.grant.ID, IssuedAt: iat, ExpiresAt: iat.Add(time.Hour),
	}
	refresh = store.Token{
		Hash: store.HashToken(fmt.Sprintf("%s/refresh/%d", f.grant.ID, n)), Kind: store.RefreshToken,
		GrantID: f.grant.ID, IssuedAt: iat, ExpiresAt: iat.Add(24 * time.Hour),
	}
	return access, refresh
}

func createFamily(t *testing.T, s store.Store, f family) {
	t.Helper()
	if err := s.CreateGrant(t.Context(), f.grant, f.tokens()); err != nil {
		t.Fatalf("CreateGrant(%s): %v", f.grant.ID, err)
	}
}

func lookup(t *testing.T, s store.Store, h store.Hash) store.TokenRecord {
	t.Helper()
	rec, err := s.LookupToken(t.Context(), h)
	if err != nil {
		t.Fatalf("LookupToken: %v", err)
	}
	return rec
}

// wantRevoked checks that every token of hs is revoked at revokedAt.
func wantRevoked(t *testing.T, s store.Store, revokedAt time.Time, hs ...store.Hash) {
	t.Helper()
	for i, h := range hs {
		rec := lookup(t, s, h)
		if !rec.Revoked || !rec.RevokedAt.Equal(revokedAt) {
			t.Errorf("token %d of grant %s: Revoked, RevokedAt = %v, %v; want true, %v",
				i, rec.GrantID, rec.Revoked, rec.RevokedAt, revokedAt)
		}
	}
}

// wantNotRevoked checks that no token of hs is revoked.
func wantNotRevoked(t *testing.T, s store.Store, hs ...store.Hash) {
	t.Helper()
	for i, h := range hs {
		rec := lookup(t, s, h)
		if rec.Revoked || !rec.RevokedAt.IsZero() {
			t.Errorf("token %d of grant %s: Revoked, RevokedAt = %v, %v; want false, zero",
				i, rec.GrantID, rec.Revoked, rec.RevokedAt)
		}
	}
}

func wantAbsent(t *testing.T, s store.Store, hs ...store.Hash) {
	t.Helper()
	for i, h := range hs {
		if rec, err := s.LookupToken(t.Context(), h); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("LookupToken of token %d = %+v, %v; want ErrNotFound", i, rec, err)
		}
	}
}

// events returns the whole revocation log.
func events(t *testing.T, s store.Store) []store.Event {
	t.Helper()
	evs, err := s.Events(t.Context(), 0, 10_000)
	if err != nil {
		t.Fatalf("Events: %v", err)
	}
	for i := 1; i < len(evs); i++ {
		if evs[i].Seq <= evs[i-1].Seq {
			t.Errorf("event %d: Seq %d after %d; want strictly increasing", i, evs[i].Seq, evs[i-1].Seq)
		}
	}
	return evs
}

// lastSeq is the Seq of the last event, 0 if none.
func lastSeq(evs []store.Event) int64 {
	if len(evs) == 0 {
		return 0
	}
	return evs[len(evs)-1].Seq
}

// event is the event that revoking f with rev writes when tokens of f's
// tokens are live (unexpired and not rotated) and covered are those
// unexpired at rev.Time, rotated ones included.
func event(f family, rev store.Revocation, tokens int, covered ...store.Token) store.Event {
	e := store.Event{
		Time: rev.Time, GrantID: f.grant.ID, ClientID: f.grant.ClientID, Subject: f.grant.Subject,
		SessionID: f.grant.SessionID, Reason: rev.Reason, Actor: rev.Actor, Tokens: tokens,
	}
	for _, tok := range covered {
		e.TokenHashes = append(e.TokenHashes, tok.Hash)
		if tok.JTI != "" {
			e.JTIs = append(e.JTIs, tok.JTI)
		}
		if tok.StatusIndex != 0 {
			e.StatusIndexes = append(e.StatusIndexes, tok.StatusIndex)
		}
		if tok.ExpiresAt.After(e.ExpiresAt) {
			e.ExpiresAt = tok.ExpiresAt
		}
	}
	return e
}

// eventOpts compare events ignoring Seq (the suite checks it apart) and
// the order of what an event covers, which the suite does not fix.
var eventOpts = append([]cmp.Option{
	cmpopts.IgnoreFields(store.Event{}, "Seq"),
	cmpopts.SortSlices(func(a, b store.Hash) bool { return bytes.Compare(a[:], b[:]) < 0 }),
	cmpopts.SortSlices(func(a, b string) bool { return a < b }),
	cmpopts.SortSlices(func(a, b int64) bool { return a < b }),
}, cmpOpts...)

// wantEvents compares evs, ignoring Seq, with want, in order.
func wantEvents(t *testing.T, evs, want []store.Event) {
	t.Helper()
	if diff := cmp.Diff(evs, want, eventOpts...); diff != "" {
		t.Errorf("events (-got +want):\n%s", diff)
	}
}

// wantEventSet is wantEvents for events whose order the suite does not fix.
func wantEventSet(t *testing.T, evs, want []store.Event) {
	t.Helper()
	byGrant := cmpopts.SortSlices(func(a, b store.Event) bool { return a.GrantID < b.GrantID })
	if diff := cmp.Diff(evs, want, append([]cmp.Option{byGrant}, eventOpts...)...); diff != "" {
		t.Errorf("events (-got +want):\n%s", diff)
	}
}

func wantResult(t *testing.T, what string, got, want store.RevokeResult) {
	t.Helper()
	if got != want {
		t.Errorf("%s = %+v; want %+v", what, got, want)
	}
}

func cancelled(t *testing.T) context.Context {
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	return ctx
}

var errBoom = errors.New("boom")
