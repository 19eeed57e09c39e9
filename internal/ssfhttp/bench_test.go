package ssfhttp_test

import (
	"bytes"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/tokend/tokend/internal/oauth"
	"github.com/tokend/tokend/internal/ssf"
	"github.com/tokend/tokend/internal/ssfhttp"
	"github.com/tokend/tokend/internal/store"
	ts "github.com/tokend/tokend/internal/testserver"
)

// arrivals is a push receiver that notes when the SET of each token hash
// arrived; with forward set, when the tokend receiver there answered it
// 202, having checked it and recorded its jti.
type arrivals struct {
	mu      sync.Mutex
	at      map[string]time.Time
	forward string
}

func (a *arrivals) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	b, _ := io.ReadAll(r.Body)
	if a.forward != "" {
		resp, err := http.Post(a.forward, r.Header.Get("Content-Type"), bytes.NewReader(b))
		if err != nil {
			w.WriteHeader(http.StatusBadGateway)
			return
		}
		answer, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusAccepted {
			w.WriteHeader(resp.StatusCode)
			_, _ = w.Write(answer)
			return
		}
	}
	parts := strings.Split(string(b), ".")
	var c struct {
		Events map[string]struct {
			Hashes []string `json:"token_hashes"`
		} `json:"events"`
	}
	if len(parts) == 3 {
		p, _ := base64.RawURLEncoding.DecodeString(parts[1])
		_ = json.Unmarshal(p, &c)
	}
	now := time.Now()
	a.mu.Lock()
	for _, h := range c.Events[ssf.EventGrantRevoked].Hashes {
		a.at[h] = now
	}
	a.mu.Unlock()
	w.WriteHeader(http.StatusAccepted)
}

// count is how many SETs arrived.
func (a *arrivals) count() int {
	a.mu.Lock()
	defer a.mu.Unlock()
	return len(a.at)
}

func (a *arrivals) get(h string) (time.Time, bool) {
	a.mu.Lock()
	defer a.mu.Unlock()
	t, ok := a.at[h]
	return t, ok
}

func hashOf(tok string) string {
	h := sha256.Sum256([]byte(tok))
	return base64.RawURLEncoding.EncodeToString(h[:])
}

// pushRig is a server with one push stream of grant-revoked events to an
// arrivals receiver, and n client_credentials tokens to revoke. With
// toTokend the arrivals receiver passes each SET on to a second tokend's
// /ssf/receive, which trusts the first, and notes it once that answered.
func pushRig(b *testing.B, n int, toTokend bool) (*ts.Server, *arrivals, string, []string, func(string)) {
	s := ts.New(b, ts.WithSSF(fastPush))
	rc := &arrivals{at: map[string]time.Time{}}
	srv := httptest.NewServer(rc)
	b.Cleanup(srv.Close)
	aud := ""
	if toTokend {
		rx := ts.New(b, ts.WithSSF(nil))
		if err := rx.Store.CreateIssuer(b.Context(), store.Issuer{Issuer: s.URL, JWKSURI: s.URL + oauth.PathJWKS, CreatedAt: rx.Clock.Now()}); err != nil {
			b.Fatal(err)
		}
		rx.Clock.Advance(time.Minute) // as s's below
		rc.forward, aud = rx.URL+ssfhttp.PathReceive, `"aud":`+quote(rx.URL)+`,`
	}
	id := create(b, s, body(aud+`"events_requested":["`+ssf.EventGrantRevoked+`"]`,
		`"delivery":{"method":"urn:ietf:rfc:8935","endpoint_url":`+quote(srv.URL)+`}`), ts.AdminBearer).StreamID
	s.Clock.Advance(time.Minute)
	c, secret := s.Client("app")
	toks := make([]string, n)
	for i := range toks {
		toks[i] = s.ClientTokens(c, secret).Access
	}
	revoke := func(tok string) {
		if r := s.Post(oauth.PathRevoke, "token="+tok, ts.Basic(c, secret)); r.Status != http.StatusOK {
			b.Fatalf("revoke: %d %s", r.Status, r.Body)
		}
		s.SSF.Nudge() // as serve's hub does when the log grows
	}
	return s, rc, id, toks, revoke
}

// BenchmarkPushLatency: the time from a revocation's 200 to the push
// receiver's 202 of its SET, one revocation at a time (SQLite, loopback):
// a receiver that answers at once, and a second tokend's, which checks
// the SET's signature and records its jti first. Reports p50 and p99 in
// ms.
func BenchmarkPushLatency(b *testing.B) {
	for _, to := range []string{"receiver=bare", "receiver=tokend"} {
		b.Run(to, func(b *testing.B) { pushLatency(b, to == "receiver=tokend") })
	}
}

func pushLatency(b *testing.B, toTokend bool) {
	const n = 200
	for b.Loop() {
		_, rc, _, toks, revoke := pushRig(b, n, toTokend)
		lat := make([]time.Duration, 0, n)
		for _, tok := range toks {
			start := time.Now()
			revoke(tok)
			for {
				if at, ok := rc.get(hashOf(tok)); ok {
					lat = append(lat, at.Sub(start))
					break
				}
				time.Sleep(200 * time.Microsecond)
			}
		}
		slices.Sort(lat)
		b.ReportMetric(float64(lat[n/2].Microseconds())/1000, "p50-ms")
		b.ReportMetric(float64(lat[n*99/100].Microseconds())/1000, "p99-ms")
	}
}

// BenchmarkPushThroughput: how many SETs per second one push stream
// delivers, from a backlog of revocations held while the stream was
// paused (SQLite, loopback), to a bare receiver and to a second tokend.
func BenchmarkPushThroughput(b *testing.B) {
	for _, to := range []string{"receiver=bare", "receiver=tokend"} {
		b.Run(to, func(b *testing.B) { pushThroughput(b, to == "receiver=tokend") })
	}
}

func pushThroughput(b *testing.B, toTokend bool) {
	const n = 1000
	for b.Loop() {
		s, rc, id, toks, revoke := pushRig(b, n, toTokend)
		status := func(st string) {
			if r := s.Do(http.MethodPost, ssfhttp.PathStatus, body(`"stream_id":`+quote(id), `"status":`+quote(st)), ts.AdminBearer); r.Status != http.StatusOK {
				b.Fatalf("status: %d", r.Status)
			}
		}
		status(ssf.StatusPaused)
		for _, tok := range toks {
			revoke(tok)
		}
		for {
			if pending, _ := s.Store.CountSETs(b.Context(), id, store.SETPending); pending == n {
				break
			}
			time.Sleep(10 * time.Millisecond)
		}
		start := time.Now()
		status(ssf.StatusEnabled)
		// Counted at the receiver: counting in the store every
		// millisecond took a third of the process's CPU (a count(*) of
		// the queue each time), which the pusher then did not have.
		for rc.count() < n {
			time.Sleep(time.Millisecond)
		}
		b.ReportMetric(float64(n)/time.Since(start).Seconds(), "SETs/s")
	}
}
