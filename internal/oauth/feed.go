package oauth

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/tokend/tokend/internal/feed"
	"github.com/tokend/tokend/internal/oautherr"
	"github.com/tokend/tokend/internal/registry"
	"github.com/tokend/tokend/internal/store"
)

// Paths of the revocation feed.
const (
	PathRevocationStream = "/oauth2/revocations/stream"
	PathRevocationEvents = "/oauth2/revocations"
)

// Feed limits.
const (
	// HeartbeatInterval is how often an idle stream sends a comment line,
	// so proxies keep it open and readers can tell a dead connection.
	HeartbeatInterval = 15 * time.Second
	// StaleFeed is how long this instance may go without reading the
	// revocation log (it polls it every few hundred milliseconds) before
	// its streams end rather than keep sending heartbeats.
	StaleFeed = 5 * time.Second
	// MaxStreams bounds the streams open at once; past it, 503.
	MaxStreams = 1024
	// DefaultEventsLimit and MaxEventsLimit bound a page of the polling
	// endpoint.
	DefaultEventsLimit = 100
	MaxEventsLimit     = 1000
	// expiredSkip is how long after the expiry of every token it covers
	// an event is still sent: resource servers whose clock is behind ours
	// still need it. Older events are left out; their ids still advance.
	expiredSkip = 5 * time.Minute
	// streamWriteTimeout bounds one write to a stream.
	streamWriteTimeout = 30 * time.Second
)

// streams counts the open streams of every Endpoints (MaxStreams).
var streams atomic.Int64

// mountFeed mounts the revocation feed: a Server-Sent Events stream and a
// JSON page for polling.
func (e *Endpoints) mountFeed(mux *http.ServeMux) {
	if e.cfg.Feed == nil {
		return
	}
	mux.Handle("GET "+PathRevocationStream, e.handle(e.revocationStream))
	mux.Handle("GET "+PathRevocationEvents, e.handle(e.revocationEvents))
}

// feedCaller authenticates a reader of the feed: the admin Bearer token, or
// a confidential client registered with can_introspect (a resource server)
// by HTTP Basic. The feed shows every client's revocations, so it is open
// to exactly those who may introspect any token.
func (e *Endpoints) feedCaller(r *http.Request) error {
	who, err := e.authenticate(r, url.Values{}, access{adminToken: true})
	if err != nil {
		return err
	}
	if who.admin || registry.MayIntrospectAny(who.client) {
		return nil
	}
	return oautherr.Forbidden("the client may not read the revocation feed; it needs can_introspect")
}

// since reads where a reader resumes: Last-Event-ID (the SSE reconnect
// header), else ?since=, else 0 (the whole log).
func since(r *http.Request) (int64, error) {
	v := r.Header.Get("Last-Event-ID")
	if v == "" {
		v = r.URL.Query().Get("since")
	}
	if v == "" {
		return 0, nil
	}
	n, err := strconv.ParseInt(strings.TrimSpace(v), 10, 64)
	if err != nil || n < 0 {
		return 0, oautherr.InvalidRequest("since and Last-Event-ID must be a sequence number")
	}
	return n, nil
}

// live reports whether an event is still worth sending: some token it
// covers may be unexpired somewhere. A subject entry of the log (a change
// to a user that revoked no grant) never is: it covers no token, and is
// for the Shared Signals transmitter; the feed moves its cursor past it
// as past an expired one.
func (e *Endpoints) live(ev store.Event) bool {
	if ev.SubjectLevel() {
		return false
	}
	return ev.ExpiresAt.IsZero() || e.cfg.Now().Before(ev.ExpiresAt.Add(expiredSkip))
}

// revocationStream is GET /oauth2/revocations/stream: one Server-Sent
// Event per revocation (WHATWG HTML §9.2), in log order, from the position
// the reader gives:
//
//	id: 42
//	event: revocation
//	data: {"seq":42,"time":"...","jti":[...],"token_hashes":[...],...}
//
// After the events logged before it connected, a reader gets one "ready"
// event (data {"seq":N}): from then on it is current. Idle streams carry a
// comment line every HeartbeatInterval. A stream ends when the reader goes,
// or when the server stops; readers reconnect with Last-Event-ID.
func (e *Endpoints) revocationStream(w http.ResponseWriter, r *http.Request) error {
	if err := e.feedCaller(r); err != nil {
		return err
	}
	cursor, err := since(r)
	if err != nil {
		return err
	}
	if streams.Add(1) > MaxStreams {
		streams.Add(-1)
		return oautherr.TemporarilyUnavailable(5*time.Second, errors.New("too many revocation streams"))
	}
	defer streams.Add(-1)
	s := e.openStream(w, r, cursor)
	if s.send() {
		s.follow()
	}
	return nil // the stream has ended: the reader reconnects and resumes
}

// An eventStream is one open revocation stream: where its reader is in
// the log, and what is still to be written to it.
type eventStream struct {
	e      *Endpoints
	ctx    context.Context
	hub    *feed.Hub
	w      http.ResponseWriter
	rc     *http.ResponseController
	cursor int64  // the last event sent, or left out as expired
	ready  bool   // the "ready" event has been sent
	buf    []byte // what the next send writes
}

// openStream answers 200 with the headers of an event stream, and leaves
// the stream's preamble to send.
func (e *Endpoints) openStream(w http.ResponseWriter, r *http.Request, cursor int64) *eventStream {
	s := &eventStream{e: e, ctx: r.Context(), hub: e.cfg.Feed, w: w, rc: http.NewResponseController(w), cursor: cursor}
	h := w.Header()
	h.Set("Content-Type", "text/event-stream")
	h.Set("Cache-Control", "no-store")
	h.Set("X-Accel-Buffering", "no") // nginx: do not buffer the stream
	w.WriteHeader(http.StatusOK)
	// retry: how long a browser's EventSource waits before reconnecting.
	s.buf = append(s.buf, "retry: 1000\n: tokend revocation feed\n\n"...)
	return s
}

// send writes and flushes the buffer, within streamWriteTimeout. It
// reports whether the stream can go on.
func (s *eventStream) send() bool {
	_ = s.rc.SetWriteDeadline(time.Now().Add(streamWriteTimeout))
	if _, err := s.w.Write(s.buf); err != nil {
		return false
	}
	s.buf = s.buf[:0]
	return s.rc.Flush() == nil
}

// follow sends the events logged after the cursor, then "ready", then each
// revocation as the hub reads it, until the stream ends.
func (s *eventStream) follow() {
	heartbeat := time.NewTicker(HeartbeatInterval)
	defer heartbeat.Stop()
	// A stream must not look alive (heartbeats) while this instance
	// cannot read the log: revocations made on other instances would go
	// unseen by its reader, who trusts it. It ends; the reader reconnects,
	// here or elsewhere, and resumes.
	current := time.NewTicker(time.Second)
	defer current.Stop()
	for {
		evs, wait, err := s.hub.Read(s.ctx, s.cursor, 256)
		if err != nil {
			if s.ctx.Err() == nil {
				s.e.log.WarnContext(s.ctx, "revocation stream: read the log", slog.String("cause", err.Error()))
			}
			return // the reader reconnects and resumes
		}
		if len(evs) == 0 && !s.ready {
			// Caught up with the hub; the store may hold revocations the
			// hub has not read yet, acknowledged before this reader came.
			evs, err = s.hub.ReadStored(s.ctx, s.cursor, 256)
			if err != nil {
				return // the reader reconnects and resumes
			}
		}
		if len(evs) > 0 {
			if !s.sendEvents(evs) {
				return
			}
			continue
		}
		if !s.ready && !s.sendReady() {
			return
		}
		if !s.idle(wait, heartbeat.C, current.C) {
			return
		}
	}
}

// sendEvents sends the events of evs still worth sending and moves the
// cursor past all of them. It reports whether the stream can go on.
func (s *eventStream) sendEvents(evs []store.Event) bool {
	for _, ev := range evs {
		s.cursor = ev.Seq
		if !s.e.live(ev) {
			continue
		}
		data, err := json.Marshal(feed.NewMessage(ev, s.e.cfg.Issuer))
		if err != nil {
			return false
		}
		s.buf = strconv.AppendInt(append(s.buf, "id: "...), ev.Seq, 10)
		s.buf = append(s.buf, "\nevent: revocation\ndata: "...)
		s.buf = append(append(s.buf, data...), "\n\n"...)
	}
	return len(s.buf) == 0 || s.send()
}

// sendReady sends the "ready" event: everything up to the cursor has been
// sent. Its id carries the cursor past events left out as expired. It
// reports whether the stream can go on.
func (s *eventStream) sendReady() bool {
	s.ready = true
	s.buf = strconv.AppendInt(append(s.buf, "id: "...), s.cursor, 10)
	s.buf = strconv.AppendInt(append(s.buf, "\nevent: ready\ndata: {\"seq\":"...), s.cursor, 10)
	s.buf = append(s.buf, "}\n\n"...)
	return s.send()
}

// idle waits until the log may hold more (grown), a heartbeat is due,
// which it sends, or it is time to check that this instance still reads
// the log. It reports whether the stream can go on: not once the log is
// stale, the reader has gone or the hub has stopped.
func (s *eventStream) idle(grown <-chan struct{}, heartbeat, current <-chan time.Time) bool {
	select {
	case <-grown:
		return true
	case <-heartbeat:
		s.buf = append(s.buf, ":\n\n"...)
		return s.send()
	case <-current:
		if !s.hub.Current(StaleFeed) {
			s.e.log.WarnContext(s.ctx, "revocation stream: ended, the revocation log has not been read for a while", slog.Duration("limit", StaleFeed))
			return false
		}
		return true
	case <-s.ctx.Done():
		return false
	case <-s.hub.Done():
		return false
	}
}

// eventsPage is the answer of GET /oauth2/revocations.
type eventsPage struct {
	Events []feed.Message `json:"events"`
	// NextSince is the since of the next request: the sequence number of
	// the last event examined (events of long-expired tokens are left out
	// but still move it).
	NextSince int64 `json:"next_since"`
	// LastSeq is the newest sequence number the server knows; NextSince <
	// LastSeq means there is more to read.
	LastSeq int64 `json:"last_seq"`
}

// revocationEvents is GET /oauth2/revocations?since=SEQ&limit=N: the
// events with a sequence number above since, oldest first, as JSON, for
// readers that poll instead of streaming.
func (e *Endpoints) revocationEvents(w http.ResponseWriter, r *http.Request) error {
	if err := e.feedCaller(r); err != nil {
		return err
	}
	cursor, err := since(r)
	if err != nil {
		return err
	}
	limit := DefaultEventsLimit
	if v := r.URL.Query().Get("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 {
			return oautherr.InvalidRequest("limit must be a positive number")
		}
		limit = min(n, MaxEventsLimit)
	}
	// Read last first: events read after it are at most newer.
	last := e.cfg.Feed.Last()
	evs, _, err := e.cfg.Feed.Read(r.Context(), cursor, limit)
	if err != nil {
		return err
	}
	page := eventsPage{Events: []feed.Message{}, NextSince: cursor}
	for _, ev := range evs {
		page.NextSince = ev.Seq
		if e.live(ev) {
			page.Events = append(page.Events, feed.NewMessage(ev, e.cfg.Issuer))
		}
	}
	page.LastSeq = max(last, page.NextSince)
	return writeJSON(w, http.StatusOK, page)
}
