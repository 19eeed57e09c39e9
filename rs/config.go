package rs

import (
	"errors"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/tokend/tokend/dpop"
)

// Config says which authorization server to trust and how to reach it.
// Only Issuer is required; every other field has a working zero value.
type Config struct {
	// Issuer is the authorization server's issuer identifier (RFC 8414
	// §2), e.g. "https://localhost:9443": tokens must carry it as iss, and
	// the server's metadata is read from
	// Issuer + "/.well-known/oauth-authorization-server".
	Issuer string

	// JWKSURL is where the server's signing keys are published. Empty:
	// the jwks_uri of the metadata.
	JWKSURL string
	// IntrospectionURL is the RFC 7662 endpoint. Empty: the
	// introspection_endpoint of the metadata.
	IntrospectionURL string
	// FeedURL is tokend's revocation feed (Server-Sent Events). Empty:
	// the revocation_feed_endpoint of the metadata.
	FeedURL string

	// Audience, when set, must be one of a JWT's aud values (RFC 9068
	// §4); set tokend's --jwt-audience to the same value. Empty: the
	// audience is not checked.
	Audience string

	// ClientID and ClientSecret are the resource server's own client at
	// the authorization server (tokend client create --can-introspect),
	// sent with HTTP Basic to introspect opaque tokens and to follow the
	// revocation feed. Without them opaque tokens are refused, and
	// revoked JWTs are learned from the status lists alone.
	ClientID     string
	ClientSecret string

	// RequiredScopes must all be in the scope of every accepted token.
	// Routes that need more wrap their handler with RequireScopes.
	RequiredScopes []string

	// HTTPClient makes every request to the authorization server; nil
	// means a client of its own. Its Timeout is ignored for the feed,
	// which is one long request; RequestTimeout bounds the others.
	HTTPClient *http.Client
	// RequestTimeout bounds each request to the authorization server but
	// the feed. 0 means 10 seconds.
	RequestTimeout time.Duration

	// IntrospectionCacheTTL is how long an introspection answer is
	// reused (never past the token's expiry); the feed drops the answer
	// of a revoked token at once, and while the feed is down (followed
	// but not connected and caught up) no answer is reused. 0 means 30
	// seconds; negative, no cache.
	IntrospectionCacheTTL time.Duration
	// Leeway is the clock skew tolerated on exp and nbf. 0 means none.
	Leeway time.Duration
	// DisableFeed keeps the middleware off the revocation feed even with
	// credentials: revoked JWTs are then learned from the status lists,
	// up to their ttl late.
	DisableFeed bool

	// DPoPBaseURL is this resource server's external origin, e.g.
	// "https://api.example.com", that DPoP proofs name in htu (RFC 9449
	// §4.3) with the request's path. Empty: the request's own scheme (TLS
	// or not) and Host, right when nothing rewrites them on the way in.
	DPoPBaseURL string
	// DPoP sets how DPoP proofs are checked: its algorithms, window and
	// nonces. nil means dpop.Verifier's defaults. Its Replay defaults to a
	// dpop.Memory of its own and its Now to Now.
	DPoP *dpop.Verifier

	// Logger receives the feed's connections and failures; never a
	// token. nil means no logging.
	Logger *slog.Logger
	// Now is the clock tokens are checked against; nil means time.Now.
	Now func() time.Time
}

// Defaults of Config.
const (
	DefaultRequestTimeout        = 10 * time.Second
	DefaultIntrospectionCacheTTL = 30 * time.Second
)

// withDefaults checks c and fills in its defaults.
func (c Config) withDefaults() (Config, error) {
	c.Issuer = strings.TrimSuffix(c.Issuer, "/")
	if c.Issuer == "" {
		return c, errors.New("rs: Config.Issuer is required")
	}
	if u, err := url.Parse(c.Issuer); err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
		return c, errors.New("rs: Config.Issuer must be an http or https URL")
	}
	if (c.ClientID == "") != (c.ClientSecret == "") {
		return c, errors.New("rs: set both Config.ClientID and Config.ClientSecret, or neither")
	}
	if c.HTTPClient == nil {
		c.HTTPClient = &http.Client{}
	}
	if c.RequestTimeout <= 0 {
		c.RequestTimeout = DefaultRequestTimeout
	}
	if c.IntrospectionCacheTTL == 0 {
		c.IntrospectionCacheTTL = DefaultIntrospectionCacheTTL
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	if c.Now == nil {
		c.Now = time.Now
	}
	v := dpop.Verifier{}
	if c.DPoP != nil {
		v = *c.DPoP
	}
	if v.Replay == nil {
		v.Replay = dpop.NewMemory(0)
	}
	if v.Now == nil {
		v.Now = c.Now
	}
	c.DPoP = &v
	c.DPoPBaseURL = strings.TrimSuffix(c.DPoPBaseURL, "/")
	return c, nil
}

// hasCredentials reports whether the resource server has a client.
func (c Config) hasCredentials() bool { return c.ClientID != "" }
