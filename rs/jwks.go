package rs

import (
	"context"
	"sync"
	"time"

	"github.com/go-jose/go-jose/v4"
)

// keyCache holds the server's published keys. An unknown kid fetches the
// JWKS again (a key rotation), at most once per refetchEvery, so tokens
// with made-up kids cannot make the middleware hammer the server; the set
// is also refreshed when older than maxKeyAge. (tokend signs with a new
// key from the moment it is rotated in, so a resource server that fetched
// the keys just before may refuse the first new tokens for up to
// refetchEvery.)
type keyCache struct {
	guard   *Guard
	refetch time.Duration // refetchEvery; shorter in tests

	mu        sync.Mutex
	keys      map[string]jose.JSONWebKey
	fetchedAt time.Time
	lastTry   time.Time
	fetching  chan struct{} // closed when the fetch under way ends
	lastError error
}

const (
	refetchEvery = time.Second
	maxKeyAge    = time.Hour
)

// get returns the key with kid. An error other than errUnknownKey means the
// keys could not be fetched at all.
func (k *keyCache) get(ctx context.Context, kid string) (jose.JSONWebKey, error) {
	for {
		k.mu.Lock()
		key, ok := k.keys[kid]
		stale := time.Since(k.fetchedAt) > maxKeyAge
		if ok && !stale {
			k.mu.Unlock()
			return key, nil
		}
		if wait := k.fetching; wait != nil {
			k.mu.Unlock()
			select {
			case <-wait:
				continue
			case <-ctx.Done():
				return jose.JSONWebKey{}, ctx.Err()
			}
		}
		if time.Since(k.lastTry) < k.refetch {
			err := k.lastError
			k.mu.Unlock()
			if ok {
				return key, nil
			}
			if err == nil {
				err = errUnknownKey
			}
			return jose.JSONWebKey{}, err
		}
		done := make(chan struct{})
		k.fetching, k.lastTry = done, time.Now()
		k.mu.Unlock()

		keys, err := k.fetch(ctx)
		k.mu.Lock()
		k.fetching = nil
		k.lastError = err
		if err == nil {
			k.keys, k.fetchedAt = keys, time.Now()
		}
		k.mu.Unlock()
		close(done)
		if err != nil && ok {
			return key, nil // keep using the keys we had
		}
		if err != nil {
			return jose.JSONWebKey{}, err
		}
		k.mu.Lock()
		key, ok = k.keys[kid]
		k.mu.Unlock()
		if !ok {
			return jose.JSONWebKey{}, errUnknownKey
		}
		return key, nil
	}
}

func (k *keyCache) fetch(ctx context.Context) (map[string]jose.JSONWebKey, error) {
	u, err := k.guard.endpoint(ctx, k.guard.cfg.JWKSURL, func(m *metadata) string { return m.JWKSURI }, "jwks_uri")
	if err != nil {
		return nil, err
	}
	var set jose.JSONWebKeySet
	if err := k.guard.getJSON(ctx, u, &set); err != nil {
		return nil, err
	}
	keys := make(map[string]jose.JSONWebKey, len(set.Keys))
	for _, key := range set.Keys {
		if key.Use == "enc" || !key.Valid() || !key.IsPublic() {
			continue
		}
		keys[key.KeyID] = key
	}
	return keys, nil
}
