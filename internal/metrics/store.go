package metrics

import (
	"context"
	"errors"
	"time"

	"github.com/tokend/tokend/internal/store"
)

// Store decorates a store.Store, counting every revocation by reason
// wherever it comes from (a client's request, refresh reuse, a password
// change, an admin), since they all pass through these methods.
type Store struct {
	store.Store
	M *Metrics
}

func (s Store) UpdateClient(ctx context.Context, id string, fn func(store.Client) (store.Client, error), revoke *store.Revocation) (store.RevokeResult, error) {
	res, err := s.Store.UpdateClient(ctx, id, fn, revoke)
	if err == nil && revoke != nil {
		s.M.Revoked(revoke.Reason, res)
	}
	return res, err
}

func (s Store) DeleteClient(ctx context.Context, id string, rev store.Revocation) (store.RevokeResult, error) {
	res, err := s.Store.DeleteClient(ctx, id, rev)
	if err == nil {
		s.M.Revoked(rev.Reason, res)
	}
	return res, err
}

func (s Store) UpdateUser(ctx context.Context, username string, fn func(store.User) (store.User, error), revoke *store.Revocation) (store.RevokeResult, error) {
	res, err := s.Store.UpdateUser(ctx, username, fn, revoke)
	if err == nil && revoke != nil {
		s.M.Revoked(revoke.Reason, res)
	}
	return res, err
}

func (s Store) DeleteUser(ctx context.Context, username string, rev store.Revocation) (store.RevokeResult, error) {
	res, err := s.Store.DeleteUser(ctx, username, rev)
	if err == nil {
		s.M.Revoked(rev.Reason, res)
	}
	return res, err
}

func (s Store) RevokeGrant(ctx context.Context, grantID string, rev store.Revocation) (store.RevokeResult, error) {
	res, err := s.Store.RevokeGrant(ctx, grantID, rev)
	if err == nil {
		s.M.Revoked(rev.Reason, res)
	}
	return res, err
}

func (s Store) RevokeToken(ctx context.Context, h store.Hash, kind store.TokenKind, clientID string, rev store.Revocation) (store.TokenRecord, store.RevokeResult, error) {
	rec, res, err := s.Store.RevokeToken(ctx, h, kind, clientID, rev)
	if err == nil {
		s.M.Revoked(rev.Reason, res)
	}
	return rec, res, err
}

func (s Store) RevokeMatching(ctx context.Context, f store.Filter, rev store.Revocation) (store.RevokeResult, error) {
	res, err := s.Store.RevokeMatching(ctx, f, rev)
	if err == nil {
		s.M.Revoked(rev.Reason, res)
	}
	return res, err
}

func (s Store) RotateRefresh(ctx context.Context, old store.Hash, now time.Time, tokens []store.Token, reuse store.Revocation) (store.TokenRecord, error) {
	rec, err := s.Store.RotateRefresh(ctx, old, now, tokens, reuse)
	if errors.Is(err, store.ErrRefreshReused) {
		// The store revoked the family; the exact token count is not
		// returned, so count the grant.
		s.M.Revoked(reuse.Reason, store.RevokeResult{Grants: 1})
	}
	return rec, err
}

func (s Store) EndSession(ctx context.Context, id string, endedAt time.Time, rev store.Revocation) (store.RevokeResult, error) {
	res, err := s.Store.EndSession(ctx, id, endedAt, rev)
	if err == nil {
		s.M.Revoked(rev.Reason, res)
	}
	return res, err
}

func (s Store) DeleteConsent(ctx context.Context, userID, clientID string, rev store.Revocation) (store.RevokeResult, error) {
	res, err := s.Store.DeleteConsent(ctx, userID, clientID, rev)
	if err == nil {
		s.M.Revoked(rev.Reason, res)
	}
	return res, err
}

func (s Store) ExchangeAuthCode(ctx context.Context, h store.Hash, now time.Time, g store.Grant, tokens []store.Token, reuse store.Revocation) (store.AuthCode, error) {
	c, err := s.Store.ExchangeAuthCode(ctx, h, now, g, tokens, reuse)
	if errors.Is(err, store.ErrCodeReused) {
		// As for refresh reuse: the store revoked the code's grant (or
		// found it revoked) without saying how many tokens; count it.
		s.M.Revoked(reuse.Reason, store.RevokeResult{Grants: 1})
	}
	return c, err
}

func (s Store) DeleteExpired(ctx context.Context, now time.Time, limit int) (store.SweepResult, error) {
	res, err := s.Store.DeleteExpired(ctx, now, limit)
	if err == nil {
		s.M.Swept(res)
	}
	return res, err
}

// The writes below revoke nothing and sweep nothing, so there is nothing to
// count; they pass through so that every write of store.Writer is defined
// here and one added later cannot go uncounted unseen.

// CreateClient passes through: it revokes nothing.
func (s Store) CreateClient(ctx context.Context, c store.Client) error {
	return s.Store.CreateClient(ctx, c)
}

// CreateUser passes through: it revokes nothing.
func (s Store) CreateUser(ctx context.Context, u store.User) error {
	return s.Store.CreateUser(ctx, u)
}

// CreateGrant passes through: it revokes nothing.
func (s Store) CreateGrant(ctx context.Context, g store.Grant, tokens []store.Token) error {
	return s.Store.CreateGrant(ctx, g, tokens)
}

// CreateIssuer passes through: it revokes nothing.
func (s Store) CreateIssuer(ctx context.Context, iss store.Issuer) error {
	return s.Store.CreateIssuer(ctx, iss)
}

// DeleteIssuer passes through: it revokes nothing.
func (s Store) DeleteIssuer(ctx context.Context, iss string) error {
	return s.Store.DeleteIssuer(ctx, iss)
}

// UseJTI passes through: it revokes nothing.
func (s Store) UseJTI(ctx context.Context, issuer, jti string, expiresAt, now time.Time) error {
	return s.Store.UseJTI(ctx, issuer, jti, expiresAt, now)
}

// DeleteEventsBefore passes through: deleting old log events sweeps no
// grant or token.
func (s Store) DeleteEventsBefore(ctx context.Context, before time.Time, limit int) (int, error) {
	return s.Store.DeleteEventsBefore(ctx, before, limit)
}

// ReserveStatusIndexes passes through: it revokes nothing.
func (s Store) ReserveStatusIndexes(ctx context.Context, n int) (int64, error) {
	return s.Store.ReserveStatusIndexes(ctx, n)
}

// CreateSession passes through: it revokes nothing.
func (s Store) CreateSession(ctx context.Context, sess store.Session) error {
	return s.Store.CreateSession(ctx, sess)
}

// ReauthenticateSession passes through: it revokes nothing.
func (s Store) ReauthenticateSession(ctx context.Context, id string, authTime time.Time) error {
	return s.Store.ReauthenticateSession(ctx, id, authTime)
}

// TouchSession passes through: it revokes nothing.
func (s Store) TouchSession(ctx context.Context, id string, lastSeen time.Time) error {
	return s.Store.TouchSession(ctx, id, lastSeen)
}

// CreateAuthCode passes through: it revokes nothing.
func (s Store) CreateAuthCode(ctx context.Context, c store.AuthCode) error {
	return s.Store.CreateAuthCode(ctx, c)
}

// PutConsent passes through: it revokes nothing.
func (s Store) PutConsent(ctx context.Context, c store.Consent) error {
	return s.Store.PutConsent(ctx, c)
}

// QueueLogouts passes through: it revokes nothing.
func (s Store) QueueLogouts(ctx context.Context, name string, from, to int64, ds []store.LogoutDelivery) error {
	return s.Store.QueueLogouts(ctx, name, from, to, ds)
}

// ClaimLogouts passes through: it revokes nothing.
func (s Store) ClaimLogouts(ctx context.Context, claim string, now, until time.Time, limit int) ([]store.LogoutDelivery, error) {
	return s.Store.ClaimLogouts(ctx, claim, now, until, limit)
}

// FinishLogout passes through: it revokes nothing.
func (s Store) FinishLogout(ctx context.Context, id int64, claim, state string, at, next time.Time) error {
	return s.Store.FinishLogout(ctx, id, claim, state, at, next)
}

// FinishLogouts passes through: it revokes nothing.
func (s Store) FinishLogouts(ctx context.Context, claim string, at time.Time, outcomes []store.LogoutOutcome) error {
	return s.Store.FinishLogouts(ctx, claim, at, outcomes)
}

// DeleteFinishedLogouts passes through: it revokes nothing.
func (s Store) DeleteFinishedLogouts(ctx context.Context, before time.Time, limit int) (int, error) {
	return s.Store.DeleteFinishedLogouts(ctx, before, limit)
}

// The Shared Signals streams' writes pass through: it revokes nothing.

// CreateStream passes through.
func (s Store) CreateStream(ctx context.Context, st store.Stream) error {
	return s.Store.CreateStream(ctx, st)
}

// UpdateStream passes through.
func (s Store) UpdateStream(ctx context.Context, id string, fn func(store.Stream) (store.Stream, error)) (store.Stream, error) {
	return s.Store.UpdateStream(ctx, id, fn)
}

// DeleteStream passes through.
func (s Store) DeleteStream(ctx context.Context, id string) error {
	return s.Store.DeleteStream(ctx, id)
}

// QueueSETs passes through.
func (s Store) QueueSETs(ctx context.Context, name string, from, to int64, sets []store.StreamSET) error {
	return s.Store.QueueSETs(ctx, name, from, to, sets)
}

// AckSETs passes through.
func (s Store) AckSETs(ctx context.Context, streamID string, acks []string, errs map[string]string, at time.Time) error {
	return s.Store.AckSETs(ctx, streamID, acks, errs, at)
}

// ClaimSETs passes through.
func (s Store) ClaimSETs(ctx context.Context, claim string, now, until time.Time, limit, perStream int) ([]store.StreamSET, error) {
	return s.Store.ClaimSETs(ctx, claim, now, until, limit, perStream)
}

// FinishSETs passes through.
func (s Store) FinishSETs(ctx context.Context, claim string, at time.Time, outcomes []store.SETOutcome) error {
	return s.Store.FinishSETs(ctx, claim, at, outcomes)
}

// DeleteFinishedSETs passes through.
func (s Store) DeleteFinishedSETs(ctx context.Context, before time.Time, limit int) (int, error) {
	return s.Store.DeleteFinishedSETs(ctx, before, limit)
}
