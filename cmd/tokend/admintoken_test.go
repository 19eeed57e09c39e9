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

// listenWatch is serve's standard output: ready is closed once the server
// says it listens.
type listenWatch struct {
	once  sync.Once
	ready chan struct{}
}

func (l *listenWatch) Write(p []byte) (int, error) {
	if strings.Contains(string(p), "listening on") {
		l.once.Do(func() { close(l.ready) })
	}
	return len(p), nil
}

// startServe runs serve in-process with args. Once it listens, it returns
// true and the function that stops it and returns serve's error; if serve
// ends before, false and a function returning that error.
func startServe(t *testing.T, args ...string) (listening bool, stop func() error) {
	t.Helper()
	ctx, cancel := context.WithCancel(t.Context())
	w := &listenWatch{ready: make(chan struct{})}
	done := make(chan error, 1)
	go func() { done <- serve(ctx, args, w, io.Discard) }()
	select {
	case <-w.ready:
		var once sync.Once
		var err error
		stop = func() error {
			once.Do(func() { cancel(); err = <-done })
			return err
		}
		t.Cleanup(func() { _ = stop() })
		return true, stop
	case err := <-done:
		cancel()
		return false, func() error { return err }
	}
}

// serveOnce runs serve on data until it listens, then stops it. It
// returns whether it listened and serve's error.
func serveOnce(t *testing.T, data string) (listened bool, err error) {
	t.Helper()
	listened, stop := startServe(t, "--insecure-http", "--addr", "127.0.0.1:0", "--data", data, "--log-level", "error")
	return listened, stop()
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
