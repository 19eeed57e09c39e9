package server

import (
	"context"
	"errors"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"
)

type requestIDKey struct{}

// RequestID returns the id of the request ctx belongs to, or "".
func RequestID(ctx context.Context) string {
	id, _ := ctx.Value(requestIDKey{}).(string)
	return id
}

// newRequestID returns 16 random hex characters. A request id needs to be
// unique, not secret: it comes from the runtime's per-thread generator,
// which costs nanoseconds, not from crypto/rand.
func newRequestID() string {
	var b [16]byte
	return string(strconv.AppendUint(b[:0], rand.Uint64()|1<<63, 16))
}

// requestIDs is a slog.Handler that adds the request id of the context to
// every record logged with it, so that whatever a handler logs about a
// request carries the id its response does (X-Request-Id).
type requestIDs struct{ slog.Handler }

// WithRequestIDs wraps h so that records logged with a request's context
// carry its request_id.
func WithRequestIDs(h slog.Handler) slog.Handler { return requestIDs{h} }

func (h requestIDs) Handle(ctx context.Context, r slog.Record) error {
	if id := RequestID(ctx); id != "" {
		r = r.Clone()
		r.AddAttrs(slog.String("request_id", id))
	}
	return h.Handler.Handle(ctx, r)
}

func (h requestIDs) WithAttrs(as []slog.Attr) slog.Handler {
	return requestIDs{h.Handler.WithAttrs(as)}
}

func (h requestIDs) WithGroup(name string) slog.Handler {
	return requestIDs{h.Handler.WithGroup(name)}
}

// statusRecorder remembers the status a handler wrote, for the log.
type statusRecorder struct {
	http.ResponseWriter
	status int
	bytes  int
}

func (s *statusRecorder) WriteHeader(code int) {
	if s.status == 0 {
		s.status = code
	}
	s.ResponseWriter.WriteHeader(code)
}

func (s *statusRecorder) Write(b []byte) (int, error) {
	if s.status == 0 {
		s.status = http.StatusOK
	}
	n, err := s.ResponseWriter.Write(b)
	s.bytes += n
	return n, err
}

// Unwrap lets http.ResponseController reach the real writer.
func (s *statusRecorder) Unwrap() http.ResponseWriter { return s.ResponseWriter }

// StatusClientClosed is the status the request log and metrics record for
// a request whose client went away before it was answered: nginx's 499
// "client closed request". It is never sent (nobody would read it); it
// keeps a dropped client from counting as a server error or as a success.
const StatusClientClosed = 499

// withRequestLog gives every request an id (X-Request-Id, echoed) and logs
// one line per request. The line holds the method, the path (never the
// query, which could hold a token someone wrongly put there), the status,
// the duration and the id; never a header or a body. A request whose
// client went away (its context cancelled) before a status below 500 was
// written is recorded as StatusClientClosed.
//
// observe, when not nil, is told of every request with the route pattern
// the mux matched (metrics).
func withRequestLog(log *slog.Logger, observe func(route string, status int, d time.Duration), next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		id := newRequestID()
		w.Header().Set("X-Request-Id", id)
		ctx := context.WithValue(r.Context(), requestIDKey{}, id)
		rec := &statusRecorder{ResponseWriter: w}
		inner := r.WithContext(ctx)
		next.ServeHTTP(rec, inner)
		gone := errors.Is(inner.Context().Err(), context.Canceled)
		switch {
		case gone && (rec.status == 0 || rec.status >= 500):
			rec.status = StatusClientClosed
		case rec.status == 0:
			rec.status = http.StatusOK
		}
		end := time.Now()
		d := end.Sub(start)
		route := inner.Pattern // set by the mux on the request it routed
		if route == "" {
			route = "unmatched"
		}
		if observe != nil {
			observe(route, rec.status, d)
		}
		// Logged with the request's own context, which has no id: the id
		// is added here, whatever the handler.
		logRequest(r.Context(), log, end, &requestLine{
			id: id, method: r.Method, route: route, path: r.URL.Path,
			status: rec.status, bytes: rec.bytes, duration: d, remote: r.RemoteAddr,
		})
	})
}

var (
	nosniff   = []string{"nosniff"}
	xssBlock  = []string{"1; mode=block"}
	frameDeny = []string{"DENY"}
	hsts      = []string{"max-age=31536000"}
)

// withSecurityHeaders sets the security headers WSO2 Identity Server sends
// on every answer, and HSTS on TLS.
func withSecurityHeaders(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		// Assigned, not Set: the keys are canonical already, and the value
		// slices are shared (net/http only reads them), so the headers
		// cost no allocation per request.
		h := w.Header()
		h["X-Content-Type-Options"] = nosniff
		h["X-Xss-Protection"] = xssBlock
		h["X-Frame-Options"] = frameDeny
		if r.TLS != nil {
			h["Strict-Transport-Security"] = hsts
		}
		next.ServeHTTP(w, r)
	})
}

// withRecover turns a panic into a logged 500 instead of a dropped
// connection. It is a last resort: handlers return errors.
func withRecover(log *slog.Logger, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		defer func() {
			if v := recover(); v != nil {
				if v == http.ErrAbortHandler {
					panic(v)
				}
				log.ErrorContext(r.Context(), "panic in handler", slog.Any("panic", v), slog.String("path", r.URL.Path))
				w.Header().Set("Content-Type", "application/json;charset=UTF-8")
				w.WriteHeader(http.StatusInternalServerError)
				_, _ = w.Write([]byte(`{"error":"server_error","error_description":"internal error"}` + "\n"))
			}
		}()
		next.ServeHTTP(w, r)
	})
}

// admission bounds the requests being served at once, so that overload
// turns into quick 503s instead of an unbounded queue and growing latency
// for everyone. A request waits at most wait for a slot.
type admission struct {
	slots  chan struct{}
	wait   time.Duration
	reject func()
	// exempt paths, and the paths under under, are never refused
	// (Config.Unqueued, and the probes).
	exempt map[string]bool
	under  []string
}

func (a *admission) exempted(path string) bool {
	return a.exempt[path] || slices.ContainsFunc(a.under, func(p string) bool { return strings.HasPrefix(path, p) })
}

func (a *admission) wrap(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if a.exempted(r.URL.Path) {
			next.ServeHTTP(w, r)
			return
		}
		select {
		case a.slots <- struct{}{}:
		default:
			t := time.NewTimer(a.wait)
			select {
			case a.slots <- struct{}{}:
				t.Stop()
			case <-t.C:
				if a.reject != nil {
					a.reject()
				}
				h := w.Header()
				h.Set("Retry-After", "1")
				h.Set("Content-Type", "application/json;charset=UTF-8")
				h.Set("Cache-Control", "no-store")
				h.Set("Pragma", "no-cache")
				w.WriteHeader(http.StatusServiceUnavailable)
				_, _ = w.Write([]byte(`{"error":"temporarily_unavailable","error_description":"the server is overloaded; retry later"}` + "\n"))
				return
			case <-r.Context().Done():
				t.Stop()
				return
			}
		}
		defer func() { <-a.slots }()
		next.ServeHTTP(w, r)
	})
}
