package main

import (
	"bufio"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

func TestRawClient(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if err := r.ParseForm(); err != nil {
			t.Error(err)
		}
		got := fmt.Sprintf("%s %s %s %s", r.Method, r.URL.Path, r.Header.Get("Authorization"), r.PostForm.Encode())
		switch r.PostForm.Get("mode") {
		case "chunked":
			w.(http.Flusher).Flush() // no Content-Length: chunked
			io.WriteString(w, got)
			w.(http.Flusher).Flush()
			io.WriteString(w, "!")
		case "close":
			w.Header().Set("Connection", "close")
			io.WriteString(w, got)
		case "error":
			http.Error(w, got, http.StatusTeapot)
		default:
			io.WriteString(w, got)
		}
	}))
	defer srv.Close()
	g, err := newRawGen(srv.URL, 2)
	if err != nil {
		t.Fatal(err)
	}
	defer g.close()
	tests := []struct {
		name, body string
		status     int
		want       string
	}{
		{"content-length", "mode=plain&token=a", 200, "POST /p Basic x mode=plain&token=a"},
		{"again on the same connection", "mode=plain&token=b", 200, "POST /p Basic x mode=plain&token=b"},
		{"chunked", "mode=chunked", 200, "POST /p Basic x mode=chunked!"},
		{"connection close", "mode=close", 200, "POST /p Basic x mode=close"},
		{"after close, a new connection", "mode=plain", 200, "POST /p Basic x mode=plain"},
		{"error status", "mode=error", 418, "POST /p Basic x mode=error\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			status, body, err := g.do(1, "/p", "Basic x", tt.body)
			if err != nil {
				t.Fatal(err)
			}
			if status != tt.status || string(body) != tt.want {
				t.Errorf("got %d %q; want %d %q", status, body, tt.status, tt.want)
			}
		})
	}
	if _, err := newRawGen(strings.Replace(srv.URL, "http:", "https:", 1), 1); err == nil {
		t.Error("newRawGen(https://...) = nil error; want the raw client to refuse TLS")
	}
}

// loopReader reads resp over and over: a keep-alive connection on which the
// server gives the same answer to every request.
type loopReader struct {
	resp []byte
	i    int
}

func (r *loopReader) Read(p []byte) (int, error) {
	n := 0
	for n < len(p) {
		c := copy(p[n:], r.resp[r.i:])
		n += c
		r.i = (r.i + c) % len(r.resp)
	}
	return n, nil
}

// BenchmarkReadResponse measures the raw client's response reader, which
// runs once per request of a timed phase on the load generator's core. It
// must not allocate.
func BenchmarkReadResponse(b *testing.B) {
	const headers = "HTTP/1.1 200 OK\r\nCache-Control: no-store\r\nContent-Type: application/json\r\n" +
		"Pragma: no-cache\r\nDate: Sat, 05 Dec 2026 20:28:00 GMT\r\n"
	const body = `{"active":true,"scope":"read","client_id":"bench-opaque","token_type":"Bearer","exp":1796502480,"iat":1796498880}`
	for _, bc := range []struct{ name, resp string }{
		{"content-length", headers + fmt.Sprintf("Content-Length: %d\r\n\r\n", len(body)) + body},
		{"chunked", headers + "Transfer-Encoding: chunked\r\n\r\n" +
			fmt.Sprintf("%x\r\n%s\r\n", len(body)/2, body[:len(body)/2]) +
			fmt.Sprintf("%x\r\n%s\r\n", len(body)-len(body)/2, body[len(body)/2:]) + "0\r\n\r\n"},
	} {
		b.Run(bc.name, func(b *testing.B) {
			rc := &rawConn{br: bufio.NewReaderSize(&loopReader{resp: []byte(bc.resp)}, 16<<10)}
			b.SetBytes(int64(len(bc.resp)))
			b.ReportAllocs()
			for b.Loop() {
				status, got, keep, err := rc.readResponse()
				if err != nil || status != 200 || !keep || len(got) != len(body) {
					b.Fatalf("readResponse = %d, %q, %v, %v", status, got, keep, err)
				}
			}
		})
	}
}
