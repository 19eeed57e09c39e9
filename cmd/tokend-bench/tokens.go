package main

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/tokend/tokend/internal/oauth"
)

// jwtAlg returns the alg of a JWT's header.
func jwtAlg(jwt string) (string, error) {
	h, _, ok := strings.Cut(jwt, ".")
	if !ok {
		return "", fmt.Errorf("not a JWT: %.12q…", jwt)
	}
	raw, err := base64.RawURLEncoding.DecodeString(h)
	if err != nil {
		return "", fmt.Errorf("JWT header: %w", err)
	}
	var hdr struct {
		Alg string `json:"alg"`
	}
	if err := json.Unmarshal(raw, &hdr); err != nil {
		return "", fmt.Errorf("JWT header: %w", err)
	}
	return hdr.Alg, nil
}

// cycle returns a body function that introspects tokens in turn, each
// worker starting at its own place.
func cycle(tokens []string, workers int) func(int) (string, bool) {
	next := make([]int, workers)
	for w := range next {
		next[w] = w * len(tokens) / workers
	}
	return func(w int) (string, bool) {
		if len(tokens) == 0 {
			return "", false
		}
		t := tokens[next[w]%len(tokens)]
		next[w]++
		return "token=" + t, true
	}
}

// issueMany gets n client_credentials access tokens, untimed, with up to
// workers requests at a time. Any failure is an error: the measurements
// need every token.
func issueMany(ctx context.Context, c *http.Client, base, auth string, n, workers int) ([]string, error) {
	out := make([]string, n)
	err := parallel(ctx, n, workers, func(i int, buf *bytes.Buffer) error {
		status, body, err := postUntimed(ctx, c, base+oauth.PathToken, auth, "grant_type=client_credentials", buf)
		if err != nil {
			return err
		}
		t, ok := jsonString(body, "access_token")
		if status != http.StatusOK || !ok {
			return fmt.Errorf("token endpoint answered %d %.200s", status, body)
		}
		out[i] = t
		return nil
	})
	return out, err
}

// revokeMany revokes tokens, untimed.
func revokeMany(ctx context.Context, c *http.Client, base, auth string, tokens []string, workers int) error {
	return parallel(ctx, len(tokens), workers, func(i int, buf *bytes.Buffer) error {
		status, body, err := postUntimed(ctx, c, base+oauth.PathRevoke, auth, "token="+tokens[i], buf)
		if err != nil {
			return err
		}
		if status != http.StatusOK {
			return fmt.Errorf("revocation endpoint answered %d %.200s", status, body)
		}
		return nil
	})
}

// passwordGrants gets n refresh tokens with the password grant.
func passwordGrants(ctx context.Context, c *http.Client, base, auth, user, password string, n int) ([]string, error) {
	out := make([]string, n)
	form := url.Values{"grant_type": {"password"}, "username": {user}, "password": {password}}.Encode()
	err := parallel(ctx, n, min(n, 8), func(i int, buf *bytes.Buffer) error {
		status, body, err := postUntimed(ctx, c, base+oauth.PathToken, auth, form, buf)
		if err != nil {
			return err
		}
		t, ok := jsonString(body, "refresh_token")
		if status != http.StatusOK || !ok {
			return fmt.Errorf("password grant answered %d %.200s", status, body)
		}
		out[i] = t
		return nil
	})
	return out, err
}

// parallel calls f for 0..n-1 on up to workers goroutines and returns the
// first error.
func parallel(parent context.Context, n, workers int, f func(i int, buf *bytes.Buffer) error) error {
	var (
		next    atomic.Int64
		wg      sync.WaitGroup
		errOnce sync.Once
		first   error
	)
	ctx, cancel := context.WithCancel(parent)
	defer cancel()
	for range min(workers, n) {
		wg.Go(func() {
			var buf bytes.Buffer
			for ctx.Err() == nil {
				i := int(next.Add(1) - 1)
				if i >= n {
					return
				}
				if err := f(i, &buf); err != nil {
					errOnce.Do(func() { first = err; cancel() })
					return
				}
			}
		})
	}
	wg.Wait()
	if first != nil {
		return first
	}
	return parent.Err()
}

// postUntimed is post for the untimed preparation of a phase: a server
// that sheds load (503, or 429) is asked again after a pause, since what
// is measured is not this request but the tokens it provides.
func postUntimed(ctx context.Context, c *http.Client, url, auth, body string, buf *bytes.Buffer) (int, []byte, error) {
	for {
		status, resp, err := post(ctx, c, url, auth, body, buf)
		if err != nil || (status != http.StatusServiceUnavailable && status != http.StatusTooManyRequests) {
			return status, resp, err
		}
		select {
		case <-ctx.Done():
			return status, resp, ctx.Err()
		case <-time.After(10 * time.Millisecond):
		}
	}
}
