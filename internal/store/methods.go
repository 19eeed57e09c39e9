package store

import (
	"context"
	"time"
)

// Writer is every method of Store that changes what is stored. A type that
// decorates a Store by embedding it (a cache, metrics, the feed's nudge)
// defines each of them itself, as a plain pass-through when it has nothing
// to do, rather than let the embedded Store's be promoted: a write method
// added to Store later then cannot skip a cache's invalidation, a count or
// a nudge unnoticed. A test of this package holds every embedder of Store
// to it.
type Writer interface {
	CreateClient(ctx context.Context, c Client) error
	UpdateClient(ctx context.Context, id string, fn func(Client) (Client, error), revoke *Revocation) (RevokeResult, error)
	DeleteClient(ctx context.Context, id string, rev Revocation) (RevokeResult, error)
	CreateUser(ctx context.Context, u User) error
	UpdateUser(ctx context.Context, username string, fn func(User) (User, error), revoke *Revocation) (RevokeResult, error)
	DeleteUser(ctx context.Context, username string, rev Revocation) (RevokeResult, error)
	CreateGrant(ctx context.Context, g Grant, tokens []Token) error
	RotateRefresh(ctx context.Context, old Hash, now time.Time, tokens []Token, reuse Revocation) (TokenRecord, error)
	RevokeGrant(ctx context.Context, grantID string, rev Revocation) (RevokeResult, error)
	RevokeToken(ctx context.Context, h Hash, kind TokenKind, clientID string, rev Revocation) (TokenRecord, RevokeResult, error)
	RevokeMatching(ctx context.Context, f Filter, rev Revocation) (RevokeResult, error)
	CreateIssuer(ctx context.Context, iss Issuer) error
	DeleteIssuer(ctx context.Context, iss string) error
	UseJTI(ctx context.Context, issuer, jti string, expiresAt, now time.Time) error
	DeleteExpired(ctx context.Context, now time.Time, limit int) (SweepResult, error)
	DeleteEventsBefore(ctx context.Context, before time.Time, limit int) (int, error)
	ReserveStatusIndexes(ctx context.Context, n int) (first int64, err error)
	CreateSession(ctx context.Context, s Session) error
	TouchSession(ctx context.Context, id string, lastSeen time.Time) error
	ReauthenticateSession(ctx context.Context, id string, authTime time.Time) error
	EndSession(ctx context.Context, id string, endedAt time.Time, rev Revocation) (RevokeResult, error)
	CreateAuthCode(ctx context.Context, c AuthCode) error
	ExchangeAuthCode(ctx context.Context, h Hash, now time.Time, grant Grant, tokens []Token, reuse Revocation) (AuthCode, error)
	CreateDeviceCode(ctx context.Context, d DeviceCode) error
	DecideDeviceCode(ctx context.Context, h Hash, now time.Time, d DeviceDecision) (DeviceCode, error)
	PollDeviceCode(ctx context.Context, h Hash, clientID string, now time.Time) (d DeviceCode, tooFast bool, err error)
	ExchangeDeviceCode(ctx context.Context, h Hash, now time.Time, grant Grant, tokens []Token) (DeviceCode, error)
	PutConsent(ctx context.Context, c Consent) error
	DeleteConsent(ctx context.Context, userID, clientID string, rev Revocation) (RevokeResult, error)
	QueueLogouts(ctx context.Context, name string, from, to int64, ds []LogoutDelivery) error
	ClaimLogouts(ctx context.Context, claim string, now, until time.Time, limit int) ([]LogoutDelivery, error)
	FinishLogout(ctx context.Context, id int64, claim, state string, at, next time.Time) error
	FinishLogouts(ctx context.Context, claim string, at time.Time, outcomes []LogoutOutcome) error
	DeleteFinishedLogouts(ctx context.Context, before time.Time, limit int) (int, error)
	CreateStream(ctx context.Context, s Stream) error
	UpdateStream(ctx context.Context, id string, fn func(Stream) (Stream, error)) (Stream, error)
	DeleteStream(ctx context.Context, id string) error
	QueueSETs(ctx context.Context, name string, from, to int64, sets []StreamSET) error
	AckSETs(ctx context.Context, streamID string, acks []string, errs map[string]string, at time.Time) error
	ClaimSETs(ctx context.Context, claim string, now, until time.Time, limit, perStream int) ([]StreamSET, error)
	FinishSETs(ctx context.Context, claim string, at time.Time, outcomes []SETOutcome) error
	DeleteFinishedSETs(ctx context.Context, before time.Time, limit int) (int, error)
}

// Reader is the rest of Store: the methods that change nothing stored,
// which a decorator may leave to the embedded Store. Ping and Close are
// among them: what Close flushes was written, and seen by any decorator,
// through Writer methods.
type Reader interface {
	Ping(ctx context.Context) error
	Close() error
	GetClient(ctx context.Context, id string) (Client, error)
	ListClients(ctx context.Context) ([]Client, error)
	GetUser(ctx context.Context, username string) (User, error)
	GetUserByID(ctx context.Context, id string) (User, error)
	ListUsers(ctx context.Context) ([]User, error)
	LookupToken(ctx context.Context, h Hash) (TokenRecord, error)
	LookupTokenFacts(ctx context.Context, h Hash) (TokenRecord, error)
	Events(ctx context.Context, since int64, limit int) ([]Event, error)
	UserEvents(ctx context.Context, subject string, limit int) ([]Event, error)
	SearchEvents(ctx context.Context, f EventFilter, limit int) ([]Event, error)
	ListUserGrants(ctx context.Context, subject string, now time.Time) ([]GrantActivity, error)
	GrantChain(ctx context.Context, grantID string) ([]string, error)
	GetIssuer(ctx context.Context, iss string) (Issuer, error)
	ListIssuers(ctx context.Context) ([]Issuer, error)
	Stats(ctx context.Context, now time.Time) (Stats, error)
	CountMatching(ctx context.Context, f Filter, now time.Time) (Stats, error)
	LastStatusIndex(ctx context.Context) (int64, error)
	GetSession(ctx context.Context, id string) (Session, error)
	ListSessions(ctx context.Context, userID string) ([]Session, error)
	GetAuthCode(ctx context.Context, h Hash, now time.Time) (AuthCode, error)
	GetDeviceCodeByUser(ctx context.Context, h Hash, now time.Time) (DeviceCode, error)
	GetConsent(ctx context.Context, userID, clientID string) (Consent, error)
	ListConsents(ctx context.Context, userID string) ([]Consent, error)
	Cursor(ctx context.Context, name string) (int64, error)
	GetLogout(ctx context.Context, id int64) (LogoutDelivery, error)
	CountLogouts(ctx context.Context, state string) (int64, error)
	GetStream(ctx context.Context, id string) (Stream, error)
	ListStreams(ctx context.Context) ([]Stream, error)
	PendingSETs(ctx context.Context, streamID string, limit int) ([]StreamSET, error)
	CountSETs(ctx context.Context, streamID, state string) (int64, error)
}

// Store is exactly Reader and Writer: a method added to Store and to
// neither does not compile here. (That none is in both, a test checks.)
var (
	_ Store = (interface {
		Reader
		Writer
	})(nil)
	_ Reader = Store(nil)
	_ Writer = Store(nil)
)
