package main

import (
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
)

// freeAddr returns a loopback address whose port is free at the moment.
func freeAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

// TestServeMetrics: on the public listener /metrics answers the admin
// token as a Bearer token and nobody else (401); on --metrics-addr it
// answers without authentication, and serves nothing else.
func TestServeMetrics(t *testing.T) {
	const admin = "serve-metrics-test-admin-token-0123456789"
	t.Setenv("TOKEND_ADMIN_TOKEN", admin)
	addr, metricsAddr := freeAddr(t), freeAddr(t)
	listening, stop := startServe(t, "--insecure-http", "--addr", addr, "--metrics-addr", metricsAddr,
		"--data", t.TempDir(), "--log-level", "error")
	if !listening {
		t.Fatalf("serve: %v", stop())
	}
	cases := []struct {
		name, url, authorization string
		status                   int
	}{
		{"public, no credentials", "http://" + addr + "/metrics", "", http.StatusUnauthorized},
		{"public, wrong token", "http://" + addr + "/metrics", "Bearer not-the-admin-token-0123456789abc", http.StatusUnauthorized},
		{"public, admin token", "http://" + addr + "/metrics", "Bearer " + admin, http.StatusOK},
		{"metrics address, no credentials", "http://" + metricsAddr + "/metrics", "", http.StatusOK},
		{"metrics address, another path", "http://" + metricsAddr + "/healthz", "", http.StatusNotFound},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			req, err := http.NewRequestWithContext(t.Context(), http.MethodGet, c.url, nil)
			if err != nil {
				t.Fatal(err)
			}
			if c.authorization != "" {
				req.Header.Set("Authorization", c.authorization)
			}
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			b, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			body := string(b)
			if resp.StatusCode != c.status {
				t.Fatalf("got %d %.200q; want %d", resp.StatusCode, body, c.status)
			}
			hasMetrics := strings.Contains(body, "tokend_client_auth_failures_total")
			if got, want := hasMetrics, c.status == http.StatusOK; got != want {
				t.Errorf("metrics in the body: %t; want %t (%.200q)", got, want, body)
			}
			if c.status == http.StatusUnauthorized && !strings.Contains(body, `"error":"invalid_token"`) {
				t.Errorf("got %q; want an invalid_token JSON error", body)
			}
		})
	}
	if err := stop(); err != nil {
		t.Fatalf("serve: %v", err)
	}
	if _, err := http.Get("http://" + metricsAddr + "/metrics"); err == nil {
		t.Error("the metrics listener still answers after serve returned")
	}
}
