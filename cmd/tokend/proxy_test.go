package main

import (
	"bytes"
	"context"
	"encoding/base64"
	"net/http"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/tokend/tokend/internal/stack"
)

// TestServeTrustedProxies: behind a trusted proxy (here the test itself,
// on loopback), failed authentications are counted per client address
// from X-Forwarded-For: junk from one client blocks that client, not
// another behind the same proxy, and the request log names the client. A
// bad --trusted-proxies stops serve with an error naming the value.
func TestServeTrustedProxies(t *testing.T) {
	t.Parallel()
	t.Run("bad value", func(t *testing.T) {
		ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second) // a server that starts is killed
		defer cancel()
		cmd := exec.CommandContext(ctx, tokendBin, "serve", "--insecure-http", "--addr", "127.0.0.1:0")
		cmd.Env = append(os.Environ(), "TOKEND_DATA="+t.TempDir(), "TOKEND_TRUSTED_PROXIES=10.0.0.0/8,10.0.0/8")
		var stderr bytes.Buffer
		cmd.Stderr = &stderr
		err := cmd.Run()
		if _, ok := err.(*exec.ExitError); !ok || !strings.Contains(stderr.String(), "--trusted-proxies") || !strings.Contains(stderr.String(), `"10.0.0/8"`) {
			t.Fatalf("serve with TOKEND_TRUSTED_PROXIES=10.0.0.0/8,10.0.0/8: %v, stderr %q; want a non-zero exit naming the flag and the value", err, stderr.String())
		}
	})

	node, err := stack.StartTokend(t.Context(), tokendBin, t.TempDir(), "",
		"--trusted-proxies", "127.0.0.0/8", "--auth-fail-limit", "3", "--log-level", "info")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = node.Stop() })
	junk := "Basic " + base64.StdEncoding.EncodeToString([]byte("junk:junk"))
	revoke := func(forwardedFor string) int {
		t.Helper()
		req, err := http.NewRequestWithContext(t.Context(), http.MethodPost, node.URL+"/oauth2/revoke", strings.NewReader("token=x"))
		if err != nil {
			t.Fatal(err)
		}
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		req.Header.Set("Authorization", junk)
		if forwardedFor != "" {
			req.Header.Set("X-Forwarded-For", forwardedFor)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	for i := range 3 {
		if got := revoke("198.51.100.7"); got != http.StatusUnauthorized {
			t.Fatalf("junk %d from 198.51.100.7: %d; want 401", i+1, got)
		}
	}
	for _, tc := range []struct {
		name, forwardedFor string
		want               int
	}{
		{"the client that failed", "198.51.100.7", http.StatusTooManyRequests},
		{"the same client through a second proxy", "198.51.100.7, 127.0.0.9", http.StatusTooManyRequests},
		{"another client behind the proxy", "203.0.113.9", http.StatusUnauthorized},
		{"a forged entry left of the client", "198.51.100.7, 203.0.113.10", http.StatusUnauthorized},
		{"the proxy itself", "", http.StatusUnauthorized},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := revoke(tc.forwardedFor); got != tc.want {
				t.Errorf("junk with X-Forwarded-For %q: %d; want %d", tc.forwardedFor, got, tc.want)
			}
		})
	}
	deadline := time.Now().Add(5 * time.Second) // the log is written out every 100 ms
	for !strings.Contains(node.Log(), "remote=198.51.100.7") {
		if time.Now().After(deadline) {
			t.Fatalf("the request log does not name the client 198.51.100.7:\n%s", node.Log())
		}
		time.Sleep(50 * time.Millisecond)
	}
}
