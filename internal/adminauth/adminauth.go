package adminauth

import (
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/tokend/tokend/internal/identity"
	"github.com/tokend/tokend/internal/ratelimit"
)

// Realm is the realm of the WWW-Authenticate challenges.
const Realm = "tokend"

// The challenges sent with a 401 (RFC 9110 §11.6.1). Without credentials
// both schemes are offered; a wrong Bearer token is answered with the
// RFC 6750 §3.1 error code.
const (
	challengeBearer       = `Bearer realm="` + Realm + `"`
	challengeBearerFailed = `Bearer realm="` + Realm + `", error="invalid_token"`
	challengeBasic        = `Basic realm="` + Realm + `", charset="UTF-8"`
)

// Config says what the authorizer accepts.
type Config struct {
	// Token is the admin token; empty disables Bearer authentication.
	Token string
	// Users looks up admin users for HTTP Basic; nil disables Basic.
	Users identity.UserGetter
	// Limiter, when not nil, counts failed attempts and refuses a key that
	// failed too often: password guesses per username and per address
	// (ratelimit.UserKey, ratelimit.LoginAddressKey), other failures per
	// address (ratelimit.AddressKey). Share it with the password grant so
	// that a password is throttled the same everywhere.
	Limiter *ratelimit.Limiter
}

// Authorizer checks admin credentials. It is safe for concurrent use.
type Authorizer struct {
	cfg       Config
	token     [sha256.Size]byte
	passwords *identity.Passwords
}

// New returns an Authorizer for cfg.
func New(cfg Config) *Authorizer {
	a := &Authorizer{cfg: cfg}
	if cfg.Users != nil {
		a.passwords = &identity.Passwords{Users: cfg.Users, Limiter: cfg.Limiter}
	}
	if cfg.Token != "" {
		a.token = sha256.Sum256([]byte(cfg.Token))
	}
	return a
}

// Principal is who an authorized admin request came from.
type Principal struct {
	// Username is the admin user's name; "" for the admin token.
	Username string
}

// Actor is the principal as the revocation log records it: "admin" for
// the admin token, the username for an admin user.
func (p Principal) Actor() string {
	if p.Username == "" {
		return "admin"
	}
	return p.Username
}

// Error is a refused admin request: 401 (no or wrong credentials), 403 (a
// valid user who is not an admin) or 429 (too many failures). Reason is
// safe to show the caller; it never holds a credential.
type Error struct {
	Status int
	Reason string
	// Challenges are the WWW-Authenticate values of a 401.
	Challenges []string
	// RetryAfter is set on a 429.
	RetryAfter time.Duration
}

func (e *Error) Error() string { return fmt.Sprintf("adminauth: %d %s", e.Status, e.Reason) }

// Header returns the headers the refusal must be sent with.
func (e *Error) Header() http.Header {
	h := http.Header{}
	for _, c := range e.Challenges {
		h.Add("WWW-Authenticate", c)
	}
	return h
}

func unauthorized(reason string, challenges ...string) *Error {
	return &Error{Status: http.StatusUnauthorized, Reason: reason, Challenges: challenges}
}

// Authorize returns the principal of r, or an *Error saying why r is
// refused. Any other error is a failure of the store (wrapped; it may be
// store.ErrUnavailable), which the caller answers as 503 or 500.
func (a *Authorizer) Authorize(r *http.Request) (Principal, error) {
	auth := r.Header.Get("Authorization")
	scheme, cred, _ := strings.Cut(auth, " ")
	addrKey := ratelimit.AddressKey(r.RemoteAddr)
	switch {
	case auth == "":
		return Principal{}, unauthorized("admin credentials are required", challengeBearer, challengeBasic)
	case strings.EqualFold(scheme, "Bearer"):
		if err := a.blocked(addrKey); err != nil {
			return Principal{}, err
		}
		if a.cfg.Token != "" {
			got := sha256.Sum256([]byte(strings.TrimSpace(cred)))
			if subtle.ConstantTimeCompare(got[:], a.token[:]) == 1 {
				return Principal{}, nil
			}
		}
		return Principal{}, a.fail(addrKey, unauthorized("invalid admin token", challengeBearerFailed))
	case strings.EqualFold(scheme, "Basic") && a.cfg.Users != nil:
		name, pw, ok := r.BasicAuth()
		if !ok || name == "" {
			return Principal{}, a.fail(addrKey, unauthorized("malformed Basic credentials", challengeBasic))
		}
		u, err := a.passwords.Check(r.Context(), name, pw, r.RemoteAddr)
		var tooMany *identity.TooManyGuesses
		switch {
		case errors.As(err, &tooMany):
			return Principal{}, tooManyFailures(tooMany.RetryAfter)
		case errors.Is(err, identity.ErrWrongPassword):
			return Principal{}, unauthorized("invalid username or password", challengeBasic)
		case err != nil:
			return Principal{}, err
		}
		if !u.Admin {
			return Principal{}, &Error{Status: http.StatusForbidden, Reason: "the user is not an administrator"}
		}
		return Principal{Username: u.Username}, nil
	default:
		return Principal{}, a.fail(addrKey, unauthorized("unsupported authorization scheme", challengeBearer, challengeBasic))
	}
}

// IsAdminToken reports whether r carries the admin token as a Bearer token
// (RFC 6750 §2.1), where the admin token may stand in for a client
// (introspection, the revocation feed). Nothing is counted: a wrong token
// there is then refused as a client's failed authentication. The compare is
// constant-time, of SHA-256 digests, whatever the lengths. A nil
// Authorizer recognises nothing.
func (a *Authorizer) IsAdminToken(r *http.Request) bool {
	if a == nil || a.cfg.Token == "" {
		return false
	}
	scheme, cred, _ := strings.Cut(r.Header.Get("Authorization"), " ")
	if !strings.EqualFold(scheme, "Bearer") {
		return false
	}
	got := sha256.Sum256([]byte(strings.TrimSpace(cred)))
	return subtle.ConstantTimeCompare(got[:], a.token[:]) == 1
}

// blocked refuses an address that failed too often, before its Bearer
// token is compared.
func (a *Authorizer) blocked(addrKey string) error {
	if a.cfg.Limiter == nil {
		return nil
	}
	if wait, blocked := a.cfg.Limiter.Blocked(addrKey); blocked {
		return tooManyFailures(wait)
	}
	return nil
}

// fail counts a failure of the address and returns the error to answer:
// refusal, or a 429 if the address had failed too often already.
func (a *Authorizer) fail(addrKey string, refusal *Error) error {
	if a.cfg.Limiter != nil {
		if wait, blocked := a.cfg.Limiter.Fail(addrKey); blocked {
			return tooManyFailures(wait)
		}
	}
	return refusal
}

func tooManyFailures(wait time.Duration) *Error {
	return &Error{Status: http.StatusTooManyRequests, Reason: "too many failed authentication attempts", RetryAfter: wait}
}

type principalKey struct{}

// NewContext returns ctx carrying p, for handlers behind the guard.
func NewContext(ctx context.Context, p Principal) context.Context {
	return context.WithValue(ctx, principalKey{}, p)
}

// FromContext returns the principal NewContext stored, and whether there
// was one.
func FromContext(ctx context.Context) (Principal, bool) {
	p, ok := ctx.Value(principalKey{}).(Principal)
	return p, ok
}
