-- 0002: Token Status List indexes, what each revocation covered, the
-- trusted issuers of the JWT bearer grant and their used assertion jtis,
-- and the counters the store hands out (status list indexes).

-- A token's index in its Token Status List; NULL when it has none (like jti).
ALTER TABLE tokens ADD COLUMN status_index INTEGER;

-- What a revocation covered: the grant's tokens unexpired at its time,
-- rotated ones included. token_hashes is their SHA-256 hashes concatenated
-- (32 bytes each, NULL for none); jtis and status_indexes are JSON arrays
-- of those tokens that have one; expires_at is the latest expiry among
-- them, NULL when the revocation covered no token.
ALTER TABLE revocation_events ADD COLUMN token_hashes BLOB;
ALTER TABLE revocation_events ADD COLUMN jtis TEXT NOT NULL DEFAULT '[]';
ALTER TABLE revocation_events ADD COLUMN status_indexes TEXT NOT NULL DEFAULT '[]';
ALTER TABLE revocation_events ADD COLUMN expires_at INTEGER;
-- DeleteEventsBefore finds old events by time (times are not monotonic in seq).
CREATE INDEX revocation_events_time ON revocation_events (time);

-- Events logged before this migration: their grants and tokens are all
-- still here (nothing deleted them yet), so their coverage is recomputed.
-- No token had a status index then.
UPDATE revocation_events AS e SET
    token_hashes = (SELECT unhex(group_concat(hex(t.hash), '' ORDER BY t.hash)) FROM tokens t
        WHERE t.grant_id = e.grant_id AND t.expires_at > e.time),
    jtis = (SELECT json_group_array(t.jti ORDER BY t.jti) FROM tokens t
        WHERE t.grant_id = e.grant_id AND t.expires_at > e.time AND t.jti IS NOT NULL),
    expires_at = (SELECT max(t.expires_at) FROM tokens t
        WHERE t.grant_id = e.grant_id AND t.expires_at > e.time);

-- Trusted issuers of JWT assertions (RFC 7523 §2.1).
CREATE TABLE issuers (
    issuer        TEXT PRIMARY KEY,
    jwks          BLOB NOT NULL,   -- a JWK Set document, or empty
    jwks_uri      TEXT NOT NULL,   -- or ''
    subject_claim TEXT NOT NULL,   -- '' means "sub"
    created_at    INTEGER NOT NULL
) STRICT;

-- The jtis of the assertions used, per issuer, until they expire. No
-- foreign key to issuers: a replay stays a replay if its issuer is deleted
-- and added again.
CREATE TABLE used_jtis (
    issuer     TEXT NOT NULL,
    jti        TEXT NOT NULL,
    expires_at INTEGER NOT NULL,
    PRIMARY KEY (issuer, jti)
) STRICT, WITHOUT ROWID;
CREATE INDEX used_jtis_expires_at ON used_jtis (expires_at);

-- Counters: value is the next number to hand out.
CREATE TABLE counters (
    name  TEXT PRIMARY KEY,
    value INTEGER NOT NULL
) STRICT;
INSERT INTO counters (name, value) VALUES ('status_index', 1);
