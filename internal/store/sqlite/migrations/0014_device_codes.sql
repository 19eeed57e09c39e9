-- 0014: the device authorization grant (RFC 8628). A request is stored by
-- the SHA-256 of its device code and of its normalised user code; the
-- person's decision, the polls (for slow_down) and the grant its exchange
-- created are recorded on it. The user code is unique while its row
-- lives, so the verification page finds one request at most.
CREATE TABLE device_codes (
    device_hash    BLOB PRIMARY KEY,
    user_hash      BLOB NOT NULL UNIQUE,
    client_id      TEXT NOT NULL,
    scope          TEXT NOT NULL,
    status         TEXT NOT NULL,        -- pending, approved, denied, used
    interval_s     INTEGER NOT NULL,     -- least seconds between polls
    last_polled_at INTEGER,              -- NULL before the first poll
    user_id        TEXT NOT NULL DEFAULT '',
    username       TEXT NOT NULL DEFAULT '',
    session_id     TEXT NOT NULL DEFAULT '',
    auth_time      INTEGER NOT NULL DEFAULT 0,
    grant_id       TEXT NOT NULL DEFAULT '',
    created_at     INTEGER NOT NULL,
    expires_at     INTEGER NOT NULL
) STRICT, WITHOUT ROWID;
CREATE INDEX device_codes_expires_at ON device_codes (expires_at);
