package sqlite

import (
	"context"
	"errors"
)

// Token exchange (RFC 8693): a grant exchanged from another names it
// (grants.parent_grant_id), and a revocation of a grant reaches every
// grant exchanged from it, transitively. Every revocation statement's
// events are followed by cascade, in the same transaction, so that every
// cause of a revocation (the revoke endpoint, bulk, a user disabled, a
// client deleted, a session ended...) cascades without knowing of it.

const (
	// hasChildren ends the RETURNING clause of a revocation's events: it
	// reports whether the grant has a live grant exchanged from it, one
	// probe of grants_parent, so that the cascade's statements run only
	// when there is something to cascade to.
	hasChildren = `EXISTS (SELECT 1 FROM grants c
		WHERE c.parent_grant_id = revocation_events.grant_id AND c.revoked_at IS NULL)`
	// qCascadeEvents appends one event for each live grant exchanged,
	// directly or not, from the grants of the events ?1 to ?2: the
	// revocations a statement just wrote, whose time, reason and actor
	// the grants below them inherit, a parent's event before its
	// children's (a chain is often exchanged within a millisecond, which
	// created_at does not order). The recursion walks the
	// grants_parent index, one probe per revoked grant; for a grant
	// exchanged from none it finds nothing. The CROSS JOIN keeps d the
	// outer loop: joined the other way, the planner scanned every grant to
	// meet d, on every revocation. Grants form trees (a parent
	// exists before its child), so UNION ALL meets no grant twice.
	qCascadeEvents = `WITH RECURSIVE d (id, time, reason, actor, depth) AS (
			SELECT c.id, e.time, e.reason, e.actor, 1
			FROM revocation_events e JOIN grants c ON c.parent_grant_id = e.grant_id
			WHERE e.seq BETWEEN ?1 AND ?2 AND c.revoked_at IS NULL
			UNION ALL
			SELECT c.id, d.time, d.reason, d.actor, d.depth + 1
			FROM d JOIN grants c ON c.parent_grant_id = d.id
			WHERE c.revoked_at IS NULL
		)
		` + insertEvents + `
		SELECT d.time, g.id, g.client_id, g.subject, g.session_id, d.reason, d.actor, ` + coveredTokens + `, g.parent_grant_id
		FROM d CROSS JOIN grants g ON g.id = d.id LEFT JOIN tokens t ON t.grant_id = g.id AND t.expires_at > d.time
		GROUP BY d.id
		ORDER BY min(d.depth), g.created_at, g.id
		RETURNING ` + eventColumns
	// qCascadeGrants marks revoked the grants of the events ?1 to ?2.
	qCascadeGrants = `UPDATE grants AS g SET revoked_at = e.time FROM revocation_events e
		WHERE e.seq BETWEEN ?1 AND ?2 AND g.id = e.grant_id AND g.revoked_at IS NULL`
	// qGrantChain walks a grant's parents up to the grant that began its
	// chain.
	qGrantChain = `WITH RECURSIVE c (id, parent, depth) AS (
			SELECT id, parent_grant_id, 0 FROM grants WHERE id = ?1
			UNION ALL
			SELECT g.id, g.parent_grant_id, c.depth + 1 FROM c JOIN grants g ON g.id = c.parent
		)
		SELECT id FROM c WHERE depth > 0 ORDER BY depth`
)

type exchangeStmts struct {
	cascadeEvents, cascadeGrants *stmt // on the writer
	grantChain                   *stmt // on the read pool
}

// prepareExchange prepares the cascade's statements and GrantChain's.
func (s *Store) prepareExchange(r, w *preparer) {
	s.xch = exchangeStmts{
		cascadeEvents: w.prep(qCascadeEvents),
		cascadeGrants: w.prep(qCascadeGrants),
		grantChain:    r.prep(qGrantChain),
	}
}

// cascaded is the event of a grant a cascade revoked.
type cascaded struct {
	seq     int64
	tokens  int
	grantID string
	parent  string
}

// cascade revokes, within t, every live grant exchanged from the grants
// whose events are first to last (written by the statement just run), and
// returns their events in order. One statement pair whatever the chain's
// depth.
func (s *Store) cascade(t *tx, first, last int64) ([]cascaded, error) {
	rows, err := t.query(s.xch.cascadeEvents, first, last)
	if err != nil {
		return nil, err
	}
	var out []cascaded
	for rows.Next() {
		e, err := scanEvent(rows)
		if err != nil {
			rows.Close()
			return nil, err
		}
		t.logged(e)
		out = append(out, cascaded{seq: e.Seq, tokens: e.Tokens, grantID: e.GrantID, parent: e.ParentGrantID})
	}
	if err := errors.Join(rows.Err(), rows.Close()); err != nil {
		return nil, err
	}
	if len(out) == 0 {
		return nil, nil
	}
	lo, hi := out[0].seq, out[0].seq
	for _, c := range out {
		lo, hi = min(lo, c.seq), max(hi, c.seq)
	}
	if _, err := t.exec(s.xch.cascadeGrants, lo, hi); err != nil {
		return nil, err
	}
	return out, nil
}

// GrantChain returns the grants grantID was exchanged from, its parent
// first.
func (s *Store) GrantChain(ctx context.Context, grantID string) ([]string, error) {
	return list(ctx, s.xch.grantChain, func(sc scanner) (string, error) {
		var id string
		err := sc.Scan(&id)
		return id, err
	}, grantID)
}
