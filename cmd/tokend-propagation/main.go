// Command tokend-propagation measures how long a revocation takes to reach
// a resource server that validates JWTs by itself: from the 200 of
// POST /oauth2/revoke to the first refusal of the revoked token by the
// example API (package rs, in another process), over many revocations.
//
// By default it builds tokend and examples/api, starts both on loopback
// with a fresh data folder, and measures:
//
//	go run ./cmd/tokend-propagation -n 1000
//
// Against servers already running, give their URLs and clients:
//
//	go run ./cmd/tokend-propagation -issuer http://127.0.0.1:9443 -api http://127.0.0.1:8081 \
//	    -client-id APP -client-secret SECRET
//
// where APP is a jwt-format client allowed the client_credentials grant, and
// the API requires scope "read".
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"os/signal"
	"slices"
	"strings"
	"time"

	"github.com/tokend/tokend/internal/stack"
)

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "tokend-propagation:", err)
		os.Exit(1)
	}
}

// audience is the aud tokend puts in JWTs and the API requires.
const audience = "https://api.example"

func run() error {
	n := flag.Int("n", 1000, "revocations to measure")
	warmup := flag.Int("warmup", 20, "revocations made first and not counted")
	timeout := flag.Duration("timeout", 5*time.Second, "longest wait for one refusal")
	alg := flag.String("jwt-alg", "RS256", "algorithm of the JWTs (when starting tokend)")
	issuer := flag.String("issuer", "", "tokend to use; empty: build and start one")
	api := flag.String("api", "", "example API to use (with -issuer)")
	clientID := flag.String("client-id", "", "jwt-format client with the client_credentials grant (with -issuer)")
	clientSecret := flag.String("client-secret", "", "its secret")
	flag.Parse()

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	if *issuer == "" {
		tmp, err := os.MkdirTemp("", "tokend-propagation-")
		if err != nil {
			return err
		}
		defer os.RemoveAll(tmp)
		env, err := startStack(ctx, tmp, *alg)
		if err != nil {
			return err
		}
		defer env.close()
		*issuer, *api, *clientID, *clientSecret = env.tokend.URL, env.api.URL, env.appID, env.appSecret
	}
	if *api == "" || *clientID == "" {
		return errors.New("-api, -client-id and -client-secret go with -issuer")
	}
	m := &measurer{
		http:   &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 16}},
		issuer: strings.TrimSuffix(*issuer, "/"), api: strings.TrimSuffix(*api, "/"),
		id: *clientID, secret: *clientSecret, timeout: *timeout,
	}
	for range *warmup {
		if _, _, err := m.once(ctx); err != nil {
			return fmt.Errorf("warm-up: %w", err)
		}
	}
	lat := make([]time.Duration, 0, *n)
	firstTry := 0
	start := time.Now()
	for i := range *n {
		d, tries, err := m.once(ctx)
		if err != nil {
			return fmt.Errorf("revocation %d: %w", i+1, err)
		}
		lat = append(lat, d)
		if tries == 1 {
			firstTry++
		}
	}
	elapsed := time.Since(start)
	slices.Sort(lat)
	pct := func(p float64) time.Duration { return lat[min(len(lat)-1, int(p*float64(len(lat))))] }
	var sum time.Duration
	for _, d := range lat {
		sum += d
	}
	fmt.Printf("revocations: %d (in %v)\n", len(lat), elapsed.Round(time.Millisecond))
	fmt.Printf("propagation from the 200 of /oauth2/revoke to the API's first 401:\n")
	fmt.Printf("  p50 %v  p90 %v  p99 %v  max %v  mean %v\n", pct(0.50), pct(0.90), pct(0.99), lat[len(lat)-1], sum/time.Duration(len(lat)))
	fmt.Printf("  refused by the first request after the 200: %d of %d\n", firstTry, len(lat))
	return nil
}

type environment struct {
	tokend           *stack.Tokend
	api              *stack.API
	appID, appSecret string
}

func (e *environment) close() {
	if e.api != nil {
		_ = e.api.Stop()
	}
	if e.tokend != nil {
		_ = e.tokend.Stop()
	}
}

// startStack builds and starts tokend and the example API, with a client
// for the API (can_introspect) and one that gets JWTs.
func startStack(ctx context.Context, dir, alg string) (*environment, error) {
	fmt.Fprintln(os.Stderr, "building tokend and examples/api ...")
	tokendBin, apiBin, err := stack.Build(ctx, dir)
	if err != nil {
		return nil, err
	}
	env := &environment{}
	env.tokend, err = stack.StartTokend(ctx, tokendBin, dir+"/data", "", "--jwt-audience", audience, "--jwt-alg", alg)
	if err != nil {
		return nil, err
	}
	rsID, rsSecret, err := env.tokend.CreateClient(ctx, "--name", "example-api", "--can-introspect")
	if err != nil {
		env.close()
		return nil, err
	}
	env.appID, env.appSecret, err = env.tokend.CreateClient(ctx, "--name", "propagation", "--token-format", "jwt", "--grant", "client_credentials")
	if err != nil {
		env.close()
		return nil, err
	}
	env.api, err = stack.StartAPI(ctx, apiBin, env.tokend.URL, rsID, rsSecret, audience)
	if err != nil {
		env.close()
		return nil, err
	}
	// Wait until the API follows the feed.
	deadline := time.Now().Add(10 * time.Second)
	for {
		resp, err := http.Get(env.api.URL + "/readyz")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				break
			}
		}
		if time.Now().After(deadline) {
			env.close()
			return nil, fmt.Errorf("the API's feed did not catch up in 10 s:\n%s", env.api.Log())
		}
		time.Sleep(20 * time.Millisecond)
	}
	fmt.Fprintf(os.Stderr, "tokend at %s, API at %s\n", env.tokend.URL, env.api.URL)
	return env, nil
}

type measurer struct {
	http        *http.Client
	issuer, api string
	id, secret  string
	timeout     time.Duration
}

// once issues a JWT, sees the API accept it, revokes it and returns the
// time from the revocation's 200 to the API's first refusal, and how many
// requests that took.
func (m *measurer) once(ctx context.Context) (time.Duration, int, error) {
	status, body, err := m.post(ctx, "/oauth2/token", url.Values{"grant_type": {"client_credentials"}, "scope": {"read"}})
	if err != nil || status != http.StatusOK {
		return 0, 0, fmt.Errorf("token: %d %s %v", status, body, err)
	}
	var tok struct {
		AccessToken string `json:"access_token"`
	}
	if err := json.Unmarshal(body, &tok); err != nil {
		return 0, 0, err
	}
	if s, err := m.callAPI(ctx, tok.AccessToken); err != nil || s != http.StatusOK {
		return 0, 0, fmt.Errorf("the API refused a fresh token: %d %v", s, err)
	}
	status, body, err = m.post(ctx, "/oauth2/revoke", url.Values{"token": {tok.AccessToken}})
	if err != nil || status != http.StatusOK {
		return 0, 0, fmt.Errorf("revoke: %d %s %v", status, body, err)
	}
	revoked := time.Now()
	for tries := 1; ; tries++ {
		s, err := m.callAPI(ctx, tok.AccessToken)
		if err != nil {
			return 0, 0, err
		}
		if s == http.StatusUnauthorized {
			return time.Since(revoked), tries, nil
		}
		if s != http.StatusOK {
			return 0, 0, fmt.Errorf("the API answered %d", s)
		}
		if time.Since(revoked) > m.timeout {
			return 0, 0, fmt.Errorf("the revoked token was still accepted after %v", m.timeout)
		}
	}
}

func (m *measurer) post(ctx context.Context, path string, form url.Values) (int, []byte, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, m.issuer+path, strings.NewReader(form.Encode()))
	if err != nil {
		return 0, nil, err
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.SetBasicAuth(url.QueryEscape(m.id), url.QueryEscape(m.secret))
	resp, err := m.http.Do(req)
	if err != nil {
		return 0, nil, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return resp.StatusCode, b, err
}

func (m *measurer) callAPI(ctx context.Context, token string) (int, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, m.api+"/hello", nil)
	if err != nil {
		return 0, err
	}
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := m.http.Do(req)
	if err != nil {
		return 0, err
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return resp.StatusCode, nil
}
