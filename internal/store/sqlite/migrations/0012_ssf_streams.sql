-- 0012: Shared Signals (SSF 1.0) streams. A client an admin allowed may
-- manage streams; each stream's SETs are queued in ssf_sets in the
-- transaction that moves the transmitter's cursor over the revocation log
-- (log_cursors), so that neither a restart nor a crash loses or repeats one.

ALTER TABLE clients ADD COLUMN ssf_streams INTEGER NOT NULL DEFAULT 0;

CREATE TABLE ssf_streams (
    id         TEXT PRIMARY KEY,
    owner      TEXT NOT NULL,      -- the client that created it; '' for an admin
    method     TEXT NOT NULL,      -- urn:ietf:rfc:8935 (push) or urn:ietf:rfc:8936 (poll)
    status     TEXT NOT NULL,      -- enabled, paused or disabled
    reason     TEXT NOT NULL,
    config     TEXT NOT NULL,      -- the rest of the configuration, JSON
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL
) STRICT, WITHOUT ROWID;

-- No foreign key: DeleteStream deletes a stream's SETs itself.
CREATE TABLE ssf_sets (
    id            INTEGER PRIMARY KEY,
    stream_id     TEXT NOT NULL,
    jti           TEXT NOT NULL,
    event_seq     INTEGER NOT NULL,
    claims        TEXT NOT NULL,   -- JSON, signed at each attempt
    state         TEXT NOT NULL,   -- pending, delivered or failed
    attempts      INTEGER NOT NULL,
    next_attempt  INTEGER NOT NULL,
    claim         TEXT NOT NULL,   -- '' when no claim holds it
    claimed_until INTEGER NOT NULL,
    error         TEXT NOT NULL,
    created_at    INTEGER NOT NULL,
    finished_at   INTEGER          -- NULL while pending
) STRICT;
CREATE UNIQUE INDEX ssf_sets_jti ON ssf_sets (stream_id, jti);
CREATE INDEX ssf_sets_pending ON ssf_sets (stream_id, id) WHERE state = 'pending';
CREATE INDEX ssf_sets_finished ON ssf_sets (finished_at) WHERE finished_at IS NOT NULL;
