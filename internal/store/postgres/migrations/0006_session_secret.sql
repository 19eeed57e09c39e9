-- 0006: a session's secret, as the SQLite backend's 0007. The session ID
-- is the sid that ID Tokens carry to clients, so the browser's cookie
-- holds a secret beside it, stored as its SHA-256 only. A session stored
-- before has none (an empty string of bytes), which no cookie matches.
ALTER TABLE sessions ADD COLUMN secret_hash bytea NOT NULL DEFAULT ''::bytea
    CHECK (length(secret_hash) IN (0, 32));
