package assertion

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"sync"
	"time"

	"github.com/go-jose/go-jose/v4"

	"github.com/tokend/tokend/internal/store"
)

// maxJWKSBytes bounds a fetched JWKS document.
const maxJWKSBytes = 1 << 20

// KeySource resolves a trusted issuer's keys: the JWKS document registered
// with it, or the one at its jwks_uri, cached for TTL and fetched again
// (at most every MinRefresh) when an assertion names an unknown kid, which
// is how issuers roll their keys.
type KeySource struct {
	Client     *http.Client  // nil: a client with a 5 s timeout
	TTL        time.Duration // 0: 5 minutes
	MinRefresh time.Duration // 0: 30 seconds

	mu    sync.Mutex
	cache map[string]cachedSet
}

type cachedSet struct {
	keys      []jose.JSONWebKey
	fetchedAt time.Time
}

var defaultKeySource = &KeySource{}

// Keys returns the issuer's keys; kid, when not empty, may trigger a
// refresh of a cached jwks_uri document that lacks it.
func (s *KeySource) Keys(ctx context.Context, iss store.Issuer, kid string) ([]jose.JSONWebKey, error) {
	if iss.JWKSURI == "" {
		return ParseJWKS(iss.JWKS)
	}
	ttl, minRefresh := s.TTL, s.MinRefresh
	if ttl == 0 {
		ttl = 5 * time.Minute
	}
	if minRefresh == 0 {
		minRefresh = 30 * time.Second
	}
	now := time.Now()
	s.mu.Lock()
	c, ok := s.cache[iss.JWKSURI]
	s.mu.Unlock()
	fresh := ok && now.Sub(c.fetchedAt) < ttl
	if fresh && (kid == "" || hasKid(c.keys, kid) || now.Sub(c.fetchedAt) < minRefresh) {
		return c.keys, nil
	}
	keys, err := s.fetch(ctx, iss.JWKSURI)
	if err != nil {
		if ok {
			return c.keys, nil // keep using what we had while the issuer is unreachable
		}
		return nil, err
	}
	s.mu.Lock()
	if s.cache == nil {
		s.cache = map[string]cachedSet{}
	}
	s.cache[iss.JWKSURI] = cachedSet{keys: keys, fetchedAt: now}
	s.mu.Unlock()
	return keys, nil
}

func (s *KeySource) fetch(ctx context.Context, uri string) ([]jose.JSONWebKey, error) {
	client := s.Client
	if client == nil {
		client = &http.Client{Timeout: 5 * time.Second}
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, uri, nil)
	if err != nil {
		return nil, err
	}
	req.Header.Set("Accept", "application/json")
	resp, err := client.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("assertion: jwks_uri answered %d", resp.StatusCode)
	}
	b, err := io.ReadAll(io.LimitReader(resp.Body, maxJWKSBytes+1))
	if err != nil {
		return nil, err
	}
	if len(b) > maxJWKSBytes {
		return nil, errors.New("assertion: jwks_uri document too large")
	}
	return ParseJWKS(b)
}

// ParseJWKS parses a JWK Set document (RFC 7517 §5), keeping its public
// signature keys. A set with a private or symmetric key is refused: a
// trusted issuer's set must never hold a secret.
func ParseJWKS(b []byte) ([]jose.JSONWebKey, error) {
	var set jose.JSONWebKeySet
	if err := json.Unmarshal(b, &set); err != nil {
		return nil, fmt.Errorf("assertion: not a JWK Set: %w", err)
	}
	if len(set.Keys) == 0 {
		return nil, errors.New("assertion: the JWK Set has no keys")
	}
	for _, k := range set.Keys {
		if !k.Valid() || !k.IsPublic() {
			return nil, errors.New("assertion: the JWK Set must hold only public keys")
		}
	}
	return set.Keys, nil
}

func hasKid(keys []jose.JSONWebKey, kid string) bool {
	for _, k := range keys {
		if k.KeyID == kid {
			return true
		}
	}
	return false
}
