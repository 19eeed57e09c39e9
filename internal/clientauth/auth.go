package clientauth

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/tokend/tokend/internal/identity"
	"github.com/tokend/tokend/internal/ratelimit"
	"github.com/tokend/tokend/internal/store"
)

// Authentication methods of RFC 7591 §2 (token_endpoint_auth_method).
const (
	MethodBasic = "client_secret_basic"
	MethodPost  = "client_secret_post"
	MethodNone  = "none"
)

// Credentials are what a request presented to identify its client.
type Credentials struct {
	ClientID string
	Secret   string
	Method   string // MethodBasic, MethodPost or MethodNone
}

// ErrNoCredentials: the request named no client at all.
var ErrNoCredentials = errors.New("clientauth: no client credentials")

// Failure is why an authentication failed. Reason is for the log and the
// error description; it never contains the secret.
type Failure struct {
	Reason string
	// RetryAfter is set when the caller is refused for having failed too
	// often (answered with 429).
	RetryAfter time.Duration
}

func (f *Failure) Error() string { return "clientauth: " + f.Reason }

// Parse reads the client credentials of r, whose form has already been
// parsed into form. Credentials in both the Authorization header and the
// body are refused (RFC 6749 §2.3: one method per request); a client_id in
// the body that repeats the header's is tolerated, since common client
// libraries send it.
func Parse(r *http.Request, form url.Values) (Credentials, error) {
	auth := r.Header.Get("Authorization")
	if auth != "" {
		id, secret, err := parseBasic(auth)
		if err != nil {
			return Credentials{}, err
		}
		if form.Has("client_secret") || form.Has("client_assertion") {
			return Credentials{}, &Failure{Reason: "credentials in both the Authorization header and the body"}
		}
		if form.Has("client_id") && form.Get("client_id") != id {
			return Credentials{}, &Failure{Reason: "client_id in the body differs from the Authorization header"}
		}
		return Credentials{ClientID: id, Secret: secret, Method: MethodBasic}, nil
	}
	id := form.Get("client_id")
	if id == "" {
		if form.Has("client_secret") {
			return Credentials{}, &Failure{Reason: "client_secret without client_id"}
		}
		return Credentials{}, ErrNoCredentials
	}
	if form.Has("client_secret") {
		return Credentials{ClientID: id, Secret: form.Get("client_secret"), Method: MethodPost}, nil
	}
	return Credentials{ClientID: id, Method: MethodNone}, nil
}

// parseBasic decodes an HTTP Basic header. RFC 6749 §2.3.1 has the client
// id and secret form-urlencoded before base64; an id or secret that does
// not unescape is taken as it is, as most servers do.
func parseBasic(header string) (id, secret string, err error) {
	const prefix = "basic "
	if len(header) < len(prefix) || !strings.EqualFold(header[:len(prefix)], prefix) {
		return "", "", &Failure{Reason: "Authorization header is not HTTP Basic"}
	}
	// Decoded into a buffer on the stack when it fits (nearly always):
	// the credentials then cost one allocation, their string, not two.
	enc := strings.TrimSpace(header[len(prefix):])
	var small [256]byte
	raw := small[:0]
	if n := base64.StdEncoding.DecodedLen(len(enc)); n > len(small) {
		raw = make([]byte, 0, n)
	}
	raw, err = base64.StdEncoding.AppendDecode(raw, []byte(enc))
	if err != nil {
		return "", "", &Failure{Reason: "Authorization header is not valid base64"}
	}
	idPart, secretPart, ok := strings.Cut(string(raw), ":")
	if !ok || idPart == "" {
		return "", "", &Failure{Reason: "Authorization header is not client_id:client_secret"}
	}
	id, secret = unescape(idPart), unescape(secretPart)
	if !printable(id) || !printable(secret) {
		return "", "", &Failure{Reason: "Authorization header holds a control character or invalid UTF-8"}
	}
	return id, secret, nil
}

// printable reports whether s is valid UTF-8 without control characters:
// no client id or secret has them, and a store may refuse them (PostgreSQL
// rejects NUL in text).
func printable(s string) bool {
	if !utf8.ValidString(s) {
		return false
	}
	for _, r := range s {
		if unicode.IsControl(r) {
			return false
		}
	}
	return true
}

func unescape(s string) string {
	if u, err := url.QueryUnescape(s); err == nil {
		return u
	}
	return s
}

// ClientGetter is the part of the store authentication needs.
type ClientGetter interface {
	GetClient(ctx context.Context, id string) (store.Client, error)
}

// SecretVerifier checks a presented secret against its stored form.
type SecretVerifier interface {
	Verify(stored, secret string) bool
	// Remembered reports whether secret is known to match stored without
	// a new slow check: a recent success remembered, or an identical
	// check in progress that succeeds.
	Remembered(stored, secret string) bool
}

// Authenticator checks credentials against the registered clients.
//
// Failed authentications are counted per remote address, never per
// client: someone elsewhere who knows a client_id must not be able to
// stop that client from authenticating (and so from revoking its tokens).
// What needs no limit is not limited:
//
//   - a public client (method none) has no secret to guess;
//   - a generated secret (256 bits, stored as SHA-256) cannot be guessed
//     and costs nothing to check, so a right one is accepted even from a
//     blocked address, and only wrong ones are counted;
//   - an admin-chosen secret (argon2id) may be weak: unless the verifier
//     remembers this exact secret as right, the attempt is reserved on
//     the address before argon2id runs (Limiter.Reserve), so that however
//     many guesses arrive at once, at most the limit are checked.
//
// The registered token_endpoint_auth_method must be the one the request
// used; a client stored without one is taken as client_secret_basic
// (none if it has no secret).
type Authenticator struct {
	Clients  ClientGetter
	Verifier SecretVerifier
	// Limiter, when not nil, counts failures per remote address and
	// refuses an address that failed too often.
	Limiter *ratelimit.Limiter
}

// Authenticate returns the client that creds identify. remoteAddr is the
// request's RemoteAddr, used to rate-limit failures per address. A store
// failure is returned as it is (wrapped), so the caller can answer 503; any
// authentication failure is a *Failure.
//
// A disabled client is refused unless allowDisabled: the revocation
// endpoint allows it, so that disabling a client never leaves it unable to
// revoke the tokens it holds.
func (a *Authenticator) Authenticate(ctx context.Context, creds Credentials, remoteAddr string, allowDisabled bool) (store.Client, error) {
	// The address's key is made only where it is used: a success, nearly
	// every call, needs none (it costs a parse and an allocation).
	addrKey := func() string { return ratelimit.AddressKey(remoteAddr) }
	c, err := a.Clients.GetClient(ctx, creds.ClientID)
	switch {
	case errors.Is(err, store.ErrNotFound):
		return store.Client{}, a.failed(addrKey(), "unknown client")
	case err != nil:
		return store.Client{}, fmt.Errorf("clientauth: look up client: %w", err)
	}
	if reason := methodMismatch(c, creds.Method); reason != "" {
		return store.Client{}, a.failed(addrKey(), reason)
	}
	switch {
	case creds.Method == MethodNone:
		// A public client, as methodMismatch checked: nothing to verify.
	case identity.IsGenerated(c.SecretHash):
		if !a.Verifier.Verify(c.SecretHash, creds.Secret) {
			return store.Client{}, a.failed(addrKey(), "wrong client secret")
		}
	case a.Verifier.Remembered(c.SecretHash, creds.Secret):
	default:
		res, wait, ok := a.Limiter.Reserve(ctx, addrKey())
		if !ok {
			return store.Client{}, tooMany(wait)
		}
		if !a.Verifier.Verify(c.SecretHash, creds.Secret) {
			res.Fail()
			return store.Client{}, &Failure{Reason: "wrong client secret"}
		}
		res.Refund()
	}
	if c.Disabled && !allowDisabled {
		// Not counted as a failure: the credentials were right.
		return store.Client{}, &Failure{Reason: "client is disabled"}
	}
	return c, nil
}

// methodMismatch says why c may not authenticate with method, or "" if it
// may: the method must be the one c is registered for (RFC 7591 §2
// token_endpoint_auth_method).
func methodMismatch(c store.Client, method string) string {
	registered := c.AuthMethod
	switch {
	case c.Public():
		registered = MethodNone
	case registered == "" || registered == MethodNone:
		registered = MethodBasic // a secret and no method: the default
	}
	switch {
	case method == registered:
		return ""
	case registered == MethodNone:
		return "public client presented a secret"
	case method == MethodNone:
		return "client authentication required"
	}
	return "client is registered for " + registered + ", not " + method
}

// failed counts a failure of the address and returns the error to answer:
// a refusal with RetryAfter if the address had failed too often already.
func (a *Authenticator) failed(addrKey, reason string) error {
	if a.Limiter != nil {
		if wait, blocked := a.Limiter.Fail(addrKey); blocked {
			return tooMany(wait)
		}
	}
	return &Failure{Reason: reason}
}

func tooMany(wait time.Duration) error {
	return &Failure{Reason: "too many failed authentications", RetryAfter: wait}
}

// Refuse counts a failure that came before any client was named, such as
// a malformed Authorization header, credentials sent twice or a guessed
// admin Bearer token, against the remote address, so that guessing there
// is rate-limited like guessing a secret. It returns the error to answer:
// err itself, or a refusal with RetryAfter once the address failed too
// often. Errors that are not a *Failure are returned as they are.
func (a *Authenticator) Refuse(remoteAddr string, err error) error {
	var f *Failure
	if a.Limiter == nil || !errors.As(err, &f) {
		return err
	}
	if wait, blocked := a.Limiter.Fail(ratelimit.AddressKey(remoteAddr)); blocked {
		return tooMany(wait)
	}
	return err
}
