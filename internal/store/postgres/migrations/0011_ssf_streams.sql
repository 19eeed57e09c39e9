-- 0011: Shared Signals (SSF 1.0) streams, the same tables as the SQLite
-- backend's 0011. Each stream's SETs are queued in ssf_sets in the
-- transaction that moves the transmitter's cursor over the revocation log
-- (log_cursors): of several instances, the one whose move commits first
-- queues each event.

ALTER TABLE clients ADD COLUMN ssf_streams boolean NOT NULL DEFAULT false;

CREATE TABLE ssf_streams (
    id         text PRIMARY KEY,
    owner      text NOT NULL,      -- the client that created it; '' for an admin
    method     text NOT NULL,      -- urn:ietf:rfc:8935 (push) or urn:ietf:rfc:8936 (poll)
    status     text NOT NULL CHECK (status IN ('enabled', 'paused', 'disabled')),
    reason     text NOT NULL,
    config     text NOT NULL,      -- the rest of the configuration, JSON
    created_at timestamptz NOT NULL,
    updated_at timestamptz NOT NULL
);

-- No foreign key: DeleteStream deletes a stream's SETs itself.
CREATE TABLE ssf_sets (
    id            bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    stream_id     text NOT NULL,
    jti           text NOT NULL,
    event_seq     bigint NOT NULL,
    claims        text NOT NULL,   -- JSON, signed at each attempt
    state         text NOT NULL CHECK (state IN ('pending', 'delivered', 'failed')),
    attempts      integer NOT NULL,
    next_attempt  timestamptz NOT NULL,
    claim         text NOT NULL,   -- '' when no claim holds it
    claimed_until timestamptz NOT NULL,
    error         text NOT NULL,
    created_at    timestamptz NOT NULL,
    finished_at   timestamptz      -- NULL while pending
);
CREATE UNIQUE INDEX ssf_sets_jti ON ssf_sets (stream_id, jti);
CREATE INDEX ssf_sets_pending ON ssf_sets (stream_id, id) WHERE state = 'pending';
CREATE INDEX ssf_sets_finished ON ssf_sets (finished_at) WHERE finished_at IS NOT NULL;
