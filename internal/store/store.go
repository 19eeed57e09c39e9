package store

import (
	"context"
	"crypto/sha256"
	"errors"
	"slices"
	"strings"
	"time"
)

// Errors shared by every backend. Callers compare with errors.Is.
var (
	// ErrNotFound: no row with that key (or, for a token, no live row).
	ErrNotFound = errors.New("store: not found")
	// ErrAlreadyExists: a row with that key exists already.
	ErrAlreadyExists = errors.New("store: already exists")
	// ErrRefreshReused: a refresh token that had already been rotated was
	// presented again. The store has revoked the token's grant before
	// returning it (RFC 9700 §4.14.2).
	ErrRefreshReused = errors.New("store: refresh token reused")
	// ErrCodeReused: an authorization code that had been exchanged already
	// was presented again. The store has revoked the grant the code
	// produced before returning it (RFC 6749 §4.1.2, §10.5).
	ErrCodeReused = errors.New("store: authorization code reused")
	// ErrUnavailable: the database could not be reached or did not commit;
	// nothing was acknowledged. Callers answer 503.
	ErrUnavailable = errors.New("store: unavailable")
)

// Hash is the SHA-256 of a token. Tokens themselves are never stored.
type Hash [sha256.Size]byte

// HashToken returns the storage key of a token.
func HashToken(token string) Hash { return sha256.Sum256([]byte(token)) }

// TokenKind says whether a token is an access or a refresh token.
type TokenKind string

// The token kinds, named as RFC 7009 names their hints.
const (
	AccessToken  TokenKind = "access_token"
	RefreshToken TokenKind = "refresh_token"
)

// Client is a registered OAuth client.
type Client struct {
	ID   string
	Name string
	// SecretHash is "" for a public client; otherwise an encoded hash as
	// produced by package identity ("sha256$..." or an argon2id PHC string).
	SecretHash    string
	AuthMethod    string   // client_secret_basic, client_secret_post or none
	GrantTypes    []string // RFC 7591 grant_types
	RedirectURIs  []string
	TokenFormat   string // "opaque" or "jwt"
	CanIntrospect bool   // may introspect any client's tokens and read the revocation feed

	// PostLogoutRedirectURIs are where the client may ask to be sent after
	// an RP-initiated logout (OpenID Connect RP-Initiated Logout 1.0 §3.1).
	PostLogoutRedirectURIs []string
	// BackchannelLogoutURI is where the client receives Logout Tokens when
	// a session it had a grant in ends (OpenID Connect Back-Channel Logout
	// 1.0 §2.2); "" for none.
	BackchannelLogoutURI string
	// BackchannelLogoutSessionRequired: the client wants the sid claim in
	// its Logout Tokens (§2.2); tokend always sends it.
	BackchannelLogoutSessionRequired bool
	// DPoPBoundAccessTokens: the client always uses DPoP (RFC 9449 §5.2);
	// a token request of it without a proof is refused, so it never
	// holds a bearer token.
	DPoPBoundAccessTokens bool
	// SSFStreams: an admin allowed the client to manage Shared Signals
	// streams (SSF 1.0 §8) with its access tokens, and to poll them.
	SSFStreams bool
	// TokenExchange: an admin allowed the client to use the token
	// exchange grant (RFC 8693), which turns a token it was shown into a
	// token of its own.
	TokenExchange bool

	// Lifetimes; zero means the server default.
	AccessTokenTTL    time.Duration // tokens issued for a user
	AppAccessTokenTTL time.Duration // client_credentials tokens
	RefreshTokenTTL   time.Duration
	Disabled          bool
	CreatedAt         time.Time
	UpdatedAt         time.Time
}

// Public reports whether the client authenticates with its client_id alone.
func (c Client) Public() bool { return c.SecretHash == "" }

// User is a resource owner who can sign in with a password.
type User struct {
	ID           string // stable; the "sub" of the user's tokens
	Username     string // unique
	PasswordHash string // argon2id PHC string
	Admin        bool
	Disabled     bool
	CreatedAt    time.Time
	UpdatedAt    time.Time

	// The profile claims of OpenID Connect userinfo (Core §5.1); "" or
	// false when unknown. EmailVerified is true only when whoever set
	// Email said it was verified.
	Email         string
	EmailVerified bool
	GivenName     string
	FamilyName    string
	Name          string // the display name
}

// Grant is one authorization of one client for one subject and scope (a
// token family). Every token belongs to exactly one grant, and revoking any
// token revokes its grant.
type Grant struct {
	ID       string
	ClientID string
	// Subject is the user's ID, the client ID for client_credentials, or
	// "<sub>@<iss>" for an upstream issuer's subject (JWT bearer grant).
	Subject string
	// Username is the local user's name at issuance; "" for every other
	// subject.
	Username string
	Scope    string
	// SessionID is the browser session (its sid) the grant was made in;
	// "" for a grant made outside one. Ending the session revokes the
	// grant unless its scope holds offline_access (Offline).
	SessionID string
	// JKT is the SHA-256 thumbprint (RFC 7638) of the DPoP key the grant's
	// tokens are bound to (RFC 9449 §6); "" for bearer tokens. It is set
	// when the grant is made and never changes: every token of the grant
	// is bound to the same key.
	JKT string
	// ParentID is the grant whose token was exchanged for this one (RFC
	// 8693); "" for a grant made any other way. Revoking a grant revokes
	// every grant exchanged from it, transitively, in the same
	// transaction.
	ParentID string
	// Act is the act claim of an exchanged grant (RFC 8693 §4.1), JSON:
	// the actor, and nested in it the actors before; "" when none.
	Act string
	// Audience is the audience an exchanged grant's tokens are for (the
	// resource and audience parameters of RFC 8693 §2.1); nil for the
	// default one.
	Audience []string
	// CreatedAt and ExpiresAt bound the grant's life: ExpiresAt is the expiry
	// of its longest-lived token and moves forward when a refresh rotates.
	CreatedAt time.Time
	ExpiresAt time.Time
}

// ScopeOfflineAccess is the scope value asking for tokens that outlive the
// browser session they were granted in (OpenID Connect Core §11).
const ScopeOfflineAccess = "offline_access"

// Offline reports whether the grant's scope holds offline_access: ending
// its session leaves it live. Backends store it with the grant, from the
// scope, so that a session's revocation selects grants without parsing
// scopes.
func (g Grant) Offline() bool { return ScopeHas(g.Scope, ScopeOfflineAccess) }

// ScopeHas reports whether the space-separated scope holds value.
func ScopeHas(scope, value string) bool { return slices.Contains(strings.Fields(scope), value) }

// Token is one issued token, stored by hash.
type Token struct {
	Hash    Hash
	Kind    TokenKind
	GrantID string
	JTI     string // set for JWT access tokens
	// StatusIndex is the token's index in the Token Status List
	// (draft-ietf-oauth-status-list), from ReserveStatusIndexes; 0 when
	// the token has none (opaque tokens).
	StatusIndex int64
	IssuedAt    time.Time
	ExpiresAt   time.Time
}

// TokenRecord is a token as a lookup returns it: the token joined with the
// state of its grant.
type TokenRecord struct {
	Token
	ClientID string
	Subject  string
	Username string
	Scope    string
	// SessionID is the grant's browser session; "" when none.
	SessionID string
	// JKT is the grant's DPoP key thumbprint; "" when unbound.
	JKT string
	// ParentID, Act and Audience are the grant's (Grant): set for an
	// exchanged grant.
	ParentID string
	Act      string
	Audience []string
	// Rotated is true for a refresh token that has been exchanged already.
	Rotated bool
	// Revoked is true when the token's grant has been revoked.
	Revoked   bool
	RevokedAt time.Time
}

// Active reports whether the token may be used at now.
func (r TokenRecord) Active(now time.Time) bool {
	return !r.Revoked && !r.Rotated && now.Before(r.ExpiresAt)
}

// Revocation says who revoked a grant, why and when. It becomes one event
// of the revocation log, written in the same transaction as the revocation.
//
// Given to UpdateUser with no Reason, it revokes nothing: it says who
// changed the user and when, for the subject entries the change logs
// (SubjectEntries: user_enabled, claims_changed).
type Revocation struct {
	Time   time.Time
	Reason string // one of the Reason constants
	Actor  string // a client ID, "admin", a username, or "system"
	// KeepSession is a session of the user that UpdateUser leaves live
	// while it ends the others: a person who changes their own password
	// stays signed in where they changed it. "" keeps none; the other
	// writes ignore it.
	KeepSession string
}

// Reasons recorded in the revocation log.
const (
	ReasonClientRequest  = "client_request"
	ReasonRefreshReuse   = "refresh_reuse"
	ReasonPasswordChange = "password_change"
	ReasonUserDisabled   = "user_disabled"
	ReasonUserDeleted    = "user_deleted"
	ReasonClientDeleted  = "client_deleted"
	ReasonSecretRotated  = "secret_rotated"
	ReasonAdmin          = "admin"
	// ReasonCodeReuse: an authorization code was presented a second time
	// (RFC 6749 §4.1.2).
	ReasonCodeReuse = "code_reuse"
	// ReasonSessionEnded: the browser session the grant was made in ended
	// (sign-out).
	ReasonSessionEnded = "session_ended"
	// ReasonConsentRevoked: the user withdrew the consent that let the
	// client obtain the grant.
	ReasonConsentRevoked = "consent_revoked"
	// ReasonUserRequest: the user removed a client's access from their
	// account page.
	ReasonUserRequest = "user_request"
	// ReasonUpstreamSignal: an upstream issuer told, with a Shared Signals
	// SET, that a subject of its own must lose access (a session revoked,
	// a credential changed, an account disabled or purged).
	ReasonUpstreamSignal = "upstream_signal"
	// ReasonUserEnabled: a disabled user was enabled again. Only ever a
	// subject entry (Event.SubjectLevel): enabling revokes nothing.
	ReasonUserEnabled = "user_enabled"
	// ReasonClaimsChanged: claims tokend releases about the user (the
	// username, the name, the email) changed. Only ever a subject entry,
	// whose Event.Claims names them.
	ReasonClaimsChanged = "claims_changed"
)

// RevokeResult reports what one revocation covered.
type RevokeResult struct {
	Grants int   // grants revoked by this call (0 when already revoked)
	Tokens int   // tokens of those grants that were still unexpired
	Seq    int64 // sequence number of the last event appended; 0 if none
}

// Event is one entry of the revocation log: the audit trail, and what
// resource servers learn revocations from (the feed, the status lists).
type Event struct {
	Seq      int64
	Time     time.Time
	GrantID  string
	ClientID string
	Subject  string
	Reason   string
	Actor    string
	Tokens   int // how many tokens the revocation covered
	// SessionID is the browser session (sid) the revoked grant was made
	// in, "" when none: back-channel logout tells the grant's client of
	// the session's end by it.
	SessionID string
	// What it covered, for resource servers that cache or validate tokens
	// themselves: every token of the grant unexpired at Time (rotated ones
	// included: a resource server may still hold them), by hash, and the
	// jti and status index of those that are JWTs.
	TokenHashes   []Hash
	JTIs          []string
	StatusIndexes []int64
	// ExpiresAt is the expiry of the longest-lived covered token: after it,
	// a resource server may forget the event.
	ExpiresAt time.Time
	// ParentGrantID is the revoked grant's parent (Grant.ParentID): the
	// grant it was exchanged from, "" when none. A grant revoked because
	// its parent was has its own event, with the cause's reason and
	// actor, after its parent's.
	ParentGrantID string
	// Claims are, for a claims_changed entry, the OpenID Connect names
	// of the claims that changed (ProfileClaims); nil otherwise.
	Claims []string
}

// SubjectLevel reports whether e is a subject entry: a change to a user
// that the log carries although it revoked no grant (a password change,
// a disable or a deletion of a user who held none, an enable, a change of
// claims). It has no grant, no client and covers no token; the followers
// that act on revoked tokens (the feed, the status lists, the caches,
// back-channel logout) pass over it, the Shared Signals transmitter
// tells of it.
func (e Event) SubjectLevel() bool { return e.GrantID == "" }

// GrantActivity is a live grant of a user, with when its newest token was
// issued (at the grant, or by a refresh): the last use the store knows of
// without a write on the introspection path.
type GrantActivity struct {
	Grant
	LastIssued time.Time
}

// Filter selects grants for a bulk revocation. At least one of Subject,
// ClientID and SessionID is set; SessionID selects a session's grants
// alone and goes with neither of the others.
type Filter struct {
	Subject   string
	ClientID  string
	SessionID string
	// KeepOffline leaves out the grants whose scope holds offline_access
	// (Grant.Offline): they outlive the session they were made in.
	KeepOffline bool
}

// EventFilter selects events of the revocation log; each field that is
// set narrows it.
type EventFilter struct {
	Reason   string
	ClientID string
	Subject  string
	// Since keeps the events whose Time is at or after it; zero keeps all.
	Since time.Time
}

// Session is a browser session: a user signed in at the authorization
// server. Its ID is the sid of OpenID Connect Front- and Back-Channel
// Logout, which ID Tokens carry to the clients; so the ID alone does not
// let anyone use the session: the browser also holds a secret, of which
// only SecretHash is stored.
type Session struct {
	ID string
	// SecretHash is the SHA-256 of the secret the browser's cookie holds
	// beside the ID (HashToken). It is zero for a session stored before
	// the secret was, which no cookie then matches.
	SecretHash Hash
	UserID     string
	Username   string
	AuthTime   time.Time // when the user authenticated (the auth_time claim)
	Method     string    // how: an amr value, e.g. "pwd" (RFC 8176)
	UserAgent  string
	Address    string // the client's IP address
	CreatedAt  time.Time
	LastSeen   time.Time
	ExpiresAt  time.Time
	EndedAt    time.Time // zero while the session has not ended
}

// Live reports whether the session may be used at now: not ended, not
// expired.
func (s Session) Live(now time.Time) bool { return s.EndedAt.IsZero() && now.Before(s.ExpiresAt) }

// AuthCode is an authorization code (RFC 6749 §4.1), stored by the hash
// of the code only.
type AuthCode struct {
	Hash        Hash
	ClientID    string
	RedirectURI string
	// CodeChallenge is the S256 code challenge (RFC 7636 §4.2).
	CodeChallenge string
	UserID        string
	Username      string
	SessionID     string
	Scope         string
	Nonce         string // the OpenID Connect nonce of the request, or ""
	AuthTime      time.Time
	CreatedAt     time.Time
	ExpiresAt     time.Time
	// JKT is the thumbprint of the DPoP key the request bound the code to
	// with dpop_jkt (RFC 9449 §10), or "": only a token request proving
	// that key may exchange it.
	JKT string
}

// Consent is what a user agreed a client may have.
type Consent struct {
	UserID    string
	ClientID  string
	Scope     string
	CreatedAt time.Time
	UpdatedAt time.Time
}

// Store is the persistence every backend provides. Every method is safe for
// concurrent use. Writes that return nil are durable: committed to disk.
// Every method is either a read (Reader) or a write (Writer), which a
// decorator of Store defines itself.
type Store interface {
	Issuers
	Maintenance

	// Ping reports whether the database answers.
	Ping(ctx context.Context) error
	// Close flushes pending writes and releases the database.
	Close() error

	CreateClient(ctx context.Context, c Client) error
	GetClient(ctx context.Context, id string) (Client, error)
	ListClients(ctx context.Context) ([]Client, error)
	// UpdateClient applies fn to the stored client in one transaction. When
	// revoke is not nil, every live grant of the client is revoked in the
	// same transaction (secret rotation).
	UpdateClient(ctx context.Context, id string, fn func(Client) (Client, error), revoke *Revocation) (RevokeResult, error)
	// DeleteClient removes the client and revokes all its grants, atomically.
	DeleteClient(ctx context.Context, id string, rev Revocation) (RevokeResult, error)

	CreateUser(ctx context.Context, u User) error
	GetUser(ctx context.Context, username string) (User, error)
	GetUserByID(ctx context.Context, id string) (User, error)
	ListUsers(ctx context.Context) ([]User, error)
	// UpdateUser applies fn to the stored user in one transaction; when
	// revoke is not nil every live grant of the user is revoked with it,
	// and every session of the user not ended yet ends at revoke's Time
	// (password change, disable), but revoke's KeepSession.
	UpdateUser(ctx context.Context, username string, fn func(User) (User, error), revoke *Revocation) (RevokeResult, error)
	// DeleteUser removes the user and the user's consents, ends the
	// user's sessions and revokes all the user's grants, atomically.
	DeleteUser(ctx context.Context, username string, rev Revocation) (RevokeResult, error)

	// CreateGrant stores a new grant with its first tokens, atomically.
	CreateGrant(ctx context.Context, g Grant, tokens []Token) error
	// LookupToken returns the token with that hash, whatever its state
	// (expired, rotated or revoked tokens are returned too), or ErrNotFound.
	LookupToken(ctx context.Context, h Hash) (TokenRecord, error)
	// LookupTokenFacts returns what never changes of the token with that
	// hash, or ErrNotFound: a record of which only the token (its kind,
	// grant, issue and expiry) and its grant's client, subject, username,
	// scope, session, DPoP key, parent, act and audience are sure. Its
	// Rotated and Revoked may be out of date, and a token deleted by the
	// sweep may still be returned until it expires. It is for a caller
	// that acts on those facts alone and leaves the token's state to a
	// write that checks it, as the refresh grant leaves it to RotateRefresh;
	// a store answers it from memory where LookupToken could not be.
	LookupTokenFacts(ctx context.Context, h Hash) (TokenRecord, error)
	// RotateRefresh exchanges the refresh token old for the new tokens, which
	// join old's grant, extending the grant's ExpiresAt when needed. The
	// grant must be live and old unexpired at now, else ErrNotFound. If old
	// was rotated already, the grant is revoked with reuse and
	// ErrRefreshReused is returned.
	RotateRefresh(ctx context.Context, old Hash, now time.Time, tokens []Token, reuse Revocation) (TokenRecord, error)
	// RevokeGrant revokes the grant and every token of it, and appends one
	// event. Revoking a revoked or unknown grant is not an error: it returns
	// a zero RevokeResult.
	RevokeGrant(ctx context.Context, grantID string, rev Revocation) (RevokeResult, error)
	// RevokeToken is the revocation endpoint's lookup and revocation as one
	// write: it finds the token with hash h and, when it is of kind and was
	// issued to clientID, revokes its grant as RevokeGrant does. It returns
	// the token as it was before the call (Revoked when its grant was
	// revoked already) and what the call revoked; a token of another
	// client comes back unrevoked with a zero result. ErrNotFound when no
	// token of kind has hash h.
	RevokeToken(ctx context.Context, h Hash, kind TokenKind, clientID string, rev Revocation) (TokenRecord, RevokeResult, error)
	// RevokeMatching revokes every live grant that matches f, one event per
	// grant, in one transaction.
	RevokeMatching(ctx context.Context, f Filter, rev Revocation) (RevokeResult, error)
	// Events returns up to limit events with Seq > since, oldest first.
	Events(ctx context.Context, since int64, limit int) ([]Event, error)
	// UserEvents returns the newest limit events whose Subject is
	// subject, newest first: a person's own history.
	UserEvents(ctx context.Context, subject string, limit int) ([]Event, error)
	// SearchEvents returns the newest limit events that f selects, newest
	// first: what an admin reads of the log.
	SearchEvents(ctx context.Context, f EventFilter, limit int) ([]Event, error)
	// ListUserGrants returns the grants of subject live at now (neither
	// revoked nor expired), oldest first.
	ListUserGrants(ctx context.Context, subject string, now time.Time) ([]GrantActivity, error)
	// GrantChain returns the grants the grant grantID was exchanged from
	// (Grant.ParentID), its parent first and the grant that began the
	// chain last; nil for a grant not exchanged, or unknown.
	GrantChain(ctx context.Context, grantID string) ([]string, error)

	Sessions
	AuthCodes
	DeviceCodes
	Consents
	Logouts
	Streams
}

// Sessions stores browser sessions. A session that ended or expired stays
// (ListSessions shows it) until the sweep deletes it a day later.
type Sessions interface {
	CreateSession(ctx context.Context, s Session) error // ErrAlreadyExists
	GetSession(ctx context.Context, id string) (Session, error)
	// ListSessions returns the user's sessions, ended and expired ones
	// included, the most recently created first.
	ListSessions(ctx context.Context, userID string) ([]Session, error)
	// TouchSession moves the session's LastSeen forward to lastSeen (never
	// back). ErrNotFound when the session is unknown or has ended.
	TouchSession(ctx context.Context, id string, lastSeen time.Time) error
	// ReauthenticateSession records that the session's user proved who
	// they are again at authTime (a sign-in asked for by prompt=login or
	// max_age): AuthTime moves to it and LastSeen forward. The session
	// and its grants go on. ErrNotFound when it is unknown or has ended.
	ReauthenticateSession(ctx context.Context, id string, authTime time.Time) error
	// EndSession ends the session at endedAt and revokes its live grants
	// but the offline ones, one event each, in one transaction. A session
	// ended already keeps its EndedAt. ErrNotFound when it is unknown.
	EndSession(ctx context.Context, id string, endedAt time.Time, rev Revocation) (RevokeResult, error)
}

// AuthCodes stores authorization codes until they expire.
type AuthCodes interface {
	CreateAuthCode(ctx context.Context, c AuthCode) error // ErrAlreadyExists
	// GetAuthCode returns the code with hash h, used or not, while it has
	// not expired at now; else ErrNotFound. The token endpoint checks the
	// client, the redirect URI and the PKCE verifier with it before it
	// mints the tokens ExchangeAuthCode stores.
	GetAuthCode(ctx context.Context, h Hash, now time.Time) (AuthCode, error)
	// ExchangeAuthCode exchanges the code with hash h for grant and its
	// tokens in one transaction: the code is marked used, recording the
	// grant, and the grant is created in the code's session. The code
	// must be unexpired at now and issued to grant.ClientID for
	// grant.Subject, else ErrNotFound. If the code was exchanged already,
	// the grant it produced is revoked with reuse, grant is not created,
	// and ErrCodeReused is returned (RFC 6749 §4.1.2).
	ExchangeAuthCode(ctx context.Context, h Hash, now time.Time, grant Grant, tokens []Token, reuse Revocation) (AuthCode, error)
}

// The states of a device code (RFC 8628): pending until the person at the
// verification page decides, then approved or denied; approved becomes
// used when the device exchanges it for tokens.
const (
	DevicePending  = "pending"
	DeviceApproved = "approved"
	DeviceDenied   = "denied"
	DeviceUsed     = "used"
)

// DeviceCode is a device authorization request (RFC 8628 §3.1), stored by
// the SHA-256 of its device code and of its normalised user code only.
type DeviceCode struct {
	DeviceHash Hash
	UserHash   Hash
	ClientID   string
	Scope      string
	Status     string // DevicePending, DeviceApproved, DeviceDenied or DeviceUsed
	// Interval is the least time between two polls (RFC 8628 §3.5); a poll
	// sooner than that lengthens it by five seconds (slow_down).
	Interval     time.Duration
	LastPolledAt time.Time // zero before the first poll
	// Who decided, in which browser session, signed in when: set by
	// DecideDeviceCode.
	UserID    string
	Username  string
	SessionID string
	AuthTime  time.Time
	GrantID   string // the grant its exchange created, once used
	CreatedAt time.Time
	ExpiresAt time.Time
}

// DeviceDecision is what the person at the verification page decided, and
// who they are.
type DeviceDecision struct {
	Approve   bool
	UserID    string
	Username  string
	SessionID string
	AuthTime  time.Time
}

// DeviceCodes stores the device authorization grant's requests (RFC 8628)
// until they expire.
type DeviceCodes interface {
	// CreateDeviceCode stores a new pending request; ErrAlreadyExists when
	// its device or user code hash is taken (a user code stays taken until
	// the sweep deletes its expired request).
	CreateDeviceCode(ctx context.Context, d DeviceCode) error
	// GetDeviceCodeByUser returns the pending request whose user code has
	// hash h, unexpired at now; else ErrNotFound.
	GetDeviceCodeByUser(ctx context.Context, h Hash, now time.Time) (DeviceCode, error)
	// DecideDeviceCode records d on the pending request whose user code has
	// hash h, unexpired at now, and returns it as decided; ErrNotFound when
	// there is none (decided already, expired, unknown).
	DecideDeviceCode(ctx context.Context, h Hash, now time.Time, d DeviceDecision) (DeviceCode, error)
	// PollDeviceCode records a poll at now of the request whose device code
	// has hash h, issued to clientID, and returns the request. tooFast is
	// true when the request is pending and the last poll was less than its
	// Interval before now: then the Interval it returns is five seconds
	// longer. Reading, comparing and updating are one atomic step, so two
	// concurrent polls cannot both pass. ErrNotFound when h is unknown or
	// of another client; an expired request is returned, for the caller to
	// say so.
	PollDeviceCode(ctx context.Context, h Hash, clientID string, now time.Time) (d DeviceCode, tooFast bool, err error)
	// ExchangeDeviceCode marks the approved request with device code hash h
	// used by grant and creates grant, in the request's session, with its
	// tokens, in one transaction. The request must be approved, unexpired
	// at now, issued to grant.ClientID and approved by grant.Subject, else
	// ErrNotFound and nothing is written: a code is exchanged once.
	ExchangeDeviceCode(ctx context.Context, h Hash, now time.Time, grant Grant, tokens []Token) (DeviceCode, error)
}

// Consents stores what each user agreed each client may have.
type Consents interface {
	// PutConsent stores c, replacing the scope of an earlier consent of
	// the user to the client; that one's CreatedAt stays.
	PutConsent(ctx context.Context, c Consent) error
	GetConsent(ctx context.Context, userID, clientID string) (Consent, error)
	// ListConsents returns the user's consents, by client ID.
	ListConsents(ctx context.Context, userID string) ([]Consent, error)
	// DeleteConsent forgets the consent and revokes the live grants of
	// the client for the user, in one transaction. ErrNotFound when there
	// is no such consent.
	DeleteConsent(ctx context.Context, userID, clientID string, rev Revocation) (RevokeResult, error)
}

// Issuer is a trusted issuer of JWT assertions for the JWT bearer grant
// (RFC 7523 §2.1).
type Issuer struct {
	Issuer string // the "iss" the assertions carry
	// Exactly one of JWKS (a JSON Web Key Set document) and JWKSURI is set.
	JWKS    []byte
	JWKSURI string
	// SubjectClaim names the claim whose value becomes the token's
	// subject; "sub" when empty.
	SubjectClaim string
	CreatedAt    time.Time
}

// Issuers stores the trusted issuers of the JWT bearer grant and the jtis
// of the assertions already used, so none is accepted twice.
type Issuers interface {
	CreateIssuer(ctx context.Context, iss Issuer) error // ErrAlreadyExists
	GetIssuer(ctx context.Context, iss string) (Issuer, error)
	ListIssuers(ctx context.Context) ([]Issuer, error)
	DeleteIssuer(ctx context.Context, iss string) error // ErrNotFound
	// UseJTI records the jti of an assertion from issuer until expiresAt.
	// It returns ErrAlreadyExists when that jti was recorded before and has
	// not expired at now (a replay).
	UseJTI(ctx context.Context, issuer, jti string, expiresAt, now time.Time) error
}

// Maintenance keeps the tables proportional to the live tokens.
type Maintenance interface {
	// DeleteExpired deletes up to limit grants whose ExpiresAt is before
	// now, with their tokens, the used assertion jtis that expired, up to
	// limit authorization codes and up to limit device codes expired at
	// now (counted together in Codes), and up to limit sessions
	// that ended or expired more than SessionRetention before now. It is
	// called repeatedly in small batches so no lock is held for long.
	DeleteExpired(ctx context.Context, now time.Time, limit int) (SweepResult, error)
	// DeleteEventsBefore deletes up to limit events older than before
	// whose covered tokens all expired before before too.
	DeleteEventsBefore(ctx context.Context, before time.Time, limit int) (int, error)
	// Stats counts the live (unexpired, unrevoked) grants and tokens at now.
	Stats(ctx context.Context, now time.Time) (Stats, error)
	// CountMatching counts the grants live at now that f selects, and
	// their live tokens (unexpired, not rotated): what RevokeMatching
	// would revoke at now, and report, so that an admin sees it before
	// confirming. It only reads.
	CountMatching(ctx context.Context, f Filter, now time.Time) (Stats, error)
	// ReserveStatusIndexes reserves n consecutive Token Status List
	// indexes and returns the first. Indexes start at 1 and are never
	// handed out twice, by any process sharing the database.
	ReserveStatusIndexes(ctx context.Context, n int) (first int64, err error)
	// LastStatusIndex returns the highest Token Status List index
	// reserved so far by any process sharing the database, 0 when none:
	// every index ReserveStatusIndexes has handed out is at most this, and
	// every later reservation starts above it. It only reads.
	LastStatusIndex(ctx context.Context) (int64, error)
}

// SessionRetention is how long an ended or expired session is kept (for
// the user's list of sessions) before the sweep deletes it.
const SessionRetention = 24 * time.Hour

// SweepResult says what one sweep batch deleted.
type SweepResult struct {
	Grants   int
	Tokens   int
	JTIs     int
	Codes    int
	Sessions int
}

// Stats are the live counts of the store.
type Stats struct {
	LiveGrants int64
	LiveTokens int64
	// LiveSessions are the browser sessions not ended and not expired.
	LiveSessions int64
}
