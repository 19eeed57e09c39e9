package sqlite

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/tokend/tokend/internal/store"
)

const (
	clientColumns = `id, name, secret_hash, auth_method, grant_types, redirect_uris, token_format,
		can_introspect, access_token_ttl, app_access_token_ttl, refresh_token_ttl, disabled, created_at, updated_at,
		post_logout_redirect_uris, backchannel_logout_uri, backchannel_logout_session_required,
		dpop_bound_access_tokens, ssf_streams, token_exchange`
	qGetClient    = `SELECT ` + clientColumns + ` FROM clients WHERE id = ?`
	qListClients  = `SELECT ` + clientColumns + ` FROM clients ORDER BY id`
	qInsertClient = `INSERT INTO clients (` + clientColumns + `)
		VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17, ?18, ?19, ?20)`
	qUpdateClient = `UPDATE clients SET name = ?2, secret_hash = ?3, auth_method = ?4, grant_types = ?5,
		redirect_uris = ?6, token_format = ?7, can_introspect = ?8, access_token_ttl = ?9,
		app_access_token_ttl = ?10, refresh_token_ttl = ?11, disabled = ?12, created_at = ?13, updated_at = ?14,
		post_logout_redirect_uris = ?15, backchannel_logout_uri = ?16, backchannel_logout_session_required = ?17,
		dpop_bound_access_tokens = ?18, ssf_streams = ?19, token_exchange = ?20
		WHERE id = ?1`
	qDeleteClient = `DELETE FROM clients WHERE id = ?`

	userColumns = `id, username, password_hash, admin, disabled, created_at, updated_at,
		email, email_verified, given_name, family_name, name`
	qGetUser     = `SELECT ` + userColumns + ` FROM users WHERE username = ?`
	qGetUserByID = `SELECT ` + userColumns + ` FROM users WHERE id = ?`
	qListUsers   = `SELECT ` + userColumns + ` FROM users ORDER BY username`
	qInsertUser  = `INSERT INTO users (` + userColumns + `) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12)`
	qUpdateUser  = `UPDATE users SET username = ?2, password_hash = ?3, admin = ?4, disabled = ?5, created_at = ?6, updated_at = ?7,
		email = ?8, email_verified = ?9, given_name = ?10, family_name = ?11, name = ?12 WHERE id = ?1`
	qDeleteUser = `DELETE FROM users WHERE username = ? RETURNING id`
	// qInsertSubjectEntry appends a subject entry (store.SubjectEntries):
	// no grant, no client, no token.
	qInsertSubjectEntry = `INSERT INTO revocation_events (time, grant_id, client_id, subject, reason, actor, tokens, claims)
		VALUES (?, '', '', ?, ?, ?, 0, ?) RETURNING ` + eventColumns
)

type scanner interface{ Scan(dest ...any) error }

func ms(t time.Time) int64     { return t.UnixMilli() }
func fromMS(v int64) time.Time { return time.UnixMilli(v).UTC() }
func nullMS(v sql.NullInt64) time.Time {
	if !v.Valid {
		return time.Time{}
	}
	return fromMS(v.Int64)
}

func clientArgs(c store.Client) ([]any, error) {
	grantTypes, err := jsonList(c.GrantTypes)
	if err != nil {
		return nil, err
	}
	redirectURIs, err := jsonList(c.RedirectURIs)
	if err != nil {
		return nil, err
	}
	postLogout, err := jsonList(c.PostLogoutRedirectURIs)
	if err != nil {
		return nil, err
	}
	return []any{c.ID, c.Name, c.SecretHash, c.AuthMethod, grantTypes, redirectURIs, c.TokenFormat,
		c.CanIntrospect, int64(c.AccessTokenTTL), int64(c.AppAccessTokenTTL), int64(c.RefreshTokenTTL),
		c.Disabled, ms(c.CreatedAt), ms(c.UpdatedAt),
		postLogout, c.BackchannelLogoutURI, c.BackchannelLogoutSessionRequired, c.DPoPBoundAccessTokens, c.SSFStreams, c.TokenExchange}, nil
}

func scanClient(sc scanner) (store.Client, error) {
	var c store.Client
	var grantTypes, redirectURIs, postLogout string
	var access, app, refresh, created, updated int64
	err := sc.Scan(&c.ID, &c.Name, &c.SecretHash, &c.AuthMethod, &grantTypes, &redirectURIs, &c.TokenFormat,
		&c.CanIntrospect, &access, &app, &refresh, &c.Disabled, &created, &updated,
		&postLogout, &c.BackchannelLogoutURI, &c.BackchannelLogoutSessionRequired, &c.DPoPBoundAccessTokens, &c.SSFStreams, &c.TokenExchange)
	if err != nil {
		return c, err
	}
	if c.GrantTypes, err = parseList(grantTypes); err != nil {
		return c, fmt.Errorf("client %q grant_types: %w", c.ID, err)
	}
	if c.RedirectURIs, err = parseList(redirectURIs); err != nil {
		return c, fmt.Errorf("client %q redirect_uris: %w", c.ID, err)
	}
	if c.PostLogoutRedirectURIs, err = parseList(postLogout); err != nil {
		return c, fmt.Errorf("client %q post_logout_redirect_uris: %w", c.ID, err)
	}
	c.AccessTokenTTL, c.AppAccessTokenTTL, c.RefreshTokenTTL = time.Duration(access), time.Duration(app), time.Duration(refresh)
	c.CreatedAt, c.UpdatedAt = fromMS(created), fromMS(updated)
	return c, nil
}

func jsonList(l []string) (string, error) {
	if len(l) == 0 {
		return "[]", nil
	}
	b, err := json.Marshal(l)
	return string(b), err
}

func parseList(s string) ([]string, error) {
	var l []string
	if err := json.Unmarshal([]byte(s), &l); err != nil || len(l) == 0 {
		return nil, err
	}
	return l, nil
}

func userArgs(u store.User) []any {
	return []any{u.ID, u.Username, u.PasswordHash, u.Admin, u.Disabled, ms(u.CreatedAt), ms(u.UpdatedAt),
		u.Email, u.EmailVerified, u.GivenName, u.FamilyName, u.Name}
}

func scanUser(sc scanner) (store.User, error) {
	var u store.User
	var created, updated int64
	err := sc.Scan(&u.ID, &u.Username, &u.PasswordHash, &u.Admin, &u.Disabled, &created, &updated,
		&u.Email, &u.EmailVerified, &u.GivenName, &u.FamilyName, &u.Name)
	u.CreatedAt, u.UpdatedAt = fromMS(created), fromMS(updated)
	return u, err
}

// notFound turns sql.ErrNoRows into store.ErrNotFound, saying what was
// missing, and maps other errors with mapErr.
func notFound(err error, what string) error {
	if errors.Is(err, sql.ErrNoRows) {
		return fmt.Errorf("%s: %w", what, store.ErrNotFound)
	}
	return mapErr(err)
}

// CreateClient stores a new client, or fails with store.ErrAlreadyExists.
func (s *Store) CreateClient(ctx context.Context, c store.Client) error {
	args, err := clientArgs(c)
	if err != nil {
		return err
	}
	return s.write(ctx, func(t *tx) error {
		_, err := t.exec(s.w.insertClient, args...)
		return err
	})
}

// GetClient returns the client with that ID, or store.ErrNotFound.
func (s *Store) GetClient(ctx context.Context, id string) (store.Client, error) {
	c, err := scanClient(s.r.getClient.QueryRowContext(ctx, id))
	if err != nil {
		return store.Client{}, notFound(err, fmt.Sprintf("client %q", id))
	}
	return c, nil
}

// ListClients returns every client, by ID.
func (s *Store) ListClients(ctx context.Context) ([]store.Client, error) {
	return list(ctx, s.r.listClients, scanClient)
}

// UpdateClient applies fn to the stored client, and revokes the client's
// live grants when revoke is not nil, in one transaction. fn runs on the
// writer goroutine and holds up every other write while it runs: it must
// be quick (hash a new secret before the call, not inside fn). fn may not
// change the client's ID.
func (s *Store) UpdateClient(ctx context.Context, id string, fn func(store.Client) (store.Client, error), revoke *store.Revocation) (store.RevokeResult, error) {
	var res store.RevokeResult
	err := s.write(ctx, func(t *tx) error {
		old, err := scanClient(t.queryRow(s.w.getClient, id))
		if err != nil {
			return notFound(err, fmt.Sprintf("client %q", id))
		}
		c, err := fn(old)
		if err != nil {
			return err
		}
		if c.ID != id {
			return fmt.Errorf("sqlite: UpdateClient may not change a client's ID (%q to %q)", id, c.ID)
		}
		args, err := clientArgs(c)
		if err != nil {
			return err
		}
		if _, err := t.exec(s.w.updateClient, args...); err != nil {
			return err
		}
		if revoke != nil {
			res, err = s.revoke(t, byClient, *revoke, id)
		}
		return err
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
	err := s.write(ctx, func(t *tx) error {
		r, err := t.exec(s.w.deleteClient, id)
		if err != nil {
			return err
		}
		n, err := r.RowsAffected()
		if err != nil {
			return err
		}
		if n == 0 {
			return fmt.Errorf("client %q: %w", id, store.ErrNotFound)
		}
		if _, err := t.exec(s.w.deleteClientConsents, id); err != nil {
			return err
		}
		res, err = s.revoke(t, byClient, rev, id)
		return err
	})
	if err != nil {
		return store.RevokeResult{}, err
	}
	return res, nil
}

// CreateUser stores a new user, or fails with store.ErrAlreadyExists if
// the ID or the username is taken.
func (s *Store) CreateUser(ctx context.Context, u store.User) error {
	args := userArgs(u)
	return s.write(ctx, func(t *tx) error {
		_, err := t.exec(s.w.insertUser, args...)
		return err
	})
}

// GetUser returns the user with that username, or store.ErrNotFound.
func (s *Store) GetUser(ctx context.Context, username string) (store.User, error) {
	u, err := scanUser(s.r.getUser.QueryRowContext(ctx, username))
	if err != nil {
		return store.User{}, notFound(err, fmt.Sprintf("user %q", username))
	}
	return u, nil
}

// GetUserByID returns the user with that ID, or store.ErrNotFound.
func (s *Store) GetUserByID(ctx context.Context, id string) (store.User, error) {
	u, err := scanUser(s.r.getUserByID.QueryRowContext(ctx, id))
	if err != nil {
		return store.User{}, notFound(err, fmt.Sprintf("user ID %q", id))
	}
	return u, nil
}

// ListUsers returns every user, by username.
func (s *Store) ListUsers(ctx context.Context) ([]store.User, error) {
	return list(ctx, s.r.listUsers, scanUser)
}

// UpdateUser applies fn to the stored user, and when revoke is not nil
// ends the user's sessions and revokes the user's live grants, in one
// transaction. fn may rename the
// user (store.ErrAlreadyExists if the name is taken) but not change the ID.
// Like UpdateClient's, fn runs on the writer goroutine and must be quick:
// hash a new password before the call.
func (s *Store) UpdateUser(ctx context.Context, username string, fn func(store.User) (store.User, error), revoke *store.Revocation) (store.RevokeResult, error) {
	var res store.RevokeResult
	err := s.write(ctx, func(t *tx) error {
		old, err := scanUser(t.queryRow(s.w.getUser, username))
		if err != nil {
			return notFound(err, fmt.Sprintf("user %q", username))
		}
		u, err := fn(old)
		if err != nil {
			return err
		}
		if u.ID != old.ID {
			return fmt.Errorf("sqlite: UpdateUser may not change a user's ID (%q to %q)", old.ID, u.ID)
		}
		if _, err := t.exec(s.w.updateUser, userArgs(u)...); err != nil {
			return err
		}
		if revoke != nil {
			res, err = s.logUserChange(t, old, u, *revoke)
		}
		return err
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
	err := s.write(ctx, func(t *tx) error {
		var id string
		if err := t.queryRow(s.w.deleteUser, username).Scan(&id); err != nil {
			return notFound(err, fmt.Sprintf("user %q", username))
		}
		if _, err := t.exec(s.w.deleteUserConsents, id); err != nil {
			return err
		}
		var err error
		res, err = s.revokeUser(t, id, rev)
		if err == nil && res.Grants == 0 {
			res.Seq, err = s.appendSubjectEntry(t, store.Event{Time: rev.Time, Subject: id, Reason: rev.Reason, Actor: rev.Actor})
		}
		return err
	})
	if err != nil {
		return store.RevokeResult{}, err
	}
	return res, nil
}

// revokeUser ends the sessions of the user with ID id, but
// rev.KeepSession, and revokes the user's live grants, within t: whoever
// is signed in as the user signs in again.
func (s *Store) revokeUser(t *tx, id string, rev store.Revocation) (store.RevokeResult, error) {
	if _, err := t.exec(s.w.endUserSessions, id, ms(rev.Time), rev.KeepSession); err != nil {
		return store.RevokeResult{}, err
	}
	return s.revoke(t, bySubject, rev, id)
}

// logUserChange revokes what rev revokes of the user old became u (when
// it has a Reason) and appends the subject entries of the change
// (store.SubjectEntries), within t.
func (s *Store) logUserChange(t *tx, old, u store.User, rev store.Revocation) (store.RevokeResult, error) {
	ifNoGrant, always := store.SubjectEntries(old, u, rev)
	var res store.RevokeResult
	if ifNoGrant != nil {
		var err error
		if res, err = s.revokeUser(t, u.ID, rev); err != nil {
			return res, err
		}
		if res.Grants == 0 {
			always = append([]store.Event{*ifNoGrant}, always...)
		}
	}
	for _, e := range always {
		seq, err := s.appendSubjectEntry(t, e)
		if err != nil {
			return store.RevokeResult{}, err
		}
		res.Seq = max(res.Seq, seq)
	}
	return res, nil
}

// appendSubjectEntry appends the subject entry e within t and returns its
// sequence number.
func (s *Store) appendSubjectEntry(t *tx, e store.Event) (int64, error) {
	var claims any
	if len(e.Claims) > 0 {
		b, err := json.Marshal(e.Claims)
		if err != nil {
			return 0, err
		}
		claims = string(b)
	}
	logged, err := scanEvent(t.queryRow(s.w.insertSubjectEntry, ms(e.Time), e.Subject, e.Reason, e.Actor, claims))
	if err != nil {
		return 0, err
	}
	t.logged(logged)
	return logged.Seq, nil
}

// list runs a read query and scans every row.
func list[T any](ctx context.Context, st *stmt, scan func(scanner) (T, error), args ...any) ([]T, error) {
	rows, err := st.QueryContext(ctx, args...)
	if err != nil {
		return nil, mapErr(err)
	}
	defer rows.Close()
	var out []T
	for rows.Next() {
		v, err := scan(rows)
		if err != nil {
			return nil, mapErr(err)
		}
		out = append(out, v)
	}
	return out, mapErr(rows.Err())
}
