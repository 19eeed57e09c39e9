package ssfhttp_test

import (
	"crypto/sha256"
	"encoding/base64"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/tokend/tokend/internal/oauth"
	"github.com/tokend/tokend/internal/scim"
	"github.com/tokend/tokend/internal/ssf"
	"github.com/tokend/tokend/internal/ssfhttp"
	"github.com/tokend/tokend/internal/store"
	ts "github.com/tokend/tokend/internal/testserver"
)

const patchOp = `{"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],"Operations":`

// TestPasswordChangeOnPollStream: a poll that waits (long polling) is
// answered when alice's password is changed over SCIM: one
// credential-change SET for her, whatever number of grants the change
// revoked; acknowledged, it never comes again. A stream that asked for
// the grant-revoked events gets one per grant, naming its tokens.
func TestPasswordChangeOnPollStream(t *testing.T) {
	s := ts.New(t, ts.WithSSF(nil))
	rxID, rx := receiverClient(t, s, "rx", true)
	alice := s.User("alice", false)
	c1, s1 := s.Client("app1")
	c2, s2 := s.Client("app2")
	a1, a2 := s.PasswordTokens(c1, s1, "alice"), s.PasswordTokens(c2, s2, "alice")
	cc := create(t, s, `{"events_requested":["`+ssf.EventCredentialChange+`"]}`, rx).StreamID
	gr := create(t, s, `{"events_requested":["`+ssf.EventGrantRevoked+`"]}`, rx).StreamID

	answered := make(chan ssf.PollResponse, 1)
	go func() { answered <- poll(t, s, cc, `{"maxEvents":10}`, rx) }()
	r := s.Do(http.MethodPatch, scim.PathUsers+"/"+alice.ID, patchOp+`[{"op":"replace","path":"password","value":"a brand new password"}]}`, ts.AdminBearer)
	if r.Status != http.StatusOK {
		t.Fatalf("password change: %d %s", r.Status, r.Body)
	}
	got := <-answered
	if len(got.Sets) != 1 {
		t.Fatalf("long poll got %d SETs; want the one credential change", len(got.Sets))
	}
	var jti string
	for j, raw := range got.Sets {
		jti = j
		c := verifySET(t, s, raw, rxID)
		e := event(t, c, ssf.EventCredentialChange)
		if e["credential_type"] != "password" || e["change_type"] != "update" || e["initiating_entity"] != "admin" ||
			!jsonEqual(c["sub_id"], map[string]any{"format": "iss_sub", "iss": s.URL, "sub": alice.ID}) {
			t.Errorf("credential change %v, sub_id %v; want a password update by an admin, of alice", e, c["sub_id"])
		}
	}
	if again := poll(t, s, cc, body(`"ack":[`+quote(jti)+`]`, `"returnImmediately":true`), rx); len(again.Sets) != 0 {
		t.Errorf("the acknowledging poll got %d SETs; want none", len(again.Sets))
	}
	if again := poll(t, s, cc, `{"returnImmediately":true}`, rx); len(again.Sets) != 0 {
		t.Errorf("a later poll got %d SETs; want none: the SET was acknowledged", len(again.Sets))
	}
	if n, err := s.Store.CountSETs(t.Context(), cc, store.SETDelivered); err != nil || n != 1 {
		t.Errorf("%d SETs delivered (%v); want 1", n, err)
	}

	eventually(t, "the grant-revoked SETs", func() bool {
		n, _ := s.Store.CountSETs(t.Context(), gr, store.SETPending)
		return n == 2
	})
	grants := poll(t, s, gr, `{"maxEvents":1,"returnImmediately":true}`, rx)
	if len(grants.Sets) != 1 || !grants.MoreAvailable {
		t.Errorf("maxEvents 1: %d SETs, moreAvailable %t; want 1 and more", len(grants.Sets), grants.MoreAvailable)
	}
	grants = poll(t, s, gr, `{"returnImmediately":true}`, rx)
	var hashes []string
	for _, raw := range grants.Sets {
		e := event(t, verifySET(t, s, raw, rxID), ssf.EventGrantRevoked)
		if e["reason"] != store.ReasonPasswordChange {
			t.Errorf("grant-revoked %v; want reason password_change", e)
		}
		for _, h := range e["token_hashes"].([]any) {
			hashes = append(hashes, h.(string))
		}
	}
	for _, tok := range []string{a1.Access, a1.Refresh, a2.Access, a2.Refresh} {
		h := sha256.Sum256([]byte(tok))
		if !slices.Contains(hashes, base64.RawURLEncoding.EncodeToString(h[:])) {
			t.Errorf("no grant-revoked SET names a token of alice's grants")
		}
	}
}

// receiver is a push receiver (RFC 8935) that answers 503 while down and
// 202 once up, and keeps the SETs it took, in order.
type receiver struct {
	*httptest.Server
	mu       sync.Mutex
	up       bool
	failures int
	got      []string
	auth     []string
}

func newReceiver(t *testing.T) *receiver {
	rc := &receiver{}
	rc.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		rc.mu.Lock()
		defer rc.mu.Unlock()
		rc.auth = append(rc.auth, r.Header.Get("Authorization"))
		if !rc.up || r.Header.Get("Content-Type") != "application/secevent+jwt" {
			rc.failures++
			w.WriteHeader(http.StatusServiceUnavailable)
			return
		}
		rc.got = append(rc.got, string(b))
		w.WriteHeader(http.StatusAccepted)
	}))
	t.Cleanup(rc.Close)
	return rc
}

func (rc *receiver) state() (got []string, failures int) {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	return slices.Clone(rc.got), rc.failures
}

func (rc *receiver) setUp(up bool) {
	rc.mu.Lock()
	rc.up = up
	rc.mu.Unlock()
}

// fastPush is a transmitter on real time whose retries come quickly.
func fastPush(c *ssf.Config) {
	c.Now, c.Backoff, c.MaxBackoff = time.Now, 5*time.Millisecond, 20*time.Millisecond
}

// TestPushAcrossOutage: revocations made while the push receiver is down
// reach it once it is up, every one, once, in the order they were made,
// with the Authorization header the stream was given.
func TestPushAcrossOutage(t *testing.T) {
	s := ts.New(t, ts.WithSSF(fastPush))
	rc := newReceiver(t)
	id := create(t, s, body(`"aud":"https://rx.example"`, `"events_requested":["`+ssf.EventGrantRevoked+`"]`,
		`"delivery":{"method":"urn:ietf:rfc:8935","endpoint_url":`+quote(rc.URL)+`,"authorization_header":"Bearer rx-secret"}`),
		ts.AdminBearer).StreamID
	s.Clock.Advance(time.Minute) // the revocations come after the stream, by the transmitter's clock too
	c, secret := s.Client("app")
	var order []string // the access tokens, in the order revoked
	for range 5 {
		tk := s.ClientTokens(c, secret)
		if r := s.Post(oauth.PathRevoke, "token="+tk.Access, ts.Basic(c, secret)); r.Status != http.StatusOK {
			t.Fatalf("revoke: %d %s", r.Status, r.Body)
		}
		order = append(order, tk.Access)
	}
	eventually(t, "failed pushes", func() bool { _, f := rc.state(); return f >= 3 })
	rc.setUp(true)
	eventually(t, "the five SETs", func() bool {
		n, _ := s.Store.CountSETs(t.Context(), id, store.SETDelivered)
		return n == 5
	})
	got, _ := rc.state()
	if len(got) != 5 {
		t.Fatalf("receiver took %d SETs; want 5, none twice", len(got))
	}
	for i, raw := range got {
		e := event(t, verifySET(t, s, raw, "https://rx.example"), ssf.EventGrantRevoked)
		h := sha256.Sum256([]byte(order[i]))
		if hashes, _ := e["token_hashes"].([]any); !slices.Contains(hashes, any(base64.RawURLEncoding.EncodeToString(h[:]))) {
			t.Errorf("SET %d is not of the %d-th revocation: out of order", i, i)
		}
	}
	rc.mu.Lock()
	defer rc.mu.Unlock()
	for _, a := range rc.auth {
		if a != "Bearer rx-secret" {
			t.Fatalf("a push carried Authorization %q; want the stream's", a)
		}
	}
}

// TestPushPausedAfterFailingTooLong: a receiver that fails for longer
// than PauseAfter has its stream paused, with a reason; its SETs wait,
// and reach it once it is up and the stream enabled again, followed by
// the stream-updated event of the pause.
func TestPushPausedAfterFailingTooLong(t *testing.T) {
	s := ts.New(t, ts.WithSSF(func(c *ssf.Config) { fastPush(c); c.PauseAfter = 100 * time.Millisecond }))
	rc := newReceiver(t)
	id := create(t, s, body(`"events_requested":["`+ssf.EventGrantRevoked+`"]`,
		`"delivery":{"method":"urn:ietf:rfc:8935","endpoint_url":`+quote(rc.URL)+`}`), ts.AdminBearer).StreamID
	s.Clock.Advance(time.Minute)
	c, secret := s.Client("app")
	tk := s.ClientTokens(c, secret)
	if r := s.Post(oauth.PathRevoke, "token="+tk.Access, ts.Basic(c, secret)); r.Status != http.StatusOK {
		t.Fatalf("revoke: %d %s", r.Status, r.Body)
	}
	var status map[string]any
	eventually(t, "the stream paused", func() bool {
		status = s.Do(http.MethodGet, ssfhttp.PathStatus+"?stream_id="+id, "", ts.AdminBearer).Map(t)
		return status["status"] == ssf.StatusPaused
	})
	if reason, _ := status["reason"].(string); reason == "" {
		t.Errorf("paused without a reason")
	}
	eventually(t, "the SET and the stream-updated event held", func() bool {
		n, _ := s.Store.CountSETs(t.Context(), id, store.SETPending)
		return n == 2
	})
	rc.setUp(true)
	if r := s.Do(http.MethodPost, ssfhttp.PathStatus, body(`"stream_id":`+quote(id), `"status":"enabled"`), ts.AdminBearer); r.Status != http.StatusOK {
		t.Fatalf("enable: %d %s", r.Status, r.Body)
	}
	eventually(t, "the SETs delivered", func() bool { got, _ := rc.state(); return len(got) == 2 })
	got, _ := rc.state()
	event(t, verifySET(t, s, got[0], id), ssf.EventGrantRevoked)
	// SSF 1.0 §8.1.5: the pause tokend decided is told, after what it held.
	if e := event(t, verifySET(t, s, got[1], id), ssf.EventStreamUpdated); e["status"] != ssf.StatusPaused || e["reason"] != status["reason"] {
		t.Errorf("stream-updated %v; want paused with the reason %v", e, status["reason"])
	}
}

// TestPushRejectedAndRemovedSubject: a SET the receiver rejects with an
// RFC 8935 error (400) is recorded as failed and not sent again, and the
// next goes out; a subject removed from the stream gets no SET.
func TestPushRejectedAndRemovedSubject(t *testing.T) {
	s := ts.New(t, ts.WithSSF(fastPush))
	var mu sync.Mutex
	var took []string
	calls := 0
	rc := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		mu.Lock()
		defer mu.Unlock()
		calls++
		if calls == 1 {
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(http.StatusBadRequest)
			_, _ = io.WriteString(w, `{"err":"invalid_key","description":"unknown kid"}`)
			return
		}
		took = append(took, string(b))
		w.WriteHeader(http.StatusAccepted)
	}))
	t.Cleanup(rc.Close)
	id := create(t, s, body(`"events_requested":["`+ssf.EventGrantRevoked+`"]`,
		`"delivery":{"method":"urn:ietf:rfc:8935","endpoint_url":`+quote(rc.URL)+`}`), ts.AdminBearer).StreamID
	quiet, quietSecret := s.Client("quiet")
	if r := s.Do(http.MethodPost, ssfhttp.PathRemoveSubject, body(`"stream_id":`+quote(id),
		`"subject":{"format":"opaque","id":`+quote(quiet)+`}`), ts.AdminBearer); r.Status != http.StatusNoContent {
		t.Fatalf("remove subject: %d %s", r.Status, r.Body)
	}
	s.Clock.Advance(time.Minute)
	c, secret := s.Client("app")
	for _, cl := range [][2]string{{c, secret}, {quiet, quietSecret}, {c, secret}} {
		tk := s.ClientTokens(cl[0], cl[1])
		if r := s.Post(oauth.PathRevoke, "token="+tk.Access, ts.Basic(cl[0], cl[1])); r.Status != http.StatusOK {
			t.Fatalf("revoke: %d %s", r.Status, r.Body)
		}
	}
	eventually(t, "one SET failed, one delivered", func() bool {
		failed, _ := s.Store.CountSETs(t.Context(), id, store.SETFailed)
		delivered, _ := s.Store.CountSETs(t.Context(), id, store.SETDelivered)
		return failed == 1 && delivered == 1
	})
	if n, _ := s.Store.CountSETs(t.Context(), id, store.SETPending); n != 0 {
		t.Errorf("%d SETs pending; want none: the removed subject's revocation is not queued", n)
	}
	mu.Lock()
	defer mu.Unlock()
	if calls != 2 || len(took) != 1 {
		t.Errorf("%d pushes, %d taken; want the rejected SET not sent again, and the next taken", calls, len(took))
	}
	if sub := verifySET(t, s, took[0], id)["sub_id"]; !jsonEqual(sub, map[string]any{"format": "opaque", "id": c}) {
		t.Errorf("sub_id %v; want the app, opaque", sub)
	}
}

// TestLongPollsBounded: of two polls that ask to wait when LongPolls is
// one, one waits and the other is answered at once, empty: the server's
// admission control leaves the poll endpoint to this bound. The one that
// waits gets the SET queued next.
func TestLongPollsBounded(t *testing.T) {
	s := ts.New(t, ts.WithSSF(func(c *ssf.Config) { c.LongPolls, c.LongPoll = 1, 20*time.Second }))
	_, rx := receiverClient(t, s, "rx", true)
	id := create(t, s, `{}`, rx).StreamID
	answers := make(chan ssf.PollResponse, 2)
	for range 2 {
		go func() { answers <- poll(t, s, id, `{"maxEvents":10}`, rx) }()
	}
	if first := <-answers; len(first.Sets) != 0 {
		t.Fatalf("the poll answered first got %d SETs; want none, at once", len(first.Sets))
	}
	select {
	case second := <-answers:
		t.Fatalf("both polls were answered (%d SETs) before any SET was queued; want one waiting", len(second.Sets))
	default:
	}
	if r := s.Do(http.MethodPost, ssfhttp.PathVerify, body(`"stream_id":`+quote(id)), rx); r.Status != http.StatusNoContent {
		t.Fatalf("verify: %d %s", r.Status, r.Body)
	}
	if second := <-answers; len(second.Sets) != 1 {
		t.Errorf("the waiting poll got %d SETs; want the verification", len(second.Sets))
	}
}

// TestSessionEndWithExchangedGrant: ending a session whose grant a
// service exchanged (RFC 8693) is one session-revoked SET naming that
// session, and a grant-revoked SET for each grant, the exchanged one
// naming its parent's revocation cause: the cascade adds no second
// session-revoked SET, which without a session would read as every
// session of the user ended.
func TestSessionEndWithExchangedGrant(t *testing.T) {
	s := ts.New(t, ts.WithSSF(nil))
	rxID, rx := receiverClient(t, s, "rx", true)
	alice := s.User("alice", false)
	app, _ := s.Client("app")
	ctx, now := t.Context(), s.Clock.Now()
	if err := s.Store.CreateSession(ctx, store.Session{ID: "sid-1", UserID: alice.ID, Username: "alice", AuthTime: now,
		Method: "pwd", CreatedAt: now, LastSeen: now, ExpiresAt: now.Add(time.Hour)}); err != nil {
		t.Fatal(err)
	}
	for _, g := range []store.Grant{
		{ID: "g-root", ClientID: app, Subject: alice.ID, Username: "alice", Scope: "api", SessionID: "sid-1"},
		{ID: "g-exchanged", ClientID: app, Subject: alice.ID, Username: "alice", Scope: "api", ParentID: "g-root"},
	} {
		g.CreatedAt, g.ExpiresAt = now, now.Add(time.Hour)
		tok := store.Token{Hash: store.HashToken(g.ID), Kind: store.AccessToken, IssuedAt: now, ExpiresAt: g.ExpiresAt}
		if err := s.Store.CreateGrant(ctx, g, []store.Token{tok}); err != nil {
			t.Fatalf("CreateGrant(%s): %v", g.ID, err)
		}
	}
	id := create(t, s, `{}`, rx).StreamID
	if r := s.Do(http.MethodDelete, "/admin/sessions/sid-1", "", ts.AdminBearer); r.Status/100 != 2 {
		t.Fatalf("ending the session: %d %s", r.Status, r.Body)
	}
	eventually(t, "the session's SETs", func() bool { // queued in one write, the follower's
		n, _ := s.Store.CountSETs(ctx, id, store.SETPending)
		return n >= 3
	})
	counts := map[string]int{}
	for _, raw := range poll(t, s, id, `{"returnImmediately":true}`, rx).Sets {
		c := verifySET(t, s, raw, rxID)
		for typ := range c["events"].(map[string]any) {
			counts[typ]++
		}
		if e, ok := c["events"].(map[string]any)[ssf.EventSessionRevoked].(map[string]any); ok {
			sub, _ := c["sub_id"].(map[string]any)
			if sub["format"] != "complex" || e == nil {
				t.Errorf("session-revoked sub_id %v; want the user and the session", c["sub_id"])
			}
		}
	}
	if counts[ssf.EventSessionRevoked] != 1 || counts[ssf.EventGrantRevoked] != 2 {
		t.Errorf("SETs by type %v; want one session-revoked and two grant-revoked", counts)
	}
}
