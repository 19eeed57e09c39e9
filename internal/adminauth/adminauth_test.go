package adminauth_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/tokend/tokend/internal/adminauth"
	"github.com/tokend/tokend/internal/identity"
	"github.com/tokend/tokend/internal/ratelimit"
	"github.com/tokend/tokend/internal/store"
	"github.com/tokend/tokend/internal/store/sqlite"
	"github.com/tokend/tokend/internal/testserver"
)

const adminToken = "the-admin-token-0123456789"

type clock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *clock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.now }
func (c *clock) Advance(d time.Duration) {
	c.mu.Lock()
	c.now = c.now.Add(d)
	c.mu.Unlock()
}

// setup returns an authorizer over a real SQLite store holding an admin
// "root", a user "plain" and a disabled admin "gone", all with password
// "a good password"; failures are limited to 3 a minute.
func setup(t *testing.T) (*adminauth.Authorizer, *clock) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "tokend.db")
	testserver.MigratedDatabase(t, path) // migrated once per process, copied
	st, err := sqlite.Open(path, sqlite.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	clk := &clock{now: time.Now()}
	for _, u := range []struct {
		name            string
		admin, disabled bool
	}{{"root", true, false}, {"plain", false, false}, {"gone", true, true}} {
		nu, err := identity.NewUser(u.name, "a good password", u.admin, clk.Now())
		if err != nil {
			t.Fatal(err)
		}
		nu.Disabled = u.disabled
		if err := st.CreateUser(t.Context(), nu); err != nil {
			t.Fatal(err)
		}
	}
	return adminauth.New(adminauth.Config{
		Token:   adminToken,
		Users:   st,
		Limiter: ratelimit.NewLimiter(3, time.Minute, clk.Now),
	}), clk
}

func request(auth, remote string) *http.Request {
	r := httptest.NewRequest(http.MethodGet, "/admin/revocations", nil)
	if auth != "" {
		r.Header.Set("Authorization", auth)
	}
	if remote != "" {
		r.RemoteAddr = remote
	}
	return r
}

func basic(user, pw string) string {
	r := httptest.NewRequest(http.MethodGet, "/", nil)
	r.SetBasicAuth(user, pw)
	return r.Header.Get("Authorization")
}

func TestAuthorize(t *testing.T) {
	a, _ := setup(t)
	const (
		both       = `Bearer realm="tokend"|Basic realm="tokend", charset="UTF-8"`
		badBearer  = `Bearer realm="tokend", error="invalid_token"`
		basicChall = `Basic realm="tokend", charset="UTF-8"`
	)
	i := 0
	for _, tc := range []struct {
		name, auth string
		status     int // 0: authorized
		actor      string
		challenge  string
	}{
		{"admin token", "Bearer " + adminToken, 0, "admin", ""},
		{"admin token, lower-case scheme", "bearer " + adminToken, 0, "admin", ""},
		{"admin user", basic("root", "a good password"), 0, "root", ""},
		{"no credentials", "", 401, "", both},
		{"wrong token", "Bearer " + adminToken + "x", 401, "", badBearer},
		{"token prefix", "Bearer " + adminToken[:10], 401, "", badBearer},
		{"empty bearer", "Bearer ", 401, "", badBearer},
		{"wrong password", basic("root", "a bad password"), 401, "", basicChall},
		{"unknown user", basic("nobody", "a good password"), 401, "", basicChall},
		{"disabled admin", basic("gone", "a good password"), 401, "", basicChall},
		{"malformed Basic", "Basic !!!", 401, "", basicChall},
		{"other scheme", "Digest x", 401, "", both},
		{"non-admin user", basic("plain", "a good password"), 403, "", ""},
	} {
		i++
		t.Run(tc.name, func(t *testing.T) {
			// A fresh address each time, so the cases do not rate-limit each other.
			p, err := a.Authorize(request(tc.auth, fmt.Sprintf("198.51.100.%d:1", i)))
			var ae *adminauth.Error
			switch {
			case tc.status == 0:
				if err != nil || p.Actor() != tc.actor {
					t.Fatalf("Authorize = %+v, %v; want actor %q", p, err, tc.actor)
				}
			case !errors.As(err, &ae):
				t.Fatalf("Authorize = %+v, %v; want an *adminauth.Error %d", p, err, tc.status)
			default:
				got := ""
				for i, c := range ae.Header().Values("WWW-Authenticate") {
					if i > 0 {
						got += "|"
					}
					got += c
				}
				if ae.Status != tc.status || got != tc.challenge {
					t.Errorf("refused with %d, challenges %q; want %d, %q", ae.Status, got, tc.status, tc.challenge)
				}
			}
		})
	}
}

func TestRateLimitPerUser(t *testing.T) {
	a, clk := setup(t)
	for i := range 3 {
		// Each from its own address: the username's count is what blocks.
		if _, err := a.Authorize(request(basic("root", "guess"), fmt.Sprintf("203.0.113.%d:1", i+1))); !isStatus(err, 401) {
			t.Fatalf("guess %d: %v; want 401", i+1, err)
		}
	}
	_, err := a.Authorize(request(basic("root", "a good password"), "203.0.113.9:1"))
	var ae *adminauth.Error
	if !errors.As(err, &ae) || ae.Status != http.StatusTooManyRequests || ae.RetryAfter <= 0 || ae.RetryAfter > time.Minute {
		t.Fatalf("right password after 3 failures = %v; want 429 with a Retry-After up to a minute", err)
	}
	// The admin token, from another address, is not held up by root's count.
	if _, err := a.Authorize(request("Bearer "+adminToken, "203.0.113.10:1")); err != nil {
		t.Errorf("admin token from another address: %v; want authorized", err)
	}
	clk.Advance(time.Minute + time.Second)
	if p, err := a.Authorize(request(basic("root", "a good password"), "203.0.113.9:1")); err != nil || p.Username != "root" {
		t.Errorf("after the window: %+v, %v; want root authorized", p, err)
	}
}

// TestRateLimitPerAddress: an address's wrong admin tokens and malformed
// credentials block its admin token attempts; its password guesses, for
// ever new usernames, block its password attempts. Each count is apart,
// and other addresses are not held up.
func TestRateLimitPerAddress(t *testing.T) {
	a, _ := setup(t)
	for _, tc := range []struct {
		name, addr string
		failures   []string
		refused    string // the right credentials, refused from the address
	}{
		{"admin token", "192.0.2.7", []string{"Bearer wrong", "Basic !!!", "Bearer also-wrong"}, "Bearer " + adminToken},
		{"password", "192.0.2.8", []string{basic("nobody", "x"), basic("someone", "y"), basic("root-typo", "z")}, basic("root", "a good password")},
	} {
		t.Run(tc.name, func(t *testing.T) {
			for i, auth := range tc.failures {
				if _, err := a.Authorize(request(auth, tc.addr+":4000")); !isStatus(err, 401) {
					t.Fatalf("attempt %d: %v; want 401", i+1, err)
				}
			}
			if _, err := a.Authorize(request(tc.refused, tc.addr+":5000")); !isStatus(err, 429) {
				t.Errorf("right credentials from the blocked address: %v; want 429", err)
			}
			if _, err := a.Authorize(request(tc.refused, "192.0.2.99:4000")); err != nil {
				t.Errorf("right credentials from another address: %v; want authorized", err)
			}
		})
	}
	// A non-admin user who knows the password is no failure: no count.
	for range 5 {
		if _, err := a.Authorize(request(basic("plain", "a good password"), "192.0.2.9:1")); !isStatus(err, 403) {
			t.Fatalf("non-admin: %v; want 403", err)
		}
	}
}

func isStatus(err error, status int) bool {
	var ae *adminauth.Error
	return errors.As(err, &ae) && ae.Status == status
}

// failingUsers is a store whose user lookups fail.
type failingUsers struct{}

func (failingUsers) GetUser(context.Context, string) (store.User, error) {
	return store.User{}, store.ErrUnavailable
}

func TestStoreFailureIsNoRefusal(t *testing.T) {
	a := adminauth.New(adminauth.Config{Users: failingUsers{}})
	_, err := a.Authorize(request(basic("root", "pw"), ""))
	var ae *adminauth.Error
	if !errors.Is(err, store.ErrUnavailable) || errors.As(err, &ae) {
		t.Errorf("Authorize with a failing store = %v; want store.ErrUnavailable, not a refusal", err)
	}
}

func TestContext(t *testing.T) {
	ctx := adminauth.NewContext(t.Context(), adminauth.Principal{Username: "root"})
	if p, ok := adminauth.FromContext(ctx); !ok || p.Actor() != "root" {
		t.Errorf("FromContext = %+v, %v; want root", p, ok)
	}
	if _, ok := adminauth.FromContext(t.Context()); ok {
		t.Error("FromContext of a bare context found a principal")
	}
}
