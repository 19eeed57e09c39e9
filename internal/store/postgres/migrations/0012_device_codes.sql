-- 0012: the device authorization grant (RFC 8628). A request is stored by
-- the SHA-256 of its device code and of its normalised user code; the
-- person's decision, the polls (for slow_down) and the grant its exchange
-- created are recorded on it. The user code is unique while its row
-- lives, so the verification page finds one request at most. The SQLite
-- backend's 0013.
CREATE TABLE device_codes (
    device_hash    bytea PRIMARY KEY,
    user_hash      bytea NOT NULL UNIQUE,
    client_id      text NOT NULL,
    scope          text NOT NULL,
    status         text NOT NULL,        -- pending, approved, denied, used
    interval_s     integer NOT NULL,     -- least seconds between polls
    last_polled_at timestamptz,          -- NULL before the first poll
    user_id        text NOT NULL DEFAULT '',
    username       text NOT NULL DEFAULT '',
    session_id     text NOT NULL DEFAULT '',
    auth_time      timestamptz,
    grant_id       text NOT NULL DEFAULT '',
    created_at     timestamptz NOT NULL,
    expires_at     timestamptz NOT NULL
);
CREATE INDEX device_codes_expires_at ON device_codes (expires_at);
