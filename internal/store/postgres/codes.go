package postgres

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/tokend/tokend/internal/store"
)

const (
	codeColumns = `hash, client_id, redirect_uri, code_challenge, user_id, username, session_id,
		scope, nonce, auth_time, created_at, expires_at, dpop_jkt`
	qInsertAuthCode = `INSERT INTO auth_codes (` + codeColumns + `) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)`
	qGetAuthCode    = `SELECT ` + codeColumns + ` FROM auth_codes WHERE hash = $1 AND expires_at > $2`
	// qLockAuthCode reads a code with what its exchange recorded, and takes
	// its row lock: concurrent exchanges of one code run one after the
	// other, and each sees what the one before it committed.
	qLockAuthCode = `SELECT ` + codeColumns + `, used_at IS NOT NULL, coalesce(grant_id, '')
		FROM auth_codes WHERE hash = $1 FOR UPDATE`
	qUseAuthCode        = `UPDATE auth_codes SET used_at = $2, grant_id = $3 WHERE hash = $1`
	qDeleteExpiredCodes = `DELETE FROM auth_codes WHERE hash IN (
			SELECT hash FROM auth_codes WHERE expires_at <= $1 LIMIT $2 FOR UPDATE SKIP LOCKED)`
)

// scanCode scans the codeColumns of a row, and then into more.
func scanCode(row pgx.Row, more ...any) (store.AuthCode, error) {
	var c store.AuthCode
	var hash []byte
	dest := append([]any{&hash, &c.ClientID, &c.RedirectURI, &c.CodeChallenge, &c.UserID, &c.Username, &c.SessionID,
		&c.Scope, &c.Nonce, &c.AuthTime, &c.CreatedAt, &c.ExpiresAt, &c.JKT}, more...)
	if err := row.Scan(dest...); err != nil {
		return store.AuthCode{}, err
	}
	if len(hash) != len(c.Hash) {
		return store.AuthCode{}, fmt.Errorf("postgres: authorization code hash of %d bytes", len(hash))
	}
	c.Hash = store.Hash(hash)
	c.AuthTime, c.CreatedAt, c.ExpiresAt = c.AuthTime.UTC(), c.CreatedAt.UTC(), c.ExpiresAt.UTC()
	return c, nil
}

// CreateAuthCode stores a new authorization code, or fails with
// store.ErrAlreadyExists.
func (s *Store) CreateAuthCode(ctx context.Context, c store.AuthCode) error {
	b := &pgx.Batch{}
	b.Queue(qInsertAuthCode, c.Hash[:], c.ClientID, c.RedirectURI, c.CodeChallenge, c.UserID, c.Username, c.SessionID,
		c.Scope, c.Nonce, c.AuthTime, c.CreatedAt, c.ExpiresAt, c.JKT)
	return s.batch(ctx, b)
}

// GetAuthCode returns the code with hash h unexpired at now, or
// store.ErrNotFound.
func (s *Store) GetAuthCode(ctx context.Context, h store.Hash, now time.Time) (store.AuthCode, error) {
	if err := s.usable(ctx); err != nil {
		return store.AuthCode{}, err
	}
	c, err := scanCode(s.pool.QueryRow(ctx, qGetAuthCode, h[:], now))
	if err != nil {
		return store.AuthCode{}, s.notFound(ctx, err, "authorization code")
	}
	return c, nil
}

// ExchangeAuthCode exchanges the code with hash h for grant and tokens:
//
//   - h unknown: store.ErrNotFound;
//   - the code exchanged already: the grant it produced is revoked with
//     reuse unless it is revoked already, the revocation is committed, and
//     the answer is store.ErrCodeReused (RFC 6749 §4.1.2);
//   - the code expired at now, or issued to another client or user:
//     store.ErrNotFound;
//   - otherwise the code is marked used by grant, and grant is created in
//     the code's session with its tokens.
//
// Two round trips: the first begins the transaction and reads the code
// under its row lock, the second writes what it called for and commits.
func (s *Store) ExchangeAuthCode(ctx context.Context, h store.Hash, now time.Time, g store.Grant, tokens []store.Token, reuse store.Revocation) (store.AuthCode, error) {
	if g.ID == "" {
		return store.AuthCode{}, errors.New("postgres: ExchangeAuthCode: empty grant ID")
	}
	latest, err := checkTokens(g.ID, tokens)
	if err != nil {
		return store.AuthCode{}, err
	}
	if latest.After(g.ExpiresAt) {
		g.ExpiresAt = latest
	}
	var code store.AuthCode
	err = s.inTx(ctx, func(t *tx) error {
		var used bool
		var grantID string
		var c store.AuthCode
		b := &pgx.Batch{}
		queueRow(b, qLockAuthCode, func(row pgx.Row) (err error) { c, err = scanCode(row, &used, &grantID); return err }, h[:])
		if err := t.send(b, false); err != nil {
			return s.notFound(ctx, err, "authorization code")
		}
		b = &pgx.Batch{}
		if used {
			var res store.RevokeResult
			s.queueRevoke(b, byGrant, reuse, &res, grantID)
			if err := t.send(b, true); err != nil {
				return err
			}
			return store.ErrCodeReused // committed
		}
		if err := exchangeable(c, now, g); err != nil {
			return err
		}
		g.SessionID = c.SessionID
		b.Queue(qUseAuthCode, h[:], now, g.ID).Exec(exactlyOne("marking the code used"))
		queueGrant(b, g, tokens)
		code = c
		return t.send(b, true)
	})
	if err != nil {
		return store.AuthCode{}, err
	}
	return code, nil
}

// exchangeable checks that the unused code c may be exchanged at now for
// grant g.
func exchangeable(c store.AuthCode, now time.Time, g store.Grant) error {
	switch {
	case !now.Before(c.ExpiresAt):
		return fmt.Errorf("%w: authorization code expired", store.ErrNotFound)
	case c.ClientID != g.ClientID || c.UserID != g.Subject:
		return fmt.Errorf("%w: authorization code of another client or user", store.ErrNotFound)
	case g.SessionID != "" && g.SessionID != c.SessionID:
		return fmt.Errorf("postgres: grant of session %q from a code of session %q", g.SessionID, c.SessionID)
	}
	return nil
}
