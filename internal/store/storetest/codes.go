package storetest

import (
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/tokend/tokend/internal/store"
)

// sampleCode is the code named name that client c1 obtained for alice
// (u1) in session s1 at epoch, living 60s, bound to a DPoP key so that
// every read shows the binding kept.
func sampleCode(name string) store.AuthCode {
	return store.AuthCode{
		Hash: store.HashToken(name), ClientID: "c1", RedirectURI: "https://app.example/cb",
		CodeChallenge: "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM", UserID: "u1", Username: "alice",
		SessionID: "s1", Scope: "openid profile", Nonce: "n-0S6_WzA2Mj",
		AuthTime: epoch, CreatedAt: epoch, ExpiresAt: at(time.Minute),
		JKT: "0ZcOCORZNYy-DWpqq30jZyJGHTN0d2HglBV3uiguA4I",
	}
}

// codeGrant is the family an exchange of a code of c1 for u1 creates; its
// grant names no session, which the store takes from the code.
func codeGrant(id string) family {
	f := newFamily(id, "c1", "u1")
	f.grant.Username = "alice"
	return f
}

// codeReuse is the revocation of a second exchange by c1 at epoch+d.
func codeReuse(d time.Duration) store.Revocation {
	return store.Revocation{Time: at(d), Reason: store.ReasonCodeReuse, Actor: "c1"}
}

func createCode(t *testing.T, s store.Store, c store.AuthCode) {
	t.Helper()
	if err := s.CreateAuthCode(t.Context(), c); err != nil {
		t.Fatalf("CreateAuthCode: %v", err)
	}
}

func exchange(s store.Store, t *testing.T, c store.AuthCode, now time.Duration, f family) (store.AuthCode, error) {
	return s.ExchangeAuthCode(t.Context(), c.Hash, at(now), f.grant, f.tokens(), codeReuse(now))
}

func testAuthCodes(t *testing.T, open opener) {
	t.Run("create get", func(t *testing.T) { testCodeCreateGet(t, open) })
	t.Run("exchange and replay", func(t *testing.T) { testCodeExchange(t, open) })
	t.Run("refused", func(t *testing.T) { testCodeRefused(t, open) })
}

func testCodeCreateGet(t *testing.T, open opener) {
	s := open(t)
	c := sampleCode("code")
	createCode(t, s, c)
	got, err := s.GetAuthCode(t.Context(), c.Hash, at(59*time.Second))
	if err != nil {
		t.Fatalf("GetAuthCode: %v", err)
	}
	if diff := cmp.Diff(got, c); diff != "" {
		t.Errorf("GetAuthCode (-got +want):\n%s", diff)
	}
	if err := s.CreateAuthCode(t.Context(), c); !errors.Is(err, store.ErrAlreadyExists) {
		t.Errorf("CreateAuthCode of an existing hash = %v; want ErrAlreadyExists", err)
	}
	if _, err := s.GetAuthCode(t.Context(), c.Hash, at(time.Minute)); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("GetAuthCode at its expiry = %v; want ErrNotFound", err)
	}
	if _, err := s.GetAuthCode(t.Context(), store.HashToken("nope"), epoch); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("GetAuthCode(nope) = %v; want ErrNotFound", err)
	}
}

// testCodeExchange: the first exchange creates the grant in the code's
// session; a second revokes it, logs code_reuse and creates nothing; a
// third finds the grant revoked already and logs nothing.
func testCodeExchange(t *testing.T, open opener) {
	s := open(t)
	c := sampleCode("code")
	createCode(t, s, c)
	f := codeGrant("g1")
	got, err := exchange(s, t, c, 10*time.Second, f)
	if err != nil {
		t.Fatalf("ExchangeAuthCode: %v", err)
	}
	if diff := cmp.Diff(got, c); diff != "" {
		t.Errorf("ExchangeAuthCode (-got +want):\n%s", diff)
	}
	f.grant.SessionID = "s1"
	want := f.record(f.access)
	want.SessionID = "s1"
	if diff := cmp.Diff(lookup(t, s, f.access.Hash), want); diff != "" {
		t.Errorf("LookupToken of the exchange's token (-got +want):\n%s", diff)
	}
	if _, err := s.GetAuthCode(t.Context(), c.Hash, at(20*time.Second)); err != nil {
		t.Errorf("GetAuthCode of a used code = %v; want it", err)
	}

	second := codeGrant("g2")
	if _, err := exchange(s, t, c, 20*time.Second, second); !errors.Is(err, store.ErrCodeReused) {
		t.Fatalf("second ExchangeAuthCode = %v; want ErrCodeReused", err)
	}
	wantRevoked(t, s, at(20*time.Second), f.access.Hash, f.refresh.Hash)
	wantAbsent(t, s, second.access.Hash, second.refresh.Hash)
	wantEvents(t, events(t, s), []store.Event{event(f, codeReuse(20*time.Second), 2, f.tokens()...)})

	if _, err := exchange(s, t, c, 30*time.Second, codeGrant("g3")); !errors.Is(err, store.ErrCodeReused) {
		t.Fatalf("third ExchangeAuthCode = %v; want ErrCodeReused", err)
	}
	if n := len(events(t, s)); n != 1 {
		t.Errorf("%d events after the third exchange; want 1", n)
	}
}

// testCodeRefused: an unknown or expired code, or one of another client
// or user, creates nothing and marks nothing used.
func testCodeRefused(t *testing.T, open opener) {
	s := open(t)
	c := sampleCode("code")
	createCode(t, s, c)
	otherClient, otherUser := codeGrant("g1"), codeGrant("g2")
	otherClient.grant.ClientID = "c2"
	otherUser.grant.Subject = "u2"
	for _, x := range []struct {
		name string
		code store.AuthCode
		now  time.Duration
		f    family
	}{
		{"unknown", sampleCode("other"), 0, codeGrant("g3")},
		{"expired", c, time.Minute, codeGrant("g4")},
		{"other client", c, 0, otherClient},
		{"other user", c, 0, otherUser},
	} {
		if _, err := exchange(s, t, x.code, x.now, x.f); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("ExchangeAuthCode, %s = %v; want ErrNotFound", x.name, err)
		}
		wantAbsent(t, s, x.f.access.Hash)
	}
	f := codeGrant("g5")
	if _, err := exchange(s, t, c, 59*time.Second, f); err != nil {
		t.Errorf("ExchangeAuthCode after the refusals = %v; want success", err)
	}
}

// testCodeRace: of parallel exchanges of one code exactly one succeeds;
// the others get ErrCodeReused, and the grant ends revoked.
func testCodeRace(t *testing.T, open opener) {
	s := open(t)
	c := sampleCode("code")
	createCode(t, s, c)
	const n = 8
	var wg sync.WaitGroup
	errs := make([]error, n)
	for i := range n {
		wg.Go(func() {
			_, errs[i] = exchange(s, t, c, time.Second, codeGrant(fmt.Sprint("g", i)))
		})
	}
	wg.Wait()
	won := -1
	for i, err := range errs {
		switch {
		case err == nil && won < 0:
			won = i
		case err == nil:
			t.Errorf("exchanges %d and %d both succeeded", won, i)
		case !errors.Is(err, store.ErrCodeReused):
			t.Errorf("exchange %d = %v; want ErrCodeReused", i, err)
		}
	}
	if won < 0 {
		t.Fatal("no exchange succeeded")
	}
	f := codeGrant(fmt.Sprint("g", won))
	wantRevoked(t, s, at(time.Second), f.access.Hash, f.refresh.Hash)
	if evs := events(t, s); len(evs) != 1 || evs[0].GrantID != f.grant.ID || evs[0].Reason != store.ReasonCodeReuse {
		t.Errorf("events = %+v; want one code_reuse of %s", evs, f.grant.ID)
	}
}

// sampleConsent is alice's (u1) consent to clientID at epoch+d.
func sampleConsent(clientID, scope string, d time.Duration) store.Consent {
	return store.Consent{UserID: "u1", ClientID: clientID, Scope: scope, CreatedAt: at(d), UpdatedAt: at(d)}
}

func putConsent(t *testing.T, s store.Store, c store.Consent) {
	t.Helper()
	if err := s.PutConsent(t.Context(), c); err != nil {
		t.Fatalf("PutConsent: %v", err)
	}
}

func testConsents(t *testing.T, open opener) {
	s := open(t)
	putConsent(t, s, sampleConsent("c2", "openid", 0))
	putConsent(t, s, sampleConsent("c1", "openid", 0))
	putConsent(t, s, sampleConsent("c1", "openid email", time.Hour))
	want := store.Consent{UserID: "u1", ClientID: "c1", Scope: "openid email", CreatedAt: epoch, UpdatedAt: at(time.Hour)}
	got, err := s.GetConsent(t.Context(), "u1", "c1")
	if err != nil || !cmp.Equal(got, want) {
		t.Errorf("GetConsent = %+v, %v; want %+v", got, err, want)
	}
	if _, err := s.GetConsent(t.Context(), "u2", "c1"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("GetConsent of another user = %v; want ErrNotFound", err)
	}
	list, err := s.ListConsents(t.Context(), "u1")
	if diff := cmp.Diff(list, []store.Consent{want, sampleConsent("c2", "openid", 0)}); err != nil || diff != "" {
		t.Errorf("ListConsents = %v (-got +want):\n%s", err, diff)
	}

	mine, theirs, other := newFamily("mine", "c1", "u1"), newFamily("theirs", "c1", "u2"), newFamily("other", "c2", "u1")
	for _, f := range []family{mine, theirs, other} {
		createFamily(t, s, f)
	}
	rev := store.Revocation{Time: at(2 * time.Hour), Reason: store.ReasonConsentRevoked, Actor: "alice"}
	res, err := s.DeleteConsent(t.Context(), "u1", "c1", rev)
	if err != nil {
		t.Fatalf("DeleteConsent: %v", err)
	}
	evs := events(t, s)
	wantResult(t, "DeleteConsent", res, store.RevokeResult{Grants: 1, Tokens: 1, Seq: lastSeq(evs)})
	wantEvents(t, evs, []store.Event{event(mine, rev, 1, mine.refresh)})
	wantRevoked(t, s, rev.Time, mine.refresh.Hash)
	wantNotRevoked(t, s, theirs.refresh.Hash, other.refresh.Hash)
	if _, err := s.GetConsent(t.Context(), "u1", "c1"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("GetConsent after DeleteConsent = %v; want ErrNotFound", err)
	}
	if _, err := s.DeleteConsent(t.Context(), "u1", "c1", rev); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("second DeleteConsent = %v; want ErrNotFound", err)
	}
	// Deleting a client forgets the consents given to it.
	if err := s.CreateClient(t.Context(), sampleClient("c2")); err != nil {
		t.Fatalf("CreateClient: %v", err)
	}
	if _, err := s.DeleteClient(t.Context(), "c2", rev); err != nil {
		t.Fatalf("DeleteClient: %v", err)
	}
	if got, err := s.ListConsents(t.Context(), "u1"); err != nil || len(got) != 0 {
		t.Errorf("ListConsents after DeleteClient = %v, %v; want none", got, err)
	}
}

// testSweepSessionsAndCodes: DeleteExpired deletes the codes expired at
// now and the sessions that ended or expired a day or more before now,
// in batches of limit.
func testSweepSessionsAndCodes(t *testing.T, open opener) {
	s := open(t)
	for i, exp := range []time.Duration{time.Minute, time.Minute, 2 * time.Hour} {
		c := sampleCode(fmt.Sprint("code", i))
		c.ExpiresAt = at(exp)
		createCode(t, s, c)
	}
	live, ended, expired, recent := sampleSession("live", 0), sampleSession("ended", 0), sampleSession("expired", 0), sampleSession("recent", 0)
	expired.ExpiresAt = at(time.Hour)
	for _, sess := range []store.Session{live, ended, expired, recent} {
		createSession(t, s, sess)
	}
	for id, d := range map[string]time.Duration{"ended": time.Hour, "recent": 3 * time.Hour} {
		if _, err := s.EndSession(t.Context(), id, at(d), sessionEnded(d)); err != nil {
			t.Fatalf("EndSession(%s): %v", id, err)
		}
	}
	now := at(store.SessionRetention + 2*time.Hour)
	if got, want := sweep(t, s, now, 1), (store.SweepResult{Codes: 1, Sessions: 1}); got != want {
		t.Errorf("DeleteExpired, limit 1 = %+v; want %+v", got, want)
	}
	if got, want := sweep(t, s, now, 10), (store.SweepResult{Codes: 2, Sessions: 1}); got != want {
		t.Errorf("DeleteExpired = %+v; want %+v", got, want)
	}
	if got := sweep(t, s, now, 10); got != (store.SweepResult{}) {
		t.Errorf("third DeleteExpired = %+v; want nothing", got)
	}
	for _, id := range []string{"live", "recent"} {
		getSession(t, s, id)
	}
	for _, id := range []string{"ended", "expired"} {
		if _, err := s.GetSession(t.Context(), id); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("GetSession(%s) after the sweep = %v; want ErrNotFound", id, err)
		}
	}
}
