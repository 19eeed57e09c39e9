package registry

import (
	"crypto/rand"
	"fmt"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/tokend/tokend/internal/identity"
	"github.com/tokend/tokend/internal/store"
)

// GrantType is a grant a client may be registered for: the token endpoint's
// list of them (oauth.GrantTypes) is the one list every registration is
// checked against.
type GrantType struct {
	// Name is the grant_type value (RFC 7591 §2 grant_types).
	Name string
	// Public: a public client (no secret) may be registered for it.
	Public bool
	// Default: a client registered without grant_types gets it, if it may.
	Default bool
}

// Rules check registrations against the grants the server knows.
type Rules struct {
	Grants []GrantType
}

// Token endpoint authentication methods (RFC 7591 §2).
const (
	AuthBasic = "client_secret_basic"
	AuthPost  = "client_secret_post"
	AuthNone  = "none"
)

// Token formats.
const (
	FormatOpaque = "opaque"
	FormatJWT    = "jwt"
)

// Spec is what a registration asks for. Zero fields take defaults.
type Spec struct {
	ID           string // chosen client_id; generated when empty
	Name         string
	Secret       string // chosen secret (stored with argon2id); generated when empty
	AuthMethod   string // AuthBasic (default), AuthPost or AuthNone (public client)
	GrantTypes   []string
	RedirectURIs []string
	TokenFormat  string // FormatOpaque (default) or FormatJWT
	// PostLogoutRedirectURIs are where an RP-initiated logout may send the
	// user back to (OpenID Connect RP-Initiated Logout 1.0 §3.1); checked
	// as RedirectURIs are.
	PostLogoutRedirectURIs []string
	// BackchannelLogoutURI receives the client's Logout Tokens (OpenID
	// Connect Back-Channel Logout 1.0 §2.2): https, or http to a loopback
	// host. "" for none.
	BackchannelLogoutURI             string
	BackchannelLogoutSessionRequired bool
	// DPoPBoundAccessTokens: the client always uses DPoP (RFC 9449 §5.2)
	// and is refused any token request without a proof.
	DPoPBoundAccessTokens bool
	// CanIntrospect lets the client introspect any client's tokens (a
	// resource server). Only a confidential client may have it
	// (MayIntrospectAny).
	CanIntrospect bool
	// SSFStreams lets the client manage Shared Signals streams and poll
	// them with its access tokens. Only a confidential client may have it.
	SSFStreams bool
	// TokenExchange lets the client use the token exchange grant (RFC
	// 8693), which an admin allows: it is given the grant type with it,
	// and may not list the grant type without it. Only a confidential
	// client may have it.
	TokenExchange     bool
	AccessTokenTTL    time.Duration
	AppAccessTokenTTL time.Duration
	RefreshTokenTTL   time.Duration
}

// InvalidError says which metadata is wrong (RFC 7591 §3.2.2
// invalid_client_metadata, or invalid_redirect_uri when RedirectURI).
type InvalidError struct {
	Reason string
	// RedirectURI: what is wrong is a redirection URI, or their absence.
	RedirectURI bool
}

func (e *InvalidError) Error() string { return "registry: " + e.Reason }

func invalid(format string, args ...any) error {
	return &InvalidError{Reason: fmt.Sprintf(format, args...)}
}

// New builds the client spec describes. The returned secret is the
// plain-text client secret, to be shown once; "" for a public client.
func (rules Rules) New(spec Spec, now time.Time) (c store.Client, secret string, err error) {
	if spec.ID == "" {
		if spec.ID, err = NewClientID(); err != nil {
			return c, "", err
		}
	}
	c = store.Client{ID: spec.ID, CreatedAt: now, UpdatedAt: now}
	if err := rules.Apply(&c, spec); err != nil {
		return store.Client{}, "", err
	}
	if c.AuthMethod != AuthNone {
		if secret, c.SecretHash, err = NewSecret(spec.Secret); err != nil {
			return store.Client{}, "", err
		}
	}
	return c, secret, nil
}

// Apply validates spec and writes its metadata into c, leaving ID, secret
// and timestamps alone (an update of a registration).
func (rules Rules) Apply(c *store.Client, spec Spec) error {
	if err := validID(spec.ID); err != nil {
		return err
	}
	if len(spec.Name) > 200 {
		return invalid("client_name is longer than 200 characters")
	}
	method := spec.AuthMethod
	if method == "" {
		method = AuthBasic
	}
	if !slices.Contains([]string{AuthBasic, AuthPost, AuthNone}, method) {
		return invalid("token_endpoint_auth_method %q is not supported", method)
	}
	public := method == AuthNone
	if public && spec.Secret != "" {
		return invalid("a public client has no secret")
	}
	if public && spec.SSFStreams {
		return invalid("a public client may not manage Shared Signals streams")
	}
	if public && spec.CanIntrospect {
		return invalid("a public client may not introspect other clients' tokens: it would need only its client_id")
	}
	grants, err := rules.grants(spec.GrantTypes, public)
	if err != nil {
		return err
	}
	if grants, err = exchangeGrant(grants, spec.TokenExchange, public); err != nil {
		return err
	}
	format := spec.TokenFormat
	if format == "" {
		format = FormatOpaque
	}
	if format != FormatOpaque && format != FormatJWT {
		return invalid("token format %q is not supported (opaque or jwt)", format)
	}
	for _, d := range []time.Duration{spec.AccessTokenTTL, spec.AppAccessTokenTTL, spec.RefreshTokenTTL} {
		if d < 0 || d > 10*365*24*time.Hour {
			return invalid("token lifetime out of range")
		}
	}
	if err := checkLogoutURIs(spec, grants); err != nil {
		return err
	}
	if public && c.SecretHash != "" {
		c.SecretHash = ""
	}
	c.Name = spec.Name
	c.AuthMethod = method
	c.GrantTypes = grants
	c.RedirectURIs = slices.Clone(spec.RedirectURIs)
	c.PostLogoutRedirectURIs = slices.Clone(spec.PostLogoutRedirectURIs)
	c.BackchannelLogoutURI = spec.BackchannelLogoutURI
	c.BackchannelLogoutSessionRequired = spec.BackchannelLogoutSessionRequired
	c.DPoPBoundAccessTokens = spec.DPoPBoundAccessTokens
	c.TokenFormat = format
	c.CanIntrospect = spec.CanIntrospect
	c.SSFStreams = spec.SSFStreams
	c.TokenExchange = spec.TokenExchange
	c.AccessTokenTTL = spec.AccessTokenTTL
	c.AppAccessTokenTTL = spec.AppAccessTokenTTL
	c.RefreshTokenTTL = spec.RefreshTokenTTL
	return nil
}

// grantAuthorizationCode is the grant that sends the user back to a
// redirection URI (RFC 6749 §4.1), named here, below the token endpoint
// that defines it.
const grantAuthorizationCode = "authorization_code"

// GrantTokenExchange is the token exchange grant (RFC 8693 §2.1), named
// here, below the token endpoint that defines it: an admin's flag
// (Spec.TokenExchange) gives it.
const GrantTokenExchange = "urn:ietf:params:oauth:grant-type:token-exchange"

// exchangeGrant adds the token exchange grant to grants when an admin
// allowed it, and refuses it listed without that.
func exchangeGrant(grants []string, allowed, public bool) ([]string, error) {
	listed := slices.Contains(grants, GrantTokenExchange)
	switch {
	case allowed && public:
		return nil, invalid("a public client may not exchange tokens")
	case allowed && !listed:
		grants = append(grants, GrantTokenExchange)
		slices.Sort(grants)
	case !allowed && listed:
		return nil, invalid("the %s grant is allowed by an admin: ext_token_exchange (tokend client create --token-exchange)", GrantTokenExchange)
	}
	return grants, nil
}

// checkLogoutURIs checks the redirection URIs, the post-logout ones and
// the back-channel logout URI of spec, whose client has grants.
func checkLogoutURIs(spec Spec, grants []string) error {
	if slices.Contains(grants, grantAuthorizationCode) && len(spec.RedirectURIs) == 0 {
		return &InvalidError{Reason: "a client of the authorization_code grant needs a redirect_uri", RedirectURI: true}
	}
	for _, list := range []struct {
		name string
		uris []string
	}{{"redirect_uris", spec.RedirectURIs}, {"post_logout_redirect_uris", spec.PostLogoutRedirectURIs}} {
		for _, u := range list.uris {
			if reason := checkRedirectURI(u); reason != "" {
				return &InvalidError{Reason: fmt.Sprintf("%s: %q %s", list.name, u, reason), RedirectURI: true}
			}
		}
	}
	if spec.BackchannelLogoutURI != "" {
		if reason := checkWebURI(spec.BackchannelLogoutURI); reason != "" {
			return invalid("backchannel_logout_uri: %q %s", spec.BackchannelLogoutURI, reason)
		}
	}
	return nil
}

// checkRedirectURI says what is wrong with a redirection URI, or "": it
// must be absolute and have no fragment (RFC 6749 §3.1.2), and be https,
// http to a loopback host (a native app's loopback redirect, RFC 8252
// §7.3), or of a private-use scheme, which holds a dot as reverse domain
// names do (RFC 8252 §7.1): schemes without one (javascript:, data:,
// file:) are not an app's.
func checkRedirectURI(raw string) string {
	u, reason := parseAbsolute(raw)
	switch {
	case reason != "":
		return reason
	case u.Scheme == "https" || u.Scheme == "http":
		return checkWebURI(raw)
	case !strings.Contains(u.Scheme, "."):
		return "must be https, http to 127.0.0.1, [::1] or localhost, or a private-use scheme such as com.example.app:"
	}
	return ""
}

// checkWebURI says what is wrong with a URI the server or a browser calls
// over HTTP, or "": absolute, no fragment, https, or http only to a
// loopback host, where no one else can listen.
func checkWebURI(raw string) string {
	u, reason := parseAbsolute(raw)
	switch {
	case reason != "":
		return reason
	case u.Scheme != "https" && u.Scheme != "http":
		return "must be https, or http to 127.0.0.1, [::1] or localhost"
	case u.Host == "" || u.Hostname() == "":
		return "has no host"
	case u.Scheme == "http" && !localHost(u.Hostname()):
		return "may use http only to 127.0.0.1, [::1] or localhost; use https"
	}
	return ""
}

// parseAbsolute parses raw as an absolute URI without a fragment, or says
// why it is not one.
func parseAbsolute(raw string) (*url.URL, string) {
	u, err := url.Parse(raw)
	switch {
	case err != nil:
		return nil, "is not a URI"
	case !u.IsAbs():
		return nil, "is not absolute"
	case strings.Contains(raw, "#"):
		return nil, "has a fragment"
	}
	return u, ""
}

// localHost reports whether host names the local machine's loopback
// interface as RFC 8252 §7.3 lists it, or localhost, which §8.3 only
// discourages: plain http is registered for those alone. (Matching a
// redirect on any port is narrower: loopback, in redirect.go.)
func localHost(host string) bool {
	return host == "127.0.0.1" || host == "::1" || strings.EqualFold(host, "localhost")
}

// MayIntrospectAny reports whether c may introspect any client's tokens
// and read the revocation feed (a resource server): it was registered
// with can_introspect and authenticates with a secret. A public client
// authenticates with its client_id alone, which is no secret (RFC 6749
// §2.1), so it never may, whatever its stored flag says; it sees its own
// tokens only.
func MayIntrospectAny(c store.Client) bool {
	return c.CanIntrospect && !c.Public() && c.AuthMethod != AuthNone
}

// grants checks the grant types asked for, or picks the defaults when none
// were, sorted and without repeats.
func (rules Rules) grants(asked []string, public bool) ([]string, error) {
	var grants []string
	for _, g := range rules.Grants {
		if len(asked) == 0 && g.Default && (g.Public || !public) {
			grants = append(grants, g.Name)
		}
	}
	for _, name := range asked {
		i := slices.IndexFunc(rules.Grants, func(g GrantType) bool { return g.Name == name })
		if i < 0 {
			return nil, invalid("grant type %q is not supported", name)
		}
		if public && !rules.Grants[i].Public {
			return nil, invalid("a public client may not use the %s grant", name)
		}
		grants = append(grants, name)
	}
	slices.Sort(grants)
	return slices.Compact(grants), nil
}

// NewSecret returns a client secret and its stored form: a generated one
// (256 bits, SHA-256) when chosen is empty, else chosen stored with
// argon2id since an admin's choice may be weak.
func NewSecret(chosen string) (secret, stored string, err error) {
	if chosen == "" {
		return identity.NewClientSecret()
	}
	if len(chosen) < 8 || len(chosen) > 512 {
		return "", "", invalid("a chosen client secret must be 8 to 512 characters")
	}
	stored, err = identity.HashChosenSecret(chosen)
	return chosen, stored, err
}

// validID accepts what is safe in a URL path, a form and a Basic header:
// RFC 3986 unreserved characters, 1 to 128 of them. Empty means "generate".
func validID(id string) error {
	if len(id) > 128 {
		return invalid("client_id is longer than 128 characters")
	}
	for i := 0; i < len(id); i++ {
		ch := id[i]
		ok := ch >= 'a' && ch <= 'z' || ch >= 'A' && ch <= 'Z' || ch >= '0' && ch <= '9' || ch == '-' || ch == '.' || ch == '_' || ch == '~'
		if !ok {
			return invalid("client_id may hold only letters, digits and -._~")
		}
	}
	return nil
}

// NewClientID returns a random client identifier of 28 base62 characters,
// shaped like WSO2 IS's (about 166 bits).
func NewClientID() (string, error) {
	const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"
	const n = 28
	out := make([]byte, 0, n)
	buf := make([]byte, 2*n)
	for len(out) < n {
		if _, err := rand.Read(buf); err != nil {
			return "", err
		}
		for _, b := range buf {
			// Rejection sampling: 248 = 4*62, so values below it map
			// uniformly onto the alphabet.
			if b < 248 && len(out) < n {
				out = append(out, alphabet[b%62])
			}
		}
	}
	return string(out), nil
}
