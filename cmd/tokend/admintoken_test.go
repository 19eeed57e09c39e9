package main

import (
	"context"
	"io"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
)

// listenWatch is serve's standard output: it stops the server once the
// server says it listens.
type listenWatch struct {
	mu        sync.Mutex
	listening bool
	stop      context.CancelFunc
}

func (l *listenWatch) Write(p []byte) (int, error) {
	if strings.Contains(string(p), "listening on") {
		l.mu.Lock()
		l.listening = true
		l.mu.Unlock()
		l.stop()
	}
	return len(p), nil
}

// serveOnce runs serve on data until it listens, then stops it. It
// returns whether it listened and serve's error.
func serveOnce(t *testing.T, data string) (listened bool, err error) {
	t.Helper()
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	w := &listenWatch{stop: cancel}
	err = serve(ctx, []string{"--insecure-http", "--addr", "127.0.0.1:0", "--data", data, "--log-level", "error"}, w, io.Discard)
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.listening, err
}

// TestServeRefusesShortAdminToken: serve exits with an error naming the
// token's source when the admin token, from TOKEND_ADMIN_TOKEN or from a
// data folder's admin-token file written by hand, has fewer than 32
// characters.
func TestServeRefusesShortAdminToken(t *testing.T) {
	cases := []struct {
		name, env, file string
		refused         string // what the error names; "" when serve must start
	}{
		{"environment, one character", "a", "", "TOKEND_ADMIN_TOKEN"},
		{"environment, 31 characters", strings.Repeat("k", 31), "", "TOKEND_ADMIN_TOKEN"},
		{"file written by hand", "", "letmein\n", "admin-token"},
		{"environment, 32 characters", strings.Repeat("k", 32), "", ""},
		{"file, 32 characters", "", strings.Repeat("k", 32) + "\n", ""},
		{"no token: one is made", "", "", ""},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Setenv("TOKEND_ADMIN_TOKEN", c.env)
			data := t.TempDir()
			if c.file != "" {
				if err := os.WriteFile(filepath.Join(data, "admin-token"), []byte(c.file), 0o600); err != nil {
					t.Fatal(err)
				}
			}
			listened, err := serveOnce(t, data)
			if c.refused == "" {
				if err != nil || !listened {
					t.Fatalf("serve: %v (listened %t); want it to start", err, listened)
				}
				return
			}
			if listened {
				t.Fatalf("serve started with a short admin token")
			}
			if err == nil || !strings.Contains(err.Error(), c.refused) || !strings.Contains(err.Error(), "at least 32") {
				t.Errorf("serve: error %v; want one naming %s and the minimum of 32 characters", err, c.refused)
			}
		})
	}
}
