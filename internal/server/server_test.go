package server

import (
	"bytes"
	"context"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

func TestHandlerHeadersLogAndObserve(t *testing.T) {
	var logBuf bytes.Buffer
	var mu sync.Mutex
	var routes []string
	mux := http.NewServeMux()
	mux.HandleFunc("POST /oauth2/revoke", func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusTeapot)
	})
	h := Handler(Config{
		Logger: slog.New(slog.NewJSONHandler(&logBuf, nil)),
		Observe: func(route string, status int, d time.Duration) {
			mu.Lock()
			routes = append(routes, route)
			mu.Unlock()
		},
	}, mux)
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest("POST", "/oauth2/revoke?token=tka_secretvalue", nil))
	if rec.Code != http.StatusTeapot {
		t.Fatalf("status %d", rec.Code)
	}
	for k, want := range map[string]string{"X-Content-Type-Options": "nosniff", "X-XSS-Protection": "1; mode=block"} {
		if got := rec.Header().Get(k); got != want {
			t.Errorf("%s = %q; want %q", k, got, want)
		}
	}
	if rec.Header().Get("X-Request-Id") == "" {
		t.Error("no X-Request-Id")
	}
	line := logBuf.String()
	if strings.Contains(line, "tka_secretvalue") {
		t.Errorf("the log line holds the query string: %s", line)
	}
	if !strings.Contains(line, `"route":"POST /oauth2/revoke"`) || !strings.Contains(line, `"status":418`) {
		t.Errorf("log line %s lacks route or status", line)
	}
	if id := rec.Header().Get("X-Request-Id"); !strings.Contains(line, `"request_id":"`+id+`"`) {
		t.Errorf("log line %s lacks the request id %q of the answer", line, id)
	}
	if n := strings.Count(line, "\n"); n != 1 {
		t.Errorf("%d log lines for one request; want 1:\n%s", n, line)
	}
	if len(routes) != 1 || routes[0] != "POST /oauth2/revoke" {
		t.Errorf("observed %v", routes)
	}
}

func TestAdmissionControl(t *testing.T) {
	release := make(chan struct{})
	entered := make(chan struct{}, 4)
	mux := http.NewServeMux()
	mux.HandleFunc("/slow", func(w http.ResponseWriter, r *http.Request) {
		entered <- struct{}{}
		<-release
	})
	mux.HandleFunc("/waits/", func(w http.ResponseWriter, r *http.Request) {})
	rejected := 0
	h := Handler(Config{MaxInFlight: 2, QueueWait: 10 * time.Millisecond, OnReject: func() { rejected++ },
		Unqueued: []string{"/waits/"}}, mux)
	var wg sync.WaitGroup
	for i := 0; i < 2; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			h.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest("GET", "/slow", nil))
		}()
	}
	<-entered
	<-entered
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest("GET", "/slow", nil))
	if rec.Code != http.StatusServiceUnavailable || rec.Header().Get("Retry-After") == "" || rec.Header().Get("Pragma") != "no-cache" {
		t.Errorf("third request: %d, Retry-After %q, Pragma %q; want 503 with Retry-After, not cached", rec.Code, rec.Header().Get("Retry-After"), rec.Header().Get("Pragma"))
	}
	if !strings.Contains(rec.Body.String(), "temporarily_unavailable") || rejected != 1 {
		t.Errorf("body %q, rejected %d", rec.Body.String(), rejected)
	}
	// Probes are never refused.
	probe := httptest.NewRecorder()
	h.ServeHTTP(probe, httptest.NewRequest("GET", "/healthz", nil))
	if probe.Code != http.StatusOK {
		t.Errorf("/healthz under load: %d", probe.Code)
	}
	// Nor what is under an Unqueued path ending in "/"; the path alone is.
	for path, want := range map[string]int{"/waits/s-1": http.StatusOK, "/waits": http.StatusServiceUnavailable} {
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, httptest.NewRequest("POST", path, nil))
		if rec.Code != want {
			t.Errorf("%s under load: %d; want %d", path, rec.Code, want)
		}
	}
	close(release)
	wg.Wait()
	ok := httptest.NewRecorder()
	go func() { <-entered }()
	h.ServeHTTP(ok, httptest.NewRequest("GET", "/slow", nil))
	if ok.Code != http.StatusOK {
		t.Errorf("after the load: %d", ok.Code)
	}
}

// TestHealthAndReadiness: /healthz answers while the process runs;
// /readyz answers 503 while the store is unreachable, 200 once it is back.
func TestHealthAndReadiness(t *testing.T) {
	var down atomic.Bool
	h := Handler(Config{Ready: func(context.Context) error {
		if down.Load() {
			return errors.New("store unreachable")
		}
		return nil
	}}, http.NewServeMux())
	get := func(path string) int {
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, path, nil))
		return rec.Code
	}
	down.Store(true)
	if got := get("/healthz"); got != http.StatusOK {
		t.Errorf("/healthz with the store down: %d; want 200", got)
	}
	if got := get("/readyz"); got != http.StatusServiceUnavailable {
		t.Errorf("/readyz with the store down: %d; want 503", got)
	}
	down.Store(false)
	if got := get("/readyz"); got != http.StatusOK {
		t.Errorf("/readyz with the store up: %d; want 200", got)
	}
}

// What a handler logs about a request carries the request's id, once,
// through WithRequestIDs and through a LogHandler; the request line too.
func TestHandlerLogsCarryTheRequestID(t *testing.T) {
	handlers := map[string]func(w io.Writer) slog.Handler{
		"WithRequestIDs": func(w io.Writer) slog.Handler { return WithRequestIDs(slog.NewJSONHandler(w, nil)) },
		"LogHandler":     func(w io.Writer) slog.Handler { return NewLogHandler(w, true, slog.LevelInfo) },
	}
	for name, handler := range handlers {
		var logBuf bytes.Buffer
		log := slog.New(handler(&logBuf))
		mux := http.NewServeMux()
		mux.HandleFunc("POST /oauth2/token", func(w http.ResponseWriter, r *http.Request) {
			log.ErrorContext(r.Context(), "store failed")
			w.WriteHeader(http.StatusServiceUnavailable)
		})
		rec := httptest.NewRecorder()
		Handler(Config{Logger: log}, mux).ServeHTTP(rec, httptest.NewRequest("POST", "/oauth2/token", nil))
		id := rec.Header().Get("X-Request-Id")
		if len(id) != 16 {
			t.Fatalf("%s: X-Request-Id %q; want 16 hex characters", name, id)
		}
		lines := strings.Split(strings.TrimSpace(logBuf.String()), "\n")
		if len(lines) != 2 {
			t.Fatalf("%s: %d log lines; want the handler's and the request's:\n%s", name, len(lines), logBuf.String())
		}
		for _, l := range lines {
			if n := strings.Count(l, `"request_id":"`+id+`"`); n != 1 {
				t.Errorf("%s: log line has the request id %d times; want once: %s", name, n, l)
			}
		}
	}
}

// TestRequestLogClientClosed: a request whose client has gone is recorded
// as 499 when the handler wrote nothing or a 5xx for it; a status the
// client was answered with, and a 5xx of a client still there, are kept.
func TestRequestLogClientClosed(t *testing.T) {
	cases := []struct {
		name   string
		gone   bool
		status int // written by the handler; 0: nothing
		want   int
	}{
		{"gone, nothing written", true, 0, StatusClientClosed},
		{"gone, 500 written", true, http.StatusInternalServerError, StatusClientClosed},
		{"gone, 503 written", true, http.StatusServiceUnavailable, StatusClientClosed},
		{"gone, 200 written", true, http.StatusOK, http.StatusOK},
		{"gone, 400 written", true, http.StatusBadRequest, http.StatusBadRequest},
		{"there, 500 written", false, http.StatusInternalServerError, http.StatusInternalServerError},
		{"there, nothing written", false, 0, http.StatusOK},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			mux := http.NewServeMux()
			mux.HandleFunc("POST /oauth2/token", func(w http.ResponseWriter, r *http.Request) {
				if c.status != 0 {
					w.WriteHeader(c.status)
				}
			})
			var observed int
			var logBuf bytes.Buffer
			h := Handler(Config{
				Logger:  slog.New(slog.NewJSONHandler(&logBuf, nil)),
				Observe: func(_ string, status int, _ time.Duration) { observed = status },
			}, mux)
			ctx, cancel := context.WithCancel(t.Context())
			if c.gone {
				cancel()
			}
			defer cancel()
			h.ServeHTTP(httptest.NewRecorder(), httptest.NewRequestWithContext(ctx, "POST", "/oauth2/token", nil))
			if observed != c.want {
				t.Errorf("observed status %d; want %d", observed, c.want)
			}
			if want := `"status":` + strconv.Itoa(c.want); !strings.Contains(logBuf.String(), want) {
				t.Errorf("log line %s; want %s", logBuf.String(), want)
			}
		})
	}
}
