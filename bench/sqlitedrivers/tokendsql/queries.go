package tokendsql

import "strings"

// The statements below are copied from internal/store/sqlite (grants.go,
// group.go, exchange.go), constant by constant.

const (
	// QInsertGrant is grants.go's qInsertGrant: an issuance alone.
	QInsertGrant = `INSERT INTO grants (` + grantColumns + `) VALUES ` + grantValues
	grantColumns = `id, client_id, subject, username, scope, session_id, offline, created_at, expires_at, dpop_jkt,
		parent_grant_id, act, audience`
	grantValues = `(?, ?, ?, ?, ?, nullif(?, ''), ?, ?, ?, nullif(?, ''), nullif(?, ''), nullif(?, ''), nullif(?, ''))`
	// QInsertToken is grants.go's qInsertToken.
	QInsertToken = `INSERT INTO tokens (hash, kind, grant_id, jti, status_index, issued_at, expires_at)
		VALUES (?, ?, ?, ?, ?, ?, ?)`
	// QLookupToken is grants.go's qLookupToken: LookupToken on the read
	// pool, and a revocation's lookup on the writer when it runs alone.
	QLookupToken = `SELECT t.kind, t.grant_id, t.jti, t.status_index, t.issued_at, t.expires_at, t.rotated_at,
			g.client_id, g.subject, g.username, g.scope, coalesce(g.session_id, ''), g.revoked_at, g.expires_at,
			` + lookupGrantColumns + `
		FROM tokens t JOIN grants g ON g.id = t.grant_id WHERE t.hash = ?`
	lookupGrantColumns = `coalesce(g.dpop_jkt, ''), coalesce(g.parent_grant_id, ''), coalesce(g.act, ''), coalesce(g.audience, '')`

	insertEvents = `INSERT INTO revocation_events (time, grant_id, client_id, subject, session_id, reason, actor, tokens,
			token_hashes, jtis, status_indexes, expires_at, parent_grant_id)`
	coveredTokens = `count(t.hash) FILTER (WHERE t.rotated_at IS NULL),
			unhex(group_concat(hex(t.hash), '') FILTER (WHERE t.hash IS NOT NULL)),
			json_group_array(t.jti) FILTER (WHERE t.jti IS NOT NULL),
			json_group_array(t.status_index) FILTER (WHERE t.status_index IS NOT NULL),
			max(t.expires_at)`
	// EventColumns is grants.go's eventColumns: what a statement that
	// appends events returns of each, for the writer to hand the feed.
	EventColumns = `seq, time, grant_id, client_id, subject, reason, actor, tokens,
			token_hashes, jtis, status_indexes, expires_at, coalesce(session_id, ''), coalesce(parent_grant_id, ''),
			coalesce(claims, '[]')`
	// hasChildren is exchange.go's: whether a revoked grant has a live
	// grant exchanged from it (the cascade, which never runs here).
	hasChildren = `EXISTS (SELECT 1 FROM grants c
		WHERE c.parent_grant_id = revocation_events.grant_id AND c.revoked_at IS NULL)`

	// QRevokeEvents and QRevokeGrant are grants.go's revokeSQL for byGrant
	// (cond g.id = ?4): a revocation of one grant alone. Parameters: ?1
	// time, ?2 reason, ?3 actor, ?4 grant ID.
	QRevokeEvents = insertEvents + `
		SELECT ?1, g.id, g.client_id, g.subject, g.session_id, ?2, ?3, ` + coveredTokens + `, g.parent_grant_id
		FROM grants g LEFT JOIN tokens t ON t.grant_id = g.id AND t.expires_at > ?1
		WHERE g.revoked_at IS NULL AND g.id = ?4
		GROUP BY g.id
		ORDER BY g.created_at, g.id
		RETURNING ` + EventColumns + `, ` + hasChildren
	QRevokeGrant = `UPDATE grants AS g SET revoked_at = ?1 WHERE g.revoked_at IS NULL AND g.id = ?4`
)

// MaxChunkLog is group.go's: a shared statement takes 1, 2, 4, ... or 64
// rows.
const (
	MaxChunkLog = 6
	MaxChunk    = 1 << MaxChunkLog
)

func rowList(row string, n int) string {
	return strings.TrimSuffix(strings.Repeat(row+",", n), ",")
}

// QInsertGrants is group.go's qInsertGrants: n grants.
func QInsertGrants(n int) string {
	return `INSERT INTO grants (` + grantColumns + `) VALUES ` + rowList(grantValues, n)
}

// QInsertTokens is group.go's qInsertTokens: n tokens.
func QInsertTokens(n int) string {
	return `INSERT INTO tokens (hash, kind, grant_id, jti, status_index, issued_at, expires_at) VALUES ` +
		rowList(`(?, ?, ?, ?, ?, ?, ?)`, n)
}

// QLookupTokens is group.go's qLookupTokens: QLookupToken for n hashes,
// each row led by its hash.
func QLookupTokens(n int) string {
	return `SELECT t.hash, t.kind, t.grant_id, t.jti, t.status_index, t.issued_at, t.expires_at, t.rotated_at,
			g.client_id, g.subject, g.username, g.scope, coalesce(g.session_id, ''), g.revoked_at, g.expires_at,
			` + lookupGrantColumns + `
		FROM tokens t JOIN grants g ON g.id = t.grant_id WHERE t.hash IN (` + rowList(`?`, n) + `)`
}

// QRevokeEventsN is group.go's qRevokeEvents: the events of n grants, rows
// (i, grant ID, time, reason, actor).
func QRevokeEventsN(n int) string {
	return `WITH r (i, gid, time, reason, actor) AS (VALUES ` + rowList(`(?, ?, ?, ?, ?)`, n) + `)
		` + insertEvents + `
		SELECT r.time, g.id, g.client_id, g.subject, g.session_id, r.reason, r.actor, ` + coveredTokens + `, g.parent_grant_id
		FROM r CROSS JOIN grants g ON g.id = r.gid LEFT JOIN tokens t ON t.grant_id = g.id AND t.expires_at > r.time
		WHERE g.revoked_at IS NULL
		GROUP BY r.i
		ORDER BY r.i
		RETURNING ` + EventColumns + `, ` + hasChildren
}

// QRevokeGrants is group.go's qRevokeGrants: n grants marked revoked, rows
// (grant ID, time).
func QRevokeGrants(n int) string {
	return `WITH r (gid, time) AS (VALUES ` + rowList(`(?, ?)`, n) + `)
		UPDATE grants AS g SET revoked_at = r.time FROM r WHERE g.id = r.gid AND g.revoked_at IS NULL`
}
