package sqlite

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"strings"
	"time"

	"github.com/tokend/tokend/internal/store"
)

const (
	qInsertGrant = `INSERT INTO grants (` + grantColumns + `) VALUES ` + grantValues
	// grantColumns and grantValues are a grant's row in qInsertGrant and
	// qInsertGrants (grantArgs): the columns of an exchanged grant are
	// NULL for the others.
	grantColumns = `id, client_id, subject, username, scope, session_id, offline, created_at, expires_at, dpop_jkt,
		parent_grant_id, act, audience`
	grantValues  = `(?, ?, ?, ?, ?, nullif(?, ''), ?, ?, ?, nullif(?, ''), nullif(?, ''), nullif(?, ''), nullif(?, ''))`
	qInsertToken = `INSERT INTO tokens (hash, kind, grant_id, jti, status_index, issued_at, expires_at)
		VALUES (?, ?, ?, ?, ?, ?, ?)`
	// qLookupToken is the one query of LookupToken: the token joined with
	// its grant, which says whether it is revoked.
	qLookupToken = `SELECT t.kind, t.grant_id, t.jti, t.status_index, t.issued_at, t.expires_at, t.rotated_at,
			g.client_id, g.subject, g.username, g.scope, coalesce(g.session_id, ''), g.revoked_at, g.expires_at,
			` + lookupGrantColumns + `
		FROM tokens t JOIN grants g ON g.id = t.grant_id WHERE t.hash = ?`
	// lookupGrantColumns are the last columns of a token lookup (scanToken).
	lookupGrantColumns = `coalesce(g.dpop_jkt, ''), coalesce(g.parent_grant_id, ''), coalesce(g.act, ''), coalesce(g.audience, '')`
	qEvents            = `SELECT ` + eventColumns + ` FROM revocation_events WHERE seq > ? ORDER BY seq LIMIT ?`
	// eventColumns are an event's columns as scanEvent reads them.
	eventColumns = `seq, time, grant_id, client_id, subject, reason, actor, tokens,
			token_hashes, jtis, status_indexes, expires_at, coalesce(session_id, ''), coalesce(parent_grant_id, ''),
			coalesce(claims, '[]')`
)

// A revocation is two statements whatever it covers: one INSERT ... SELECT
// appends an event for every live grant that matches, with what it covers
// (the grant's tokens unexpired at the revocation's time, rotated ones
// included, gathered in the same pass over the grant's tokens that counts
// the live ones) and RETURNING what the caller reports, and one UPDATE marks
// the same grants revoked. The writer runs one transaction at a time, so
// both see the same grants. Parameters: ?1 time, ?2 reason, ?3 actor, ?4
// and ?5 the key.
type revokeBy int

const (
	byGrant         revokeBy = iota // ?4 grant ID; the grant whatever its expiry
	bySubject                       // ?4 subject; live grants only
	byClient                        // ?4 client ID; live grants only
	bySubjectClient                 // ?4 subject, ?5 client ID; live grants only
	bySession                       // ?4 session ID; live grants only
	numRevokeBy
)

// A bulk revocation covers the live grants: not revoked and not expired at
// the revocation's time. An expired grant has no live token left; revoking
// it would only add noise to the log before the sweep deletes it.
var revokeConds = [numRevokeBy]string{
	byGrant:         `g.id = ?4`,
	bySubject:       `g.subject = ?4 AND g.expires_at > ?1`,
	byClient:        `g.client_id = ?4 AND g.expires_at > ?1`,
	bySubjectClient: `g.subject = ?4 AND g.client_id = ?5 AND g.expires_at > ?1`,
	bySession:       `g.session_id = ?4 AND g.expires_at > ?1`,
}

// keepOffline is what a revocation that leaves out the offline grants
// (store.Filter.KeepOffline) adds to its condition.
const keepOffline = ` AND g.offline = 0`

// insertEvents begins every statement that appends revocation events,
// and coveredTokens is what an event covers, aggregated over the grant g's
// tokens t unexpired at the revocation: the live ones counted, the
// hashes, the jtis and the status indexes of all, rotated ones included,
// and the latest expiry. Every revocation statement (one by one, grouped,
// and the cascade to exchanged grants) writes its events with these two.
const (
	insertEvents = `INSERT INTO revocation_events (time, grant_id, client_id, subject, session_id, reason, actor, tokens,
			token_hashes, jtis, status_indexes, expires_at, parent_grant_id)`
	coveredTokens = `count(t.hash) FILTER (WHERE t.rotated_at IS NULL),
			unhex(group_concat(hex(t.hash), '') FILTER (WHERE t.hash IS NOT NULL)),
			json_group_array(t.jti) FILTER (WHERE t.jti IS NOT NULL),
			json_group_array(t.status_index) FILTER (WHERE t.status_index IS NOT NULL),
			max(t.expires_at)`
)

func revokeSQL(cond string) (events, grants string) {
	events = insertEvents + `
		SELECT ?1, g.id, g.client_id, g.subject, g.session_id, ?2, ?3, ` + coveredTokens + `, g.parent_grant_id
		FROM grants g LEFT JOIN tokens t ON t.grant_id = g.id AND t.expires_at > ?1
		WHERE g.revoked_at IS NULL AND ` + cond + `
		GROUP BY g.id
		ORDER BY g.created_at, g.id
		RETURNING ` + eventColumns + `, ` + hasChildren
	grants = `UPDATE grants AS g SET revoked_at = ?1 WHERE g.revoked_at IS NULL AND ` + cond
	return events, grants
}

type revokeStmts struct{ events, grants *stmt }

// revoke revokes the grants that by and key select, within t.
func (s *Store) revoke(t *tx, by revokeBy, rev store.Revocation, key ...any) (store.RevokeResult, error) {
	return s.revokeWith(t, s.w.revoke[by], rev, key...)
}

// revokeOnline is revoke that leaves out the offline grants.
func (s *Store) revokeOnline(t *tx, by revokeBy, rev store.Revocation, key ...any) (store.RevokeResult, error) {
	return s.revokeWith(t, s.w.revokeOnline[by], rev, key...)
}

// revokeWith revokes the grants that st and key select, within t.
func (s *Store) revokeWith(t *tx, st revokeStmts, rev store.Revocation, key ...any) (store.RevokeResult, error) {
	args := append([]any{ms(rev.Time), rev.Reason, rev.Actor}, key...)
	rows, err := t.query(st.events, args...)
	if err != nil {
		return store.RevokeResult{}, err
	}
	var res store.RevokeResult
	parents := false // a revoked grant has a live grant exchanged from it
	for rows.Next() {
		var children bool
		e, err := scanEventAnd(rows, &children)
		if err != nil {
			rows.Close()
			return store.RevokeResult{}, err
		}
		t.logged(e)
		res.Grants++
		res.Tokens += e.Tokens
		res.Seq = max(res.Seq, e.Seq)
		parents = parents || children
	}
	if err := errors.Join(rows.Err(), rows.Close()); err != nil {
		return store.RevokeResult{}, err
	}
	if res.Grants == 0 {
		return res, nil
	}
	if _, err := t.exec(st.grants, args...); err != nil {
		return store.RevokeResult{}, err
	}
	if !parents {
		return res, nil
	}
	first := res.Seq - int64(res.Grants) + 1 // the writer's events of one statement are numbered in a row
	cascaded, err := s.cascade(t, first, res.Seq)
	if err != nil {
		return store.RevokeResult{}, err
	}
	res.Grants += len(cascaded)
	for _, c := range cascaded {
		res.Tokens += c.tokens
		res.Seq = max(res.Seq, c.seq)
	}
	return res, nil
}

// CreateGrant stores g with its first tokens, atomically. A token's
// GrantID may be left empty; the grant's ExpiresAt is raised to cover its
// longest-lived token.
func (s *Store) CreateGrant(ctx context.Context, g store.Grant, tokens []store.Token) error {
	if g.ID == "" {
		return errors.New("sqlite: CreateGrant: empty grant ID")
	}
	exp, err := checkTokens(g.ID, tokens)
	if err != nil {
		return err
	}
	a := &createGrantOp{g: g, exp: max(exp, ms(g.ExpiresAt)), tokens: tokens}
	return s.writeGrouped(ctx, a, func(t *tx) error { return s.insertGrant(t, a.g, a.exp, a.tokens) })
}

// insertGrant inserts g, expiring at exp, with its tokens, within t. The
// grant is offline when its scope holds offline_access.
func (s *Store) insertGrant(t *tx, g store.Grant, exp int64, tokens []store.Token) error {
	if _, err := t.exec(s.w.insertGrant, grantArgs(nil, g, exp)...); err != nil {
		return parentNotLive(err)
	}
	return s.insertTokens(t, g.ID, tokens)
}

// grantArgs appends the arguments of g's row, expiring at exp, in
// grantValues to args.
func grantArgs(args []any, g store.Grant, exp int64) []any {
	return append(args, g.ID, g.ClientID, g.Subject, g.Username, g.Scope, g.SessionID, g.Offline(), ms(g.CreatedAt), exp, g.JKT,
		g.ParentID, g.Act, strings.Join(g.Audience, " "))
}

// parentNotLive turns the refusal of the grants_parent_live trigger (an
// exchanged grant whose parent is revoked or unknown) into
// store.ErrNotFound.
func parentNotLive(err error) error {
	if err != nil && strings.Contains(err.Error(), "tokend: parent grant not live") {
		return &unwritten{fmt.Errorf("%w: the grant exchanged from is revoked", store.ErrNotFound)}
	}
	return err
}

// checkTokens checks that tokens may join grant grantID, and returns their
// latest expiry.
func checkTokens(grantID string, tokens []store.Token) (latest int64, err error) {
	latest = ms(time.Time{})
	for _, tok := range tokens {
		if tok.GrantID != "" && tok.GrantID != grantID {
			return 0, fmt.Errorf("sqlite: token of grant %q stored with grant %q", tok.GrantID, grantID)
		}
		if tok.Kind != store.AccessToken && tok.Kind != store.RefreshToken {
			return 0, fmt.Errorf("sqlite: unknown token kind %q", tok.Kind)
		}
		latest = max(latest, ms(tok.ExpiresAt))
	}
	return latest, nil
}

func (s *Store) insertTokens(t *tx, grantID string, tokens []store.Token) error {
	args := make([]any, 0, 7)
	for _, tok := range tokens {
		if _, err := t.exec(s.w.insertToken, appendTokenArgs(args[:0], grantID, tok)...); err != nil {
			return err
		}
	}
	return nil
}

// appendTokenArgs appends the arguments of tok's row in qInsertToken, as
// a token of grant grantID, to args.
func appendTokenArgs(args []any, grantID string, tok store.Token) []any {
	var jti sql.NullString
	if tok.JTI != "" {
		jti = sql.NullString{String: tok.JTI, Valid: true}
	}
	var idx sql.NullInt64
	if tok.StatusIndex != 0 {
		idx = sql.NullInt64{Int64: tok.StatusIndex, Valid: true}
	}
	return append(args, tok.Hash[:], string(tok.Kind), grantID, jti, idx, ms(tok.IssuedAt), ms(tok.ExpiresAt))
}

// scanToken scans a qLookupToken row for the token h; it returns the
// grant's expiry too.
func scanToken(sc scanner, h store.Hash) (store.TokenRecord, int64, error) {
	r := store.TokenRecord{Token: store.Token{Hash: h}}
	var kind string
	var jti sql.NullString
	var idx, rotated, revoked sql.NullInt64
	var issued, expires, grantExpires int64
	var audience string
	err := sc.Scan(&kind, &r.GrantID, &jti, &idx, &issued, &expires, &rotated,
		&r.ClientID, &r.Subject, &r.Username, &r.Scope, &r.SessionID, &revoked, &grantExpires, &r.JKT,
		&r.ParentID, &r.Act, &audience)
	if err != nil {
		return store.TokenRecord{}, 0, err
	}
	if audience != "" {
		r.Audience = strings.Fields(audience)
	}
	r.Kind, r.JTI, r.StatusIndex = store.TokenKind(kind), jti.String, idx.Int64
	r.IssuedAt, r.ExpiresAt = fromMS(issued), fromMS(expires)
	r.Rotated = rotated.Valid
	r.Revoked, r.RevokedAt = revoked.Valid, nullMS(revoked)
	return r, grantExpires, nil
}

// LookupToken returns the token with hash h in whatever state, or
// store.ErrNotFound. One indexed read on the read pool.
func (s *Store) LookupToken(ctx context.Context, h store.Hash) (store.TokenRecord, error) {
	r, _, err := scanToken(s.r.lookupToken.QueryRowContext(ctx, h[:]), h)
	if err != nil {
		return store.TokenRecord{}, notFound(err, "token")
	}
	return r, nil
}

// LookupTokenFacts is LookupToken, whose answer is exact.
func (s *Store) LookupTokenFacts(ctx context.Context, h store.Hash) (store.TokenRecord, error) {
	return s.LookupToken(ctx, h)
}

// RotateRefresh exchanges the refresh token old for tokens, in one op:
//
//   - old unknown, or not a refresh token: store.ErrNotFound;
//   - old rotated already: reuse (RFC 9700 §4.14.2). The grant is revoked
//     with reuse unless it is revoked already, the revocation is committed,
//     and the answer is store.ErrRefreshReused;
//   - grant revoked, or old or the grant expired at now: store.ErrNotFound;
//   - otherwise old is marked rotated at now, tokens join its grant (their
//     GrantID may be empty), and the grant's ExpiresAt rises to cover them.
//
// On success it returns old's record as it now is (Rotated is true).
func (s *Store) RotateRefresh(ctx context.Context, old store.Hash, now time.Time, tokens []store.Token, reuse store.Revocation) (store.TokenRecord, error) {
	a := &rotateOp{old: old, now: now, tokens: tokens}
	err := s.writeGrouped(ctx, a, func(t *tx) error {
		// Alone, the op is a group of one; what a group leaves to run
		// alone is a reuse of a token whose grant is live.
		errs := make([]error, 1)
		err := s.rotations(t, []*rotateOp{a}, errs)
		if errors.Is(err, errReused) {
			grantID := a.rec.GrantID
			a.rec = store.TokenRecord{}
			if _, err := s.revoke(t, byGrant, reuse, grantID); err != nil {
				return err
			}
			return &commitAnyway{store.ErrRefreshReused}
		}
		if err != nil {
			return err
		}
		return errs[0]
	})
	if err != nil {
		return store.TokenRecord{}, err
	}
	return a.rec, nil
}

// rotatable refuses a refresh token whose grant is revoked, or which or
// whose grant (expiring at grantExpires, ms) has expired at now.
func rotatable(r store.TokenRecord, grantExpires int64, now time.Time) error {
	if r.Revoked || !now.Before(r.ExpiresAt) || ms(now) >= grantExpires {
		return fmt.Errorf("%w: refresh token revoked or expired", store.ErrNotFound)
	}
	return nil
}

// RevokeGrant revokes the grant, whatever its expiry, and appends one
// event; a revoked or unknown grant gives a zero result.
func (s *Store) RevokeGrant(ctx context.Context, grantID string, rev store.Revocation) (store.RevokeResult, error) {
	a := &revokeGrantOp{grantID: grantID, rev: rev}
	err := s.writeGrouped(ctx, a, func(t *tx) error {
		var err error
		a.res, err = s.revoke(t, byGrant, a.rev, a.grantID)
		return err
	})
	if err != nil {
		return store.RevokeResult{}, err
	}
	return a.res, nil
}

// RevokeToken looks the token up and revokes its grant in one op on the
// writer, whose page cache stays warm: a lookup on the read pool first
// would start a read transaction that finds the database changed by the
// last batch and drops its connection's whole cache.
//
// An op that finds the grant revoked, or the token another client's,
// writes nothing but still waits for the batch's COMMIT: an earlier op of
// the batch may be what revoked the grant, and if that commit failed the
// answer "revoked already" would be false.
func (s *Store) RevokeToken(ctx context.Context, h store.Hash, kind store.TokenKind, clientID string, rev store.Revocation) (store.TokenRecord, store.RevokeResult, error) {
	a := &revokeTokenOp{h: h, kind: kind, clientID: clientID, rev: rev}
	if err := s.writeGrouped(ctx, a, func(t *tx) error { return s.revokeToken(t, a) }); err != nil {
		return store.TokenRecord{}, store.RevokeResult{}, err
	}
	return a.rec, a.res, nil
}

// revokeToken runs a alone, within t; revokeTokens runs many at once.
func (s *Store) revokeToken(t *tx, a *revokeTokenOp) error {
	// A group's run that failed may have set them.
	a.rec, a.res = store.TokenRecord{}, store.RevokeResult{}
	r, _, err := scanToken(t.queryRow(s.w.lookupToken, a.h[:]), a.h)
	if err != nil {
		return &unwritten{notFound(err, "token")}
	}
	if r.Kind != a.kind {
		return &unwritten{fmt.Errorf("%w: token is a %s", store.ErrNotFound, r.Kind)}
	}
	a.rec = r
	if r.Revoked || r.ClientID != a.clientID {
		return nil
	}
	a.res, err = s.revoke(t, byGrant, a.rev, r.GrantID)
	return err
}

// RevokeMatching revokes every live grant that f selects, one event per
// grant, in one transaction. An empty filter is an error.
func (s *Store) RevokeMatching(ctx context.Context, f store.Filter, rev store.Revocation) (store.RevokeResult, error) {
	by, key, err := matchBy(f)
	if err != nil {
		return store.RevokeResult{}, err
	}
	revoke := s.revoke
	if f.KeepOffline {
		revoke = s.revokeOnline
	}
	var res store.RevokeResult
	err = s.write(ctx, func(t *tx) error {
		var err error
		res, err = revoke(t, by, rev, key...)
		return err
	})
	if err != nil {
		return store.RevokeResult{}, err
	}
	return res, nil
}

// CountMatching counts the live grants that f selects at now and their
// live tokens (unexpired, not rotated): what RevokeMatching would revoke
// at now, and report. It is an admin's rare question, asked before a bulk
// revocation, so its statement is not prepared ahead.
func (s *Store) CountMatching(ctx context.Context, f store.Filter, now time.Time) (store.Stats, error) {
	by, key, err := matchBy(f)
	if err != nil {
		return store.Stats{}, err
	}
	cond := revokeConds[by]
	if f.KeepOffline {
		cond += keepOffline
	}
	q := `SELECT count(DISTINCT g.id), count(t.hash) FROM grants g
		LEFT JOIN tokens t ON t.grant_id = g.id AND t.expires_at > ?1 AND t.rotated_at IS NULL
		WHERE g.revoked_at IS NULL AND g.expires_at > ?1 AND ` + cond
	var st store.Stats
	args := append([]any{ms(now), nil, nil}, key...)
	if err := s.rdb.QueryRowContext(ctx, q, args...).Scan(&st.LiveGrants, &st.LiveTokens); err != nil {
		return store.Stats{}, mapErr(err)
	}
	return st, nil
}

// matchBy returns the revocation statement's kind and key that select the
// grants of f.
func matchBy(f store.Filter) (revokeBy, []any, error) {
	switch {
	case f.SessionID != "" && (f.Subject != "" || f.ClientID != ""):
		return 0, nil, errors.New("sqlite: a filter selects a session's grants by the session alone")
	case f.SessionID != "":
		return bySession, []any{f.SessionID}, nil
	case f.Subject != "" && f.ClientID != "":
		return bySubjectClient, []any{f.Subject, f.ClientID}, nil
	case f.Subject != "":
		return bySubject, []any{f.Subject}, nil
	case f.ClientID != "":
		return byClient, []any{f.ClientID}, nil
	default:
		return 0, nil, errors.New("sqlite: a filter needs a subject, a client ID or a session ID")
	}
}

// Events returns up to limit events with Seq > since, oldest first; a limit
// of zero or less means no limit.
func (s *Store) Events(ctx context.Context, since int64, limit int) ([]store.Event, error) {
	if limit <= 0 {
		limit = -1
	}
	rows, err := s.r.events.QueryContext(ctx, since, limit)
	if err != nil {
		return nil, mapErr(err)
	}
	defer rows.Close()
	var evs []store.Event
	for rows.Next() {
		e, err := scanEvent(rows)
		if err != nil {
			return nil, mapErr(err)
		}
		evs = append(evs, e)
	}
	return evs, mapErr(rows.Err())
}

// scanEvent scans a row of eventColumns: a qEvents row, or what a
// statement appending events returns.
func scanEvent(sc scanner) (store.Event, error) { return scanEventAnd(sc) }

// scanEventAnd is scanEvent for a row of eventColumns followed by
// columns of its own, scanned into extra.
func scanEventAnd(sc scanner, extra ...any) (store.Event, error) {
	var e store.Event
	var at int64
	var hashes []byte
	var jtis, indexes, claims string
	var expires sql.NullInt64
	err := sc.Scan(append([]any{&e.Seq, &at, &e.GrantID, &e.ClientID, &e.Subject, &e.Reason, &e.Actor, &e.Tokens,
		&hashes, &jtis, &indexes, &expires, &e.SessionID, &e.ParentGrantID, &claims}, extra...)...)
	if err != nil {
		return e, err
	}
	e.Time, e.ExpiresAt = fromMS(at), nullMS(expires)
	const n = len(store.Hash{})
	if len(hashes)%n != 0 {
		return e, fmt.Errorf("event %d: token_hashes of %d bytes", e.Seq, len(hashes))
	}
	if len(hashes) > 0 {
		e.TokenHashes = make([]store.Hash, len(hashes)/n)
		for i := range e.TokenHashes {
			e.TokenHashes[i] = store.Hash(hashes[i*n : (i+1)*n])
		}
	}
	if e.JTIs, err = parseJSON[string](jtis); err != nil {
		return e, fmt.Errorf("event %d jtis: %w", e.Seq, err)
	}
	if e.StatusIndexes, err = parseJSON[int64](indexes); err != nil {
		return e, fmt.Errorf("event %d status_indexes: %w", e.Seq, err)
	}
	if e.Claims, err = parseJSON[string](claims); err != nil {
		return e, fmt.Errorf("event %d claims: %w", e.Seq, err)
	}
	return e, nil
}

// parseJSON parses a JSON array; an empty one gives nil, without the
// decoder's cost (most events have no jti and no status index).
func parseJSON[T any](s string) ([]T, error) {
	if s == "[]" {
		return nil, nil
	}
	var l []T
	if err := json.Unmarshal([]byte(s), &l); err != nil {
		return nil, err
	}
	return l, nil
}

const (
	// qUserEvents reads revocation_events_subject backwards.
	qUserEvents = `SELECT ` + eventColumns + ` FROM revocation_events WHERE subject = ? ORDER BY seq DESC LIMIT ?`
	// qSearchEvents reads the log backwards from its newest event, and
	// stops at the limit: an admin's page, not a hot path.
	qSearchEvents = `SELECT ` + eventColumns + `
		FROM revocation_events
		WHERE (?1 = '' OR reason = ?1) AND (?2 = '' OR client_id = ?2) AND (?3 = '' OR subject = ?3) AND time >= ?4
		ORDER BY seq DESC LIMIT ?5`
	// qListUserGrants: a grant's tokens are few (the first pair and one
	// pair per refresh not swept yet), so the newest issue is a short scan.
	qListUserGrants = `SELECT g.id, g.client_id, g.subject, g.username, g.scope, coalesce(g.session_id, ''),
			g.created_at, g.expires_at, coalesce(max(t.issued_at), g.created_at)
		FROM grants g LEFT JOIN tokens t ON t.grant_id = g.id
		WHERE g.subject = ?1 AND g.revoked_at IS NULL AND g.expires_at > ?2
		GROUP BY g.id ORDER BY g.created_at, g.id`
)

// UserEvents returns the newest limit events of subject, newest first.
func (s *Store) UserEvents(ctx context.Context, subject string, limit int) ([]store.Event, error) {
	return list(ctx, s.r.userEvents, scanEvent, subject, limit)
}

// SearchEvents returns the newest limit events that f selects, newest
// first.
func (s *Store) SearchEvents(ctx context.Context, f store.EventFilter, limit int) ([]store.Event, error) {
	since := int64(math.MinInt64)
	if !f.Since.IsZero() {
		since = ms(f.Since)
	}
	return list(ctx, s.r.searchEvents, scanEvent, f.Reason, f.ClientID, f.Subject, since, limit)
}

// ListUserGrants returns the grants of subject live at now, oldest first,
// each with the issue time of its newest token.
func (s *Store) ListUserGrants(ctx context.Context, subject string, now time.Time) ([]store.GrantActivity, error) {
	return list(ctx, s.r.listUserGrants, scanGrantActivity, subject, ms(now))
}

func scanGrantActivity(sc scanner) (store.GrantActivity, error) {
	var a store.GrantActivity
	var created, expires, last int64
	if err := sc.Scan(&a.ID, &a.ClientID, &a.Subject, &a.Username, &a.Scope, &a.SessionID, &created, &expires, &last); err != nil {
		return a, err
	}
	a.CreatedAt, a.ExpiresAt, a.LastIssued = fromMS(created), fromMS(expires), fromMS(last)
	return a, nil
}
