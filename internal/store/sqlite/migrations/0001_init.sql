-- 0001: the first schema.
--
-- Conventions: times are INTEGER unix milliseconds; durations are INTEGER
-- nanoseconds (a time.Duration); lists of strings are TEXT holding a JSON
-- array; booleans are INTEGER 0 or 1. Tables are STRICT.

CREATE TABLE clients (
    id                   TEXT PRIMARY KEY,
    name                 TEXT NOT NULL,
    secret_hash          TEXT NOT NULL,   -- '' for a public client
    auth_method          TEXT NOT NULL,
    grant_types          TEXT NOT NULL,   -- JSON array
    redirect_uris        TEXT NOT NULL,   -- JSON array
    token_format         TEXT NOT NULL,
    can_introspect       INTEGER NOT NULL,
    access_token_ttl     INTEGER NOT NULL,
    app_access_token_ttl INTEGER NOT NULL,
    refresh_token_ttl    INTEGER NOT NULL,
    disabled             INTEGER NOT NULL,
    created_at           INTEGER NOT NULL,
    updated_at           INTEGER NOT NULL
) STRICT;

CREATE TABLE users (
    id            TEXT PRIMARY KEY,
    username      TEXT NOT NULL UNIQUE,
    password_hash TEXT NOT NULL,
    admin         INTEGER NOT NULL,
    disabled      INTEGER NOT NULL,
    created_at    INTEGER NOT NULL,
    updated_at    INTEGER NOT NULL
) STRICT;

-- No foreign key to clients or users: a deleted client's or user's revoked
-- grants, and their events, stay until the expiry sweep removes them.
CREATE TABLE grants (
    id         TEXT PRIMARY KEY,
    client_id  TEXT NOT NULL,
    subject    TEXT NOT NULL,
    username   TEXT NOT NULL,
    scope      TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    expires_at INTEGER NOT NULL,   -- expiry of the grant's longest-lived token
    revoked_at INTEGER             -- NULL while live
) STRICT;
CREATE INDEX grants_subject ON grants (subject);
CREATE INDEX grants_client_id ON grants (client_id);
CREATE INDEX grants_expires_at ON grants (expires_at);

-- Tokens are stored by SHA-256 only. Revoked is a property of the grant.
CREATE TABLE tokens (
    hash       BLOB PRIMARY KEY,
    kind       TEXT NOT NULL,      -- access_token or refresh_token
    grant_id   TEXT NOT NULL REFERENCES grants (id) ON DELETE CASCADE,
    jti        TEXT,               -- JWT access tokens only
    issued_at  INTEGER NOT NULL,
    expires_at INTEGER NOT NULL,
    rotated_at INTEGER             -- refresh tokens: when exchanged
) STRICT, WITHOUT ROWID;
CREATE INDEX tokens_grant_id ON tokens (grant_id);
CREATE INDEX tokens_jti ON tokens (jti) WHERE jti IS NOT NULL;

-- The revocation log. AUTOINCREMENT: a sequence number is never reused,
-- even after the sweep deletes old events, so feed readers can resume.
CREATE TABLE revocation_events (
    seq       INTEGER PRIMARY KEY AUTOINCREMENT,
    time      INTEGER NOT NULL,
    grant_id  TEXT NOT NULL,
    client_id TEXT NOT NULL,
    subject   TEXT NOT NULL,
    reason    TEXT NOT NULL,
    actor     TEXT NOT NULL,
    tokens    INTEGER NOT NULL    -- tokens of the grant still live when revoked
) STRICT;
