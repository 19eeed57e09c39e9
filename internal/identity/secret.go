package identity

import (
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/binary"
	"fmt"
	"strings"
	"sync"
	"time"
)

const sha256Prefix = "sha256$"

// NewClientSecret returns a new client secret, 256 bits from crypto/rand
// in unpadded base64url (43 characters that need no escaping in a URL, a
// form or HTTP Basic, and contain no ':'), and its stored form,
// "sha256$<unpadded base64url of its SHA-256>". The secret is shown once
// and never stored.
//
// A fast hash is enough here: nobody can search 2^256 secrets, whatever the
// hash, and a slow one would cap how many requests per second clients can
// authenticate.
func NewClientSecret() (secret, stored string, err error) {
	var b [32]byte
	if _, err := rand.Read(b[:]); err != nil {
		return "", "", fmt.Errorf("identity: read random bytes: %w", err)
	}
	secret = base64.RawURLEncoding.EncodeToString(b[:])
	sum := sha256.Sum256([]byte(secret))
	return secret, sha256Prefix + base64.RawURLEncoding.EncodeToString(sum[:]), nil
}

// IsGenerated reports whether stored is the stored form of a generated
// secret (NewClientSecret): 256 random bits checked with one SHA-256, so
// it cannot be guessed online and its checks need no rate limit. Other
// forms (argon2id, of a secret an admin chose) may hide a weak secret.
func IsGenerated(stored string) bool { return strings.HasPrefix(stored, sha256Prefix) }

// HashChosenSecret returns the stored form of a client secret that an admin
// chose rather than the server generated. It may be weak, so it is hashed
// like a password (argon2id, see HashPassword).
func HashChosenSecret(secret string) (string, error) {
	return HashPassword(secret)
}

// DefaultSecretCacheTTL is how long a SecretVerifier remembers a successful
// argon2id check unless told otherwise.
const DefaultSecretCacheTTL = 5 * time.Minute

// secretCacheSize bounds the remembered checks: one per client with a
// chosen secret, in practice.
const secretCacheSize = 10_000

// SecretVerifier checks presented client secrets against their stored
// form. A successful argon2id check is remembered for a short time, so that
// a busy client with an admin-chosen secret pays argon2id once per TTL
// rather than once per request; and checks of the same secret against the
// same hash that arrive while one is running wait for its result instead
// of running again. Failures are never remembered. A changed stored hash
// (a rotated secret) misses the cache at once, since the stored hash is
// part of the key.
//
// The zero value is ready to use, with DefaultSecretCacheTTL and time.Now.
// A SecretVerifier is safe for concurrent use.
type SecretVerifier struct {
	ttl time.Duration
	now func() time.Time
	// slow is VerifyPassword; tests replace it to count calls.
	slow func(stored, secret string) (bool, error)

	mu       sync.Mutex
	cache    map[[sha256.Size]byte]time.Time // remembered check → its expiry
	inflight map[[sha256.Size]byte]*argonCheck
}

// argonCheck is an argon2id check in progress; ok is set before done is
// closed.
type argonCheck struct {
	done chan struct{}
	ok   bool
}

// NewSecretVerifier returns a SecretVerifier that remembers a successful
// argon2id check for ttl (DefaultSecretCacheTTL when ttl <= 0). now may be
// nil (time.Now).
func NewSecretVerifier(ttl time.Duration, now func() time.Time) *SecretVerifier {
	return &SecretVerifier{ttl: ttl, now: now}
}

// Verify reports whether secret matches stored, a "sha256$..." form from
// NewClientSecret or an argon2id hash from HashChosenSecret. An empty or
// malformed stored form never matches; comparisons are constant-time.
func (v *SecretVerifier) Verify(stored, secret string) bool {
	switch {
	case secret == "":
		return false
	case strings.HasPrefix(stored, sha256Prefix):
		return verifySHA256(stored[len(sha256Prefix):], secret)
	case strings.HasPrefix(stored, argonPrefix):
		return v.verifyArgon2(stored, secret)
	}
	return false
}

// Remembered reports whether secret is known to match the argon2id hash
// stored without a new argon2id run: a success remembered within the TTL,
// or an identical check in progress, waited for, that succeeds. It is
// false for anything else (unknown, wrong, a generated secret's form), in
// which case only Verify can tell. Callers use it to let a client whose
// secret was just verified through without counting an attempt.
func (v *SecretVerifier) Remembered(stored, secret string) bool {
	if secret == "" || !strings.HasPrefix(stored, argonPrefix) {
		return false
	}
	key := cacheKey(stored, secret)
	now := v.clock()
	v.mu.Lock()
	exp, hit := v.cache[key]
	c := v.inflight[key]
	v.mu.Unlock()
	switch {
	case hit && now.Before(exp):
		return true
	case c != nil:
		<-c.done
		return c.ok
	}
	return false
}

func verifySHA256(encoded, secret string) bool {
	var want [sha256.Size]byte
	if len(encoded) != base64.RawURLEncoding.EncodedLen(len(want)) {
		return false
	}
	var src [43]byte // EncodedLen(32); copied so that decoding does not allocate
	copy(src[:], encoded)
	if n, err := base64.RawURLEncoding.Decode(want[:], src[:]); err != nil || n != len(want) {
		return false
	}
	got := sha256.Sum256([]byte(secret))
	return subtle.ConstantTimeCompare(got[:], want[:]) == 1
}

func (v *SecretVerifier) verifyArgon2(stored, secret string) bool {
	key := cacheKey(stored, secret)
	now := v.clock()
	v.mu.Lock()
	if exp, hit := v.cache[key]; hit && now.Before(exp) {
		v.mu.Unlock()
		return true
	}
	if c := v.inflight[key]; c != nil {
		v.mu.Unlock()
		<-c.done
		return c.ok
	}
	c := &argonCheck{done: make(chan struct{})}
	if v.inflight == nil {
		v.inflight = make(map[[sha256.Size]byte]*argonCheck)
	}
	v.inflight[key] = c
	v.mu.Unlock()

	slow := v.slow
	if slow == nil {
		slow = VerifyPassword
	}
	// A malformed hash is a data problem, not a wrong secret; either way
	// the client is refused, and the caller knows which client it was.
	ok, err := slow(stored, secret)
	c.ok = ok && err == nil

	v.mu.Lock()
	delete(v.inflight, key)
	if c.ok {
		v.remember(key, now)
	}
	v.mu.Unlock()
	close(c.done)
	return c.ok
}

// remember records a successful check; v.mu is held.
func (v *SecretVerifier) remember(key [sha256.Size]byte, now time.Time) {
	ttl := v.ttl
	if ttl <= 0 {
		ttl = DefaultSecretCacheTTL
	}
	if v.cache == nil {
		v.cache = make(map[[sha256.Size]byte]time.Time)
	}
	if _, ok := v.cache[key]; !ok && len(v.cache) >= secretCacheSize {
		// Full: drop what has expired, and if nothing has, any one entry
		// (map order is random). Only successful argon2id checks get here,
		// each of which cost far more than this sweep.
		for k, exp := range v.cache {
			if !now.Before(exp) {
				delete(v.cache, k)
			}
		}
		for k := range v.cache {
			if len(v.cache) < secretCacheSize {
				break
			}
			delete(v.cache, k)
		}
	}
	v.cache[key] = now.Add(ttl)
}

func (v *SecretVerifier) clock() time.Time {
	if v.now != nil {
		return v.now()
	}
	return time.Now()
}

// cacheKey is SHA-256(len(stored) || stored || secret). The length makes
// the split between stored and secret unambiguous, so no other pair of
// stored hash and secret can share the key.
func cacheKey(stored, secret string) [sha256.Size]byte {
	h := sha256.New()
	var n [8]byte
	binary.BigEndian.PutUint64(n[:], uint64(len(stored)))
	h.Write(n[:])
	h.Write([]byte(stored))
	h.Write([]byte(secret))
	var key [sha256.Size]byte
	h.Sum(key[:0])
	return key
}
