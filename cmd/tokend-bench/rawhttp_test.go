package main

import (
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
