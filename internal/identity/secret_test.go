package identity

import (
	"crypto/sha256"
	"encoding/base64"
	"net/url"
	"regexp"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"
)

var secretRE = regexp.MustCompile(`^[A-Za-z0-9_-]{43}$`)

func TestNewClientSecret(t *testing.T) {
	secret, stored, err := NewClientSecret()
	if err != nil {
		t.Fatal(err)
	}
	if !secretRE.MatchString(secret) {
		t.Errorf("secret %q does not match %s", secret, secretRE)
	}
	if url.QueryEscape(secret) != secret || strings.Contains(secret, ":") {
		t.Errorf("secret %q needs escaping in a form or HTTP Basic", secret)
	}
	sum := sha256.Sum256([]byte(secret))
	if want := "sha256$" + base64.RawURLEncoding.EncodeToString(sum[:]); stored != want {
		t.Errorf("stored = %q; want %q", stored, want)
	}
	secret2, stored2, err := NewClientSecret()
	if err != nil {
		t.Fatal(err)
	}
	if secret2 == secret || stored2 == stored {
		t.Errorf("two secrets are the same")
	}

	v := NewSecretVerifier(0, nil)
	for _, tc := range []struct {
		name, stored, secret string
		want                 bool
	}{
		{"right", stored, secret, true},
		{"other client's secret", stored, secret2, false},
		{"one character off", stored, secret[:42] + string(secret[42]^1), false},
		{"truncated secret", stored, secret[:42], false},
		{"empty secret", stored, "", false},
		{"empty stored", "", secret, false},
		{"prefix only", "sha256$", secret, false},
		{"stored truncated", stored[:len(stored)-1], secret, false},
		{"stored extended", stored + "A", secret, false},
		{"stored padded", stored[:len(stored)-1] + "=", secret, false},
		{"stored is the secret", "sha256$" + secret, secret, false},
		{"stored upper-case prefix", "SHA256$" + stored[7:], secret, false},
		{"unknown scheme", "md5$" + stored[7:], secret, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := v.Verify(tc.stored, tc.secret); got != tc.want {
				t.Errorf("Verify(%q, %q) = %v; want %v", tc.stored, tc.secret, got, tc.want)
			}
		})
	}
}

func TestHashChosenSecret(t *testing.T) {
	stored, err := HashChosenSecret("hunter2")
	if err != nil {
		t.Fatal(err)
	}
	if !phcRE.MatchString(stored) {
		t.Errorf("HashChosenSecret = %q; want an argon2id PHC string", stored)
	}
	var v SecretVerifier // the zero value works
	if !v.Verify(stored, "hunter2") {
		t.Error("Verify(chosen, right secret) = false")
	}
	if v.Verify(stored, "hunter3") {
		t.Error("Verify(chosen, wrong secret) = true")
	}
	if v.Verify(stored[:len(stored)-2], "hunter2") {
		t.Error("Verify(truncated hash, right secret) = true")
	}
	if _, err := HashChosenSecret(""); err == nil {
		t.Error("HashChosenSecret(\"\") succeeded; an empty secret must be refused")
	}
}

// clock is a settable time source.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func newClock() *clock { return &clock{t: time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)} }

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *clock) Advance(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

// countingVerifier returns a SecretVerifier whose argon2id checks are
// counted (and real).
func countingVerifier(ttl time.Duration, now func() time.Time) (*SecretVerifier, *atomic.Int64) {
	var n atomic.Int64
	v := NewSecretVerifier(ttl, now)
	v.slow = func(stored, secret string) (bool, error) {
		n.Add(1)
		return VerifyPassword(stored, secret)
	}
	return v, &n
}

func TestSecretVerifierCache(t *testing.T) {
	stored, err := HashChosenSecret("s3cret")
	if err != nil {
		t.Fatal(err)
	}
	c := newClock()
	v, calls := countingVerifier(time.Minute, c.Now)
	step := func(name, stored, secret string, want bool, wantCalls int64) {
		t.Helper()
		if got := v.Verify(stored, secret); got != want {
			t.Fatalf("%s: Verify = %v; want %v", name, got, want)
		}
		if got := calls.Load(); got != wantCalls {
			t.Fatalf("%s: %d argon2id checks so far; want %d", name, got, wantCalls)
		}
	}
	step("first check", stored, "s3cret", true, 1)
	step("remembered", stored, "s3cret", true, 1)
	c.Advance(59 * time.Second)
	step("still remembered", stored, "s3cret", true, 1)
	step("wrong secret is checked", stored, "s3cret!", false, 2)
	step("failures are not remembered", stored, "s3cret!", false, 3)
	c.Advance(time.Second)
	step("expired", stored, "s3cret", true, 4)
	step("remembered again", stored, "s3cret", true, 4)

	rotated, err := HashChosenSecret("s3cret") // same secret, new salt
	if err != nil {
		t.Fatal(err)
	}
	step("new stored hash misses", rotated, "s3cret", true, 5)
	step("new stored hash remembered", rotated, "s3cret", true, 5)
	step("sha256 forms skip argon2id", "sha256$"+strings.Repeat("A", 43), "s3cret", false, 5)
}

func TestSecretVerifierRemembered(t *testing.T) {
	stored, err := HashChosenSecret("s3cret")
	if err != nil {
		t.Fatal(err)
	}
	_, generated, err := NewClientSecret()
	if err != nil {
		t.Fatal(err)
	}
	c := newClock()
	v, calls := countingVerifier(time.Minute, c.Now)
	step := func(name, stored, secret string, want bool) {
		t.Helper()
		before := calls.Load()
		if got := v.Remembered(stored, secret); got != want {
			t.Errorf("%s: Remembered = %v; want %v", name, got, want)
		}
		if n := calls.Load() - before; n != 0 {
			t.Errorf("%s: Remembered ran argon2id %d times; want never", name, n)
		}
	}
	step("never checked", stored, "s3cret", false)
	v.Verify(stored, "s3cret")
	step("checked right", stored, "s3cret", true)
	v.Verify(stored, "wrong")
	step("checked wrong", stored, "wrong", false)
	step("empty secret", stored, "", false)
	step("generated form", generated, "s3cret", false)
	c.Advance(time.Minute)
	step("expired", stored, "s3cret", false)
}

// Checks of the same secret against the same hash that arrive while one
// runs wait for its result: one argon2id run for a burst of requests of a
// client whose remembered check just expired.
func TestSecretVerifierJoinsCheckInProgress(t *testing.T) {
	stored, err := HashChosenSecret("s3cret")
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		secret string
		want   bool
	}{{"s3cret", true}, {"wrong", false}} {
		t.Run(tc.secret, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				v := NewSecretVerifier(time.Minute, nil)
				var calls atomic.Int64
				entered, release := make(chan struct{}), make(chan struct{})
				v.slow = func(stored, secret string) (bool, error) {
					if calls.Add(1) == 1 {
						close(entered)
						<-release
					}
					return VerifyPassword(stored, secret)
				}
				results := make(chan bool, 3)
				go func() { results <- v.Verify(stored, tc.secret) }()
				<-entered
				go func() { results <- v.Verify(stored, tc.secret) }()
				go func() { results <- v.Remembered(stored, tc.secret) }()
				synctest.Wait() // both wait for the check in progress
				close(release)
				for range 3 {
					if got := <-results; got != tc.want {
						t.Errorf("result %v; want %v", got, tc.want)
					}
				}
				if n := calls.Load(); n != 1 {
					t.Errorf("%d argon2id runs; want 1", n)
				}
			})
		})
	}
}

func TestSecretVerifierDefaultTTL(t *testing.T) {
	stored, err := HashChosenSecret("s3cret")
	if err != nil {
		t.Fatal(err)
	}
	c := newClock()
	v, calls := countingVerifier(0, c.Now)
	v.Verify(stored, "s3cret")
	c.Advance(DefaultSecretCacheTTL - time.Nanosecond)
	v.Verify(stored, "s3cret")
	if n := calls.Load(); n != 1 {
		t.Errorf("%d argon2id checks within the default TTL; want 1", n)
	}
	c.Advance(time.Nanosecond)
	v.Verify(stored, "s3cret")
	if n := calls.Load(); n != 2 {
		t.Errorf("%d argon2id checks after the default TTL; want 2", n)
	}
}

func TestSecretVerifierCacheBounded(t *testing.T) {
	c := newClock()
	v := NewSecretVerifier(time.Minute, c.Now)
	for i := range secretCacheSize + 500 {
		v.remember(cacheKey("$argon2id$x", string(rune(i))), c.Now())
	}
	if n := len(v.cache); n > secretCacheSize {
		t.Fatalf("cache holds %d entries; want at most %d", n, secretCacheSize)
	}
	// Expired entries go first.
	c.Advance(2 * time.Minute)
	v.remember(cacheKey("$argon2id$y", "fresh"), c.Now())
	if n := len(v.cache); n != 1 {
		t.Errorf("after expiry the cache holds %d entries; want 1", n)
	}
}

func TestSecretVerifierConcurrent(t *testing.T) {
	stored, err := HashChosenSecret("s3cret")
	if err != nil {
		t.Fatal(err)
	}
	_, sha, err := NewClientSecret()
	if err != nil {
		t.Fatal(err)
	}
	c := newClock()
	v := NewSecretVerifier(time.Minute, c.Now)
	var wg sync.WaitGroup
	for i := range 4 {
		wg.Go(func() {
			for j := range 10 {
				if !v.Verify(stored, "s3cret") {
					t.Error("Verify(right secret) = false")
				}
				if v.Verify(sha, "s3cret") {
					t.Error("Verify(sha256, wrong) = true")
				}
				if i == 0 && j == 5 {
					c.Advance(time.Minute) // all expire once
				}
			}
		})
	}
	wg.Wait()
}

func BenchmarkVerifySHA256Secret(b *testing.B) {
	secret, stored, err := NewClientSecret()
	if err != nil {
		b.Fatal(err)
	}
	v := NewSecretVerifier(0, nil)
	b.ReportAllocs()
	for b.Loop() {
		if !v.Verify(stored, secret) {
			b.Fatal("rejected")
		}
	}
}

// BenchmarkVerifyArgon2 is a cold check: a new verifier each time, so
// argon2id runs every time.
func BenchmarkVerifyArgon2(b *testing.B) {
	stored, err := HashChosenSecret("an admin's choice")
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if !NewSecretVerifier(0, nil).Verify(stored, "an admin's choice") {
			b.Fatal("rejected")
		}
	}
}

func BenchmarkVerifyArgon2Cached(b *testing.B) {
	stored, err := HashChosenSecret("an admin's choice")
	if err != nil {
		b.Fatal(err)
	}
	v := NewSecretVerifier(0, nil)
	v.Verify(stored, "an admin's choice")
	b.ReportAllocs()
	for b.Loop() {
		if !v.Verify(stored, "an admin's choice") {
			b.Fatal("rejected")
		}
	}
}
