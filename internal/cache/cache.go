package cache

import (
	"context"
	"errors"
	"time"

	"github.com/tokend/tokend/internal/store"
)

// Defaults of Config.
const (
	DefaultTokens    = 65536
	DefaultRefreshes = 65536
	DefaultClients   = 4096
	DefaultClientTTL = time.Second
)

// Config sizes a Store. A zero count caches nothing of that kind.
type Config struct {
	// Tokens is how many access tokens are kept at most; 0 or less, none.
	Tokens int
	// Refreshes is how many refresh tokens' facts (LookupTokenFacts) are
	// kept at most; 0 or less, none.
	Refreshes int
	// Clients is how many clients are kept at most.
	Clients int
	// ClientTTL is how long a client read from the store is trusted: how
	// late a change made by another process is seen. 0 caches no client.
	ClientTTL time.Duration
	// Current reports whether the revocation log has been read recently
	// (feed.Hub.Current); while it reports false, tokens are read from the
	// store. Nil means always, which is right only when no other process
	// writes to the store.
	Current func() bool
	// Now is the clock of ClientTTL; nil means time.Now.
	Now func() time.Time
}

// Store is a store.Store with memory caches of access tokens, refresh
// tokens' facts and clients; see the package documentation. It defines
// every write (store.Writer); its reads other than LookupToken,
// LookupTokenFacts and GetClient are the wrapped store's.
type Store struct {
	store.Store
	current   func() bool
	now       func() time.Time
	tokens    *tokens
	refreshes *refreshes
	clients   *clients
}

// New wraps inner. Give the revocation log's events to Apply.
func New(inner store.Store, cfg Config) *Store {
	if cfg.ClientTTL <= 0 {
		cfg.Clients = 0
	}
	if cfg.Current == nil {
		cfg.Current = func() bool { return true }
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	return &Store{
		Store:     inner,
		current:   cfg.Current,
		now:       cfg.Now,
		tokens:    newTokens(cfg.Tokens),
		refreshes: newRefreshes(cfg.Refreshes),
		clients:   newClients(cfg.Clients, cfg.ClientTTL),
	}
}

// Apply takes note of revocations read from the log, which include those
// of other processes: the cached tokens of each revoked grant are marked
// revoked, and a client that was deleted or given a new secret is read
// again. Subscribe it to the feed hub.
func (s *Store) Apply(evs []store.Event) {
	for _, e := range evs {
		if e.SubjectLevel() {
			continue // revoked nothing: no cached token changes
		}
		s.tokens.revoked(e.GrantID, e.Time)
		if e.Reason == store.ReasonClientDeleted || e.Reason == store.ReasonSecretRotated {
			s.clients.forget(e.ClientID)
		}
	}
}

// LookupToken answers a cached access token while the log is current, and
// otherwise reads the store and caches what it finds.
func (s *Store) LookupToken(ctx context.Context, h store.Hash) (store.TokenRecord, error) {
	if s.current() {
		if r, ok := s.tokens.get(h); ok {
			return r, nil
		}
	}
	gen := s.tokens.generation()
	r, err := s.Store.LookupToken(ctx, h)
	if err == nil {
		s.tokens.put(r, gen)
	}
	return r, err
}

// CreateGrant caches the new grant's access tokens once they are stored:
// a resource server commonly asks about a token just after its issuance.
func (s *Store) CreateGrant(ctx context.Context, g store.Grant, toks []store.Token) error {
	gen := s.tokens.generation()
	if err := s.Store.CreateGrant(ctx, g, toks); err != nil {
		return err
	}
	s.putGrant(g, toks, gen)
	return nil
}

// putGrant caches the access tokens of g, stored with it at generation
// gen, and the facts of its refresh tokens.
func (s *Store) putGrant(g store.Grant, toks []store.Token, gen uint64) {
	var facts *grantFacts
	for _, t := range toks {
		if t.GrantID == "" {
			t.GrantID = g.ID
		}
		// The stores keep milliseconds; so does the cache, so that a token
		// expires at the same instant whichever answers.
		t.IssuedAt, t.ExpiresAt = millis(t.IssuedAt), millis(t.ExpiresAt)
		if t.Kind == store.RefreshToken && g.ParentID == "" {
			// An exchanged grant's refresh token is read from the store
			// at its first refresh, and its act and audience kept as the
			// store returns them.
			if facts == nil {
				facts = &grantFacts{id: g.ID, clientID: g.ClientID, subject: g.Subject, username: g.Username,
					scope: g.Scope, sessionID: g.SessionID, jkt: g.JKT}
			}
			s.refreshes.put(store.TokenRecord{Token: t}, facts, s.now())
		}
		if t.Kind != store.AccessToken {
			continue
		}
		s.tokens.put(store.TokenRecord{
			Token:     t,
			ClientID:  g.ClientID,
			Subject:   g.Subject,
			Username:  g.Username,
			Scope:     g.Scope,
			SessionID: g.SessionID,
			JKT:       g.JKT,
			ParentID:  g.ParentID,
		}, gen)
	}
}

func millis(t time.Time) time.Time { return time.UnixMilli(t.UnixMilli()) }

// RevokeGrant marks the grant's cached tokens revoked once the revocation
// is committed. When the call fails it may still have committed, and when
// it revoked nothing the grant was revoked before at a time not known
// here: either way the grant's tokens are dropped, to be read again.
func (s *Store) RevokeGrant(ctx context.Context, grantID string, rev store.Revocation) (store.RevokeResult, error) {
	res, err := s.Store.RevokeGrant(ctx, grantID, rev)
	if err == nil && res.Grants > 0 {
		s.tokens.revoked(grantID, millis(rev.Time))
	} else {
		s.tokens.forgetGrant(grantID)
	}
	return res, err
}

// RevokeToken answers from the cache, writing nothing, a cached token that
// is revoked already or another client's: a revocation is never undone and
// a token never changes hands. A cached live token of the caller's has its
// grant revoked by ID, which spares the store the lookup. Otherwise the
// store looks up and revokes; either way the grant's cached tokens follow
// as in RevokeGrant.
func (s *Store) RevokeToken(ctx context.Context, h store.Hash, kind store.TokenKind, clientID string, rev store.Revocation) (store.TokenRecord, store.RevokeResult, error) {
	if s.current() {
		if r, ok := s.tokens.get(h); ok && r.Kind == kind {
			if r.Revoked || r.ClientID != clientID {
				return r, store.RevokeResult{}, nil
			}
			res, err := s.RevokeGrant(ctx, r.GrantID, rev)
			return r, res, err
		}
	}
	rec, res, err := s.Store.RevokeToken(ctx, h, kind, clientID, rev)
	switch {
	case err == nil && res.Grants > 0:
		s.tokens.revoked(rec.GrantID, millis(rev.Time))
		// Kept, revoked: the resource servers that were told of the
		// revocation ask about the token next.
		revoked := rec
		revoked.Revoked, revoked.RevokedAt = true, millis(rev.Time)
		s.tokens.put(revoked, s.tokens.generation())
	case err == nil && rec.Revoked:
		s.tokens.forgetGrant(rec.GrantID)
	case err != nil && !errors.Is(err, store.ErrNotFound):
		s.forgetGrantOf(ctx, h) // the revocation may have committed
	}
	return rec, res, err
}

// forgetGrantOf drops the cached tokens of the grant of token h, after a
// write that may have revoked it failed without saying which grant: it
// reads the token from the store, and if even that fails it drops every
// cached token.
func (s *Store) forgetGrantOf(ctx context.Context, h store.Hash) {
	if r, err := s.Store.LookupToken(ctx, h); err == nil {
		s.tokens.forgetGrant(r.GrantID)
	} else {
		s.tokens.clear()
	}
}

// RevokeMatching empties the token cache: a bulk revocation by subject or
// client is rare, and which cached tokens it covers is not worth tracking.
func (s *Store) RevokeMatching(ctx context.Context, f store.Filter, rev store.Revocation) (store.RevokeResult, error) {
	defer s.tokens.clear()
	return s.Store.RevokeMatching(ctx, f, rev)
}

// RotateRefresh keeps the facts of the new refresh token in place of the
// old one's, and drops the grant's cached access tokens when the refresh
// token was reused, which revokes the grant. Other outcomes change no
// access token. A refused token's facts are dropped: it will not be
// exchanged.
func (s *Store) RotateRefresh(ctx context.Context, old store.Hash, now time.Time, toks []store.Token, reuse store.Revocation) (store.TokenRecord, error) {
	rec, err := s.Store.RotateRefresh(ctx, old, now, toks, reuse)
	if err == nil {
		s.refreshes.rotated(old, rec, toks, s.now())
		return rec, nil
	}
	s.refreshes.forget(old)
	if errors.Is(err, store.ErrNotFound) {
		return rec, err
	}
	// Reuse, or a failure that may have committed it: the record does not
	// say which grant.
	s.forgetGrantOf(ctx, old)
	return rec, err
}

// DeleteExpired drops the cached tokens expired at now as the store
// deletes them, so that a swept token is unknown here too.
func (s *Store) DeleteExpired(ctx context.Context, now time.Time, limit int) (store.SweepResult, error) {
	defer s.tokens.forgetExpired(now)
	defer s.refreshes.forgetExpired(now)
	return s.Store.DeleteExpired(ctx, now, limit)
}

// CreateClient drops any cached record of the ID.
func (s *Store) CreateClient(ctx context.Context, c store.Client) error {
	defer s.clients.forget(c.ID)
	return s.Store.CreateClient(ctx, c)
}

// GetClient answers a client read from the store less than ClientTTL ago,
// or an in-process change made since.
func (s *Store) GetClient(ctx context.Context, id string) (store.Client, error) {
	now := s.now()
	if c, ok := s.clients.get(id, now); ok {
		return c, nil
	}
	gen := s.clients.generation()
	c, err := s.Store.GetClient(ctx, id)
	if err == nil {
		s.clients.put(c, gen, now)
	}
	return c, err
}

// UpdateClient drops the client's record, and when the update revokes
// (a new secret), every cached token.
func (s *Store) UpdateClient(ctx context.Context, id string, fn func(store.Client) (store.Client, error), revoke *store.Revocation) (store.RevokeResult, error) {
	defer func() {
		s.clients.forget(id)
		if revoke != nil {
			s.tokens.clear()
		}
	}()
	return s.Store.UpdateClient(ctx, id, fn, revoke)
}

// DeleteClient drops the client's record and every cached token.
func (s *Store) DeleteClient(ctx context.Context, id string, rev store.Revocation) (store.RevokeResult, error) {
	defer func() {
		s.clients.forget(id)
		s.tokens.clear()
	}()
	return s.Store.DeleteClient(ctx, id, rev)
}

// UpdateUser drops every cached token when the update revokes the user's
// grants (a password change, a disable): a Revocation without a reason
// revokes nothing.
func (s *Store) UpdateUser(ctx context.Context, username string, fn func(store.User) (store.User, error), revoke *store.Revocation) (store.RevokeResult, error) {
	if revoke != nil && revoke.Reason != "" {
		defer s.tokens.clear()
	}
	return s.Store.UpdateUser(ctx, username, fn, revoke)
}

// DeleteUser drops every cached token: the user's grants are revoked.
func (s *Store) DeleteUser(ctx context.Context, username string, rev store.Revocation) (store.RevokeResult, error) {
	defer s.tokens.clear()
	return s.Store.DeleteUser(ctx, username, rev)
}

// EndSession drops the cached tokens of the session's grants, whether the
// call revoked them or failed after it may have: the offline ones among
// them, which stay live, are read again.
func (s *Store) EndSession(ctx context.Context, id string, endedAt time.Time, rev store.Revocation) (store.RevokeResult, error) {
	defer s.tokens.forgetMatching(func(g *cachedGrant) bool { return g.sessionID == id })
	return s.Store.EndSession(ctx, id, endedAt, rev)
}

// DeleteConsent drops the cached tokens of the client's grants for the
// user, which the call revokes.
func (s *Store) DeleteConsent(ctx context.Context, userID, clientID string, rev store.Revocation) (store.RevokeResult, error) {
	defer s.tokens.forgetMatching(func(g *cachedGrant) bool { return g.subject == userID && g.clientID == clientID })
	return s.Store.DeleteConsent(ctx, userID, clientID, rev)
}

// ExchangeAuthCode caches the new grant's access tokens, as CreateGrant
// does, in the code's session. A code used already has the grant it
// produced revoked, which the answer does not name: then, and after a
// failure that may have committed that, every cached token is dropped.
func (s *Store) ExchangeAuthCode(ctx context.Context, h store.Hash, now time.Time, g store.Grant, toks []store.Token, reuse store.Revocation) (store.AuthCode, error) {
	gen := s.tokens.generation()
	c, err := s.Store.ExchangeAuthCode(ctx, h, now, g, toks, reuse)
	switch {
	case err == nil:
		g.SessionID = c.SessionID
		s.putGrant(g, toks, gen)
	case !errors.Is(err, store.ErrNotFound):
		s.tokens.clear()
	}
	return c, err
}

// The writes below change nothing the cache holds (access tokens and
// clients); they pass through so that every write of store.Writer is
// defined here and one added later cannot bypass the cache unseen.

// CreateUser passes through: the cache holds no users.
func (s *Store) CreateUser(ctx context.Context, u store.User) error {
	return s.Store.CreateUser(ctx, u)
}

// CreateIssuer passes through: the cache holds no issuers.
func (s *Store) CreateIssuer(ctx context.Context, iss store.Issuer) error {
	return s.Store.CreateIssuer(ctx, iss)
}

// DeleteIssuer passes through: the cache holds no issuers.
func (s *Store) DeleteIssuer(ctx context.Context, iss string) error {
	return s.Store.DeleteIssuer(ctx, iss)
}

// UseJTI passes through: the cache holds no assertion jtis.
func (s *Store) UseJTI(ctx context.Context, issuer, jti string, expiresAt, now time.Time) error {
	return s.Store.UseJTI(ctx, issuer, jti, expiresAt, now)
}

// DeleteEventsBefore passes through: the cache holds no events, and the
// tokens a deleted event covered have expired.
func (s *Store) DeleteEventsBefore(ctx context.Context, before time.Time, limit int) (int, error) {
	return s.Store.DeleteEventsBefore(ctx, before, limit)
}

// ReserveStatusIndexes passes through: a reservation changes no token.
func (s *Store) ReserveStatusIndexes(ctx context.Context, n int) (int64, error) {
	return s.Store.ReserveStatusIndexes(ctx, n)
}

// CreateSession passes through: the cache holds no sessions.
func (s *Store) CreateSession(ctx context.Context, sess store.Session) error {
	return s.Store.CreateSession(ctx, sess)
}

// ReauthenticateSession passes through: the cache holds no sessions.
func (s *Store) ReauthenticateSession(ctx context.Context, id string, authTime time.Time) error {
	return s.Store.ReauthenticateSession(ctx, id, authTime)
}

// TouchSession passes through: the cache holds no sessions.
func (s *Store) TouchSession(ctx context.Context, id string, lastSeen time.Time) error {
	return s.Store.TouchSession(ctx, id, lastSeen)
}

// CreateAuthCode passes through: the cache holds no codes.
func (s *Store) CreateAuthCode(ctx context.Context, c store.AuthCode) error {
	return s.Store.CreateAuthCode(ctx, c)
}

// PutConsent passes through: the cache holds no consents, and a consent
// given revokes nothing.
func (s *Store) PutConsent(ctx context.Context, c store.Consent) error {
	return s.Store.PutConsent(ctx, c)
}

// QueueLogouts passes through: the cache holds no cursors or deliveries,
// and queuing revokes nothing.
func (s *Store) QueueLogouts(ctx context.Context, name string, from, to int64, ds []store.LogoutDelivery) error {
	return s.Store.QueueLogouts(ctx, name, from, to, ds)
}

// ClaimLogouts passes through: the cache holds no deliveries.
func (s *Store) ClaimLogouts(ctx context.Context, claim string, now, until time.Time, limit int) ([]store.LogoutDelivery, error) {
	return s.Store.ClaimLogouts(ctx, claim, now, until, limit)
}

// FinishLogout passes through: the cache holds no deliveries.
func (s *Store) FinishLogout(ctx context.Context, id int64, claim, state string, at, next time.Time) error {
	return s.Store.FinishLogout(ctx, id, claim, state, at, next)
}

// FinishLogouts passes through: it revokes nothing.
func (s *Store) FinishLogouts(ctx context.Context, claim string, at time.Time, outcomes []store.LogoutOutcome) error {
	return s.Store.FinishLogouts(ctx, claim, at, outcomes)
}

// DeleteFinishedLogouts passes through: the cache holds no deliveries.
func (s *Store) DeleteFinishedLogouts(ctx context.Context, before time.Time, limit int) (int, error) {
	return s.Store.DeleteFinishedLogouts(ctx, before, limit)
}

// The Shared Signals streams' writes pass through: the cache holds no streams.

// CreateStream passes through.
func (s *Store) CreateStream(ctx context.Context, st store.Stream) error {
	return s.Store.CreateStream(ctx, st)
}

// UpdateStream passes through.
func (s *Store) UpdateStream(ctx context.Context, id string, fn func(store.Stream) (store.Stream, error)) (store.Stream, error) {
	return s.Store.UpdateStream(ctx, id, fn)
}

// DeleteStream passes through.
func (s *Store) DeleteStream(ctx context.Context, id string) error {
	return s.Store.DeleteStream(ctx, id)
}

// QueueSETs passes through.
func (s *Store) QueueSETs(ctx context.Context, name string, from, to int64, sets []store.StreamSET) error {
	return s.Store.QueueSETs(ctx, name, from, to, sets)
}

// AckSETs passes through.
func (s *Store) AckSETs(ctx context.Context, streamID string, acks []string, errs map[string]string, at time.Time) error {
	return s.Store.AckSETs(ctx, streamID, acks, errs, at)
}

// ClaimSETs passes through.
func (s *Store) ClaimSETs(ctx context.Context, claim string, now, until time.Time, limit, perStream int) ([]store.StreamSET, error) {
	return s.Store.ClaimSETs(ctx, claim, now, until, limit, perStream)
}

// FinishSETs passes through.
func (s *Store) FinishSETs(ctx context.Context, claim string, at time.Time, outcomes []store.SETOutcome) error {
	return s.Store.FinishSETs(ctx, claim, at, outcomes)
}

// DeleteFinishedSETs passes through.
func (s *Store) DeleteFinishedSETs(ctx context.Context, before time.Time, limit int) (int, error) {
	return s.Store.DeleteFinishedSETs(ctx, before, limit)
}
