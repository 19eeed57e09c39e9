package sqlitedrivers

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
)

// Hash is a token's SHA-256.
type Hash [32]byte

// Token is a token to issue; times are unix milliseconds, as stored.
type Token struct {
	Hash                Hash
	Kind                string // access_token or refresh_token
	JTI                 string // "" for none
	StatusIndex         int64  // 0 for none
	IssuedAt, ExpiresAt int64
}

// Grant is a grant to issue with its tokens.
type Grant struct {
	ID, ClientID, Subject, Username, Scope string
	SessionID, JKT, ParentID, Act          string
	Audience                               []string
	CreatedAt, ExpiresAt                   int64
	Tokens                                 []Token
}

// offline is store.Grant.Offline: the scope holds offline_access.
func (g *Grant) offline() bool {
	return strings.Contains(" "+g.Scope+" ", " offline_access ")
}

// Issue stores grants, each with its tokens, in one transaction, as the
// writer commits a batch of CreateGrant ops: one alone on its own
// statements (insertGrant), two or more on the shared multi-row INSERTs
// (createGrants).
func (s *Store) Issue(ctx context.Context, grants []Grant) error {
	t, err := s.begin(ctx)
	if err != nil {
		return err
	}
	if len(grants) == 1 {
		err = s.insertGrant(t, &grants[0])
	} else {
		err = s.createGrants(t, grants)
	}
	return t.commit(err)
}

// expiry is CreateGrant's: the grant's expiry raised to cover its tokens.
func expiry(g *Grant) int64 {
	exp := g.ExpiresAt
	for _, tok := range g.Tokens {
		exp = max(exp, tok.ExpiresAt)
	}
	return exp
}

func grantArgs(args []any, g *Grant) []any {
	return append(args, g.ID, g.ClientID, g.Subject, g.Username, g.Scope, g.SessionID, g.offline(), g.CreatedAt, expiry(g), g.JKT,
		g.ParentID, g.Act, strings.Join(g.Audience, " "))
}

func tokenArgs(args []any, grantID string, tok *Token) []any {
	var jti sql.NullString
	if tok.JTI != "" {
		jti = sql.NullString{String: tok.JTI, Valid: true}
	}
	var idx sql.NullInt64
	if tok.StatusIndex != 0 {
		idx = sql.NullInt64{Int64: tok.StatusIndex, Valid: true}
	}
	return append(args, tok.Hash[:], tok.Kind, grantID, jti, idx, tok.IssuedAt, tok.ExpiresAt)
}

func (s *Store) insertGrant(t *tx, g *Grant) error {
	if _, err := t.exec(s.st.insertGrant, grantArgs(nil, g)...); err != nil {
		return err
	}
	args := make([]any, 0, 7)
	for i := range g.Tokens {
		if _, err := t.exec(s.st.insertToken, tokenArgs(args[:0], g.ID, &g.Tokens[i])...); err != nil {
			return err
		}
	}
	return nil
}

// tokenOf is a token with its grant's ID, a row of the grouped INSERT.
type tokenOf struct {
	grantID string
	tok     *Token
}

func (s *Store) createGrants(t *tx, grants []Grant) error {
	args := make([]any, 0, 64*13)
	err := chunks(len(grants), func(k, off int) error {
		args = args[:0]
		for i := range grants[off : off+1<<k] {
			args = grantArgs(args, &grants[off+i])
		}
		_, err := t.exec(s.st.insertGrants[k], args...)
		return err
	})
	if err != nil {
		return err
	}
	var toks []tokenOf
	for i := range grants {
		for j := range grants[i].Tokens {
			toks = append(toks, tokenOf{grants[i].ID, &grants[i].Tokens[j]})
		}
	}
	return chunks(len(toks), func(k, off int) error {
		args = args[:0]
		for _, tt := range toks[off : off+1<<k] {
			args = tokenArgs(args, tt.grantID, tt.tok)
		}
		_, err := t.exec(s.st.insertTokens[k], args...)
		return err
	})
}

// Record is a token as a lookup finds it, with its grant's state: what
// scanToken reads.
type Record struct {
	Hash                               Hash
	Kind, GrantID, JTI                 string
	StatusIndex                        int64
	IssuedAt, ExpiresAt                int64
	Rotated, Revoked                   bool
	RevokedAt                          int64
	ClientID, Subject, Username, Scope string
	SessionID, JKT, ParentID, Act      string
	Audience                           []string
	GrantExpiresAt                     int64
}

type scanner interface{ Scan(dest ...any) error }

// scanToken scans a QLookupToken row (after the hash, in QLookupTokens).
func scanToken(sc scanner, first ...any) (Record, error) {
	var r Record
	var jti sql.NullString
	var idx, rotated, revoked sql.NullInt64
	var audience string
	dest := append(first, &r.Kind, &r.GrantID, &jti, &idx, &r.IssuedAt, &r.ExpiresAt, &rotated,
		&r.ClientID, &r.Subject, &r.Username, &r.Scope, &r.SessionID, &revoked, &r.GrantExpiresAt, &r.JKT,
		&r.ParentID, &r.Act, &audience)
	if err := sc.Scan(dest...); err != nil {
		return Record{}, err
	}
	if audience != "" {
		r.Audience = strings.Fields(audience)
	}
	r.JTI, r.StatusIndex = jti.String, idx.Int64
	r.Rotated, r.Revoked, r.RevokedAt = rotated.Valid, revoked.Valid, revoked.Int64
	return r, nil
}

// Lookup is LookupToken: the token with hash h on the read pool, or
// sql.ErrNoRows.
func (s *Store) Lookup(ctx context.Context, h Hash) (Record, error) {
	r, err := scanToken(s.st.readLookup.QueryRowContext(ctx, h[:]))
	r.Hash = h
	return r, err
}

// Revocation is a RevokeToken: the token Hash, expected of Kind, revoked
// by client ClientID at Time (unix ms).
type Revocation struct {
	Hash           Hash
	Kind, ClientID string
	Time           int64
	Reason, Actor  string
}

// Revoked is what a revocation reports: the grants it revoked (0 or 1
// here), their live tokens and its event's sequence number. Found is
// false for an unknown token or one of another kind.
type Revoked struct {
	Found  bool
	Grants int
	Tokens int
	Seq    int64
}

// Revoke runs revs in one transaction, as the writer commits a batch of
// RevokeToken ops: one alone on its own statements (revokeToken), two or
// more on the shared ones (revokeTokens).
func (s *Store) Revoke(ctx context.Context, revs []Revocation) ([]Revoked, error) {
	t, err := s.begin(ctx)
	if err != nil {
		return nil, err
	}
	res := make([]Revoked, len(revs))
	if len(revs) == 1 {
		err = s.revokeToken(t, &revs[0], &res[0])
	} else {
		err = s.revokeTokens(t, revs, res)
	}
	return res, t.commit(err)
}

func (s *Store) revokeToken(t *tx, rv *Revocation, res *Revoked) error {
	r, err := scanToken(t.stmt(s.st.lookupToken).QueryRowContext(t.ctx, rv.Hash[:]))
	if errors.Is(err, sql.ErrNoRows) || err == nil && r.Kind != rv.Kind {
		return nil // unwritten: not found
	}
	if err != nil {
		return err
	}
	res.Found = true
	if r.Revoked || r.ClientID != rv.ClientID {
		return nil
	}
	args := []any{rv.Time, rv.Reason, rv.Actor, r.GrantID}
	rows, err := t.query(s.st.revokeEvents, args...)
	if err != nil {
		return err
	}
	for rows.Next() {
		e, err := scanEvent(rows)
		if err != nil {
			rows.Close()
			return err
		}
		res.Grants++
		res.Tokens += e.tokens
		res.Seq = max(res.Seq, e.seq)
	}
	if err := errors.Join(rows.Err(), rows.Close()); err != nil || res.Grants == 0 {
		return err
	}
	_, err = t.exec(s.st.revokeGrant, args...)
	return err
}

// grantRevocation is a grant to revoke and where its result goes.
type grantRevocation struct {
	grantID string
	rv      *Revocation
	res     *Revoked
}

func (s *Store) revokeTokens(t *tx, revs []Revocation, res []Revoked) error {
	found, err := s.lookupTokens(t, revs)
	if err != nil {
		return err
	}
	owner := make(map[string]*Revocation, len(revs))
	var revoking []grantRevocation
	for j := range revs {
		rv := &revs[j]
		r, ok := found[rv.Hash]
		if !ok || r.Kind != rv.Kind {
			continue
		}
		res[j].Found = true
		if _, ok := owner[r.GrantID]; ok || r.Revoked || r.ClientID != rv.ClientID {
			continue
		}
		owner[r.GrantID] = rv
		revoking = append(revoking, grantRevocation{r.GrantID, rv, &res[j]})
	}
	return s.revokeGrantsOf(t, revoking)
}

func (s *Store) lookupTokens(t *tx, revs []Revocation) (map[Hash]Record, error) {
	found := make(map[Hash]Record, len(revs))
	args := make([]any, 0, 64)
	err := chunks(len(revs), func(k, off int) error {
		args = args[:0]
		for i := range revs[off : off+1<<k] {
			args = append(args, revs[off+i].Hash[:])
		}
		rows, err := t.query(s.st.lookupTokens[k], args...)
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			var hash []byte
			r, err := scanToken(rows, &hash)
			if err != nil {
				return err
			}
			if len(hash) != len(r.Hash) {
				return fmt.Errorf("token hash of %d bytes", len(hash))
			}
			r.Hash = Hash(hash)
			found[r.Hash] = r
		}
		return rows.Err()
	})
	return found, err
}

func (s *Store) revokeGrantsOf(t *tx, revs []grantRevocation) error {
	byGrant := make(map[string]*Revoked, len(revs))
	args := make([]any, 0, 64*5)
	err := chunks(len(revs), func(k, off int) error {
		args = args[:0]
		for i, r := range revs[off : off+1<<k] {
			byGrant[r.grantID] = r.res
			args = append(args, i, r.grantID, r.rv.Time, r.rv.Reason, r.rv.Actor)
		}
		rows, err := t.query(s.st.revokeEventsN[k], args...)
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			e, err := scanEvent(rows)
			if err != nil {
				return err
			}
			if res := byGrant[e.grantID]; res != nil {
				res.Grants, res.Tokens, res.Seq = 1, e.tokens, e.seq
			}
		}
		return rows.Err()
	})
	if err != nil {
		return err
	}
	return chunks(len(revs), func(k, off int) error {
		args = args[:0]
		for _, r := range revs[off : off+1<<k] {
			args = append(args, r.grantID, r.rv.Time)
		}
		_, err := t.exec(s.st.revokeGrants[k], args...)
		return err
	})
}

// event is what the store's writer reads of each event a revocation
// statement returns (tokendsql.EventColumns), for the feed.
type event struct {
	seq, at, expiresAt                        int64
	grantID, clientID, subject, reason, actor string
	tokens                                    int
	hashes                                    []byte
	jtis, indexes, sessionID, parent, claims  string
}

// scanEvent scans a row of tokendsql.EventColumns and hasChildren, as the
// store's scanEventAnd does.
func scanEvent(rows *sql.Rows) (event, error) {
	var e event
	var expires sql.NullInt64
	var children bool
	err := rows.Scan(&e.seq, &e.at, &e.grantID, &e.clientID, &e.subject, &e.reason, &e.actor, &e.tokens,
		&e.hashes, &e.jtis, &e.indexes, &expires, &e.sessionID, &e.parent, &e.claims, &children)
	e.expiresAt = expires.Int64
	return e, err
}
