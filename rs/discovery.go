package rs

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"
)

// metadata is what the middleware reads of the server's metadata (RFC 8414
// §2, and tokend's revocation_feed_endpoint).
type metadata struct {
	Issuer                string `json:"issuer"`
	JWKSURI               string `json:"jwks_uri"`
	IntrospectionEndpoint string `json:"introspection_endpoint"`
	RevocationFeed        string `json:"revocation_feed_endpoint"`
}

// discovery fetches the metadata once, when an endpoint that was not
// configured is first needed, and again after a failure at most once a
// second.
type discovery struct {
	guard *Guard

	mu        sync.Mutex
	m         *metadata
	lastTry   time.Time
	lastError error
}

// retryEvery bounds how often a failed fetch of the metadata or the JWKS
// is tried again.
const retryEvery = time.Second

func (d *discovery) get(ctx context.Context) (*metadata, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.m != nil {
		return d.m, nil
	}
	if time.Since(d.lastTry) < retryEvery && d.lastError != nil {
		return nil, d.lastError
	}
	d.lastTry = time.Now()
	var m metadata
	err := d.guard.getJSON(ctx, d.guard.cfg.Issuer+"/.well-known/oauth-authorization-server", &m)
	if err == nil && strings.TrimSuffix(m.Issuer, "/") != d.guard.cfg.Issuer {
		// RFC 8414 §3.3: the metadata must name the issuer it was fetched for.
		err = fmt.Errorf("the metadata names issuer %q, not %q", m.Issuer, d.guard.cfg.Issuer)
	}
	if err != nil {
		d.lastError = fmt.Errorf("rs: authorization server metadata: %w", err)
		return nil, d.lastError
	}
	d.m = &m
	return d.m, nil
}

// endpoint returns a configured URL, else the one the metadata names.
func (r *Guard) endpoint(ctx context.Context, configured string, pick func(*metadata) string, name string) (string, error) {
	if configured != "" {
		return configured, nil
	}
	m, err := r.meta.get(ctx)
	if err != nil {
		return "", err
	}
	if u := pick(m); u != "" {
		return u, nil
	}
	return "", fmt.Errorf("rs: the authorization server's metadata has no %s", name)
}

// Response size limits.
const (
	maxJSON       = 1 << 20
	maxStatusList = 16 << 20
)

// getJSON fetches a JSON document.
func (r *Guard) getJSON(ctx context.Context, u string, v any) error {
	b, err := r.fetch(ctx, http.MethodGet, u, "application/json", nil, false, maxJSON)
	if err != nil {
		return err
	}
	return json.Unmarshal(b, v)
}

// fetch makes one request bounded by RequestTimeout and returns the body of
// a 200 answer.
func (r *Guard) fetch(ctx context.Context, method, u, accept string, form url.Values, auth bool, limit int64) ([]byte, error) {
	ctx, cancel := context.WithTimeout(ctx, r.cfg.RequestTimeout)
	defer cancel()
	var body io.Reader
	if form != nil {
		body = strings.NewReader(form.Encode())
	}
	req, err := http.NewRequestWithContext(ctx, method, u, body)
	if err != nil {
		return nil, err
	}
	req.Header.Set("Accept", accept)
	if form != nil {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	if auth {
		req.Header.Set("Authorization", r.basicAuth())
	}
	resp, err := r.cfg.HTTPClient.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, limit+1))
	if err != nil {
		return nil, err
	}
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("%s %s: %s", method, u, statusText(resp.StatusCode))
	}
	if int64(len(b)) > limit {
		return nil, fmt.Errorf("%s %s: answer larger than %d bytes", method, u, limit)
	}
	return b, nil
}

// basicAuth is the resource server's client authentication, RFC 6749
// §2.3.1: id and secret form-urlencoded, then HTTP Basic.
func (r *Guard) basicAuth() string {
	pair := url.QueryEscape(r.cfg.ClientID) + ":" + url.QueryEscape(r.cfg.ClientSecret)
	return "Basic " + base64.StdEncoding.EncodeToString([]byte(pair))
}

var errUnknownKey = errors.New("rs: no published key has that kid")
