package feed

import (
	"context"
	"errors"
	"time"

	"github.com/tokend/tokend/internal/store"
)

// Nudging decorates a store.Store so that every call that revokes calls
// Nudge once it has committed: the hub then reads the new events at once
// instead of at its next poll. Wrap the store the endpoints, the admin API
// and SCIM use, and give the hub the store itself.
type Nudging struct {
	store.Store
	// Nudge is called after each committed revocation; Hub.Nudge.
	Nudge func()
}

// nudgeIf nudges after a committed call that may have revoked. A nudge
// that finds nothing new costs one read of the log, so it is not worth
// trusting RevokeResult.Seq to tell.
func (s Nudging) nudgeIf(err error, revoked bool) {
	if err == nil && revoked {
		s.Nudge()
	}
}

// UpdateClient nudges when revoke is set: rotating a secret revokes the
// client's grants.
func (s Nudging) UpdateClient(ctx context.Context, id string, fn func(store.Client) (store.Client, error), revoke *store.Revocation) (store.RevokeResult, error) {
	res, err := s.Store.UpdateClient(ctx, id, fn, revoke)
	s.nudgeIf(err, revoke != nil)
	return res, err
}

// DeleteClient nudges: deleting a client revokes its grants.
func (s Nudging) DeleteClient(ctx context.Context, id string, rev store.Revocation) (store.RevokeResult, error) {
	res, err := s.Store.DeleteClient(ctx, id, rev)
	s.nudgeIf(err, true)
	return res, err
}

// UpdateUser nudges when revoke is set (a password change, a disable).
func (s Nudging) UpdateUser(ctx context.Context, username string, fn func(store.User) (store.User, error), revoke *store.Revocation) (store.RevokeResult, error) {
	res, err := s.Store.UpdateUser(ctx, username, fn, revoke)
	s.nudgeIf(err, revoke != nil)
	return res, err
}

// DeleteUser nudges: deleting a user revokes the user's grants.
func (s Nudging) DeleteUser(ctx context.Context, username string, rev store.Revocation) (store.RevokeResult, error) {
	res, err := s.Store.DeleteUser(ctx, username, rev)
	s.nudgeIf(err, true)
	return res, err
}

// RevokeGrant nudges once the revocation committed.
func (s Nudging) RevokeGrant(ctx context.Context, grantID string, rev store.Revocation) (store.RevokeResult, error) {
	res, err := s.Store.RevokeGrant(ctx, grantID, rev)
	s.nudgeIf(err, true)
	return res, err
}

// RevokeToken nudges once a revocation committed; a call that revoked
// nothing wrote nothing.
func (s Nudging) RevokeToken(ctx context.Context, h store.Hash, kind store.TokenKind, clientID string, rev store.Revocation) (store.TokenRecord, store.RevokeResult, error) {
	rec, res, err := s.Store.RevokeToken(ctx, h, kind, clientID, rev)
	s.nudgeIf(err, res.Grants > 0)
	return rec, res, err
}

// RevokeMatching nudges once the revocation committed.
func (s Nudging) RevokeMatching(ctx context.Context, f store.Filter, rev store.Revocation) (store.RevokeResult, error) {
	res, err := s.Store.RevokeMatching(ctx, f, rev)
	s.nudgeIf(err, true)
	return res, err
}

// RotateRefresh nudges on ErrRefreshReused: the store revoked the grant
// before returning it.
func (s Nudging) RotateRefresh(ctx context.Context, old store.Hash, now time.Time, tokens []store.Token, reuse store.Revocation) (store.TokenRecord, error) {
	rec, err := s.Store.RotateRefresh(ctx, old, now, tokens, reuse)
	if errors.Is(err, store.ErrRefreshReused) {
		s.Nudge()
	}
	return rec, err
}

// EndSession nudges once the session's revocation committed.
func (s Nudging) EndSession(ctx context.Context, id string, endedAt time.Time, rev store.Revocation) (store.RevokeResult, error) {
	res, err := s.Store.EndSession(ctx, id, endedAt, rev)
	s.nudgeIf(err, res.Grants > 0)
	return res, err
}

// DeleteConsent nudges once the revocation of the client's grants for the
// user committed.
func (s Nudging) DeleteConsent(ctx context.Context, userID, clientID string, rev store.Revocation) (store.RevokeResult, error) {
	res, err := s.Store.DeleteConsent(ctx, userID, clientID, rev)
	s.nudgeIf(err, res.Grants > 0)
	return res, err
}

// ExchangeAuthCode nudges on ErrCodeReused: the store revoked the grant
// the code produced before returning it.
func (s Nudging) ExchangeAuthCode(ctx context.Context, h store.Hash, now time.Time, g store.Grant, tokens []store.Token, reuse store.Revocation) (store.AuthCode, error) {
	c, err := s.Store.ExchangeAuthCode(ctx, h, now, g, tokens, reuse)
	if errors.Is(err, store.ErrCodeReused) {
		s.Nudge()
	}
	return c, err
}

// The writes below append nothing to the revocation log, so there is
// nothing to nudge for; they pass through so that every write of
// store.Writer is defined here and one added later cannot skip the nudge
// unseen.

// CreateClient passes through: it revokes nothing.
func (s Nudging) CreateClient(ctx context.Context, c store.Client) error {
	return s.Store.CreateClient(ctx, c)
}

// CreateUser passes through: it revokes nothing.
func (s Nudging) CreateUser(ctx context.Context, u store.User) error {
	return s.Store.CreateUser(ctx, u)
}

// CreateGrant passes through: it revokes nothing.
func (s Nudging) CreateGrant(ctx context.Context, g store.Grant, tokens []store.Token) error {
	return s.Store.CreateGrant(ctx, g, tokens)
}

// CreateIssuer passes through: it revokes nothing.
func (s Nudging) CreateIssuer(ctx context.Context, iss store.Issuer) error {
	return s.Store.CreateIssuer(ctx, iss)
}

// DeleteIssuer passes through: it revokes nothing.
func (s Nudging) DeleteIssuer(ctx context.Context, iss string) error {
	return s.Store.DeleteIssuer(ctx, iss)
}

// UseJTI passes through: it revokes nothing.
func (s Nudging) UseJTI(ctx context.Context, issuer, jti string, expiresAt, now time.Time) error {
	return s.Store.UseJTI(ctx, issuer, jti, expiresAt, now)
}

// DeleteExpired passes through: deleting expired grants logs no event.
func (s Nudging) DeleteExpired(ctx context.Context, now time.Time, limit int) (store.SweepResult, error) {
	return s.Store.DeleteExpired(ctx, now, limit)
}

// DeleteEventsBefore passes through: it removes old events and appends
// none.
func (s Nudging) DeleteEventsBefore(ctx context.Context, before time.Time, limit int) (int, error) {
	return s.Store.DeleteEventsBefore(ctx, before, limit)
}

// ReserveStatusIndexes passes through: it revokes nothing.
func (s Nudging) ReserveStatusIndexes(ctx context.Context, n int) (int64, error) {
	return s.Store.ReserveStatusIndexes(ctx, n)
}

// CreateSession passes through: it revokes nothing.
func (s Nudging) CreateSession(ctx context.Context, sess store.Session) error {
	return s.Store.CreateSession(ctx, sess)
}

// ReauthenticateSession passes through: it revokes nothing.
func (s Nudging) ReauthenticateSession(ctx context.Context, id string, authTime time.Time) error {
	return s.Store.ReauthenticateSession(ctx, id, authTime)
}

// TouchSession passes through: it revokes nothing.
func (s Nudging) TouchSession(ctx context.Context, id string, lastSeen time.Time) error {
	return s.Store.TouchSession(ctx, id, lastSeen)
}

// CreateAuthCode passes through: it revokes nothing.
func (s Nudging) CreateAuthCode(ctx context.Context, c store.AuthCode) error {
	return s.Store.CreateAuthCode(ctx, c)
}

// PutConsent passes through: it revokes nothing.
func (s Nudging) PutConsent(ctx context.Context, c store.Consent) error {
	return s.Store.PutConsent(ctx, c)
}

// QueueLogouts passes through: it revokes nothing, and logs no event.
func (s Nudging) QueueLogouts(ctx context.Context, name string, from, to int64, ds []store.LogoutDelivery) error {
	return s.Store.QueueLogouts(ctx, name, from, to, ds)
}

// ClaimLogouts passes through: it revokes nothing, and logs no event.
func (s Nudging) ClaimLogouts(ctx context.Context, claim string, now, until time.Time, limit int) ([]store.LogoutDelivery, error) {
	return s.Store.ClaimLogouts(ctx, claim, now, until, limit)
}

// FinishLogout passes through: it revokes nothing, and logs no event.
func (s Nudging) FinishLogout(ctx context.Context, id int64, claim, state string, at, next time.Time) error {
	return s.Store.FinishLogout(ctx, id, claim, state, at, next)
}

// FinishLogouts passes through: it revokes nothing.
func (s Nudging) FinishLogouts(ctx context.Context, claim string, at time.Time, outcomes []store.LogoutOutcome) error {
	return s.Store.FinishLogouts(ctx, claim, at, outcomes)
}

// DeleteFinishedLogouts passes through: it revokes nothing, and logs no event.
func (s Nudging) DeleteFinishedLogouts(ctx context.Context, before time.Time, limit int) (int, error) {
	return s.Store.DeleteFinishedLogouts(ctx, before, limit)
}

// The Shared Signals streams' writes pass through: it revokes nothing.

// CreateStream passes through.
func (s Nudging) CreateStream(ctx context.Context, st store.Stream) error {
	return s.Store.CreateStream(ctx, st)
}

// UpdateStream passes through.
func (s Nudging) UpdateStream(ctx context.Context, id string, fn func(store.Stream) (store.Stream, error)) (store.Stream, error) {
	return s.Store.UpdateStream(ctx, id, fn)
}

// DeleteStream passes through.
func (s Nudging) DeleteStream(ctx context.Context, id string) error {
	return s.Store.DeleteStream(ctx, id)
}

// QueueSETs passes through.
func (s Nudging) QueueSETs(ctx context.Context, name string, from, to int64, sets []store.StreamSET) error {
	return s.Store.QueueSETs(ctx, name, from, to, sets)
}

// AckSETs passes through.
func (s Nudging) AckSETs(ctx context.Context, streamID string, acks []string, errs map[string]string, at time.Time) error {
	return s.Store.AckSETs(ctx, streamID, acks, errs, at)
}

// ClaimSETs passes through.
func (s Nudging) ClaimSETs(ctx context.Context, claim string, now, until time.Time, limit, perStream int) ([]store.StreamSET, error) {
	return s.Store.ClaimSETs(ctx, claim, now, until, limit, perStream)
}

// FinishSETs passes through.
func (s Nudging) FinishSETs(ctx context.Context, claim string, at time.Time, outcomes []store.SETOutcome) error {
	return s.Store.FinishSETs(ctx, claim, at, outcomes)
}

// DeleteFinishedSETs passes through.
func (s Nudging) DeleteFinishedSETs(ctx context.Context, before time.Time, limit int) (int, error) {
	return s.Store.DeleteFinishedSETs(ctx, before, limit)
}
