package sqlite

import (
	"context"
	"fmt"
	"time"

	"github.com/tokend/tokend/internal/store"
)

const (
	codeColumns = `hash, client_id, redirect_uri, code_challenge, user_id, username, session_id,
		scope, nonce, auth_time, created_at, expires_at, dpop_jkt`
	qInsertAuthCode = `INSERT INTO auth_codes (` + codeColumns + `) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`
	qGetAuthCode    = `SELECT ` + codeColumns + ` FROM auth_codes WHERE hash = ?1 AND expires_at > ?2`
	// qLookupAuthCode reads a code with what its exchange recorded.
	qLookupAuthCode = `SELECT ` + codeColumns + `, used_at IS NOT NULL, coalesce(grant_id, '')
		FROM auth_codes WHERE hash = ?`
	qUseAuthCode = `UPDATE auth_codes SET used_at = ?2, grant_id = ?3 WHERE hash = ?1`
)

func codeArgs(c store.AuthCode) []any {
	return []any{c.Hash[:], c.ClientID, c.RedirectURI, c.CodeChallenge, c.UserID, c.Username, c.SessionID,
		c.Scope, c.Nonce, ms(c.AuthTime), ms(c.CreatedAt), ms(c.ExpiresAt), c.JKT}
}

// scanCode scans the codeColumns of a row, and then into more.
func scanCode(sc scanner, more ...any) (store.AuthCode, error) {
	var c store.AuthCode
	var hash []byte
	var authTime, created, expires int64
	dest := append([]any{&hash, &c.ClientID, &c.RedirectURI, &c.CodeChallenge, &c.UserID, &c.Username, &c.SessionID,
		&c.Scope, &c.Nonce, &authTime, &created, &expires, &c.JKT}, more...)
	if err := sc.Scan(dest...); err != nil {
		return store.AuthCode{}, err
	}
	if len(hash) != len(c.Hash) {
		return store.AuthCode{}, fmt.Errorf("sqlite: authorization code hash of %d bytes", len(hash))
	}
	c.Hash = store.Hash(hash)
	c.AuthTime, c.CreatedAt, c.ExpiresAt = fromMS(authTime), fromMS(created), fromMS(expires)
	return c, nil
}

// CreateAuthCode stores a new authorization code, or fails with
// store.ErrAlreadyExists.
func (s *Store) CreateAuthCode(ctx context.Context, c store.AuthCode) error {
	args := codeArgs(c)
	return s.write(ctx, func(t *tx) error {
		_, err := t.exec(s.w.insertAuthCode, args...)
		return err
	})
}

// GetAuthCode returns the code with hash h unexpired at now, or
// store.ErrNotFound.
func (s *Store) GetAuthCode(ctx context.Context, h store.Hash, now time.Time) (store.AuthCode, error) {
	c, err := scanCode(s.r.getAuthCode.QueryRowContext(ctx, h[:], ms(now)))
	if err != nil {
		return store.AuthCode{}, notFound(err, "authorization code")
	}
	return c, nil
}

// ExchangeAuthCode exchanges the code with hash h for grant and tokens in
// one op:
//
//   - h unknown: store.ErrNotFound;
//   - the code exchanged already: the grant it produced is revoked with
//     reuse unless it is revoked already, the revocation is committed, and
//     the answer is store.ErrCodeReused (RFC 6749 §4.1.2);
//   - the code expired at now, or issued to another client or user:
//     store.ErrNotFound;
//   - otherwise the code is marked used by grant, and grant is created in
//     the code's session with its tokens.
func (s *Store) ExchangeAuthCode(ctx context.Context, h store.Hash, now time.Time, g store.Grant, tokens []store.Token, reuse store.Revocation) (store.AuthCode, error) {
	if g.ID == "" {
		return store.AuthCode{}, fmt.Errorf("sqlite: ExchangeAuthCode: empty grant ID")
	}
	exp, err := checkTokens(g.ID, tokens)
	if err != nil {
		return store.AuthCode{}, err
	}
	exp = max(exp, ms(g.ExpiresAt))
	var code store.AuthCode
	err = s.write(ctx, func(t *tx) error {
		var used bool
		var grantID string
		c, err := scanCode(t.queryRow(s.w.lookupAuthCode, h[:]), &used, &grantID)
		if err != nil {
			return &unwritten{notFound(err, "authorization code")}
		}
		if used {
			if _, err := s.revoke(t, byGrant, reuse, grantID); err != nil {
				return err
			}
			return &commitAnyway{store.ErrCodeReused}
		}
		if err := exchangeable(c, now, g); err != nil {
			return &unwritten{err}
		}
		g.SessionID = c.SessionID
		if _, err := t.exec(s.w.useAuthCode, h[:], ms(now), g.ID); err != nil {
			return err
		}
		code = c
		return s.insertGrant(t, g, exp, tokens)
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
		return fmt.Errorf("sqlite: grant of session %q from a code of session %q", g.SessionID, c.SessionID)
	}
	return nil
}

const (
	consentColumns = `user_id, client_id, scope, created_at, updated_at`
	// qPutConsent keeps the CreatedAt of the consent it replaces.
	qPutConsent = `INSERT INTO consents (` + consentColumns + `) VALUES (?, ?, ?, ?, ?)
		ON CONFLICT (user_id, client_id) DO UPDATE SET scope = excluded.scope, updated_at = excluded.updated_at`
	qGetConsent           = `SELECT ` + consentColumns + ` FROM consents WHERE user_id = ? AND client_id = ?`
	qListConsents         = `SELECT ` + consentColumns + ` FROM consents WHERE user_id = ? ORDER BY client_id`
	qDeleteConsent        = `DELETE FROM consents WHERE user_id = ? AND client_id = ?`
	qDeleteUserConsents   = `DELETE FROM consents WHERE user_id = ?`
	qDeleteClientConsents = `DELETE FROM consents WHERE client_id = ?`
)

func scanConsent(sc scanner) (store.Consent, error) {
	var c store.Consent
	var created, updated int64
	err := sc.Scan(&c.UserID, &c.ClientID, &c.Scope, &created, &updated)
	c.CreatedAt, c.UpdatedAt = fromMS(created), fromMS(updated)
	return c, err
}

// PutConsent stores c, replacing the scope of the user's earlier consent
// to the client.
func (s *Store) PutConsent(ctx context.Context, c store.Consent) error {
	return s.write(ctx, func(t *tx) error {
		_, err := t.exec(s.w.putConsent, c.UserID, c.ClientID, c.Scope, ms(c.CreatedAt), ms(c.UpdatedAt))
		return err
	})
}

// GetConsent returns the user's consent to the client, or
// store.ErrNotFound.
func (s *Store) GetConsent(ctx context.Context, userID, clientID string) (store.Consent, error) {
	c, err := scanConsent(s.r.getConsent.QueryRowContext(ctx, userID, clientID))
	if err != nil {
		return store.Consent{}, notFound(err, fmt.Sprintf("consent of %q to %q", userID, clientID))
	}
	return c, nil
}

// ListConsents returns the user's consents, by client ID.
func (s *Store) ListConsents(ctx context.Context, userID string) ([]store.Consent, error) {
	return list(ctx, s.r.listConsents, scanConsent, userID)
}

// DeleteConsent forgets the consent and revokes the client's live grants
// for the user, in one op.
func (s *Store) DeleteConsent(ctx context.Context, userID, clientID string, rev store.Revocation) (store.RevokeResult, error) {
	var res store.RevokeResult
	err := s.write(ctx, func(t *tx) error {
		n, err := affected(t.exec(s.w.deleteConsent, userID, clientID))
		if err != nil {
			return err
		}
		if n == 0 {
			return &unwritten{fmt.Errorf("consent of %q to %q: %w", userID, clientID, store.ErrNotFound)}
		}
		res, err = s.revoke(t, bySubjectClient, rev, userID, clientID)
		return err
	})
	if err != nil {
		return store.RevokeResult{}, err
	}
	return res, nil
}
