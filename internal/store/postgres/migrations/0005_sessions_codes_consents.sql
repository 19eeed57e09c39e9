-- 0005: browser sign-in, the same tables as the SQLite backend's 0006.
-- Grants record the session they were made in and whether their scope
-- holds offline_access (set from the scope when the grant is created), so
-- that ending a session revokes its grants but the offline ones with one
-- indexed statement; sessions, authorization codes and consents get
-- tables of their own.

-- NULL for a grant made outside a browser session.
ALTER TABLE grants
    ADD COLUMN session_id text,
    ADD COLUMN offline boolean NOT NULL DEFAULT false;
CREATE INDEX grants_session_id ON grants (session_id) WHERE session_id IS NOT NULL;

-- No foreign key to users: a deleted user's sessions end and stay until
-- the sweep removes them.
CREATE TABLE sessions (
    id         text PRIMARY KEY,   -- the sid
    user_id    text NOT NULL,
    username   text NOT NULL,
    auth_time  timestamptz NOT NULL,
    method     text NOT NULL,
    user_agent text NOT NULL,
    address    text NOT NULL,
    created_at timestamptz NOT NULL,
    last_seen  timestamptz NOT NULL,
    expires_at timestamptz NOT NULL,
    ended_at   timestamptz         -- NULL while not ended
);
CREATE INDEX sessions_user_id ON sessions (user_id);
CREATE INDEX sessions_expires_at ON sessions (expires_at);
CREATE INDEX sessions_ended_at ON sessions (ended_at) WHERE ended_at IS NOT NULL;

-- Authorization codes (RFC 6749 §4.1), by SHA-256 only. used_at and
-- grant_id are set by the exchange: a second one revokes that grant. The
-- row lock orders concurrent exchanges of one code.
CREATE TABLE auth_codes (
    hash           bytea PRIMARY KEY CHECK (length(hash) = 32),
    client_id      text NOT NULL,
    redirect_uri   text NOT NULL,
    code_challenge text NOT NULL,
    user_id        text NOT NULL,
    username       text NOT NULL,
    session_id     text NOT NULL,
    scope          text NOT NULL,
    nonce          text NOT NULL,
    auth_time      timestamptz NOT NULL,
    created_at     timestamptz NOT NULL,
    expires_at     timestamptz NOT NULL,
    used_at        timestamptz,
    grant_id       text
);
CREATE INDEX auth_codes_expires_at ON auth_codes (expires_at);

-- What each user agreed each client may have.
CREATE TABLE consents (
    user_id    text NOT NULL,
    client_id  text NOT NULL,
    scope      text NOT NULL,
    created_at timestamptz NOT NULL,
    updated_at timestamptz NOT NULL,
    PRIMARY KEY (user_id, client_id)
);
CREATE INDEX consents_client_id ON consents (client_id);
