package server

import (
	"bytes"
	"context"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

// slogLine is what slog's own handler writes for l.
func slogLine(t *testing.T, json bool, end time.Time, l *requestLine) string {
	t.Helper()
	var buf bytes.Buffer
	var h slog.Handler = slog.NewTextHandler(&buf, nil)
	if json {
		h = slog.NewJSONHandler(&buf, nil)
	}
	r := slog.NewRecord(end, slog.LevelInfo, "request", 0)
	r.AddAttrs(l.attrs()...)
	if err := h.Handle(context.Background(), r); err != nil {
		t.Fatal(err)
	}
	return buf.String()
}

// randomString draws from characters slog writes as they are, quotes,
// escapes, or decides by its tables.
func randomString(rnd *rand.Rand) string {
	const alphabet = "aZ09/-_.:[]%@+~,;!*'()$&?<>#^`{}| =\"\\\t\x01\x7fé€\u2028"
	runes := []rune(alphabet)
	n := rnd.IntN(6)
	var b strings.Builder
	for range n {
		if rnd.IntN(3) == 0 {
			b.WriteRune(runes[rnd.IntN(len(runes))])
		} else {
			b.WriteByte("abcdefXYZ0189/-._:"[rnd.IntN(18)])
		}
	}
	return b.String()
}

// TestRequestLineIsSlogs checks that the fast path writes exactly what
// slog's text and JSON handlers write, and that it does write the lines a
// server logs (so that it cannot pass by always leaving them to slog).
func TestRequestLineIsSlogs(t *testing.T) {
	rnd := rand.New(rand.NewPCG(1, 2))
	zones := []*time.Location{time.UTC, time.FixedZone("", 2*3600+30*60), time.FixedZone("", -7*3600)}
	base := time.Date(2026, 12, 6, 11, 39, 13, 0, time.UTC)
	for _, json := range []bool{false, true} {
		written := 0
		for i := range 20000 {
			end := base.Add(time.Duration(rnd.Int64N(int64(48 * time.Hour))))
			switch i % 4 { // whole seconds and milliseconds too, which RFC 3339 trims
			case 1:
				end = end.Truncate(time.Second)
			case 2:
				end = end.Truncate(time.Millisecond)
			}
			end = end.In(zones[i%len(zones)])
			l := &requestLine{
				id: randomString(rnd), method: randomString(rnd), route: randomString(rnd), path: randomString(rnd),
				status: rnd.IntN(600) - 1, bytes: rnd.IntN(1 << 20), duration: time.Duration(rnd.Int64N(int64(3 * time.Second))),
				remote: randomString(rnd),
			}
			if i%5 == 0 { // lines as a server writes them
				l.id, l.method, l.route, l.path, l.remote = newRequestID(), http.MethodPost, "POST /oauth2/revoke", "/oauth2/revoke", "127.0.0.1:40000"
			}
			var got []byte
			var ok bool
			if json {
				got, ok = appendRequestJSON(nil, end, l)
			} else {
				got, ok = appendRequestText(nil, end, l)
			}
			if i%5 == 0 && !ok {
				t.Fatalf("json=%v: a server's line left to slog: %+v", json, l)
			}
			if !ok {
				continue
			}
			written++
			if want := slogLine(t, json, end, l); string(got) != want {
				t.Fatalf("json=%v, line %d:\n fast %q\n slog %q", json, i, got, want)
			}
		}
		if written < 8000 {
			t.Errorf("json=%v: the fast path wrote %d of 20000 lines, expected most", json, written)
		}
	}
}

// TestRequestLogThroughLogHandler serves requests through the middleware
// with a LogHandler and with slog's own handler, and checks that each logs
// one line with the same attributes, the fast path's and the fallback's
// (a path slog quotes by its own tables) alike.
func TestRequestLogThroughLogHandler(t *testing.T) {
	for _, json := range []bool{false, true} {
		var fast bytes.Buffer
		mux := http.NewServeMux()
		mux.HandleFunc("POST /", func(w http.ResponseWriter, r *http.Request) {
			w.WriteHeader(http.StatusTeapot)
			w.Write([]byte("short and stout")) //nolint:errcheck
		})
		h := Handler(Config{Logger: slog.New(NewLogHandler(&fast, json, slog.LevelInfo))}, mux)
		for _, path := range []string{"/oauth2/revoke", "/caf\u00e9"} {
			req := httptest.NewRequest(http.MethodPost, path, nil)
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, req)
			line := fast.String()
			fast.Reset()
			id := rec.Header().Get("X-Request-Id")
			var want []string
			if json {
				want = []string{`"level":"INFO"`, `"msg":"request"`, `"request_id":"` + id + `"`, `"method":"POST"`, `"route":"POST /"`, `"status":418`, `"bytes":15`, `"remote":"192.0.2.1:1234"`}
			} else {
				want = []string{"level=INFO msg=request request_id=" + id + " method=POST route=\"POST /\"", " status=418 bytes=15 duration=", " remote=192.0.2.1:1234\n"}
			}
			for _, w := range want {
				if !strings.Contains(line, w) {
					t.Errorf("json=%v path %q: line %q lacks %q", json, path, line, w)
				}
			}
			if strings.Count(line, "\n") != 1 {
				t.Errorf("json=%v path %q: want one line, got %q", json, path, line)
			}
		}
	}
}

// TestRequestLogBelowLevel: a logger at warn writes no request line.
func TestRequestLogBelowLevel(t *testing.T) {
	var out bytes.Buffer
	h := Handler(Config{Logger: slog.New(NewLogHandler(&out, false, slog.LevelWarn))}, http.NewServeMux())
	h.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest(http.MethodGet, "/", nil))
	if out.Len() != 0 {
		t.Errorf("logged below the level: %q", out.String())
	}
}
