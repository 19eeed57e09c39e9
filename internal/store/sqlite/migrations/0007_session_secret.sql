-- 0007: a session's secret. The session ID is the sid that ID Tokens carry
-- to clients, so the browser's cookie holds a secret beside it, stored as
-- its SHA-256 only. A session stored before has none (an empty blob),
-- which no cookie matches.
ALTER TABLE sessions ADD COLUMN secret_hash BLOB NOT NULL DEFAULT x'';
