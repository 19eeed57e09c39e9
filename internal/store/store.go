package store

import (
	"context"
	"crypto/sha256"
	"errors"
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
	// CreatedAt and ExpiresAt bound the grant's life: ExpiresAt is the expiry
	// of its longest-lived token and moves forward when a refresh rotates.
	CreatedAt time.Time
	ExpiresAt time.Time
}

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
type Revocation struct {
	Time   time.Time
	Reason string // one of the Reason constants
	Actor  string // a client ID, "admin", a username, or "system"
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
}

// Filter selects grants for a bulk revocation. At least one field is set.
type Filter struct {
	Subject  string
	ClientID string
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
	// revoke is not nil every live grant of the user is revoked with it
	// (password change, disable).
	UpdateUser(ctx context.Context, username string, fn func(User) (User, error), revoke *Revocation) (RevokeResult, error)
	// DeleteUser removes the user and revokes all the user's grants, atomically.
	DeleteUser(ctx context.Context, username string, rev Revocation) (RevokeResult, error)

	// CreateGrant stores a new grant with its first tokens, atomically.
	CreateGrant(ctx context.Context, g Grant, tokens []Token) error
	// LookupToken returns the token with that hash, whatever its state
	// (expired, rotated or revoked tokens are returned too), or ErrNotFound.
	LookupToken(ctx context.Context, h Hash) (TokenRecord, error)
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
	// now, with their tokens, and the used assertion jtis that expired. It
	// is called repeatedly in small batches so no lock is held for long.
	DeleteExpired(ctx context.Context, now time.Time, limit int) (SweepResult, error)
	// DeleteEventsBefore deletes up to limit events older than before
	// whose covered tokens all expired before before too.
	DeleteEventsBefore(ctx context.Context, before time.Time, limit int) (int, error)
	// Stats counts the live (unexpired, unrevoked) grants and tokens at now.
	Stats(ctx context.Context, now time.Time) (Stats, error)
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

// SweepResult says what one sweep batch deleted.
type SweepResult struct {
	Grants int
	Tokens int
	JTIs   int
}

// Stats are the live counts of the store.
type Stats struct {
	LiveGrants int64
	LiveTokens int64
}
