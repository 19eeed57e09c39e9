package main

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/tokend/tokend/internal/logbuf"
	"github.com/tokend/tokend/internal/oauth"
	"github.com/tokend/tokend/internal/server"
)

// The handler benchmarks measure the request path of the server serve
// builds (middleware, request log, metrics, client authentication, the
// token cache, the store's writer) without a socket: each request is
// handed to the handler directly, so what they count, allocations above
// all, is the server's own. tokend-bench measures the same with the
// network. Run:
//
//	go test -run '^$' -bench Handler -benchmem ./cmd/tokend

// benchServer is a server as serve builds it, on a fresh SQLite store,
// with one confidential client.
type benchServer struct {
	h    http.Handler
	auth string // the client's Authorization header
}

func newBenchServer(b *testing.B) *benchServer {
	b.Helper()
	data := b.TempDir()
	var out bytes.Buffer
	if err := run(b.Context(), []string{"client", "create", "--data", data, "--name", "bench", "--json"}, nil, &out, io.Discard); err != nil {
		b.Fatal(err)
	}
	var c struct {
		ID     string `json:"client_id"`
		Secret string `json:"client_secret"`
	}
	if err := json.Unmarshal(out.Bytes(), &c); err != nil {
		b.Fatal(err)
	}
	cfg, err := parseServeFlags([]string{"--data", data, "--insecure-http", "--addr", "127.0.0.1:0"}, io.Discard)
	if err != nil {
		b.Fatal(err)
	}
	if err := cfg.Validate(); err != nil {
		b.Fatal(err)
	}
	// The request log goes where serve's does, through logbuf, to a sink.
	logOut := logbuf.New(io.Discard, logbuf.FlushEvery)
	log, err := newLogger(logOut, "text", "info")
	if err != nil {
		b.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	var stops stopList
	b.Cleanup(func() {
		cancel()
		stops.stop()
		logOut.Close()
	})
	a, err := build(ctx, cfg, log, &stops)
	if err != nil {
		b.Fatal(err)
	}
	auth := "Basic " + base64.StdEncoding.EncodeToString([]byte(c.ID+":"+c.Secret))
	return &benchServer{h: server.Handler(a.cfg, a.mux), auth: auth}
}

// post serves one form POST and returns the status and body.
func (s *benchServer) post(path, form string) (int, []byte) {
	req, _ := http.NewRequest(http.MethodPost, "http://bench"+path, strings.NewReader(form))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Authorization", s.auth)
	req.RemoteAddr = "127.0.0.1:40000"
	w := &sinkWriter{h: http.Header{}}
	s.h.ServeHTTP(w, req)
	return w.status, w.body.Bytes()
}

// accessToken issues an opaque access token (client_credentials).
func (s *benchServer) accessToken(b *testing.B) string {
	status, body := s.post(oauth.PathToken, "grant_type=client_credentials")
	var t struct {
		Access string `json:"access_token"`
	}
	if err := json.Unmarshal(body, &t); status != http.StatusOK || err != nil {
		b.Fatalf("token: %d %s", status, body)
	}
	return t.Access
}

// sinkWriter is a ResponseWriter that keeps the status and the body.
type sinkWriter struct {
	h      http.Header
	status int
	body   bytes.Buffer
}

func (w *sinkWriter) Header() http.Header { return w.h }
func (w *sinkWriter) WriteHeader(code int) {
	if w.status == 0 {
		w.status = code
	}
}
func (w *sinkWriter) Write(p []byte) (int, error) {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	return w.body.Write(p)
}

// BenchmarkHandlerIntrospectCached introspects one active access token,
// which the token cache holds after its first introspection.
func BenchmarkHandlerIntrospectCached(b *testing.B) {
	s := newBenchServer(b)
	form := "token=" + s.accessToken(b)
	if status, body := s.post(oauth.PathIntrospect, form); status != http.StatusOK || !bytes.Contains(body, []byte(`"active":true`)) {
		b.Fatalf("introspect: %d %s", status, body)
	}
	b.ReportAllocs()
	defer reportCPU(b)()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if status, _ := s.post(oauth.PathIntrospect, form); status != http.StatusOK {
				b.Errorf("introspect: %d", status)
			}
		}
	})
}

// BenchmarkHandlerRevoke revokes distinct access tokens, each once, from
// 16 callers a CPU, so that the writer groups them as under load.
func BenchmarkHandlerRevoke(b *testing.B) {
	s := newBenchServer(b)
	forms := make([]string, b.N)
	for i := range forms {
		forms[i] = "token=" + s.accessToken(b)
	}
	var next atomic.Int64
	b.ReportAllocs()
	b.SetParallelism(16)
	defer reportCPU(b)()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if status, _ := s.post(oauth.PathRevoke, forms[next.Add(1)-1]); status != http.StatusOK {
				b.Errorf("revoke: %d", status)
			}
		}
	})
}

// BenchmarkHandlerNothing is the benchmarks' own cost: the request made
// and handed to a handler that reads the form and answers 200, as the
// ceiling of tokend-bench does.
func BenchmarkHandlerNothing(b *testing.B) {
	s := &benchServer{h: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_ = r.ParseForm()
		w.WriteHeader(http.StatusOK)
	}), auth: "Basic Zm9vOmJhcg=="}
	b.ReportAllocs()
	defer reportCPU(b)()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			s.post(oauth.PathIntrospect, "token=tka_0123456789abcdef")
		}
	})
}

// reportCPU resets b's timer and returns a func that reports the process's
// CPU time per op since: on a shared machine, what a request costs, where
// ns/op also measures the neighbours' load.
func reportCPU(b *testing.B) func() {
	b.ResetTimer()
	start := processCPU()
	return func() {
		b.ReportMetric(float64((processCPU()-start).Nanoseconds())/1e3/float64(b.N), "cpu-µs/op")
	}
}

// processCPU returns the CPU time, user and system, the process has used.
func processCPU() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
