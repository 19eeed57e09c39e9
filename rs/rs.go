package rs

import (
	"context"
	"crypto/sha256"
	"errors"
	"net/http"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/tokend/tokend/dpop"
)

// Claims are what the middleware learned about the token of a request.
type Claims struct {
	Issuer   string
	Subject  string
	Audience []string
	ClientID string
	// Scope is the space-separated scope of the token.
	Scope     string
	Username  string
	JTI       string
	IssuedAt  time.Time
	ExpiresAt time.Time
	// Introspected is true for an opaque token, whose claims came from
	// the introspection endpoint; false for a JWT verified locally.
	Introspected bool
	// JKT is the thumbprint of the DPoP key the token is bound to (its
	// cnf.jkt, RFC 9449 §6); "" for a bearer token. The middleware
	// accepts a bound token only with a proof of that key.
	JKT string
}

// Scopes returns the token's scopes.
func (c *Claims) Scopes() []string { return strings.Fields(c.Scope) }

// HasScope reports whether the token was granted scope s.
func (c *Claims) HasScope(s string) bool { return slices.Contains(c.Scopes(), s) }

// missing returns the scopes of want the token lacks, space-separated.
func (c *Claims) missing(want []string) string {
	var lack []string
	for _, s := range want {
		if !c.HasScope(s) {
			lack = append(lack, s)
		}
	}
	return strings.Join(lack, " ")
}

type claimsKey struct{}

// ClaimsFrom returns the claims of the token the middleware accepted for
// the request whose context ctx is.
func ClaimsFrom(ctx context.Context) (*Claims, bool) {
	c, ok := ctx.Value(claimsKey{}).(*Claims)
	return c, ok
}

// Guard guards a resource server's handlers with access tokens: Middleware
// refuses a request whose token does not pass, and Check validates one
// token; see the package documentation. Its methods are safe for
// concurrent use.
type Guard struct {
	cfg     Config
	meta    *discovery
	keys    *keyCache
	lists   *listCache
	intro   *introCache
	revoked *revokedSet
	feed    *follower // nil without credentials or with DisableFeed
	// feedClient is HTTPClient without its Timeout.
	feedClient *http.Client

	stop context.CancelFunc
	wg   sync.WaitGroup
}

// New returns a Guard for cfg and, when cfg has client credentials, starts
// following the revocation feed in the background until Close. It makes no
// request itself: the server's metadata and keys are fetched when first
// needed, so a resource server may start before its authorization server.
func New(cfg Config) (*Guard, error) {
	cfg, err := cfg.withDefaults()
	if err != nil {
		return nil, err
	}
	r := &Guard{cfg: cfg, revoked: newRevokedSet()}
	r.meta = &discovery{guard: r}
	r.keys = &keyCache{guard: r, refetch: refetchEvery}
	r.lists = &listCache{guard: r, lists: map[string]*statusList{}}
	r.intro = &introCache{entries: map[[sha256.Size]byte]introEntry{}}
	ctx, cancel := context.WithCancel(context.Background())
	r.stop = cancel
	if cfg.hasCredentials() && !cfg.DisableFeed {
		fc := *cfg.HTTPClient
		fc.Timeout = 0
		r.feedClient = &fc
		r.feed = newFollower(r)
		r.wg.Add(1)
		go func() {
			defer r.wg.Done()
			r.feed.run(ctx)
		}()
	}
	return r, nil
}

// Close stops following the feed. The Guard still checks tokens afterwards,
// from the status lists and introspection.
func (r *Guard) Close() error {
	r.stop()
	r.wg.Wait()
	return nil
}

// FeedHealthy reports whether the revocation feed is connected, has
// caught up with the log and has been heard from recently: while it is,
// JWTs are checked without any request to the authorization server.
func (r *Guard) FeedHealthy() bool { return r.feed != nil && r.feed.healthy() }

// WaitFeed waits until the feed has caught up with the revocation log (at
// start, the revocations of every token still alive), or ctx is done. A
// resource server may call it before it starts serving; it does not have
// to, as JWTs are checked against the status lists meanwhile.
func (r *Guard) WaitFeed(ctx context.Context) error {
	if r.feed == nil {
		return errors.New("rs: no revocation feed (no client credentials, or DisableFeed)")
	}
	for {
		changed := r.feed.changed() // before the check: no wake-up is lost
		if r.feed.healthy() {
			return nil
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-changed:
		}
	}
}

// Middleware returns next guarded by bearer token authentication (RFC 6750
// §2.1): a request whose token is missing, invalid, expired, revoked or
// short of RequiredScopes is refused with the §3 error, and next sees the
// token's claims through ClaimsFrom.
//
// A token bound to a DPoP key (RFC 9449) is accepted only under the DPoP
// scheme, "Authorization: DPoP <token>", with a DPoP proof of that key for
// this request that carries the token's hash (ath); sent as a Bearer token
// it is refused (§7.2), as is a proof of another key.
func (r *Guard) Middleware(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		c, e := r.authorize(req)
		if e != nil {
			r.writeError(w, e)
			return
		}
		next.ServeHTTP(w, req.WithContext(context.WithValue(req.Context(), claimsKey{}, c)))
	})
}

// authorize checks the credentials of req: the token, and with the DPoP
// scheme the proof and the binding.
func (r *Guard) authorize(req *http.Request) (*Claims, *Error) {
	scheme, raw, e := credentials(req)
	if e != nil {
		return nil, e
	}
	c, err := r.Check(req.Context(), raw)
	if err != nil {
		e := asError(err)
		if scheme == dpop.Scheme && e.Status == http.StatusUnauthorized {
			e.Scheme = dpop.Scheme
		}
		return nil, e
	}
	if scheme != dpop.Scheme {
		if c.JKT != "" {
			return nil, &Error{Status: http.StatusUnauthorized, Code: CodeInvalidToken, Scheme: dpop.Scheme,
				Description: "the token is bound to a DPoP key: send it with the DPoP scheme and a proof"}
		}
		return c, nil
	}
	if e := r.checkProof(req, raw, c); e != nil {
		return nil, e
	}
	return c, nil
}

// RequireScopes returns middleware that refuses, with 403
// insufficient_scope, a request whose token lacks any of scopes. It goes
// inside Guard.Middleware, on the routes that need more than RequiredScopes.
func RequireScopes(scopes ...string) func(http.Handler) http.Handler {
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
			c, ok := ClaimsFrom(req.Context())
			if !ok {
				writeError(w, noToken())
				return
			}
			if lack := c.missing(scopes); lack != "" {
				writeError(w, insufficientScope(scopes))
				return
			}
			next.ServeHTTP(w, req)
		})
	}
}

func insufficientScope(scopes []string) *Error {
	return &Error{Status: http.StatusForbidden, Code: CodeInsufficientScope,
		Description: "the token lacks a required scope", Scope: strings.Join(scopes, " ")}
}

// CheckRequest validates the credentials of req as the middleware does:
// the token, and for a token bound to a DPoP key the scheme and the proof.
// It returns the token's claims; its errors are *Error.
func (r *Guard) CheckRequest(req *http.Request) (*Claims, error) {
	c, e := r.authorize(req)
	if e != nil {
		return nil, e
	}
	return c, nil
}

// Check validates an access token as the middleware does and returns its
// claims. Its errors are *Error. It sees the token alone, not the request:
// a token bound to a DPoP key (Claims.JKT not empty) is valid only with a
// proof of that key, which CheckRequest and the middleware check and a
// caller of Check must.
func (r *Guard) Check(ctx context.Context, token string) (*Claims, error) {
	var c *Claims
	var err error
	if looksLikeJWT(token) {
		c, err = r.checkJWT(ctx, token)
	} else {
		c, err = r.checkOpaque(ctx, token)
	}
	if err != nil {
		return nil, err
	}
	if lack := c.missing(r.cfg.RequiredScopes); lack != "" {
		return nil, insufficientScope(r.cfg.RequiredScopes)
	}
	return c, nil
}

func asError(err error) *Error {
	var e *Error
	if errors.As(err, &e) {
		return e
	}
	return unavailable("the token could not be checked", err)
}

// credentials reads the scheme and token of an "Authorization: Bearer"
// header (RFC 6750 §2.1) or an "Authorization: DPoP" one (RFC 9449 §7.1).
// Tokens in the body or the query (RFC 6750 §2.2, §2.3) are not accepted.
func credentials(req *http.Request) (scheme, token string, e *Error) {
	hs := req.Header.Values("Authorization")
	if len(hs) == 0 {
		return "", "", noToken()
	}
	if len(hs) > 1 {
		return "", "", &Error{Status: http.StatusBadRequest, Code: CodeInvalidRequest, Description: "more than one Authorization header"}
	}
	scheme, tok, ok := strings.Cut(hs[0], " ")
	switch {
	case strings.EqualFold(scheme, "Bearer"):
		scheme = "Bearer"
	case strings.EqualFold(scheme, dpop.Scheme):
		scheme = dpop.Scheme
	default:
		return "", "", noToken() // another scheme: no credentials of ours
	}
	tok = strings.TrimSpace(tok)
	if !ok || tok == "" || strings.ContainsAny(tok, " \t") {
		e := &Error{Status: http.StatusBadRequest, Code: CodeInvalidRequest, Description: "malformed " + scheme + " authorization header"}
		if scheme == dpop.Scheme {
			e.Scheme = dpop.Scheme
		}
		return "", "", e
	}
	return scheme, tok, nil
}

// looksLikeJWT tells a compact JWS from an opaque token by its shape.
func looksLikeJWT(s string) bool {
	return strings.Count(s, ".") == 2 && strings.HasPrefix(s, "eyJ")
}

// revokedSet holds what the feed said was revoked, until the covered
// tokens expire.
type revokedSet struct {
	mu     sync.RWMutex
	jtis   map[string]time.Time
	hashes map[[sha256.Size]byte]time.Time
}

func newRevokedSet() *revokedSet {
	return &revokedSet{jtis: map[string]time.Time{}, hashes: map[[sha256.Size]byte]time.Time{}}
}

func (s *revokedSet) has(jti string, hash [sha256.Size]byte) bool {
	s.mu.RLock()
	defer s.mu.RUnlock()
	if jti != "" {
		if _, ok := s.jtis[jti]; ok {
			return true
		}
	}
	_, ok := s.hashes[hash]
	return ok
}

func (s *revokedSet) add(jtis []string, hashes [][sha256.Size]byte, until time.Time) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, j := range jtis {
		s.jtis[j] = later(s.jtis[j], until)
	}
	for _, h := range hashes {
		s.hashes[h] = later(s.hashes[h], until)
	}
}

// prune forgets what expired before t.
func (s *revokedSet) prune(t time.Time) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for k, exp := range s.jtis {
		if exp.Before(t) {
			delete(s.jtis, k)
		}
	}
	for k, exp := range s.hashes {
		if exp.Before(t) {
			delete(s.hashes, k)
		}
	}
}

func (s *revokedSet) size() int {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return len(s.jtis) + len(s.hashes)
}

func later(a, b time.Time) time.Time {
	if a.After(b) {
		return a
	}
	return b
}
