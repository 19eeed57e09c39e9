package ssfhttp_test

import (
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/tokend/tokend/internal/scim"
	"github.com/tokend/tokend/internal/ssf"
	"github.com/tokend/tokend/internal/ssfhttp"
	"github.com/tokend/tokend/internal/store"
	ts "github.com/tokend/tokend/internal/testserver"
)

// TestSubjectSignals: changes to a user who holds no grant reach a poll
// stream as the log's subject entries tell them, over SCIM, each one SET
// and no grant-revoked one: a password change (CAEP credential-change), a
// disable (RISC account-disabled), an enable (RISC account-enabled), a
// new email and display name (CAEP token-claims-change, with the new
// values) and the deletion (RISC account-purged).
func TestSubjectSignals(t *testing.T) {
	s := ts.New(t, ts.WithSSF(nil))
	rxID, rx := receiverClient(t, s, "rx", true)
	bob := s.User("bob", false)
	id := create(t, s, `{}`, rx).StreamID
	steps := []struct {
		method, body, typ string
		check             func(e map[string]any) bool
	}{
		{http.MethodPatch, `[{"op":"replace","path":"password","value":"a brand new password"}]}`, ssf.EventCredentialChange,
			func(e map[string]any) bool {
				return e["credential_type"] == "password" && e["initiating_entity"] == "admin"
			}},
		{http.MethodPatch, `[{"op":"replace","path":"active","value":false}]}`, ssf.EventAccountDisabled, nil},
		{http.MethodPatch, `[{"op":"replace","path":"active","value":true}]}`, ssf.EventAccountEnabled,
			func(e map[string]any) bool { return e["initiating_entity"] == "admin" }},
		{http.MethodPatch, `[{"op":"replace","path":"emails","value":[{"value":"bob@new.example","primary":true}]},` +
			`{"op":"replace","path":"displayName","value":"Robert"}]}`, ssf.EventClaimsChange,
			func(e map[string]any) bool {
				return jsonEqual(e["claims"], map[string]any{"email": "bob@new.example", "name": "Robert"})
			}},
		{http.MethodDelete, "", ssf.EventAccountPurged, nil},
	}
	for i, step := range steps {
		s.Clock.Advance(time.Second) // each change at its own instant, as a person makes them
		var req string
		if step.body != "" {
			req = patchOp + step.body
		}
		if r := s.Do(step.method, scim.PathUsers+"/"+bob.ID, req, ts.AdminBearer); r.Status/100 != 2 {
			t.Fatalf("step %d: %d %s", i, r.Status, r.Body)
		}
		eventually(t, step.typ, func() bool {
			n, _ := s.Store.CountSETs(t.Context(), id, store.SETPending)
			return n > 0
		})
		got := poll(t, s, id, `{"returnImmediately":true}`, rx)
		if len(got.Sets) != 1 {
			t.Fatalf("step %d: %d SETs; want the one %s", i, len(got.Sets), step.typ)
		}
		for jti, raw := range got.Sets {
			c := verifySET(t, s, raw, rxID)
			if evs := c["events"].(map[string]any); len(evs) != 1 {
				t.Errorf("step %d: events %v; want one", i, evs)
			}
			e := event(t, c, step.typ)
			if step.check != nil && !step.check(e) {
				t.Errorf("step %d: %s %v", i, step.typ, e)
			}
			sub, _ := c["sub_id"].(map[string]any)
			if sub["format"] != "iss_sub" && sub["format"] != "aliases" {
				t.Errorf("step %d: sub_id %v; want bob", i, sub)
			}
			poll(t, s, id, body(`"ack":[`+quote(jti)+`]`, `"maxEvents":0`), rx)
		}
	}
}

// TestInactivityTimeout: a stream's configuration says its
// inactivity_timeout; a stream whose receiver shows no activity for that
// long, by the transmitter's clock, is paused with the reason, while one
// whose receiver polled meanwhile stays enabled. Enabled again, the
// paused stream gets the stream-updated event of the pause.
func TestInactivityTimeout(t *testing.T) {
	s := ts.New(t, ts.WithSSF(func(c *ssf.Config) { c.InactivityTimeout = time.Hour }))
	rxID, rx := receiverClient(t, s, "rx", true)
	idle := create(t, s, `{}`, rx)
	if idle.InactivityTimeout != 3600 {
		t.Errorf("inactivity_timeout %d; want 3600 (seconds)", idle.InactivityTimeout)
	}
	busy := create(t, s, `{}`, rx).StreamID
	s.Clock.Advance(40 * time.Minute)
	poll(t, s, busy, `{"returnImmediately":true}`, rx)
	s.Clock.Advance(30 * time.Minute) // idle for 70 min, busy for 30
	var paused store.Stream
	eventually(t, "the idle stream paused", func() bool {
		paused, _ = s.Store.GetStream(t.Context(), idle.StreamID)
		return paused.Status == ssf.StatusPaused
	})
	if !strings.Contains(paused.Reason, "inactivity_timeout") {
		t.Errorf("paused for %q; want the inactivity_timeout named", paused.Reason)
	}
	// The pass that paused the idle stream looked at the busy one too.
	if st, err := s.Store.GetStream(t.Context(), busy); err != nil || st.Status != ssf.StatusEnabled {
		t.Errorf("the busy stream: %q (%v); want it enabled still", st.Status, err)
	}
	if r := s.Do(http.MethodPost, ssfhttp.PathStatus, body(`"stream_id":`+quote(idle.StreamID), `"status":"enabled"`), ts.AdminBearer); r.Status != http.StatusOK {
		t.Fatalf("enable: %d %s", r.Status, r.Body)
	}
	got := poll(t, s, idle.StreamID, `{"returnImmediately":true}`, ts.AdminBearer) // rx's token has expired by now
	if len(got.Sets) != 1 {
		t.Fatalf("%d SETs after enabling; want the stream-updated event", len(got.Sets))
	}
	for _, raw := range got.Sets {
		if e := event(t, verifySET(t, s, raw, rxID), ssf.EventStreamUpdated); e["status"] != ssf.StatusPaused || e["reason"] != paused.Reason {
			t.Errorf("stream-updated %v; want the pause and its reason", e)
		}
	}
}
