package clientauth

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

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
	raw, err := base64.StdEncoding.DecodeString(strings.TrimSpace(header[len(prefix):]))
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
}

// Authenticator checks credentials against the registered clients.
type Authenticator struct {
	Clients  ClientGetter
	Verifier SecretVerifier
	// Limiter, when not nil, refuses clients and remote addresses that
	// failed too often, and counts their failures.
	Limiter *Limiter
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
	clientKey, addrKey := "client:"+creds.ClientID, "addr:"+hostOf(remoteAddr)
	if a.Limiter != nil {
		if wait, blocked := a.Limiter.Blocked(clientKey, addrKey); blocked {
			return store.Client{}, &Failure{Reason: "too many failed authentications", RetryAfter: wait}
		}
	}
	c, reason, err := a.check(ctx, creds)
	if err != nil {
		return store.Client{}, err
	}
	if reason == "" && c.Disabled && !allowDisabled {
		// Not counted as a failure: the credentials were right.
		return store.Client{}, &Failure{Reason: "client is disabled"}
	}
	if reason != "" {
		if a.Limiter != nil {
			a.Limiter.Fail(clientKey, addrKey)
		}
		return store.Client{}, &Failure{Reason: reason}
	}
	return c, nil
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
	key := AddressKey(remoteAddr)
	if wait, blocked := a.Limiter.Blocked(key); blocked {
		return &Failure{Reason: "too many failed authentications", RetryAfter: wait}
	}
	a.Limiter.Fail(key)
	return err
}

func (a *Authenticator) check(ctx context.Context, creds Credentials) (c store.Client, reason string, err error) {
	c, err = a.Clients.GetClient(ctx, creds.ClientID)
	switch {
	case errors.Is(err, store.ErrNotFound):
		return c, "unknown client", nil
	case err != nil:
		return c, "", fmt.Errorf("clientauth: look up client: %w", err)
	}
	if creds.Method == MethodNone {
		if !c.Public() {
			return c, "client authentication required", nil
		}
		return c, "", nil
	}
	if c.Public() {
		return c, "public client presented a secret", nil
	}
	if !a.Verifier.Verify(c.SecretHash, creds.Secret) {
		return c, "wrong client secret", nil
	}
	return c, "", nil
}

// hostOf is the rate-limit key of a RemoteAddr: the IPv4 address, or the
// IPv6 /64 (one subscriber commonly holds a whole /64, so keying by full
// address would give an attacker 2^64 fresh keys).
func hostOf(remoteAddr string) string {
	host := remoteAddr
	if h, _, err := net.SplitHostPort(remoteAddr); err == nil {
		host = h
	}
	addr, err := netip.ParseAddr(host)
	if err != nil {
		return host
	}
	addr = addr.Unmap()
	if addr.Is6() {
		if p, err := addr.Prefix(64); err == nil {
			return p.String()
		}
	}
	return addr.String()
}
