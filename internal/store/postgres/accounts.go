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
	clientColumns = `id, name, secret_hash, auth_method, grant_types, redirect_uris, token_format,
		can_introspect, access_token_ttl, app_access_token_ttl, refresh_token_ttl, disabled, created_at, updated_at,
		post_logout_redirect_uris, backchannel_logout_uri, backchannel_logout_session_required,
		dpop_bound_access_tokens, ssf_streams, token_exchange`
	qGetClient       = `SELECT ` + clientColumns + ` FROM clients WHERE id = $1`
	qGetClientLocked = qGetClient + ` FOR UPDATE`
	qListClients     = `SELECT ` + clientColumns + ` FROM clients ORDER BY id`
	qInsertClient    = `INSERT INTO clients (` + clientColumns + `)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19, $20)`
	qUpdateClient = `UPDATE clients SET name = $2, secret_hash = $3, auth_method = $4, grant_types = $5,
		redirect_uris = $6, token_format = $7, can_introspect = $8, access_token_ttl = $9,
		app_access_token_ttl = $10, refresh_token_ttl = $11, disabled = $12, created_at = $13, updated_at = $14,
		post_logout_redirect_uris = $15, backchannel_logout_uri = $16, backchannel_logout_session_required = $17,
		dpop_bound_access_tokens = $18, ssf_streams = $19, token_exchange = $20
		WHERE id = $1`
	qDeleteClient = `DELETE FROM clients WHERE id = $1`

	userColumns = `id, username, password_hash, admin, disabled, created_at, updated_at,
		email, email_verified, given_name, family_name, name`
	qGetUser       = `SELECT ` + userColumns + ` FROM users WHERE username = $1`
	qGetUserLocked = qGetUser + ` FOR UPDATE`
	qGetUserByID   = `SELECT ` + userColumns + ` FROM users WHERE id = $1`
	qListUsers     = `SELECT ` + userColumns + ` FROM users ORDER BY username`
	qInsertUser    = `INSERT INTO users (` + userColumns + `) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)`
	qUpdateUser    = `UPDATE users SET username = $2, password_hash = $3, admin = $4, disabled = $5, created_at = $6, updated_at = $7,
		email = $8, email_verified = $9, given_name = $10, family_name = $11, name = $12 WHERE id = $1`
	qDeleteUser = `DELETE FROM users WHERE username = $1 RETURNING id`
)

func clientArgs(c store.Client) []any {
	return []any{c.ID, c.Name, c.SecretHash, c.AuthMethod, list(c.GrantTypes), list(c.RedirectURIs), c.TokenFormat,
		c.CanIntrospect, int64(c.AccessTokenTTL), int64(c.AppAccessTokenTTL), int64(c.RefreshTokenTTL),
		c.Disabled, c.CreatedAt, c.UpdatedAt,
		list(c.PostLogoutRedirectURIs), c.BackchannelLogoutURI, c.BackchannelLogoutSessionRequired, c.DPoPBoundAccessTokens, c.SSFStreams, c.TokenExchange}
}

// list is l for a NOT NULL text[] column: never nil.
func list(l []string) []string {
	if l == nil {
		return []string{}
	}
	return l
}

func scanClient(row pgx.Row) (store.Client, error) {
	var c store.Client
	var access, app, refresh int64
	err := row.Scan(&c.ID, &c.Name, &c.SecretHash, &c.AuthMethod, &c.GrantTypes, &c.RedirectURIs, &c.TokenFormat,
		&c.CanIntrospect, &access, &app, &refresh, &c.Disabled, &c.CreatedAt, &c.UpdatedAt,
		&c.PostLogoutRedirectURIs, &c.BackchannelLogoutURI, &c.BackchannelLogoutSessionRequired, &c.DPoPBoundAccessTokens, &c.SSFStreams, &c.TokenExchange)
	if err != nil {
		return store.Client{}, err
	}
	if len(c.GrantTypes) == 0 {
		c.GrantTypes = nil
	}
	if len(c.RedirectURIs) == 0 {
		c.RedirectURIs = nil
	}
	if len(c.PostLogoutRedirectURIs) == 0 {
		c.PostLogoutRedirectURIs = nil
	}
	c.AccessTokenTTL, c.AppAccessTokenTTL, c.RefreshTokenTTL = time.Duration(access), time.Duration(app), time.Duration(refresh)
	c.CreatedAt, c.UpdatedAt = c.CreatedAt.UTC(), c.UpdatedAt.UTC()
	return c, nil
}

func userArgs(u store.User) []any {
	return []any{u.ID, u.Username, u.PasswordHash, u.Admin, u.Disabled, u.CreatedAt, u.UpdatedAt,
		u.Email, u.EmailVerified, u.GivenName, u.FamilyName, u.Name}
}

func scanUser(row pgx.Row) (store.User, error) {
	var u store.User
	err := row.Scan(&u.ID, &u.Username, &u.PasswordHash, &u.Admin, &u.Disabled, &u.CreatedAt, &u.UpdatedAt,
		&u.Email, &u.EmailVerified, &u.GivenName, &u.FamilyName, &u.Name)
	u.CreatedAt, u.UpdatedAt = u.CreatedAt.UTC(), u.UpdatedAt.UTC()
	return u, err
}

// CreateClient stores a new client, or fails with store.ErrAlreadyExists.
func (s *Store) CreateClient(ctx context.Context, c store.Client) error {
	b := &pgx.Batch{}
	b.Queue(qInsertClient, clientArgs(c)...)
	return s.batch(ctx, b)
}

// GetClient returns the client with that ID, or store.ErrNotFound.
func (s *Store) GetClient(ctx context.Context, id string) (store.Client, error) {
	if err := s.usable(ctx); err != nil {
		return store.Client{}, err
	}
	c, err := scanClient(s.pool.QueryRow(ctx, qGetClient, id))
	if err != nil {
		return store.Client{}, s.notFound(ctx, err, fmt.Sprintf("client %q", id))
	}
	return c, nil
}

// ListClients returns every client, by ID.
func (s *Store) ListClients(ctx context.Context) ([]store.Client, error) {
	return query(ctx, s, qListClients, scanClient)
}

// UpdateClient applies fn to the stored client, and revokes the client's
// live grants when revoke is not nil, in one transaction of two round
// trips: the first reads the client and locks its row, fn runs, the second
// writes and commits. fn runs while the row is locked, so it should be
// quick (hash a new secret before the call, not inside fn); it may not
// change the client's ID.
func (s *Store) UpdateClient(ctx context.Context, id string, fn func(store.Client) (store.Client, error), revoke *store.Revocation) (store.RevokeResult, error) {
	var res store.RevokeResult
	err := s.inTx(ctx, func(t *tx) error {
		var old store.Client
		b := &pgx.Batch{}
		queueRow(b, qGetClientLocked, func(row pgx.Row) (err error) { old, err = scanClient(row); return err }, id)
		if err := t.send(b, false); err != nil {
			return s.notFound(ctx, err, fmt.Sprintf("client %q", id))
		}
		c, err := fn(old)
		if err != nil {
			return err
		}
		if c.ID != id {
			return fmt.Errorf("postgres: UpdateClient may not change a client's ID (%q to %q)", id, c.ID)
		}
		b = &pgx.Batch{}
		b.Queue(qUpdateClient, clientArgs(c)...).Exec(exactlyOne("updating the client"))
		if revoke != nil {
			s.queueRevoke(b, byClient, *revoke, &res, id)
		}
		return t.send(b, true)
	})
	if err != nil {
		return store.RevokeResult{}, err
	}
	return res, nil
}

// DeleteClient removes the client and the consents given to it, and
// revokes its live grants atomically.
func (s *Store) DeleteClient(ctx context.Context, id string, rev store.Revocation) (store.RevokeResult, error) {
	var res store.RevokeResult
	err := s.inTx(ctx, func(t *tx) error {
		var deleted int64
		b := &pgx.Batch{}
		b.Queue(qDeleteClient, id).Exec(func(ct pgconn.CommandTag) error { deleted = ct.RowsAffected(); return nil })
		if err := t.send(b, false); err != nil {
			return err
		}
		if deleted == 0 {
			return fmt.Errorf("client %q: %w", id, store.ErrNotFound)
		}
		b = &pgx.Batch{}
		b.Queue(qDeleteClientConsents, id)
		s.queueRevoke(b, byClient, rev, &res, id)
		return t.send(b, true)
	})
	if err != nil {
		return store.RevokeResult{}, err
	}
	return res, nil
}

// CreateUser stores a new user, or fails with store.ErrAlreadyExists if
// the ID or the username is taken.
func (s *Store) CreateUser(ctx context.Context, u store.User) error {
	b := &pgx.Batch{}
	b.Queue(qInsertUser, userArgs(u)...)
	return s.batch(ctx, b)
}

// GetUser returns the user with that username, or store.ErrNotFound.
func (s *Store) GetUser(ctx context.Context, username string) (store.User, error) {
	if err := s.usable(ctx); err != nil {
		return store.User{}, err
	}
	u, err := scanUser(s.pool.QueryRow(ctx, qGetUser, username))
	if err != nil {
		return store.User{}, s.notFound(ctx, err, fmt.Sprintf("user %q", username))
	}
	return u, nil
}

// GetUserByID returns the user with that ID, or store.ErrNotFound.
func (s *Store) GetUserByID(ctx context.Context, id string) (store.User, error) {
	if err := s.usable(ctx); err != nil {
		return store.User{}, err
	}
	u, err := scanUser(s.pool.QueryRow(ctx, qGetUserByID, id))
	if err != nil {
		return store.User{}, s.notFound(ctx, err, fmt.Sprintf("user ID %q", id))
	}
	return u, nil
}

// ListUsers returns every user, by username.
func (s *Store) ListUsers(ctx context.Context) ([]store.User, error) {
	return query(ctx, s, qListUsers, scanUser)
}

// UpdateUser applies fn to the stored user, and when revoke is not nil
// ends the user's sessions and revokes the user's live grants, in one
// transaction of two round trips,
// like UpdateClient. fn may rename the user (store.ErrAlreadyExists if the
// name is taken) but not change the ID; it should be quick: hash a new
// password before the call.
func (s *Store) UpdateUser(ctx context.Context, username string, fn func(store.User) (store.User, error), revoke *store.Revocation) (store.RevokeResult, error) {
	var res store.RevokeResult
	err := s.inTx(ctx, func(t *tx) error {
		var old store.User
		b := &pgx.Batch{}
		queueRow(b, qGetUserLocked, func(row pgx.Row) (err error) { old, err = scanUser(row); return err }, username)
		if err := t.send(b, false); err != nil {
			return s.notFound(ctx, err, fmt.Sprintf("user %q", username))
		}
		u, err := fn(old)
		if err != nil {
			return err
		}
		if u.ID != old.ID {
			return fmt.Errorf("postgres: UpdateUser may not change a user's ID (%q to %q)", old.ID, u.ID)
		}
		b = &pgx.Batch{}
		b.Queue(qUpdateUser, userArgs(u)...).Exec(exactlyOne("updating the user"))
		if revoke != nil {
			s.queueUserChange(b, old, u, *revoke, &res)
		}
		return t.send(b, true)
	})
	if err != nil {
		return store.RevokeResult{}, err
	}
	return res, nil
}

// DeleteUser removes the user and the user's consents, ends the user's
// sessions and revokes the user's live grants atomically.
func (s *Store) DeleteUser(ctx context.Context, username string, rev store.Revocation) (store.RevokeResult, error) {
	var res store.RevokeResult
	err := s.inTx(ctx, func(t *tx) error {
		var id string
		b := &pgx.Batch{}
		queueRow(b, qDeleteUser, func(row pgx.Row) error { return row.Scan(&id) }, username)
		if err := t.send(b, false); err != nil {
			return s.notFound(ctx, err, fmt.Sprintf("user %q", username))
		}
		b = &pgx.Batch{}
		b.Queue(qDeleteUserConsents, id)
		s.queueRevokeUser(b, id, rev, &res)
		s.queueSubjectEntry(b, store.Event{Time: rev.Time, Subject: id, Reason: rev.Reason, Actor: rev.Actor}, true, &res)
		return t.send(b, true)
	})
	if err != nil {
		return store.RevokeResult{}, err
	}
	return res, nil
}

// queueRevokeUser queues on b the statements that end the sessions of the
// user with ID id, but rev.KeepSession, and revoke the user's live grants: whoever is signed in
// as the user signs in again.
func (s *Store) queueRevokeUser(b *pgx.Batch, id string, rev store.Revocation, res *store.RevokeResult) {
	b.Queue(qEndUserSessions, id, rev.Time, rev.KeepSession)
	s.queueRevoke(b, bySubject, rev, res, id)
}

// qSubjectEntry appends a subject entry (store.SubjectEntries): no grant,
// no client, no token. With $6 it is appended only when the transaction
// revoked no grant of the subject at $1: a grant row this transaction
// wrote with that revoked_at is one the revocation before it marked.
const qSubjectEntry = `INSERT INTO revocation_events (time, grant_id, client_id, subject, reason, actor, tokens, claims)
	SELECT $1::timestamptz, '', '', $2::text, $3::text, $4::text, 0, $5::text[]
	WHERE NOT $6::boolean OR NOT EXISTS (SELECT 1 FROM grants g
		WHERE g.subject = $2 AND g.revoked_at = $1 AND g.xmin = pg_current_xact_id_if_assigned()::xid)
	RETURNING seq`

// queueUserChange queues on b what rev revokes of the user old became u
// (when it has a Reason) and the subject entries of the change
// (store.SubjectEntries); res holds the result once b has run.
func (s *Store) queueUserChange(b *pgx.Batch, old, u store.User, rev store.Revocation, res *store.RevokeResult) {
	ifNoGrant, always := store.SubjectEntries(old, u, rev)
	if ifNoGrant != nil {
		s.queueRevokeUser(b, u.ID, rev, res)
		s.queueSubjectEntry(b, *ifNoGrant, true, res)
	}
	for _, e := range always {
		s.queueSubjectEntry(b, e, false, res)
	}
}

// queueSubjectEntry queues on b the append of the subject entry e, only
// when the transaction revoked no grant of its subject if unlessRevoked.
// The safe-read horizon (horizon.go) holds for it as for a revocation's
// events: the transaction has written the user's row, and so has its ID,
// before it takes the entry's number. It takes the log's lock, shared, as
// every append does for readers of older versions (queueRevokeSQL).
func (s *Store) queueSubjectEntry(b *pgx.Batch, e store.Event, unlessRevoked bool, res *store.RevokeResult) {
	b.Queue(`SELECT pg_advisory_xact_lock_shared($1, $2)`, s.eventsLock.class, s.eventsLock.schema)
	b.Queue(qSubjectEntry, e.Time, e.Subject, e.Reason, e.Actor, e.Claims, unlessRevoked).Query(func(rows pgx.Rows) error {
		for rows.Next() {
			var seq int64
			if err := rows.Scan(&seq); err != nil {
				return err
			}
			res.Seq = max(res.Seq, seq)
		}
		return rows.Err()
	})
}

// query runs a read query and scans every row.
func query[T any](ctx context.Context, s *Store, sql string, scan func(pgx.Row) (T, error), args ...any) ([]T, error) {
	if err := s.usable(ctx); err != nil {
		return nil, err
	}
	rows, err := s.pool.Query(ctx, sql, args...)
	if err != nil {
		return nil, s.mapErr(ctx, err)
	}
	out, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (T, error) { return scan(row) })
	if err != nil {
		return nil, s.mapErr(ctx, err)
	}
	return out, nil
}
