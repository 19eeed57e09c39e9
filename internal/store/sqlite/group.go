package sqlite

import (
	"database/sql"
	"errors"
	"fmt"
	"math/bits"
	"strings"
	"time"

	"github.com/tokend/tokend/internal/store"
)

// Grouping: a batch under load holds tens of issuances, revocations or
// refresh token rotations, and each ran its own statements (an issuance
// three INSERTs, a revocation a lookup, an INSERT ... SELECT and an UPDATE,
// a rotation a lookup, two UPDATEs and two INSERTs), paying per statement for
// binding, stepping and resetting SQLite's virtual machine. The writer
// runs the ops of one kind that a batch holds on shared statements
// instead: one multi-row INSERT for many grants, one lookup of many token
// hashes, one INSERT ... SELECT appending the events of many revoked
// grants. The B-tree work per op is the same; the statements' overhead is
// paid per chunk of up to maxChunk rows.
//
// The ops of a batch are concurrent calls, none of whose callers has been
// answered, so the order in which the transaction runs them is free: the
// writer runs each group first, then the batch's other ops in order. A
// group gives each op the result its own statements would have given in
// the group's order (two revocations of one grant: the first revokes it,
// the second finds it revoked). Any error of a shared statement fails the
// group's run, and the writer rolls the transaction back and runs the
// batch again, each op on its own statements under a savepoint (see
// commit), so that a failing op (a duplicate grant ID, say) fails alone.

// groupKind names the ops the writer may run together.
type groupKind uint8

const (
	groupIssue       groupKind = iota // CreateGrant: *createGrantOp
	groupRevokeToken                  // RevokeToken: *revokeTokenOp
	groupRevokeGrant                  // RevokeGrant: *revokeGrantOp
	groupRotate                       // RotateRefresh: *rotateOp
	numGroupKinds
)

// A grouped op carries its arguments and results in a value of its kind's
// type, which both its own fn and its group's run read and write.
type grouped interface{ groupKind() groupKind }

// maxChunkLog: a shared statement takes 1, 2, 4, ... or 64 rows, each size
// prepared once at Open; n rows run as the chunks of n's binary digits
// (100 = 64 + 32 + 4), at most log2(n)+1 executions, never a statement
// parsed at run time.
const (
	maxChunkLog = 6
	maxChunk    = 1 << maxChunkLog
)

// multi is one shared statement in each chunk size: multi[k] takes 1<<k
// rows.
type multi [maxChunkLog + 1]*stmt

// prepMulti prepares query(n) for each chunk size n.
func (p *preparer) prepMulti(query func(n int) string) multi {
	var m multi
	for k := range m {
		m[k] = p.prep(query(1 << k))
	}
	return m
}

// chunks calls fn for consecutive chunks covering rows [0, n): the rows
// [off, off+1<<k) run on statement k.
func chunks(n int, fn func(k, off int) error) error {
	for off := 0; off < n; {
		k := min(bits.Len(uint(n-off))-1, maxChunkLog)
		if err := fn(k, off); err != nil {
			return err
		}
		off += 1 << k
	}
	return nil
}

// rowList returns n copies of row, comma-separated: a VALUES list.
func rowList(row string, n int) string {
	return strings.TrimSuffix(strings.Repeat(row+",", n), ",")
}

// groupStmts are the shared statements.
type groupStmts struct {
	insertGrants, insertTokens multi
	lookupTokens               multi
	revokeEvents, revokeGrants multi
	markRotated, extendGrants  multi
}

func qInsertGrants(n int) string {
	return `INSERT INTO grants (` + grantColumns + `) VALUES ` + rowList(grantValues, n)
}

func qInsertTokens(n int) string {
	return `INSERT INTO tokens (hash, kind, grant_id, jti, status_index, issued_at, expires_at) VALUES ` +
		rowList(`(?, ?, ?, ?, ?, ?, ?)`, n)
}

// qLookupTokens is qLookupToken for n hashes, each row led by its hash.
func qLookupTokens(n int) string {
	return `SELECT t.hash, t.kind, t.grant_id, t.jti, t.status_index, t.issued_at, t.expires_at, t.rotated_at,
			g.client_id, g.subject, g.username, g.scope, coalesce(g.session_id, ''), g.revoked_at, g.expires_at,
			` + lookupGrantColumns + `
		FROM tokens t JOIN grants g ON g.id = t.grant_id WHERE t.hash IN (` + rowList(`?`, n) + `)`
}

// qRevokeEvents is revokeSQL's events statement for byGrant, for n grants
// each with its own revocation: rows (i, grant ID, time, reason, actor),
// i giving the events' order.
func qRevokeEvents(n int) string {
	return `WITH r (i, gid, time, reason, actor) AS (VALUES ` + rowList(`(?, ?, ?, ?, ?)`, n) + `)
		` + insertEvents + `
		SELECT r.time, g.id, g.client_id, g.subject, g.session_id, r.reason, r.actor, ` + coveredTokens + `, g.parent_grant_id
		FROM r CROSS JOIN grants g ON g.id = r.gid LEFT JOIN tokens t ON t.grant_id = g.id AND t.expires_at > r.time
		WHERE g.revoked_at IS NULL
		GROUP BY r.i
		ORDER BY r.i
		RETURNING ` + eventColumns + `, ` + hasChildren
}

// qRevokeGrants marks n grants revoked: rows (grant ID, time).
func qRevokeGrants(n int) string {
	return `WITH r (gid, time) AS (VALUES ` + rowList(`(?, ?)`, n) + `)
		UPDATE grants AS g SET revoked_at = r.time FROM r WHERE g.id = r.gid AND g.revoked_at IS NULL`
}

// qMarkRotatedMany marks n tokens rotated: rows (hash, time).
func qMarkRotatedMany(n int) string {
	return `WITH r (hash, at) AS (VALUES ` + rowList(`(?, ?)`, n) + `)
		UPDATE tokens AS t SET rotated_at = r.at FROM r WHERE t.hash = r.hash`
}

// qExtendGrants raises the expiry of n grants: rows (grant ID, expiry).
func qExtendGrants(n int) string {
	return `WITH r (gid, exp) AS (VALUES ` + rowList(`(?, ?)`, n) + `)
		UPDATE grants AS g SET expires_at = max(g.expires_at, r.exp) FROM r WHERE g.id = r.gid`
}

// prepareGroups prepares the shared statements.
func (s *Store) prepareGroups(w *preparer) {
	s.g = groupStmts{
		insertGrants: w.prepMulti(qInsertGrants),
		insertTokens: w.prepMulti(qInsertTokens),
		lookupTokens: w.prepMulti(qLookupTokens),
		revokeEvents: w.prepMulti(qRevokeEvents),
		revokeGrants: w.prepMulti(qRevokeGrants),
		markRotated:  w.prepMulti(qMarkRotatedMany),
		extendGrants: w.prepMulti(qExtendGrants),
	}
}

// runGroup runs the ops batch[i] for i in idx, all of kind k, on shared
// statements. An op's result goes to errs: nil, or an *unwritten error
// for an op refused before it wrote anything. Any other error fails the
// whole group, whose writes the caller must then roll back.
func (s *Store) runGroup(t *tx, k groupKind, batch []*op, idx []int, errs []error) (err error) {
	defer func() {
		if v := recover(); v != nil {
			err = fmt.Errorf("sqlite: group of %d ops panicked: %v", len(idx), v)
		}
	}()
	switch k {
	case groupIssue:
		ops := make([]*createGrantOp, len(idx))
		for j, i := range idx {
			ops[j] = batch[i].group.(*createGrantOp)
		}
		return s.createGrants(t, ops)
	case groupRevokeToken:
		ops := make([]*revokeTokenOp, len(idx))
		for j, i := range idx {
			ops[j] = batch[i].group.(*revokeTokenOp)
		}
		return s.revokeTokens(t, ops, errs)
	case groupRevokeGrant:
		ops := make([]*revokeGrantOp, len(idx))
		for j, i := range idx {
			ops[j] = batch[i].group.(*revokeGrantOp)
		}
		return s.revokeGrants(t, ops)
	case groupRotate:
		ops := make([]*rotateOp, len(idx))
		for j, i := range idx {
			ops[j] = batch[i].group.(*rotateOp)
		}
		return s.rotations(t, ops, errs)
	}
	return fmt.Errorf("sqlite: unknown group kind %d", k)
}

// createGrantOp is a CreateGrant: grant g, expiring at exp, with tokens.
type createGrantOp struct {
	g      store.Grant
	exp    int64
	tokens []store.Token
}

func (*createGrantOp) groupKind() groupKind { return groupIssue }

// createGrants inserts the grants of ops with one multi-row INSERT per
// chunk, then their tokens likewise.
func (s *Store) createGrants(t *tx, ops []*createGrantOp) error {
	args := make([]any, 0, maxChunk*13)
	err := chunks(len(ops), func(k, off int) error {
		args = args[:0]
		for _, o := range ops[off : off+1<<k] {
			args = grantArgs(args, o.g, o.exp)
		}
		_, err := t.exec(s.g.insertGrants[k], args...)
		return err
	})
	if err != nil {
		return err
	}
	var toks []store.Token
	for _, o := range ops {
		toks = appendTokensOf(toks, o.g.ID, o.tokens)
	}
	return s.insertTokenRows(t, toks, args)
}

// appendTokensOf appends tokens to toks as tokens of grant grantID.
func appendTokensOf(toks []store.Token, grantID string, tokens []store.Token) []store.Token {
	for _, tok := range tokens {
		tok.GrantID = grantID
		toks = append(toks, tok)
	}
	return toks
}

// insertTokenRows inserts toks, each with its GrantID, with one multi-row
// INSERT per chunk; args is a buffer for the arguments.
func (s *Store) insertTokenRows(t *tx, toks []store.Token, args []any) error {
	return chunks(len(toks), func(k, off int) error {
		args = args[:0]
		for _, tok := range toks[off : off+1<<k] {
			args = appendTokenArgs(args, tok.GrantID, tok)
		}
		_, err := t.exec(s.g.insertTokens[k], args...)
		return err
	})
}

// revokeTokenOp is a RevokeToken: the token h, expected of kind, revoked
// by client clientID with rev; rec and res are its results.
type revokeTokenOp struct {
	h        store.Hash
	kind     store.TokenKind
	clientID string
	rev      store.Revocation
	rec      store.TokenRecord
	res      store.RevokeResult
}

func (*revokeTokenOp) groupKind() groupKind { return groupRevokeToken }

// revokeTokens runs ops as revokeToken would one after the other: one
// lookup of every hash, then the events and the revoked marks of the
// grants to revoke, one statement each per chunk.
func (s *Store) revokeTokens(t *tx, ops []*revokeTokenOp, errs []error) error {
	found, err := s.lookupTokens(t, ops)
	if err != nil {
		return err
	}
	owner := make(map[string]*revokeTokenOp, len(ops)) // grant ID: the op that revokes it
	var revoking []grantRevocation
	for j, o := range ops {
		o.rec, o.res = store.TokenRecord{}, store.RevokeResult{}
		f, ok := found[o.h]
		r := f.rec
		switch {
		case !ok:
			errs[j] = &unwritten{notFound(sql.ErrNoRows, "token")}
			continue
		case r.Kind != o.kind:
			errs[j] = &unwritten{fmt.Errorf("%w: token is a %s", store.ErrNotFound, r.Kind)}
			continue
		}
		if first, ok := owner[r.GrantID]; ok { // revoked by an earlier op of the group
			r.Revoked, r.RevokedAt = true, fromMS(ms(first.rev.Time))
		}
		o.rec = r
		if r.Revoked || r.ClientID != o.clientID {
			continue
		}
		owner[r.GrantID] = o
		revoking = append(revoking, grantRevocation{r.GrantID, o.rev, &o.res})
	}
	return s.revokeGrantsOf(t, revoking)
}

// revokeGrantOp is a RevokeGrant: grant grantID revoked with rev; res is
// its result.
type revokeGrantOp struct {
	grantID string
	rev     store.Revocation
	res     store.RevokeResult
}

func (*revokeGrantOp) groupKind() groupKind { return groupRevokeGrant }

// revokeGrants runs ops as RevokeGrant would one after the other: the
// first op of a grant revokes it, unless it is unknown or revoked
// already, and the others find it revoked, a zero result.
func (s *Store) revokeGrants(t *tx, ops []*revokeGrantOp) error {
	seen := make(map[string]bool, len(ops))
	revoking := make([]grantRevocation, 0, len(ops))
	for _, o := range ops {
		o.res = store.RevokeResult{}
		if !seen[o.grantID] {
			seen[o.grantID] = true
			revoking = append(revoking, grantRevocation{o.grantID, o.rev, &o.res})
		}
	}
	return s.revokeGrantsOf(t, revoking)
}

// lookupTokens reads the records of the tokens of ops, by hash.
func (s *Store) lookupTokens(t *tx, ops []*revokeTokenOp) (map[store.Hash]foundToken, error) {
	hashes := make([]store.Hash, len(ops))
	for j, o := range ops {
		hashes[j] = o.h
	}
	return s.lookupHashes(t, hashes)
}

// foundToken is a token's record and its grant's expiry (ms), as
// scanToken reads them.
type foundToken struct {
	rec          store.TokenRecord
	grantExpires int64
}

// lookupHashes reads the records of the tokens with these hashes.
func (s *Store) lookupHashes(t *tx, hashes []store.Hash) (map[store.Hash]foundToken, error) {
	found := make(map[store.Hash]foundToken, len(hashes))
	args := make([]any, 0, maxChunk)
	err := chunks(len(hashes), func(k, off int) error {
		args = args[:0]
		for _, h := range hashes[off : off+1<<k] {
			args = append(args, h[:])
		}
		rows, err := t.query(s.g.lookupTokens[k], args...)
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			var hash []byte
			r, grantExpires, err := scanToken(prefixed{rows, &hash}, store.Hash{})
			if err != nil {
				return err
			}
			if len(hash) != len(r.Hash) {
				return fmt.Errorf("sqlite: token hash of %d bytes", len(hash))
			}
			r.Hash = store.Hash(hash)
			found[r.Hash] = foundToken{r, grantExpires}
		}
		return rows.Err()
	})
	return found, err
}

// prefixed is a scanner whose first column goes to first.
type prefixed struct {
	sc    scanner
	first any
}

func (p prefixed) Scan(dest ...any) error {
	return p.sc.Scan(append([]any{p.first}, dest...)...)
}

// grantRevocation is a grant to revoke with rev, and where to put what
// its event reports.
type grantRevocation struct {
	grantID string
	rev     store.Revocation
	res     *store.RevokeResult
}

// revokeGrantsOf revokes each grant of revs, distinct grants, with its
// revocation, unless it is unknown or revoked already: the events in the
// order of revs, then the grants' marks. A revoked grant's res is what
// its event reports; the others' stay zero.
func (s *Store) revokeGrantsOf(t *tx, revs []grantRevocation) error {
	byGrant := make(map[string]*store.RevokeResult, len(revs))
	var first, last int64 // the events the group appends
	parents := false      // a revoked grant has a live grant exchanged from it
	args := make([]any, 0, maxChunk*5)
	err := chunks(len(revs), func(k, off int) error {
		args = args[:0]
		for i, r := range revs[off : off+1<<k] {
			byGrant[r.grantID] = r.res
			args = append(args, i, r.grantID, ms(r.rev.Time), r.rev.Reason, r.rev.Actor)
		}
		rows, err := t.query(s.g.revokeEvents[k], args...)
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			var children bool
			e, err := scanEventAnd(rows, &children)
			if err != nil {
				return err
			}
			t.logged(e)
			parents = parents || children
			if res := byGrant[e.GrantID]; res != nil {
				*res = store.RevokeResult{Grants: 1, Tokens: e.Tokens, Seq: e.Seq}
			}
			if first == 0 || e.Seq < first {
				first = e.Seq
			}
			last = max(last, e.Seq)
		}
		return rows.Err()
	})
	if err != nil {
		return err
	}
	err = chunks(len(revs), func(k, off int) error {
		args = args[:0]
		for _, r := range revs[off : off+1<<k] {
			args = append(args, r.grantID, ms(r.rev.Time))
		}
		_, err := t.exec(s.g.revokeGrants[k], args...)
		return err
	})
	if err != nil || !parents {
		return err
	}
	down, err := s.cascade(t, first, last)
	switch {
	case err != nil:
		return err
	case len(down) > 0 && len(revs) > 1:
		// Run one by one, each op's revocation followed by its cascade,
		// the events are numbered root, descendants, next root...; here
		// the roots came first. The group's run is undone and the batch
		// runs again op by op: revocations that cascade are rare.
		return errCascadeInGroup
	}
	attribute(byGrant, down)
	return nil
}

// errCascadeInGroup fails a group of revocations of which one cascaded to
// exchanged grants (see revokeGrantsOf).
var errCascadeInGroup = errors.New("sqlite: a grouped revocation cascaded to exchanged grants")

// attribute adds each grant a cascade revoked to the result of the op
// whose grant it was exchanged from, directly or not: byGrant maps the
// grants the ops revoked to their results.
func attribute(byGrant map[string]*store.RevokeResult, down []cascaded) {
	for len(down) > 0 {
		var later []cascaded // a child listed before its parent (created in the same millisecond)
		for _, c := range down {
			res, ok := byGrant[c.parent]
			if !ok {
				later = append(later, c)
				continue
			}
			byGrant[c.grantID] = res
			if res != nil {
				res.Grants++
				res.Tokens += c.tokens
				res.Seq = max(res.Seq, c.seq)
			}
		}
		if len(later) == len(down) {
			return // unreachable: every cascaded grant's parent was revoked here
		}
		down = later
	}
}

// rotateOp is a RotateRefresh of the refresh token old at now, for
// tokens; rec is its result.
type rotateOp struct {
	old    store.Hash
	now    time.Time
	tokens []store.Token
	rec    store.TokenRecord
}

func (*rotateOp) groupKind() groupKind { return groupRotate }

// errRunAlone fails a group whose ops cannot share statements, so that
// the writer runs them one by one; errReused is the one kind of rotation
// that must (see rotations).
var (
	errRunAlone = errors.New("sqlite: ops that must run alone")
	errReused   = fmt.Errorf("%w: a refresh token reused while its grant is live", errRunAlone)
)

// rotations runs ops as RotateRefresh would one after the other: one
// lookup of every refresh token, then one statement each per chunk to
// mark them rotated, insert the new tokens and extend the grants. A reuse
// of a token whose grant is live (errReused: it revokes the grant and logs
// it, which RotateRefresh does alone, o.rec naming the grant) and two
// rotations of one grant (the second must see the first's) are rare
// enough to run alone: the group fails, and the writer runs the batch
// one by one. Each op's refusal goes to errs, as RotateRefresh answers it.
func (s *Store) rotations(t *tx, ops []*rotateOp, errs []error) error {
	hashes := make([]store.Hash, len(ops))
	for j, o := range ops {
		hashes[j] = o.old
	}
	found, err := s.lookupHashes(t, hashes)
	if err != nil {
		return err
	}
	grants := make(map[string]bool, len(ops))
	var rotating []*rotateOp
	var exps []int64
	for j, o := range ops {
		o.rec = store.TokenRecord{}
		f, ok := found[o.old]
		r := f.rec
		switch {
		case !ok:
			errs[j] = &unwritten{notFound(sql.ErrNoRows, "refresh token")}
			continue
		case r.Kind != store.RefreshToken:
			errs[j] = &unwritten{fmt.Errorf("%w: not a refresh token", store.ErrNotFound)}
			continue
		case r.Rotated && r.Revoked:
			// Reused, its grant revoked already: nothing to write, and the
			// answer stands once the batch commits (an earlier op of it
			// may be what revoked the grant).
			errs[j] = &commitAnyway{store.ErrRefreshReused}
			continue
		case r.Rotated:
			o.rec = r
			return errReused
		case grants[r.GrantID]:
			return errRunAlone
		}
		if err := rotatable(r, f.grantExpires, o.now); err != nil {
			errs[j] = &unwritten{err}
			continue
		}
		exp, err := checkTokens(r.GrantID, o.tokens)
		if err != nil {
			errs[j] = &unwritten{err}
			continue
		}
		grants[r.GrantID] = true
		r.Rotated = true
		o.rec = r
		rotating = append(rotating, o)
		exps = append(exps, exp)
	}
	return s.rotate(t, rotating, exps)
}

// rotate writes the rotations ops, whose grants' new expiries are exps:
// old tokens marked rotated, new tokens inserted, grants extended.
func (s *Store) rotate(t *tx, ops []*rotateOp, exps []int64) error {
	args := make([]any, 0, maxChunk*7)
	err := chunks(len(ops), func(k, off int) error {
		args = args[:0]
		for _, o := range ops[off : off+1<<k] {
			args = append(args, o.old[:], ms(o.now))
		}
		_, err := t.exec(s.g.markRotated[k], args...)
		return err
	})
	if err != nil {
		return err
	}
	var toks []store.Token
	for _, o := range ops {
		toks = appendTokensOf(toks, o.rec.GrantID, o.tokens)
	}
	if err := s.insertTokenRows(t, toks, args); err != nil {
		return err
	}
	return chunks(len(ops), func(k, off int) error {
		args = args[:0]
		for i, o := range ops[off : off+1<<k] {
			args = append(args, o.rec.GrantID, exps[off+i])
		}
		_, err := t.exec(s.g.extendGrants[k], args...)
		return err
	})
}
