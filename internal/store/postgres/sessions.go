package postgres

import (
	"context"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/tokend/tokend/internal/store"
)

const (
	sessionColumns = `id, user_id, username, auth_time, method, user_agent, address,
		created_at, last_seen, expires_at, ended_at, secret_hash`
	qInsertSession = `INSERT INTO sessions (` + sessionColumns + `) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, NULL, $11)`
	qGetSession    = `SELECT ` + sessionColumns + ` FROM sessions WHERE id = $1`
	qListSessions  = `SELECT ` + sessionColumns + ` FROM sessions WHERE user_id = $1 ORDER BY created_at DESC, id`
	qTouchSession  = `UPDATE sessions SET last_seen = greatest(last_seen, $2) WHERE id = $1 AND ended_at IS NULL`
	qReauthSession = `UPDATE sessions SET auth_time = $2, last_seen = greatest(last_seen, $2) WHERE id = $1 AND ended_at IS NULL`
	// qEndSession keeps the EndedAt of a session ended already.
	qEndSession = `UPDATE sessions SET ended_at = coalesce(ended_at, $2) WHERE id = $1`
	// qEndUserSessions leaves $3, a session to keep ("" keeps none).
	qEndUserSessions = `UPDATE sessions SET ended_at = $2 WHERE user_id = $1 AND ended_at IS NULL AND id <> $3`
)

func scanSession(row pgx.Row) (store.Session, error) {
	var s store.Session
	var ended *time.Time
	var secret []byte
	if err := row.Scan(&s.ID, &s.UserID, &s.Username, &s.AuthTime, &s.Method, &s.UserAgent, &s.Address,
		&s.CreatedAt, &s.LastSeen, &s.ExpiresAt, &ended, &secret); err != nil {
		return store.Session{}, err
	}
	s.AuthTime, s.CreatedAt, s.LastSeen, s.ExpiresAt = s.AuthTime.UTC(), s.CreatedAt.UTC(), s.LastSeen.UTC(), s.ExpiresAt.UTC()
	if ended != nil {
		s.EndedAt = ended.UTC()
	}
	// Empty for a session stored before 0006: its SecretHash stays zero.
	switch len(secret) {
	case 0:
	case len(s.SecretHash):
		s.SecretHash = store.Hash(secret)
	default:
		return store.Session{}, fmt.Errorf("postgres: session secret hash of %d bytes", len(secret))
	}
	return s, nil
}

// CreateSession stores a new session, or fails with
// store.ErrAlreadyExists. Its EndedAt is not stored: a session begins
// live.
func (s *Store) CreateSession(ctx context.Context, sess store.Session) error {
	b := &pgx.Batch{}
	b.Queue(qInsertSession, sess.ID, sess.UserID, sess.Username, sess.AuthTime, sess.Method, sess.UserAgent,
		sess.Address, sess.CreatedAt, sess.LastSeen, sess.ExpiresAt, sess.SecretHash[:])
	return s.batch(ctx, b)
}

// GetSession returns the session with that ID, or store.ErrNotFound.
func (s *Store) GetSession(ctx context.Context, id string) (store.Session, error) {
	if err := s.usable(ctx); err != nil {
		return store.Session{}, err
	}
	sess, err := scanSession(s.pool.QueryRow(ctx, qGetSession, id))
	if err != nil {
		return store.Session{}, s.notFound(ctx, err, fmt.Sprintf("session %q", id))
	}
	return sess, nil
}

// ListSessions returns the user's sessions, the newest first.
func (s *Store) ListSessions(ctx context.Context, userID string) ([]store.Session, error) {
	return query(ctx, s, qListSessions, scanSession, userID)
}

// TouchSession moves the LastSeen of a session not ended forward to
// lastSeen, in one statement.
func (s *Store) TouchSession(ctx context.Context, id string, lastSeen time.Time) error {
	return s.updateLiveSession(ctx, qTouchSession, id, lastSeen)
}

// ReauthenticateSession moves the AuthTime of a session not ended to
// authTime, and its LastSeen forward, in one statement.
func (s *Store) ReauthenticateSession(ctx context.Context, id string, authTime time.Time) error {
	return s.updateLiveSession(ctx, qReauthSession, id, authTime)
}

// updateLiveSession runs q, an update of the session id that is not
// ended, with t; store.ErrNotFound when it updated nothing.
func (s *Store) updateLiveSession(ctx context.Context, q, id string, t time.Time) error {
	var n int64
	b := &pgx.Batch{}
	b.Queue(q, id, t).Exec(func(ct pgconn.CommandTag) error { n = ct.RowsAffected(); return nil })
	if err := s.batch(ctx, b); err != nil {
		return err
	}
	if n == 0 {
		return fmt.Errorf("session %q: %w", id, store.ErrNotFound)
	}
	return nil
}

// EndSession ends the session and revokes its live grants but the
// offline ones, in one transaction of two round trips: the first ends the
// session and finds whether it exists, the second revokes and commits.
func (s *Store) EndSession(ctx context.Context, id string, endedAt time.Time, rev store.Revocation) (store.RevokeResult, error) {
	var res store.RevokeResult
	err := s.inTx(ctx, func(t *tx) error {
		var n int64
		b := &pgx.Batch{}
		b.Queue(qEndSession, id, endedAt).Exec(func(ct pgconn.CommandTag) error { n = ct.RowsAffected(); return nil })
		if err := t.send(b, false); err != nil {
			return err
		}
		if n == 0 {
			return fmt.Errorf("session %q: %w", id, store.ErrNotFound)
		}
		b = &pgx.Batch{}
		s.queueRevokeSQL(b, revokeOnlineSQLs[bySession], rev, &res, id)
		return t.send(b, true)
	})
	if err != nil {
		return store.RevokeResult{}, err
	}
	return res, nil
}

const (
	consentColumns = `user_id, client_id, scope, created_at, updated_at`
	// qPutConsent keeps the CreatedAt of the consent it replaces.
	qPutConsent = `INSERT INTO consents (` + consentColumns + `) VALUES ($1, $2, $3, $4, $5)
		ON CONFLICT (user_id, client_id) DO UPDATE SET scope = excluded.scope, updated_at = excluded.updated_at`
	qGetConsent           = `SELECT ` + consentColumns + ` FROM consents WHERE user_id = $1 AND client_id = $2`
	qListConsents         = `SELECT ` + consentColumns + ` FROM consents WHERE user_id = $1 ORDER BY client_id`
	qDeleteConsent        = `DELETE FROM consents WHERE user_id = $1 AND client_id = $2`
	qDeleteUserConsents   = `DELETE FROM consents WHERE user_id = $1`
	qDeleteClientConsents = `DELETE FROM consents WHERE client_id = $1`
)

func scanConsent(row pgx.Row) (store.Consent, error) {
	var c store.Consent
	err := row.Scan(&c.UserID, &c.ClientID, &c.Scope, &c.CreatedAt, &c.UpdatedAt)
	c.CreatedAt, c.UpdatedAt = c.CreatedAt.UTC(), c.UpdatedAt.UTC()
	return c, err
}

// PutConsent stores c, replacing the scope of the user's earlier consent
// to the client.
func (s *Store) PutConsent(ctx context.Context, c store.Consent) error {
	b := &pgx.Batch{}
	b.Queue(qPutConsent, c.UserID, c.ClientID, c.Scope, c.CreatedAt, c.UpdatedAt)
	return s.batch(ctx, b)
}

// GetConsent returns the user's consent to the client, or
// store.ErrNotFound.
func (s *Store) GetConsent(ctx context.Context, userID, clientID string) (store.Consent, error) {
	if err := s.usable(ctx); err != nil {
		return store.Consent{}, err
	}
	c, err := scanConsent(s.pool.QueryRow(ctx, qGetConsent, userID, clientID))
	if err != nil {
		return store.Consent{}, s.notFound(ctx, err, fmt.Sprintf("consent of %q to %q", userID, clientID))
	}
	return c, nil
}

// ListConsents returns the user's consents, by client ID.
func (s *Store) ListConsents(ctx context.Context, userID string) ([]store.Consent, error) {
	return query(ctx, s, qListConsents, scanConsent, userID)
}

// DeleteConsent forgets the consent and revokes the client's live grants
// for the user, in one transaction of two round trips, like DeleteClient.
func (s *Store) DeleteConsent(ctx context.Context, userID, clientID string, rev store.Revocation) (store.RevokeResult, error) {
	var res store.RevokeResult
	err := s.inTx(ctx, func(t *tx) error {
		var n int64
		b := &pgx.Batch{}
		b.Queue(qDeleteConsent, userID, clientID).Exec(func(ct pgconn.CommandTag) error { n = ct.RowsAffected(); return nil })
		if err := t.send(b, false); err != nil {
			return err
		}
		if n == 0 {
			return fmt.Errorf("consent of %q to %q: %w", userID, clientID, store.ErrNotFound)
		}
		b = &pgx.Batch{}
		s.queueRevoke(b, bySubjectClient, rev, &res, userID, clientID)
		return t.send(b, true)
	})
	if err != nil {
		return store.RevokeResult{}, err
	}
	return res, nil
}
