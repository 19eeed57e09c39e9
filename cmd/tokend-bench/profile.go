package main

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"time"
)

// freeAddr returns a loopback address with a port free a moment ago, for
// the server's --debug-addr.
func freeAddr() (string, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	defer l.Close()
	return l.Addr().String(), nil
}

// profilePhase starts a CPU profile of the server at debugAddr for d, the
// length of the phase that starts with it, and returns a wait that saves
// it to dir/<name>.pprof (name made a file name) and returns its path. The
// profile is the server's Go profiler (serve --debug-addr): where the
// server's time goes under the phase's load, for `go tool pprof`.
func profilePhase(ctx context.Context, debugAddr, dir, name string, d time.Duration) (wait func() (string, error)) {
	secs := max(1, int(d/time.Second))
	type got struct {
		body []byte
		err  error
	}
	ch := make(chan got, 1)
	go func() {
		u := fmt.Sprintf("http://%s/debug/pprof/profile?seconds=%d", debugAddr, secs)
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
		if err != nil {
			ch <- got{err: err}
			return
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			ch <- got{err: err}
			return
		}
		defer resp.Body.Close()
		body, err := io.ReadAll(resp.Body)
		if err == nil && resp.StatusCode != http.StatusOK {
			err = fmt.Errorf("%s: %s", u, resp.Status)
		}
		ch <- got{body, err}
	}()
	return func() (string, error) {
		g := <-ch
		if g.err != nil {
			return "", g.err
		}
		if err := os.MkdirAll(dir, 0o755); err != nil {
			return "", err
		}
		path := filepath.Join(dir, fileName(name)+".pprof")
		return path, os.WriteFile(path, g.body, 0o644)
	}
}

// fileName turns a phase's name into a file name: "revoke (distinct
// tokens)" into "revoke-distinct-tokens".
func fileName(name string) string {
	f := strings.FieldsFunc(strings.ToLower(name), func(r rune) bool {
		return !(r >= 'a' && r <= 'z' || r >= '0' && r <= '9')
	})
	return strings.Join(f, "-")
}
