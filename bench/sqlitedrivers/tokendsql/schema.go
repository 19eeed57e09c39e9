// Package tokendsql holds what the driver comparison copies from tokend's
// SQLite store (internal/store/sqlite), which a module of its own cannot
// import: the schema of the tables the hot writes touch, the pragmas of
// the store's connections, and the statements of the writer and of a token
// lookup. Keep it in step with the store when those change.
package tokendsql

// Schema is the store's grants, tokens and revocation_events tables, their
// indexes and the trigger on grants, as migrations 0001 to 0018 leave them
// (columns added by ALTER TABLE come last, in the migrations' order). The
// other tables are left out: no statement here reads or writes them.
const Schema = `
CREATE TABLE grants (
    id         TEXT PRIMARY KEY,
    client_id  TEXT NOT NULL,
    subject    TEXT NOT NULL,
    username   TEXT NOT NULL,
    scope      TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    expires_at INTEGER NOT NULL,
    revoked_at INTEGER,
    session_id TEXT,                        -- 0006
    offline INTEGER NOT NULL DEFAULT 0,     -- 0006
    dpop_jkt TEXT,                          -- 0011
    parent_grant_id TEXT,                   -- 0015
    act TEXT,                               -- 0015
    audience TEXT                           -- 0015
) STRICT;
CREATE INDEX grants_subject ON grants (subject);
CREATE INDEX grants_client_id ON grants (client_id);
CREATE INDEX grants_expires_at ON grants (expires_at);
CREATE INDEX grants_session_id ON grants (session_id) WHERE session_id IS NOT NULL;
CREATE INDEX grants_parent ON grants (parent_grant_id) WHERE parent_grant_id IS NOT NULL;

CREATE TRIGGER grants_parent_live BEFORE INSERT ON grants
WHEN NEW.parent_grant_id IS NOT NULL AND NOT EXISTS (
    SELECT 1 FROM grants p WHERE p.id = NEW.parent_grant_id AND p.revoked_at IS NULL)
BEGIN
    SELECT RAISE(ABORT, 'tokend: parent grant not live');
END;

-- 0013: tokens in issue order, found by hash through an index.
CREATE TABLE tokens (
    id           INTEGER PRIMARY KEY,
    hash         BLOB NOT NULL,
    kind         TEXT NOT NULL,
    grant_id     TEXT NOT NULL REFERENCES grants (id) ON DELETE CASCADE,
    jti          TEXT,
    issued_at    INTEGER NOT NULL,
    expires_at   INTEGER NOT NULL,
    rotated_at   INTEGER,
    status_index INTEGER
) STRICT;
CREATE UNIQUE INDEX tokens_hash ON tokens (hash);
CREATE INDEX tokens_grant_id ON tokens (grant_id, issued_at, expires_at, rotated_at); -- 0018
CREATE INDEX tokens_expires_at ON tokens (expires_at);                               -- 0018

CREATE TABLE revocation_events (
    seq       INTEGER PRIMARY KEY AUTOINCREMENT,
    time      INTEGER NOT NULL,
    grant_id  TEXT NOT NULL,
    client_id TEXT NOT NULL,
    subject   TEXT NOT NULL,
    reason    TEXT NOT NULL,
    actor     TEXT NOT NULL,
    tokens    INTEGER NOT NULL,
    token_hashes BLOB,                          -- 0002
    jtis TEXT NOT NULL DEFAULT '[]',            -- 0002
    status_indexes TEXT NOT NULL DEFAULT '[]',  -- 0002
    expires_at INTEGER,                         -- 0002
    session_id TEXT,                            -- 0008
    parent_grant_id TEXT,                       -- 0015
    claims TEXT                                 -- 0017
) STRICT;
CREATE INDEX revocation_events_time ON revocation_events (time);
CREATE INDEX revocation_events_subject ON revocation_events (subject, seq);
`

// A Pragma is one pragma a connection runs when it opens: PRAGMA Name = Value.
type Pragma struct{ Name, Value string }

// Pragmas are the pragmas of the store's connections (sqlite.go's dsn), in
// its order: the writer's one connection, or a connection of the read
// pool. The writer's transactions also begin IMMEDIATE (_txlock).
func Pragmas(writer bool) []Pragma {
	p := []Pragma{{"busy_timeout", "5000"}, {"foreign_keys", "1"}}
	if writer {
		return append(p,
			Pragma{"journal_mode", "wal"},
			Pragma{"synchronous", "full"},
			Pragma{"temp_store", "memory"},
			Pragma{"cache_size", "-65536"},       // writerCacheKiB, 64 MiB
			Pragma{"wal_autocheckpoint", "8000"}, // walCheckpointPages
		)
	}
	return append(p, Pragma{"query_only", "1"})
}
