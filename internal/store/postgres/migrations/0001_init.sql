-- 0001: the first schema, the same tables as the SQLite backend's 0001.
--
-- Conventions: times are timestamptz (microseconds; tokend writes
-- milliseconds); durations are bigint nanoseconds (a time.Duration); lists
-- of strings are text[]; token hashes are the 32 bytes of a SHA-256.

CREATE TABLE clients (
    id                   text PRIMARY KEY,
    name                 text NOT NULL,
    secret_hash          text NOT NULL,   -- '' for a public client
    auth_method          text NOT NULL,
    grant_types          text[] NOT NULL,
    redirect_uris        text[] NOT NULL,
    token_format         text NOT NULL,
    can_introspect       boolean NOT NULL,
    access_token_ttl     bigint NOT NULL,
    app_access_token_ttl bigint NOT NULL,
    refresh_token_ttl    bigint NOT NULL,
    disabled             boolean NOT NULL,
    created_at           timestamptz NOT NULL,
    updated_at           timestamptz NOT NULL
);

CREATE TABLE users (
    id            text PRIMARY KEY,
    username      text NOT NULL UNIQUE,
    password_hash text NOT NULL,
    admin         boolean NOT NULL,
    disabled      boolean NOT NULL,
    created_at    timestamptz NOT NULL,
    updated_at    timestamptz NOT NULL
);

-- No foreign key to clients or users: a deleted client's or user's revoked
-- grants, and their events, stay until the expiry sweep removes them.
--
-- The grant row is the lock of its token family: every statement that
-- changes a token of the grant (rotation) or the grant itself (revocation)
-- holds the row lock first, so rotations and revocations of one family run
-- one after the other.
CREATE TABLE grants (
    id         text PRIMARY KEY,
    client_id  text NOT NULL,
    subject    text NOT NULL,
    username   text NOT NULL,
    scope      text NOT NULL,
    created_at timestamptz NOT NULL,
    expires_at timestamptz NOT NULL,   -- expiry of the grant's longest-lived token
    revoked_at timestamptz             -- NULL while live
);
CREATE INDEX grants_subject ON grants (subject);
CREATE INDEX grants_client_id ON grants (client_id);
CREATE INDEX grants_expires_at ON grants (expires_at);

-- Tokens are stored by SHA-256 only. Revoked is a property of the grant.
CREATE TABLE tokens (
    hash       bytea PRIMARY KEY CHECK (length(hash) = 32),
    kind       text NOT NULL CHECK (kind IN ('access_token', 'refresh_token')),
    grant_id   text NOT NULL REFERENCES grants (id) ON DELETE CASCADE,
    jti        text,               -- JWT access tokens only
    issued_at  timestamptz NOT NULL,
    expires_at timestamptz NOT NULL,
    rotated_at timestamptz         -- refresh tokens: when exchanged
);
CREATE INDEX tokens_grant_id ON tokens (grant_id);
CREATE INDEX tokens_jti ON tokens (jti) WHERE jti IS NOT NULL;

-- The revocation log. The sequence is never reset, so a number is never
-- reused, even after the sweep deletes old events, and feed readers can
-- resume. Numbers are taken in one order and committed in another; see
-- Store.Events for how a reader never skips one.
CREATE TABLE revocation_events (
    seq       bigint GENERATED ALWAYS AS IDENTITY (SEQUENCE NAME revocation_seq) PRIMARY KEY,
    time      timestamptz NOT NULL,
    grant_id  text NOT NULL,
    client_id text NOT NULL,
    subject   text NOT NULL,
    reason    text NOT NULL,
    actor     text NOT NULL,
    tokens    integer NOT NULL    -- tokens of the grant still live when revoked
);
