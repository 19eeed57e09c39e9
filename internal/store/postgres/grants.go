package postgres

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/tokend/tokend/internal/store"
)

const (
	// qInsertGrant inserts a grant; the columns of an exchanged grant are
	// NULL for the others. The grants_parent_live trigger checks an
	// exchanged grant's parent (migrations/0013_token_exchange.sql).
	qInsertGrant = `INSERT INTO grants (id, client_id, subject, username, scope, session_id, offline, created_at, expires_at, dpop_jkt,
			parent_grant_id, act, audience)
		VALUES ($1, $2, $3, $4, $5, nullif($6, ''), $7, $8, $9, nullif($10, ''), nullif($11, ''), nullif($12, ''), $13)`
	// qInsertTokens inserts a grant's tokens, one array per column, in one
	// statement. $1 is the grant; an empty jti and a zero status index are
	// stored as NULL.
	qInsertTokens = `INSERT INTO tokens (hash, kind, grant_id, jti, status_index, issued_at, expires_at)
		SELECT u.hash, u.kind, $1, nullif(u.jti, ''), nullif(u.status_index, 0), u.issued_at, u.expires_at
		FROM unnest($2::bytea[], $3::text[], $4::text[], $5::bigint[], $6::timestamptz[], $7::timestamptz[])
			AS u (hash, kind, jti, status_index, issued_at, expires_at)`
	// qLookupToken is the one query of LookupToken: the token joined with
	// its grant, which says whether it is revoked.
	qLookupToken = `SELECT t.kind, t.grant_id, coalesce(t.jti, ''), coalesce(t.status_index, 0),
			t.issued_at, t.expires_at, t.rotated_at IS NOT NULL,
			g.client_id, g.subject, g.username, g.scope, coalesce(g.session_id, ''), g.revoked_at, g.expires_at,
			coalesce(g.dpop_jkt, ''), coalesce(g.parent_grant_id, ''), coalesce(g.act, ''), g.audience
		FROM tokens t JOIN grants g ON g.id = t.grant_id WHERE t.hash = $1`
	// qLockFamily takes the row lock of the grant of token $1: the lock of
	// its family (see migrations/0001_init.sql).
	qLockFamily  = `SELECT 1 FROM tokens t JOIN grants g ON g.id = t.grant_id WHERE t.hash = $1 FOR UPDATE OF g`
	qMarkRotated = `UPDATE tokens SET rotated_at = $2 WHERE hash = $1 AND rotated_at IS NULL`
	qExtendGrant = `UPDATE grants SET expires_at = greatest(expires_at, $2) WHERE id = $1`
)

// A revocation is three statements in one round trip, whatever it covers:
//
//  1. an UPDATE marks the live grants that match revoked, and so takes
//     their row locks, in the order of their IDs (two bulk revocations that
//     overlap cannot deadlock). A rotation of one of them in progress holds
//     the lock; the UPDATE waits for it to commit and then sees its tokens.
//  2. an INSERT ... SELECT appends one event per grant that statement 1
//     revoked: the rows whose current version this transaction wrote (xmin
//     is its ID). It runs with a snapshot taken after statement 1 got its
//     locks, so it counts every token the rotations committed, and stores
//     what each event covered.
//  3. the cascade (cascadeSQL) revokes and logs the grants exchanged from
//     them.
//
// (Before statement 2 the transaction also takes the revocation log's
// advisory lock, shared; see queueRevokeSQL.)
//
// Statements 2 and 3 append events only for grants this transaction wrote,
// so a transaction has its ID before it takes a sequence number: Events
// relies on that (horizon.go).
//
// Parameters of statement 1: $1 the time, $2 onwards the key; of
// statements 2 and 3: $1 the time, $2 the reason, $3 the actor, $4 onwards
// the key.
type revokeBy int

const (
	byGrant         revokeBy = iota // the grant whatever its expiry
	bySubject                       // live grants only
	byClient                        // live grants only
	bySubjectClient                 // live grants only
	// byToken: the grant, whatever its expiry, of the token whose hash and
	// kind are the key's first two parameters when the grant belongs to the
	// client that is the third.
	byToken
	bySession // live grants only
	numRevokeBy
)

// keyConds select the grants of a revocation by key, the key's first
// parameter being $n.
var keyConds = [numRevokeBy]func(n int) string{
	byGrant:         func(n int) string { return fmt.Sprintf("g.id = $%d", n) },
	bySubject:       func(n int) string { return fmt.Sprintf("g.subject = $%d", n) },
	byClient:        func(n int) string { return fmt.Sprintf("g.client_id = $%d", n) },
	bySubjectClient: func(n int) string { return fmt.Sprintf("g.subject = $%d AND g.client_id = $%d", n, n+1) },
	byToken: func(n int) string {
		return fmt.Sprintf("g.id = (SELECT t.grant_id FROM tokens t WHERE t.hash = $%d AND t.kind = $%d) AND g.client_id = $%d", n, n+1, n+2)
	},
	bySession: func(n int) string { return fmt.Sprintf("g.session_id = $%d", n) },
}

// keepOffline is what a revocation that leaves out the offline grants
// (store.Filter.KeepOffline) adds to its condition.
const keepOffline = ` AND NOT g.offline`

type revokeSQL struct{ mark, events, cascade string }

// coveredTokens is what an event of grant g covers: its tokens unexpired
// at $1, rotated ones included.
const coveredTokens = `SELECT count(*) FILTER (WHERE t.rotated_at IS NULL) AS live,
		coalesce(array_agg(t.hash ORDER BY t.issued_at, t.hash), '{}') AS hashes,
		coalesce(array_agg(t.jti ORDER BY t.issued_at, t.hash) FILTER (WHERE t.jti IS NOT NULL), '{}') AS jtis,
		coalesce(array_agg(t.status_index ORDER BY t.issued_at, t.hash) FILTER (WHERE t.status_index IS NOT NULL), '{}') AS indexes,
		max(t.expires_at) AS expires_at
	FROM tokens t WHERE t.grant_id = g.id AND t.expires_at > $1`

// insertEvents appends an event for each grant g, with what it covers, c
// (coveredTokens), at $1 with reason $2 and actor $3: the head of every
// statement that writes revocation events, the revocations' and their
// cascade's.
const insertEvents = `INSERT INTO revocation_events (time, grant_id, client_id, subject, session_id, reason, actor,
		tokens, token_hashes, jtis, status_indexes, expires_at, parent_grant_id)
	SELECT $1, g.id, g.client_id, g.subject, g.session_id, $2, $3, c.live, c.hashes, c.jtis, c.indexes, c.expires_at,
		g.parent_grant_id`

// revokeSQLs are the statements of each kind of revocation, and
// revokeOnlineSQLs those that leave out the offline grants.
var revokeSQLs, revokeOnlineSQLs = revokeStatements(""), revokeStatements(keepOffline)

// revokeStatements returns the statements of each kind of revocation,
// with more added to each condition.
func revokeStatements(more string) (sqls [numRevokeBy]revokeSQL) {
	for by, keyCond := range keyConds {
		cond := func(n int) string { return keyCond(n) + more }
		var mark string
		if rb := revokeBy(by); rb == byGrant || rb == byToken {
			mark = `UPDATE grants g SET revoked_at = $1 WHERE ` + cond(2) + ` AND g.revoked_at IS NULL`
		} else {
			// A bulk revocation covers the live grants: not revoked and not
			// expired at the revocation's time. An expired grant has no live
			// token left; revoking it would only add noise to the log before
			// the sweep deletes it.
			mark = `UPDATE grants SET revoked_at = $1
				WHERE revoked_at IS NULL AND id IN (
					SELECT g.id FROM grants g
					WHERE ` + cond(2) + ` AND g.revoked_at IS NULL AND g.expires_at > $1
					ORDER BY g.id FOR UPDATE)`
		}
		sqls[by] = revokeSQL{
			mark: mark,
			events: insertEvents + `
				FROM grants g CROSS JOIN LATERAL (` + coveredTokens + `) c
				WHERE ` + cond(4) + ` AND g.xmin = pg_current_xact_id_if_assigned()::xid
				ORDER BY g.created_at, g.id
				RETURNING seq, tokens`,
			cascade: cascadeSQL(cond(4)),
		}
	}
	return sqls
}

// queueRevoke queues on b the statements that revoke the grants that by and
// key select; res holds the result once b has run.
func (s *Store) queueRevoke(b *pgx.Batch, by revokeBy, rev store.Revocation, res *store.RevokeResult, key ...any) {
	s.queueRevokeSQL(b, revokeSQLs[by], rev, res, key...)
}

// queueRevokeSQL queues on b the statements q with key.
func (s *Store) queueRevokeSQL(b *pgx.Batch, q revokeSQL, rev store.Revocation, res *store.RevokeResult, key ...any) {
	b.Queue(q.mark, append([]any{rev.Time}, key...)...)
	// A reader takes this lock exclusively, to wait for the appends in
	// flight, when a transaction that is not tokend's holds the safe-read
	// horizon back (horizon.go), and so do the readers of tokend versions
	// before the horizon. Taken before the events take their numbers, held
	// until the transaction ends.
	b.Queue(`SELECT pg_advisory_xact_lock_shared($1, $2)`, s.eventsLock.class, s.eventsLock.schema)
	evArgs := append([]any{rev.Time, rev.Reason, rev.Actor}, key...)
	b.Queue(q.events, evArgs...).Query(func(rows pgx.Rows) error {
		*res = store.RevokeResult{}
		return addEvents(rows, res)
	})
	b.Queue(q.cascade, evArgs...).Query(func(rows pgx.Rows) error { return addEvents(rows, res) })
}

// addEvents adds the events rows returns (seq, tokens) to res.
func addEvents(rows pgx.Rows, res *store.RevokeResult) error {
	for rows.Next() {
		var seq int64
		var n int
		if err := rows.Scan(&seq, &n); err != nil {
			return err
		}
		res.Grants++
		res.Tokens += n
		res.Seq = max(res.Seq, seq)
	}
	return rows.Err()
}

// cascadeSQL is the statement that follows a revocation's events, whose
// grants the condition selects: it revokes every live grant exchanged,
// directly or not, from the grants the revocation revoked (those whose
// row this transaction wrote), and appends an event for each, with the
// cause's reason and actor, in one statement whatever the chain's depth.
// It runs after the revocation's own statements, with a snapshot taken
// once they hold their grants' locks: an exchange in flight from one of
// them holds a share lock on every grant of its chain
// (grants_parent_live), so it has committed by then, and is seen, or it
// waits and then finds its parent revoked. Each step of the walk is a
// LATERAL subquery kept apart by OFFSET 0, so that the planner probes the
// grants_parent index for each grant reached instead of joining the
// level with the whole table (a hash join per level made a chain of 1,000
// take a second), and the UPDATE probes the primary key with the array of
// the grants reached (a semi-join with the CTE could be a nested loop,
// quadratic in the chain's length). A parent's event comes before
// its children's. Grants form trees (a parent
// exists before its child), so the walk meets no grant twice.
func cascadeSQL(cond string) string {
	return `WITH RECURSIVE d (id, depth) AS (
			SELECT c.id, 1 FROM grants g JOIN grants c ON c.parent_grant_id = g.id
			WHERE ` + cond + ` AND g.xmin = pg_current_xact_id_if_assigned()::xid AND c.revoked_at IS NULL
			UNION ALL
			SELECT c.id, d.depth + 1 FROM d CROSS JOIN LATERAL (
				SELECT c.id FROM grants c WHERE c.parent_grant_id = d.id AND c.revoked_at IS NULL OFFSET 0) c
		), m AS (
			UPDATE grants SET revoked_at = $1 WHERE id = ANY (ARRAY(SELECT id FROM d)) AND revoked_at IS NULL
			RETURNING id, client_id, subject, session_id, parent_grant_id, created_at
		)
		` + insertEvents + `
		FROM m g JOIN d ON d.id = g.id CROSS JOIN LATERAL (` + coveredTokens + `) c
		ORDER BY d.depth, g.created_at, g.id
		RETURNING seq, tokens`
}

// CreateGrant stores g with its first tokens, atomically, in one round
// trip. A token's GrantID may be left empty; the grant's ExpiresAt is
// raised to cover its longest-lived token.
func (s *Store) CreateGrant(ctx context.Context, g store.Grant, tokens []store.Token) error {
	if g.ID == "" {
		return errors.New("postgres: CreateGrant: empty grant ID")
	}
	latest, err := checkTokens(g.ID, tokens)
	if err != nil {
		return err
	}
	if latest.After(g.ExpiresAt) {
		g.ExpiresAt = latest
	}
	return parentNotLive(s.writeGrouped(ctx, func(b *pgx.Batch) { queueGrant(b, g, tokens) }))
}

// parentNotLive turns the refusal of the grants_parent_live trigger (an
// exchanged grant whose parent is revoked or unknown) into
// store.ErrNotFound.
func parentNotLive(err error) error {
	var pe *pgconn.PgError
	if errors.As(err, &pe) && pe.Message == "tokend: parent grant not live" {
		return fmt.Errorf("%w: the grant exchanged from is revoked", store.ErrNotFound)
	}
	return err
}

// queueGrant queues on b the statements that insert g and its tokens. The
// grant is offline when its scope holds offline_access.
func queueGrant(b *pgx.Batch, g store.Grant, tokens []store.Token) {
	var audience []string // NULL for none
	if len(g.Audience) > 0 {
		audience = g.Audience
	}
	b.Queue(qInsertGrant, g.ID, g.ClientID, g.Subject, g.Username, g.Scope, g.SessionID, g.Offline(), g.CreatedAt, g.ExpiresAt, g.JKT,
		g.ParentID, g.Act, audience)
	queueTokens(b, g.ID, tokens)
}

// checkTokens checks that tokens may join grant grantID, and returns their
// latest expiry.
func checkTokens(grantID string, tokens []store.Token) (latest time.Time, err error) {
	for _, tok := range tokens {
		if tok.GrantID != "" && tok.GrantID != grantID {
			return time.Time{}, fmt.Errorf("postgres: token of grant %q stored with grant %q", tok.GrantID, grantID)
		}
		if tok.Kind != store.AccessToken && tok.Kind != store.RefreshToken {
			return time.Time{}, fmt.Errorf("postgres: unknown token kind %q", tok.Kind)
		}
		if tok.StatusIndex < 0 {
			return time.Time{}, fmt.Errorf("postgres: negative status index %d", tok.StatusIndex)
		}
		if tok.ExpiresAt.After(latest) {
			latest = tok.ExpiresAt
		}
	}
	return latest, nil
}

// queueTokens queues on b the statement that inserts tokens into grantID.
func queueTokens(b *pgx.Batch, grantID string, tokens []store.Token) {
	if len(tokens) == 0 {
		return
	}
	n := len(tokens)
	hashes, kinds, jtis := make([][]byte, n), make([]string, n), make([]string, n)
	indexes, issued, expires := make([]int64, n), make([]time.Time, n), make([]time.Time, n)
	for i, tok := range tokens {
		hashes[i], kinds[i], jtis[i] = tok.Hash[:], string(tok.Kind), tok.JTI
		indexes[i], issued[i], expires[i] = tok.StatusIndex, tok.IssuedAt, tok.ExpiresAt
	}
	b.Queue(qInsertTokens, grantID, hashes, kinds, jtis, indexes, issued, expires)
}

// tokenRow is a qLookupToken row: the record, and its grant's expiry.
type tokenRow struct {
	rec          store.TokenRecord
	grantExpires time.Time
}

func scanToken(row pgx.Row, h store.Hash) (tokenRow, error) {
	r := tokenRow{rec: store.TokenRecord{Token: store.Token{Hash: h}}}
	var kind string
	var revoked *time.Time
	err := row.Scan(&kind, &r.rec.GrantID, &r.rec.JTI, &r.rec.StatusIndex, &r.rec.IssuedAt, &r.rec.ExpiresAt, &r.rec.Rotated,
		&r.rec.ClientID, &r.rec.Subject, &r.rec.Username, &r.rec.Scope, &r.rec.SessionID, &revoked, &r.grantExpires, &r.rec.JKT,
		&r.rec.ParentID, &r.rec.Act, &r.rec.Audience)
	if err != nil {
		return tokenRow{}, err
	}
	r.rec.Kind = store.TokenKind(kind)
	r.rec.IssuedAt, r.rec.ExpiresAt, r.grantExpires = r.rec.IssuedAt.UTC(), r.rec.ExpiresAt.UTC(), r.grantExpires.UTC()
	if revoked != nil {
		r.rec.Revoked, r.rec.RevokedAt = true, revoked.UTC()
	}
	return r, nil
}

// LookupToken returns the token with hash h in whatever state, or
// store.ErrNotFound. One query, one round trip.
func (s *Store) LookupToken(ctx context.Context, h store.Hash) (store.TokenRecord, error) {
	if err := s.usable(ctx); err != nil {
		return store.TokenRecord{}, err
	}
	r, err := scanToken(s.pool.QueryRow(ctx, qLookupToken, h[:]), h)
	if err != nil {
		return store.TokenRecord{}, s.notFound(ctx, err, "token")
	}
	return r.rec, nil
}

// LookupTokenFacts is LookupToken, whose answer is exact.
func (s *Store) LookupTokenFacts(ctx context.Context, h store.Hash) (store.TokenRecord, error) {
	return s.LookupToken(ctx, h)
}

// RotateRefresh exchanges the refresh token old for tokens:
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
//
// Two round trips. The first begins the transaction, takes the row lock of
// old's grant, which every rotation and revocation of the family takes
// first, and then reads old and its grant afresh: a rotation or revocation
// that held the lock has committed, and its effect is seen. The second
// writes what the first found called for, and commits.
func (s *Store) RotateRefresh(ctx context.Context, old store.Hash, now time.Time, tokens []store.Token, reuse store.Revocation) (store.TokenRecord, error) {
	for _, tok := range tokens {
		if tok.Kind != store.AccessToken && tok.Kind != store.RefreshToken {
			return store.TokenRecord{}, fmt.Errorf("postgres: unknown token kind %q", tok.Kind)
		}
	}
	var rec store.TokenRecord
	err := s.inTx(ctx, func(t *tx) error {
		var r tokenRow
		var lookupErr error
		b := &pgx.Batch{}
		b.Queue(qLockFamily, old[:])
		b.Queue(qLookupToken, old[:]).QueryRow(func(row pgx.Row) error {
			r, lookupErr = scanToken(row, old)
			if errors.Is(lookupErr, pgx.ErrNoRows) {
				return nil // not an error of the batch
			}
			return lookupErr
		})
		if err := t.send(b, false); err != nil {
			return err
		}
		if lookupErr != nil {
			return fmt.Errorf("refresh token: %w", store.ErrNotFound)
		}
		if r.rec.Kind != store.RefreshToken {
			return fmt.Errorf("%w: not a refresh token", store.ErrNotFound)
		}
		if r.rec.Rotated {
			if r.rec.Revoked {
				return store.ErrRefreshReused
			}
			var res store.RevokeResult
			b := &pgx.Batch{}
			s.queueRevoke(b, byGrant, reuse, &res, r.rec.GrantID)
			if err := t.send(b, true); err != nil {
				return err
			}
			return store.ErrRefreshReused // committed
		}
		if r.rec.Revoked || !now.Before(r.rec.ExpiresAt) || !now.Before(r.grantExpires) {
			return fmt.Errorf("%w: refresh token revoked or expired", store.ErrNotFound)
		}
		latest, err := checkTokens(r.rec.GrantID, tokens)
		if err != nil {
			return err
		}
		b = &pgx.Batch{}
		b.Queue(qMarkRotated, old[:], now).Exec(exactlyOne("marking the refresh token rotated"))
		queueTokens(b, r.rec.GrantID, tokens)
		b.Queue(qExtendGrant, r.rec.GrantID, latest)
		if err := t.send(b, true); err != nil {
			return err
		}
		r.rec.Rotated = true
		rec = r.rec
		return nil
	})
	if err != nil {
		return store.TokenRecord{}, err
	}
	return rec, nil
}

// RevokeGrant revokes the grant, whatever its expiry, and appends one
// event, in one round trip; a revoked or unknown grant gives a zero result.
// Of many concurrent calls for one grant exactly one revokes it: the others
// wait for its row lock, then find it revoked.
func (s *Store) RevokeGrant(ctx context.Context, grantID string, rev store.Revocation) (store.RevokeResult, error) {
	var res store.RevokeResult
	b := &pgx.Batch{}
	s.queueRevoke(b, byGrant, rev, &res, grantID)
	if err := s.batch(ctx, b); err != nil {
		return store.RevokeResult{}, err
	}
	return res, nil
}

// RevokeToken looks the token up and revokes its grant in one transaction
// and one round trip: the lookup, which sees the token as it was before,
// then the revocation of its grant when the token is of kind and the grant
// belongs to clientID. A concurrent revocation of the same grant holds the
// row lock; the revocation waits for it and then finds the grant revoked,
// revoking nothing.
func (s *Store) RevokeToken(ctx context.Context, h store.Hash, kind store.TokenKind, clientID string, rev store.Revocation) (store.TokenRecord, store.RevokeResult, error) {
	var r tokenRow
	found := false
	var res store.RevokeResult
	b := &pgx.Batch{}
	b.Queue(qLookupToken, h[:]).QueryRow(func(row pgx.Row) error {
		var err error
		r, err = scanToken(row, h)
		if errors.Is(err, pgx.ErrNoRows) {
			return nil // the revocation's statements match nothing either
		}
		found = err == nil
		return err
	})
	s.queueRevoke(b, byToken, rev, &res, h[:], string(kind), clientID)
	if err := s.batch(ctx, b); err != nil {
		return store.TokenRecord{}, store.RevokeResult{}, err
	}
	if !found || r.rec.Kind != kind {
		return store.TokenRecord{}, store.RevokeResult{}, fmt.Errorf("token: %w", store.ErrNotFound)
	}
	return r.rec, res, nil
}

// RevokeMatching revokes every live grant that f selects, one event per
// grant, in one transaction and one round trip. An empty filter is an
// error.
func (s *Store) RevokeMatching(ctx context.Context, f store.Filter, rev store.Revocation) (store.RevokeResult, error) {
	by, key, err := matchBy(f)
	if err != nil {
		return store.RevokeResult{}, err
	}
	q := revokeSQLs[by]
	if f.KeepOffline {
		q = revokeOnlineSQLs[by]
	}
	var res store.RevokeResult
	b := &pgx.Batch{}
	s.queueRevokeSQL(b, q, rev, &res, key...)
	if err := s.batch(ctx, b); err != nil {
		return store.RevokeResult{}, err
	}
	return res, nil
}

// CountMatching counts the live grants that f selects at now and their
// live tokens (unexpired, not rotated): what RevokeMatching would revoke
// at now, and report.
func (s *Store) CountMatching(ctx context.Context, f store.Filter, now time.Time) (store.Stats, error) {
	by, key, err := matchBy(f)
	if err != nil {
		return store.Stats{}, err
	}
	if err := s.usable(ctx); err != nil {
		return store.Stats{}, err
	}
	cond := keyConds[by](2)
	if f.KeepOffline {
		cond += keepOffline
	}
	q := `SELECT count(*), coalesce(sum(c.live), 0) FROM grants g CROSS JOIN LATERAL (
			SELECT count(*) AS live FROM tokens t
			WHERE t.grant_id = g.id AND t.expires_at > $1 AND t.rotated_at IS NULL) c
		WHERE g.revoked_at IS NULL AND g.expires_at > $1 AND ` + cond
	var st store.Stats
	if err := s.pool.QueryRow(ctx, q, append([]any{now}, key...)...).Scan(&st.LiveGrants, &st.LiveTokens); err != nil {
		return store.Stats{}, s.mapErr(ctx, err)
	}
	return st, nil
}

// matchBy returns the revocation statement's kind and key that select the
// grants of f.
func matchBy(f store.Filter) (revokeBy, []any, error) {
	switch {
	case f.SessionID != "" && (f.Subject != "" || f.ClientID != ""):
		return 0, nil, errors.New("postgres: a filter selects a session's grants by the session alone")
	case f.SessionID != "":
		return bySession, []any{f.SessionID}, nil
	case f.Subject != "" && f.ClientID != "":
		return bySubjectClient, []any{f.Subject, f.ClientID}, nil
	case f.Subject != "":
		return bySubject, []any{f.Subject}, nil
	case f.ClientID != "":
		return byClient, []any{f.ClientID}, nil
	default:
		return 0, nil, errors.New("postgres: a filter needs a subject, a client ID or a session ID")
	}
}

func scanEvent(row pgx.CollectableRow) (store.Event, error) {
	var e store.Event
	var hashes [][]byte
	var expires *time.Time
	err := row.Scan(&e.Seq, &e.Time, &e.GrantID, &e.ClientID, &e.Subject, &e.Reason, &e.Actor, &e.Tokens,
		&hashes, &e.JTIs, &e.StatusIndexes, &expires, &e.SessionID, &e.ParentGrantID, &e.Claims)
	if err != nil {
		return store.Event{}, err
	}
	if len(e.Claims) == 0 {
		e.Claims = nil
	}
	e.Time = e.Time.UTC()
	if expires != nil {
		e.ExpiresAt = expires.UTC()
	}
	if len(hashes) > 0 {
		e.TokenHashes = make([]store.Hash, len(hashes))
		for i, h := range hashes {
			if len(h) != len(store.Hash{}) {
				return store.Event{}, fmt.Errorf("postgres: event %d: token hash of %d bytes", e.Seq, len(h))
			}
			e.TokenHashes[i] = store.Hash(h)
		}
	}
	if len(e.JTIs) == 0 {
		e.JTIs = nil
	}
	if len(e.StatusIndexes) == 0 {
		e.StatusIndexes = nil
	}
	return e, nil
}

const (
	// eventColumns are the columns of an event, as scanEvent scans them.
	eventColumns = `seq, time, grant_id, client_id, subject, reason, actor, tokens,
			token_hashes, jtis, status_indexes, expires_at, coalesce(session_id, ''), coalesce(parent_grant_id, ''),
			coalesce(claims, '{}')`
	// qUserEvents reads revocation_events_subject backwards. Unlike
	// Events it needs no horizon: a person's history is read whole each
	// time, not followed from a position.
	qUserEvents = `SELECT ` + eventColumns + ` FROM revocation_events WHERE subject = $1 ORDER BY seq DESC LIMIT $2`
	// qSearchEvents reads the log backwards from its newest event, and
	// stops at the limit: an admin's page, not a hot path.
	qSearchEvents = `SELECT ` + eventColumns + ` FROM revocation_events
		WHERE ($1 = '' OR reason = $1) AND ($2 = '' OR client_id = $2) AND ($3 = '' OR subject = $3)
			AND ($4::timestamptz IS NULL OR time >= $4)
		ORDER BY seq DESC LIMIT $5`
	// qListUserGrants: a grant's tokens are few (the first pair and one
	// pair per refresh not swept yet), so the newest issue is a short scan.
	qListUserGrants = `SELECT g.id, g.client_id, g.subject, g.username, g.scope, coalesce(g.session_id, ''),
			g.created_at, g.expires_at, coalesce(max(t.issued_at), g.created_at)
		FROM grants g LEFT JOIN tokens t ON t.grant_id = g.id
		WHERE g.subject = $1 AND g.revoked_at IS NULL AND g.expires_at > $2
		GROUP BY g.id ORDER BY g.created_at, g.id`
)

// UserEvents returns the newest limit events of subject, newest first.
func (s *Store) UserEvents(ctx context.Context, subject string, limit int) ([]store.Event, error) {
	return query(ctx, s, qUserEvents, func(row pgx.Row) (store.Event, error) {
		return scanEvent(row.(pgx.CollectableRow))
	}, subject, limit)
}

// SearchEvents returns the newest limit events that f selects, newest
// first.
func (s *Store) SearchEvents(ctx context.Context, f store.EventFilter, limit int) ([]store.Event, error) {
	var since *time.Time
	if !f.Since.IsZero() {
		since = &f.Since
	}
	return query(ctx, s, qSearchEvents, func(row pgx.Row) (store.Event, error) {
		return scanEvent(row.(pgx.CollectableRow))
	}, f.Reason, f.ClientID, f.Subject, since, limit)
}

// ListUserGrants returns the grants of subject live at now, oldest first,
// each with the issue time of its newest token.
func (s *Store) ListUserGrants(ctx context.Context, subject string, now time.Time) ([]store.GrantActivity, error) {
	return query(ctx, s, qListUserGrants, func(row pgx.Row) (store.GrantActivity, error) {
		var a store.GrantActivity
		err := row.Scan(&a.ID, &a.ClientID, &a.Subject, &a.Username, &a.Scope, &a.SessionID,
			&a.CreatedAt, &a.ExpiresAt, &a.LastIssued)
		a.CreatedAt, a.ExpiresAt, a.LastIssued = a.CreatedAt.UTC(), a.ExpiresAt.UTC(), a.LastIssued.UTC()
		return a, err
	}, subject, now)
}

// qGrantChain walks a grant's parents up to the grant that began its
// chain.
const qGrantChain = `WITH RECURSIVE c (id, parent, depth) AS (
		SELECT id, parent_grant_id, 0 FROM grants WHERE id = $1
		UNION ALL
		SELECT g.id, g.parent_grant_id, c.depth + 1 FROM c CROSS JOIN LATERAL (
			SELECT g.id, g.parent_grant_id FROM grants g WHERE g.id = c.parent OFFSET 0) g
	)
	SELECT id FROM c WHERE depth > 0 ORDER BY depth`

// GrantChain returns the grants grantID was exchanged from, its parent
// first.
func (s *Store) GrantChain(ctx context.Context, grantID string) ([]string, error) {
	return query(ctx, s, qGrantChain, func(row pgx.Row) (string, error) {
		var id string
		err := row.Scan(&id)
		return id, err
	}, grantID)
}
