package web

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/tokend/tokend/internal/store"
)

// PathConsoleLogStream is the live log's Server-Sent Events stream, which
// the log page's script follows: the program that wires the pages exempts
// it from admission control, as a stream holds its request open while idle.
const PathConsoleLogStream = "/console/log/stream"

// The stream's limits.
const (
	// maxLogStreams bounds the console's streams open at once: a handful
	// of admins each with a tab or two; past it, 503, and the page stays
	// as it was loaded.
	maxLogStreams = 64
	// logHeartbeat is how often an idle stream sends a comment, checks
	// that its admin is still signed in, and sends the live counts again.
	logHeartbeat = 15 * time.Second
	// logWriteTimeout bounds one write to the stream, which outlives the
	// server's WriteTimeout.
	logWriteTimeout = 30 * time.Second
	// statsEvery is how often at most the live counts are read again
	// after revocations: each read is a count of the live rows.
	statsEvery = 2 * time.Second
)

// logStreams counts the console's open streams (maxLogStreams).
var logStreams atomic.Int64

// liveEvent is one revocation as the stream sends it: the log page's row,
// with the names already read, so that the script only writes text.
type liveEvent struct {
	Seq      int64  `json:"seq"`
	When     string `json:"when"`
	Reason   string `json:"reason"`
	Actor    string `json:"actor"`
	Client   string `json:"client"`
	User     string `json:"user"`
	UserPath string `json:"user_path,omitempty"`
	Tokens   int    `json:"tokens"`
	// Grants is 1 for a revoked grant's event, 0 for a subject entry (a
	// change to a user that revoked none).
	Grants int   `json:"grants"`
	Minute int64 `json:"minute"` // unix time of the event's minute, for the chart
}

// liveStats are the live counts the stream sends.
type liveStats struct {
	LiveGrants   int64 `json:"live_grants"`
	LiveTokens   int64 `json:"live_tokens"`
	LiveSessions int64 `json:"live_sessions"`
}

// consoleLogStream is GET /console/log/stream?reason=&client_id=&username=
// &since=: the revocations logged after since (or the Last-Event-ID of a
// reconnecting EventSource) that match the log page's filter, one
// "revocation" event each, and a "stats" event with the live counts after
// revocations and at each heartbeat. It reads the revocation log through
// the feed's hub, as the revocation feed does, for an admin signed in to
// the console; without a hub (a program that wires none) it is not found.
func (p *Pages) consoleLogStream(w http.ResponseWriter, r *http.Request) error {
	if p.cfg.Feed == nil {
		return &pageError{status: http.StatusNotFound, heading: "No live log", message: "This server does not follow its revocation log."}
	}
	vals, _, ok, err := p.consoleRequest(w, r)
	if !ok || err != nil {
		return err
	}
	lv := &logView{Reasons: logReasons()}
	lv.Reason, _ = single(vals, "reason", maxParamBytes)
	lv.ClientID, _ = single(vals, "client_id", maxParamBytes)
	lv.Username, _ = single(vals, "username", maxParamBytes)
	f, err := p.logFilter(r, lv)
	switch {
	case err != nil:
		return err
	case lv.Alert != "":
		return badRequest("Cannot follow this log", lv.Alert)
	}
	cursor, err := streamCursor(r, vals)
	if err != nil {
		return err
	}
	if logStreams.Add(1) > maxLogStreams {
		logStreams.Add(-1)
		return &pageError{status: http.StatusServiceUnavailable, retryAfter: 30 * time.Second, heading: "Too many live logs",
			message: "Too many live logs are open. The page still works: reload it to see new revocations."}
	}
	defer logStreams.Add(-1)
	s := &logStream{p: p, r: r, w: w, rc: http.NewResponseController(w), f: f, cursor: cursor,
		users: map[string]string{}, clients: map[string]string{}}
	h := w.Header()
	h.Set("Content-Type", "text/event-stream")
	h.Set("X-Accel-Buffering", "no") // nginx: do not buffer the stream
	w.WriteHeader(http.StatusOK)
	s.buf = append(s.buf, "retry: 3000\n: tokend live log\n\n"...)
	if s.sendStats() {
		s.follow()
	}
	return nil // the stream has ended; the browser reconnects with Last-Event-ID
}

// streamCursor is where a stream starts: after the Last-Event-ID of a
// reconnection, else after since, which the page sets to the newest event
// it knew of.
func streamCursor(r *http.Request, vals map[string][]string) (int64, error) {
	v := r.Header.Get("Last-Event-ID")
	if v == "" {
		v, _ = single(vals, "since", maxParamBytes)
	}
	if v == "" {
		return 0, nil
	}
	n, err := strconv.ParseInt(strings.TrimSpace(v), 10, 64)
	if err != nil || n < 0 {
		return 0, badRequest("Cannot follow this log", "since must be a sequence number of the log.")
	}
	return n, nil
}

// logStream is one open stream of the live log.
type logStream struct {
	p       *Pages
	r       *http.Request
	w       http.ResponseWriter
	rc      *http.ResponseController
	f       store.EventFilter
	cursor  int64
	buf     []byte
	statsAt time.Time // when the counts were last sent
	// statsDue: revocations were sent since the counts were, which are
	// sent again once statsEvery has passed.
	statsDue bool
	// users and clients are the names read so far, by ID.
	users, clients map[string]string
}

// follow sends each matching revocation as the hub reads it, until the
// browser goes, the admin is no longer signed in as one, or the hub stops.
func (s *logStream) follow() {
	ctx, hub := s.r.Context(), s.p.cfg.Feed
	heartbeat := time.NewTicker(logHeartbeat)
	defer heartbeat.Stop()
	for {
		evs, wait, err := hub.Read(ctx, s.cursor, 256)
		if err != nil {
			if ctx.Err() == nil {
				s.p.log.WarnContext(ctx, "console live log: read the log", slog.String("cause", err.Error()))
			}
			return
		}
		if len(evs) > 0 {
			if !s.sendEvents(evs) {
				return
			}
			continue
		}
		if !s.idle(ctx, wait, heartbeat.C) {
			return
		}
	}
}

// idle waits until the log may hold more (grown), the counts are due
// after revocations, or a heartbeat is, and sends what is due. It reports
// whether the stream can go on: not once the browser has gone, the hub
// has stopped, or the admin is no longer one.
func (s *logStream) idle(ctx context.Context, grown <-chan struct{}, heartbeat <-chan time.Time) bool {
	var due <-chan time.Time
	if s.statsDue {
		t := time.NewTimer(statsEvery - time.Since(s.statsAt))
		defer t.Stop()
		due = t.C
	}
	select {
	case <-grown:
		return true
	case <-due:
		return s.sendStats()
	case <-heartbeat:
		return s.stillAdmin() && s.sendStats()
	case <-ctx.Done():
		return false
	case <-s.p.cfg.Feed.Done():
		return false
	}
}

// stillAdmin reports whether the stream's browser is still signed in as an
// admin: a stream outlives the request that checked it, and an admin
// signed out, disabled or no longer an admin must stop seeing the log.
func (s *logStream) stillAdmin() bool {
	si, ok, err := s.p.currentSession(s.r)
	return err == nil && ok && si.user.Admin
}

// sendEvents sends the events of evs that match the filter, and the live
// counts when they are due, and moves the cursor past all of them.
func (s *logStream) sendEvents(evs []store.Event) bool {
	sent := false
	for _, ev := range evs {
		s.cursor = ev.Seq
		if !s.matches(ev) {
			continue
		}
		le, err := s.p.logEntry(s.r, s.users, s.clients, ev)
		if err != nil {
			s.p.log.WarnContext(s.r.Context(), "console live log: names of an event", slog.String("cause", err.Error()))
			return false
		}
		data, err := json.Marshal(liveEvent{Seq: ev.Seq, When: le.When, Reason: le.Reason, Actor: le.Actor, Client: le.Client,
			User: le.User, UserPath: le.UserPath, Tokens: le.Tokens, Grants: le.Grants, Minute: ev.Time.Truncate(time.Minute).Unix()})
		if err != nil {
			return false
		}
		s.buf = strconv.AppendInt(append(s.buf, "id: "...), ev.Seq, 10)
		s.buf = append(s.buf, "\nevent: revocation\ndata: "...)
		s.buf = append(append(s.buf, data...), "\n\n"...)
		sent = true
	}
	s.statsDue = s.statsDue || sent
	if s.statsDue && time.Since(s.statsAt) >= statsEvery {
		return s.sendStats()
	}
	return len(s.buf) == 0 || s.send()
}

// matches reports whether ev is one the page's filter shows, as
// store.EventFilter matches: each field set must be equal.
func (s *logStream) matches(ev store.Event) bool {
	return (s.f.Reason == "" || ev.Reason == s.f.Reason) &&
		(s.f.ClientID == "" || ev.ClientID == s.f.ClientID) &&
		(s.f.Subject == "" || ev.Subject == s.f.Subject)
}

// sendStats sends the live counts, with whatever is buffered, or a
// heartbeat comment when they cannot be read.
func (s *logStream) sendStats() bool {
	st, err := s.p.cfg.Store.Stats(s.r.Context(), s.p.cfg.Now())
	s.statsAt, s.statsDue = time.Now(), false
	if err != nil {
		if !errors.Is(err, s.r.Context().Err()) {
			s.p.log.WarnContext(s.r.Context(), "console live log: count live tokens", slog.String("cause", err.Error()))
		}
		s.buf = append(s.buf, ":\n\n"...)
		return s.send()
	}
	data, err := json.Marshal(liveStats{LiveGrants: st.LiveGrants, LiveTokens: st.LiveTokens, LiveSessions: st.LiveSessions})
	if err != nil {
		return false
	}
	s.buf = append(s.buf, "event: stats\ndata: "...)
	s.buf = append(append(s.buf, data...), "\n\n"...)
	return s.send()
}

// send writes and flushes the buffer within logWriteTimeout, and reports
// whether the stream can go on.
func (s *logStream) send() bool {
	_ = s.rc.SetWriteDeadline(time.Now().Add(logWriteTimeout))
	if _, err := s.w.Write(s.buf); err != nil {
		return false
	}
	s.buf = s.buf[:0]
	return s.rc.Flush() == nil
}
