package sqlite

import (
	"context"
	"database/sql"
	"fmt"
	"time"

	"github.com/tokend/tokend/internal/store"
)

const (
	sessionColumns = `id, user_id, username, auth_time, method, user_agent, address,
		created_at, last_seen, expires_at, ended_at, secret_hash`
	qInsertSession = `INSERT INTO sessions (` + sessionColumns + `) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, NULL, ?)`
	qGetSession    = `SELECT ` + sessionColumns + ` FROM sessions WHERE id = ?`
	qListSessions  = `SELECT ` + sessionColumns + ` FROM sessions WHERE user_id = ? ORDER BY created_at DESC, id`
	qTouchSession  = `UPDATE sessions SET last_seen = max(last_seen, ?2) WHERE id = ?1 AND ended_at IS NULL`
	qReauthSession = `UPDATE sessions SET auth_time = ?2, last_seen = max(last_seen, ?2) WHERE id = ?1 AND ended_at IS NULL`
	// qEndSession keeps the EndedAt of a session ended already.
	qEndSession = `UPDATE sessions SET ended_at = coalesce(ended_at, ?2) WHERE id = ?1`
	// qEndUserSessions leaves ?3, a session to keep ("" keeps none).
	qEndUserSessions = `UPDATE sessions SET ended_at = ?2 WHERE user_id = ?1 AND ended_at IS NULL AND id <> ?3`
)

func sessionArgs(s store.Session) []any {
	return []any{s.ID, s.UserID, s.Username, ms(s.AuthTime), s.Method, s.UserAgent, s.Address,
		ms(s.CreatedAt), ms(s.LastSeen), ms(s.ExpiresAt), s.SecretHash[:]}
}

func scanSession(sc scanner) (store.Session, error) {
	var s store.Session
	var authTime, created, lastSeen, expires int64
	var ended sql.NullInt64
	var secret []byte
	if err := sc.Scan(&s.ID, &s.UserID, &s.Username, &authTime, &s.Method, &s.UserAgent, &s.Address,
		&created, &lastSeen, &expires, &ended, &secret); err != nil {
		return store.Session{}, err
	}
	s.AuthTime, s.CreatedAt, s.LastSeen = fromMS(authTime), fromMS(created), fromMS(lastSeen)
	s.ExpiresAt, s.EndedAt = fromMS(expires), nullMS(ended)
	// Empty for a session stored before 0007: its SecretHash stays zero.
	switch len(secret) {
	case 0:
	case len(s.SecretHash):
		s.SecretHash = store.Hash(secret)
	default:
		return store.Session{}, fmt.Errorf("sqlite: session secret hash of %d bytes", len(secret))
	}
	return s, nil
}

// CreateSession stores a new session, or fails with
// store.ErrAlreadyExists. Its EndedAt is not stored: a session begins
// live.
func (s *Store) CreateSession(ctx context.Context, sess store.Session) error {
	args := sessionArgs(sess)
	return s.write(ctx, func(t *tx) error {
		_, err := t.exec(s.w.insertSession, args...)
		return err
	})
}

// GetSession returns the session with that ID, or store.ErrNotFound.
func (s *Store) GetSession(ctx context.Context, id string) (store.Session, error) {
	sess, err := scanSession(s.r.getSession.QueryRowContext(ctx, id))
	if err != nil {
		return store.Session{}, notFound(err, fmt.Sprintf("session %q", id))
	}
	return sess, nil
}

// ListSessions returns the user's sessions, the newest first.
func (s *Store) ListSessions(ctx context.Context, userID string) ([]store.Session, error) {
	return list(ctx, s.r.listSessions, scanSession, userID)
}

// TouchSession moves the LastSeen of a session not ended forward to
// lastSeen. One small write op: the writer commits it with the other
// writes of its batch.
func (s *Store) TouchSession(ctx context.Context, id string, lastSeen time.Time) error {
	return s.write(ctx, func(t *tx) error {
		n, err := affected(t.exec(s.w.touchSession, id, ms(lastSeen)))
		if err == nil && n == 0 {
			return &unwritten{fmt.Errorf("session %q: %w", id, store.ErrNotFound)}
		}
		return err
	})
}

// ReauthenticateSession moves the AuthTime of a session not ended to
// authTime, and its LastSeen forward, in one small write op.
func (s *Store) ReauthenticateSession(ctx context.Context, id string, authTime time.Time) error {
	return s.write(ctx, func(t *tx) error {
		n, err := affected(t.exec(s.w.reauthSession, id, ms(authTime)))
		if err == nil && n == 0 {
			return &unwritten{fmt.Errorf("session %q: %w", id, store.ErrNotFound)}
		}
		return err
	})
}

// EndSession ends the session and revokes its live grants but the
// offline ones, in one op.
func (s *Store) EndSession(ctx context.Context, id string, endedAt time.Time, rev store.Revocation) (store.RevokeResult, error) {
	var res store.RevokeResult
	err := s.write(ctx, func(t *tx) error {
		n, err := affected(t.exec(s.w.endSession, id, ms(endedAt)))
		if err != nil {
			return err
		}
		if n == 0 {
			return &unwritten{fmt.Errorf("session %q: %w", id, store.ErrNotFound)}
		}
		res, err = s.revokeOnline(t, bySession, rev, id)
		return err
	})
	if err != nil {
		return store.RevokeResult{}, err
	}
	return res, nil
}
