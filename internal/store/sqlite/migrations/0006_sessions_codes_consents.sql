-- 0006: browser sign-in. Grants record the session they were made in and
-- whether their scope holds offline_access (set from the scope when the
-- grant is created), so that ending a session revokes its grants but the
-- offline ones with one indexed statement; sessions, authorization codes
-- and consents get tables of their own.

-- NULL for a grant made outside a browser session.
ALTER TABLE grants ADD COLUMN session_id TEXT;
ALTER TABLE grants ADD COLUMN offline INTEGER NOT NULL DEFAULT 0;
CREATE INDEX grants_session_id ON grants (session_id) WHERE session_id IS NOT NULL;

-- No foreign key to users: a deleted user's sessions end and stay until
-- the sweep removes them.
CREATE TABLE sessions (
    id         TEXT PRIMARY KEY,   -- the sid
    user_id    TEXT NOT NULL,
    username   TEXT NOT NULL,
    auth_time  INTEGER NOT NULL,
    method     TEXT NOT NULL,
    user_agent TEXT NOT NULL,
    address    TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    last_seen  INTEGER NOT NULL,
    expires_at INTEGER NOT NULL,
    ended_at   INTEGER             -- NULL while not ended
) STRICT;
CREATE INDEX sessions_user_id ON sessions (user_id);
CREATE INDEX sessions_expires_at ON sessions (expires_at);
CREATE INDEX sessions_ended_at ON sessions (ended_at) WHERE ended_at IS NOT NULL;

-- Authorization codes (RFC 6749 §4.1), by SHA-256 only. used_at and
-- grant_id are set by the exchange: a second one revokes that grant.
CREATE TABLE auth_codes (
    hash           BLOB PRIMARY KEY,
    client_id      TEXT NOT NULL,
    redirect_uri   TEXT NOT NULL,
    code_challenge TEXT NOT NULL,
    user_id        TEXT NOT NULL,
    username       TEXT NOT NULL,
    session_id     TEXT NOT NULL,
    scope          TEXT NOT NULL,
    nonce          TEXT NOT NULL,
    auth_time      INTEGER NOT NULL,
    created_at     INTEGER NOT NULL,
    expires_at     INTEGER NOT NULL,
    used_at        INTEGER,
    grant_id       TEXT
) STRICT, WITHOUT ROWID;
CREATE INDEX auth_codes_expires_at ON auth_codes (expires_at);

-- What each user agreed each client may have.
CREATE TABLE consents (
    user_id    TEXT NOT NULL,
    client_id  TEXT NOT NULL,
    scope      TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL,
    PRIMARY KEY (user_id, client_id)
) STRICT, WITHOUT ROWID;
CREATE INDEX consents_client_id ON consents (client_id);
