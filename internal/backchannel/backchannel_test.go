package backchannel_test

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/tokend/tokend/internal/backchannel"
	"github.com/tokend/tokend/internal/revocation"
	"github.com/tokend/tokend/internal/store"
	"github.com/tokend/tokend/internal/store/postgres"
)

// counts is an Observer that keeps what it is told.
type counts struct {
	mu       sync.Mutex
	outcomes map[string]int
}

func (c *counts) BackchannelLogout(outcome string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.outcomes == nil {
		c.outcomes = map[string]int{}
	}
	c.outcomes[outcome]++
}

func (c *counts) BackchannelPending(int64) {}

func (c *counts) get(outcome string) int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.outcomes[outcome]
}

// TestSessionRevokedOneTokenPerClient: when a session ends, each client
// that had grants in it and registered a back-channel logout URI gets one
// Logout Token, however many of its grants were revoked, signed with a
// key of the server's JWKS and naming the session and the user; a client
// without a URI, a revocation outside a session and a client's own
// revocation request send nothing; a later password change, which
// revokes the grant the sign-out left (offline_access), sends one more.
func TestSessionRevokedOneTokenPerClient(t *testing.T) {
	st, jwts := newSQLite(t), newJWTs(t)
	rp1, rp2 := newReceiver(t, nil), newReceiver(t, nil)
	s := newSeed(t, st)
	s.client(t, "rp1", rp1.URL+"/bc")
	s.client(t, "rp2", rp2.URL+"/bc")
	s.client(t, "silent", "")
	s.session(t, "s1", "u1")
	s.grant(t, "g1", "rp1", "u1", "s1", "openid")
	s.grant(t, "g2", "rp1", "u1", "s1", "openid profile")
	s.grant(t, "g3", "rp2", "u1", "s1", "openid")
	s.grant(t, "g4", "silent", "u1", "s1", "openid")
	s.grant(t, "offline", "rp1", "u1", "s1", "openid offline_access")
	s.grant(t, "nosession", "rp1", "u2", "", "openid")
	s.grant(t, "own", "rp2", "u2", "s2", "openid")
	cfg := fast(st, jwts)
	log := logTo(&cfg)
	start(t, cfg)

	if res, err := s.engine.EndSession(t.Context(), "s1", "alice"); err != nil || res.Grants != 4 {
		t.Fatalf("EndSession = %+v, %v; want 4 grants revoked", res, err)
	}
	jwks := jwts.Keys.JWKS()
	jtis := map[any]bool{}
	for _, rp := range []struct {
		r  *receiver
		id string
	}{{rp1, "rp1"}, {rp2, "rp2"}} {
		c := logoutClaims(t, rp.r.waitFor(t, 1)[0], jwks, rp.id, backchannel.DefaultTokenTTL)
		if c["sid"] != "s1" || c["sub"] != "u1" {
			t.Errorf("%s: sid %v sub %v; want s1 u1", rp.id, c["sid"], c["sub"])
		}
		jtis[c["jti"]] = true
	}
	if len(jtis) != 2 {
		t.Errorf("the two tokens share a jti")
	}

	if _, err := s.engine.RevokeBulk(t.Context(), revocation.Bulk{Subject: "u2", ClientID: "rp1"}); err != nil {
		t.Fatal(err)
	}
	own := store.Revocation{Time: time.Now(), Reason: store.ReasonClientRequest, Actor: "rp2"}
	if _, _, err := st.RevokeToken(t.Context(), store.HashToken("own"), store.RefreshToken, "rp2", own); err != nil {
		t.Fatal(err)
	}
	if _, err := s.engine.ChangePassword(t.Context(), "alice", "alice", func(u store.User) (store.User, error) { return u, nil }); err != nil {
		t.Fatal(err)
	}
	c := logoutClaims(t, rp1.waitFor(t, 2)[1], jwks, "rp1", backchannel.DefaultTokenTTL)
	if c["sid"] != "s1" || c["sub"] != "u1" || jtis[c["jti"]] {
		t.Errorf("after the password change: sid %v sub %v jti %v; want s1, u1, a new jti", c["sid"], c["sub"], c["jti"])
	}
	tok2 := rp2.waitFor(t, 1)[0]
	waitCount(t, st, store.LogoutDelivered, 3)
	if l := log.String(); strings.Contains(l, tok2) || strings.Count(l, "backchannel logout delivered") != 3 || !strings.Contains(l, "client=rp2") {
		t.Errorf("the log holds a token, or not the three deliveries by client:\n%s", l)
	}
	if n, err := st.CountLogouts(t.Context(), store.LogoutPending); err != nil || n != 0 {
		t.Errorf("%d deliveries pending (%v); want none: nothing queued for silent, the sessionless grant or rp2's own request", n, err)
	}
}

// TestRetriedUntilDelivered: a relying party that fails twice gets the
// Logout Token at the third attempt, each attempt with a token of its own.
func TestRetriedUntilDelivered(t *testing.T) {
	st, jwts := newSQLite(t), newJWTs(t)
	rp := newReceiver(t, func(n int) int {
		switch n {
		case 1:
			return http.StatusInternalServerError
		case 2:
			return http.StatusServiceUnavailable
		}
		return http.StatusOK
	})
	s := newSeed(t, st)
	s.client(t, "rp", rp.URL)
	s.session(t, "s1", "u1")
	s.grant(t, "g1", "rp", "u1", "s1", "openid")
	obs := &counts{}
	cfg := fast(st, jwts)
	cfg.Observer = obs
	stop := start(t, cfg)
	if _, err := s.engine.EndSession(t.Context(), "s1", "alice"); err != nil {
		t.Fatal(err)
	}
	logoutClaims(t, rp.waitFor(t, 1)[0], jwts.Keys.JWKS(), "rp", backchannel.DefaultTokenTTL)
	if _, _, n := rp.received(); n != 3 {
		t.Errorf("%d requests; want 3", n)
	}
	waitCount(t, st, store.LogoutDelivered, 1)
	stop() // an outcome is counted once its record is written: wait for the count too
	if obs.get(backchannel.OutcomeRetried) != 2 || obs.get(backchannel.OutcomeDelivered) != 1 {
		t.Errorf("observed %v; want 2 retried, 1 delivered", obs.outcomes)
	}
}

// TestAbandonedPastHorizon: a relying party that never answers 2xx is
// tried until the retry horizon, then given up.
func TestAbandonedPastHorizon(t *testing.T) {
	st, jwts := newSQLite(t), newJWTs(t)
	rp := newReceiver(t, func(int) int { return http.StatusBadGateway })
	s := newSeed(t, st)
	s.client(t, "rp", rp.URL)
	s.session(t, "s1", "u1")
	s.grant(t, "g1", "rp", "u1", "s1", "openid")
	obs := &counts{}
	cfg := fast(st, jwts)
	cfg.Observer, cfg.Horizon = obs, 500*time.Millisecond
	stop := start(t, cfg)
	if _, err := s.engine.EndSession(t.Context(), "s1", "alice"); err != nil {
		t.Fatal(err)
	}
	waitCount(t, st, store.LogoutAbandoned, 1)
	stop() // an outcome is counted once its record is written: wait for the count too
	// The last attempt is abandoned after its request failed, or before
	// sending one when it comes due past the horizon. How many attempts
	// fit in the horizon depends on the machine's speed: on a busy one
	// the first retry may already come due past it.
	_, _, n := rp.received()
	if retried := obs.get(backchannel.OutcomeRetried); n < 1 || obs.get(backchannel.OutcomeAbandoned) != 1 || retried < n-1 || retried > n {
		t.Errorf("%d requests, observed %v; want requests each retried but the last, then abandoned", n, obs.outcomes)
	}
}

// TestBoundedRequests: a redirect is not followed (the attempt failed), an
// answer that never ends does not hold the attempt (it succeeded), and a
// relying party that does not answer is given up on at the timeout.
func TestBoundedRequests(t *testing.T) {
	st, jwts := newSQLite(t), newJWTs(t)
	var mu sync.Mutex
	hits := map[string]int{}
	release := make(chan struct{}) // lets the hanging handler end, before the server closes
	endless := 0                   // bytes the endless answer wrote before the client hung up
	rp := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		hits[r.URL.Path]++
		mu.Unlock()
		switch r.URL.Path {
		case "/redirect":
			http.Redirect(w, r, "/elsewhere", http.StatusTemporaryRedirect)
		case "/endless":
			w.WriteHeader(http.StatusOK)
			for n := 0; r.Context().Err() == nil; n++ {
				if _, err := w.Write(make([]byte, 64<<10)); err != nil {
					mu.Lock()
					endless = max(endless, n*64<<10)
					mu.Unlock()
					return
				}
			}
		case "/hang":
			select {
			case <-r.Context().Done():
			case <-release:
			}
		case "/elsewhere":
			w.WriteHeader(http.StatusOK)
		}
	}))
	t.Cleanup(rp.Close)
	t.Cleanup(func() { close(release) })
	s := newSeed(t, st)
	s.session(t, "s1", "u1")
	for _, path := range []string{"/redirect", "/endless", "/hang"} {
		id := strings.TrimPrefix(path, "/")
		s.client(t, id, rp.URL+path)
		s.grant(t, "g-"+id, id, "u1", "s1", "openid")
	}
	cfg := fast(st, jwts)
	cfg.Timeout = 300 * time.Millisecond
	start(t, cfg)
	if _, err := s.engine.EndSession(t.Context(), "s1", "alice"); err != nil {
		t.Fatal(err)
	}
	waitCount(t, st, store.LogoutDelivered, 1)
	time.Sleep(time.Second)
	mu.Lock()
	defer mu.Unlock()
	if hits["/elsewhere"] != 0 || hits["/redirect"] < 2 {
		t.Errorf("redirect: %d requests, %d followed; want retried, never followed", hits["/redirect"], hits["/elsewhere"])
	}
	// The client reads a few KiB and hangs up; the socket buffers take
	// a few MiB more. Read to the end, the answer would run for the whole
	// timeout, hundreds of MiB on a loopback.
	if hits["/endless"] != 1 || endless > 32<<20 {
		t.Errorf("endless answer: %d requests, %d MiB sent; want 1, delivered, and little read", hits["/endless"], endless>>20)
	}
	if hits["/hang"] < 2 {
		t.Errorf("no answer: %d requests; want it timed out and retried", hits["/hang"])
	}
}

// TestDeliveredAcrossRestart: a relying party that is down while the
// session ends, and while the follower restarts, gets its Logout Token
// once it is up, from the restarted follower; so does the one of a
// revocation logged while no follower ran. The cursor and the queue are
// in the SQLite file.
func TestDeliveredAcrossRestart(t *testing.T) {
	path, jwts := filepath.Join(t.TempDir(), "tokend.db"), newJWTs(t)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close() // down: connections are refused
	st := openSQLite(t, path)
	s := newSeed(t, st)
	s.client(t, "rp", "http://"+addr+"/bc")
	s.session(t, "s1", "u1")
	s.session(t, "s2", "u1")
	s.grant(t, "g1", "rp", "u1", "s1", "openid")
	s.grant(t, "g2", "rp", "u1", "s2", "openid")
	obs := &counts{}
	cfg := fast(st, jwts)
	cfg.Observer = obs
	log := logTo(&cfg)
	stop := start(t, cfg)
	if _, err := s.engine.EndSession(t.Context(), "s1", "alice"); err != nil {
		t.Fatal(err)
	}
	for deadline := time.Now().Add(10 * time.Second); obs.get(backchannel.OutcomeRetried) == 0; time.Sleep(10 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("no attempt failed while the relying party was down")
		}
	}
	stop()
	// The cause, without the client's URL, which may hold a secret.
	if l := log.String(); !strings.Contains(l, "will retry") || !strings.Contains(l, "client=rp") || strings.Contains(l, "/bc") {
		t.Errorf("the log does not name the client and the failure, or names its URL:\n%s", l)
	}
	if _, err := s.engine.EndSession(t.Context(), "s2", "alice"); err != nil {
		t.Fatal(err)
	}
	st.Close()

	ln, err = net.Listen("tcp", addr)
	if err != nil {
		t.Skipf("cannot listen on %s again: %v", addr, err)
	}
	rp := receiveOn(t, ln, nil)
	st = openSQLite(t, path)
	start(t, fast(st, jwts))
	sids := map[any]int{}
	for _, tok := range rp.waitFor(t, 2) {
		sids[logoutClaims(t, tok, jwts.Keys.JWKS(), "rp", backchannel.DefaultTokenTTL)["sid"]]++
	}
	if sids["s1"] != 1 || sids["s2"] != 1 {
		t.Errorf("sessions logged out %v; want s1 and s2 once each", sids)
	}
}

// TestTwoFollowersOnePostgres: two followers, as two instances would run
// them, on one PostgreSQL database deliver each Logout Token exactly once.
func TestTwoFollowersOnePostgres(t *testing.T) {
	dsn := os.Getenv("TOKEND_TEST_POSTGRES_DSN")
	if dsn == "" {
		dsn = "postgres://postgres@127.0.0.1:5432/test?sslmode=disable"
	}
	schema := freshSchema(t, dsn)
	open := func() store.Store {
		st, err := postgres.Open(t.Context(), dsn, postgres.Options{Schema: schema})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { st.Close() })
		return st
	}
	st1, st2 := open(), open()
	jwts := newJWTs(t)
	var mu sync.Mutex
	got := map[string]int{} // by client and sid
	rp := newReceiver(t, nil)
	s := newSeed(t, st1)
	const clients, sessions = 3, 20
	for c := range clients {
		s.client(t, clientName(c), rp.URL)
	}
	for i := range sessions {
		sid := "s" + string(rune('a'+i))
		s.session(t, sid, "u1")
		for c := range clients {
			s.grant(t, sid+clientName(c)+"1", clientName(c), "u1", sid, "openid")
			s.grant(t, sid+clientName(c)+"2", clientName(c), "u1", sid, "openid")
		}
	}
	start(t, fast(st1, jwts))
	start(t, fast(st2, jwts))
	for i := range sessions {
		if _, err := s.engine.EndSession(t.Context(), "s"+string(rune('a'+i)), "alice"); err != nil {
			t.Fatal(err)
		}
	}
	for _, tok := range rp.waitFor(t, clients*sessions) {
		c := logoutClaims(t, tok, jwts.Keys.JWKS(), "", backchannel.DefaultTokenTTL)
		mu.Lock()
		got[c["aud"].(string)+" "+c["sid"].(string)]++
		mu.Unlock()
	}
	if len(got) != clients*sessions {
		t.Errorf("%d distinct (client, session) logouts; want %d", len(got), clients*sessions)
	}
}

func clientName(i int) string { return "rp" + string(rune('0'+i)) }

// freshSchema names a schema that does not exist yet, dropped when t ends;
// t is skipped when PostgreSQL cannot be reached, unless
// TOKEND_REQUIRE_POSTGRES=1.
func freshSchema(t *testing.T, dsn string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, dsn)
	if err != nil {
		if os.Getenv("TOKEND_REQUIRE_POSTGRES") == "1" {
			t.Fatalf("PostgreSQL is required: %v", err)
		}
		t.Skipf("PostgreSQL unreachable: %v", err)
	}
	conn.Close(ctx)
	name := "tokend_bcl_" + strings.ToLower(strings.ReplaceAll(t.Name(), "/", "_")) + "_" + time.Now().Format("150405000")
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		conn, err := pgx.Connect(ctx, dsn)
		if err != nil {
			t.Errorf("dropping schema %s: %v", name, err)
			return
		}
		defer conn.Close(ctx)
		if _, err := conn.Exec(ctx, `DROP SCHEMA IF EXISTS `+pgx.Identifier{name}.Sanitize()+` CASCADE`); err != nil {
			t.Errorf("dropping schema %s: %v", name, err)
		}
	})
	return name
}

// stoppingStore is a store whose FinishLogouts first stops the follower,
// as a shutdown that comes just after the client answered.
type stoppingStore struct {
	store.Store
	stop context.CancelFunc
}

func (s stoppingStore) FinishLogouts(ctx context.Context, claim string, at time.Time, outcomes []store.LogoutOutcome) error {
	s.stop()
	return s.Store.FinishLogouts(ctx, claim, at, outcomes)
}

// TestAnswerRecordedWhenStopping: a client's answer is recorded although
// the follower stops between the answer and the record, so a restart
// does not send the token again.
func TestAnswerRecordedWhenStopping(t *testing.T) {
	st, jwts := newSQLite(t), newJWTs(t)
	rp := newReceiver(t, nil)
	s := newSeed(t, st)
	s.client(t, "rp", rp.URL)
	s.session(t, "s1", "u1")
	s.grant(t, "g1", "rp", "u1", "s1", "openid")
	if _, err := s.engine.EndSession(t.Context(), "s1", "alice"); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	f := backchannel.New(fast(stoppingStore{Store: st, stop: cancel}, jwts))
	f.Start(ctx)
	f.Wait()
	if _, _, n := rp.received(); n != 1 {
		t.Fatalf("%d requests; want 1", n)
	}
	if n, err := st.CountLogouts(t.Context(), store.LogoutDelivered); err != nil || n != 1 {
		t.Errorf("%d deliveries recorded delivered (%v); want 1", n, err)
	}
}

// TestStopReleasesAnInterruptedDelivery: a follower stopped while a
// client has not answered yet gives the delivery back, due at once, so the
// next start sends it without waiting for the claim's lease (a minute by
// default) to lapse.
func TestStopReleasesAnInterruptedDelivery(t *testing.T) {
	st, jwts := newSQLite(t), newJWTs(t)
	arrived, gate := make(chan struct{}, 1), make(chan struct{})
	var mu sync.Mutex
	var delivered []string
	var calls int
	rp := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		calls++
		first := calls == 1
		mu.Unlock()
		if first { // hangs until the follower gives up on it
			arrived <- struct{}{}
			select {
			case <-gate:
			case <-r.Context().Done():
			}
			w.WriteHeader(http.StatusServiceUnavailable)
			return
		}
		_ = r.ParseForm()
		mu.Lock()
		delivered = append(delivered, r.PostForm.Get("logout_token"))
		mu.Unlock()
	}))
	defer rp.Close()
	defer close(gate)
	s := newSeed(t, st)
	s.client(t, "rp", rp.URL+"/bc")
	s.session(t, "s1", "u1")
	s.grant(t, "g1", "rp", "u1", "s1", "openid")
	cfg := fast(st, jwts)
	cfg.Timeout = 30 * time.Second // the lease, a minute, outlasts the test
	stop := start(t, cfg)
	if _, err := s.engine.EndSession(t.Context(), "s1", "alice"); err != nil {
		t.Fatal(err)
	}
	select {
	case <-arrived:
	case <-time.After(10 * time.Second):
		t.Fatal("the first attempt never reached the relying party")
	}
	stop()
	start(t, cfg)
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(10 * time.Millisecond) {
		mu.Lock()
		n := len(delivered)
		mu.Unlock()
		if n == 1 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the interrupted delivery was not sent after the restart: its claim was not released")
		}
	}
}

// countingFinish counts the writes that record deliveries' outcomes.
type countingFinish struct {
	store.Store
	mu     sync.Mutex
	writes int
	total  int
}

func (s *countingFinish) FinishLogouts(ctx context.Context, claim string, at time.Time, outcomes []store.LogoutOutcome) error {
	s.mu.Lock()
	s.writes++
	s.total += len(outcomes)
	s.mu.Unlock()
	return s.Store.FinishLogouts(ctx, claim, at, outcomes)
}

// TestRunRecordedInOneWrite: the Logout Tokens of ten clients, queued
// together, are claimed as one run and their outcomes recorded in one
// write, although Workers attempts run at a time.
func TestRunRecordedInOneWrite(t *testing.T) {
	st, jwts := newSQLite(t), newJWTs(t)
	rp := newReceiver(t, nil)
	s := newSeed(t, st)
	s.session(t, "s1", "u1")
	for i := range 10 {
		id := fmt.Sprintf("rp%d", i)
		s.client(t, id, rp.URL)
		s.grant(t, "g-"+id, id, "u1", "s1", "openid")
	}
	if _, err := s.engine.EndSession(t.Context(), "s1", "alice"); err != nil {
		t.Fatal(err)
	}
	counting := &countingFinish{Store: st}
	cfg := fast(counting, jwts)
	cfg.Workers = 3
	start(t, cfg)
	waitCount(t, st, store.LogoutDelivered, 10)
	counting.mu.Lock()
	defer counting.mu.Unlock()
	if counting.writes != 1 || counting.total != 10 {
		t.Errorf("%d writes recorded %d outcomes; want the ten in one", counting.writes, counting.total)
	}
}
