-- 0009: back-channel logout. A follower of the revocation log keeps its
-- position in log_cursors, and queues the Logout Tokens it must send in
-- logout_deliveries, in the transaction that moves its cursor, so that
-- neither a restart nor a crash loses or repeats one.

CREATE TABLE log_cursors (
    name TEXT PRIMARY KEY,
    seq  INTEGER NOT NULL   -- the last event the follower handled
) STRICT, WITHOUT ROWID;

-- No foreign key to clients or sessions: a delivery outlives a deleted
-- client (and is abandoned) and the sweep of its session.
CREATE TABLE logout_deliveries (
    id            INTEGER PRIMARY KEY,
    client_id     TEXT NOT NULL,
    session_id    TEXT NOT NULL,
    subject       TEXT NOT NULL,
    event_seq     INTEGER NOT NULL,
    revoked_at    INTEGER NOT NULL,
    reason        TEXT NOT NULL,
    state         TEXT NOT NULL,       -- pending, delivered or abandoned
    attempts      INTEGER NOT NULL,
    next_attempt  INTEGER NOT NULL,
    claim         TEXT NOT NULL,       -- '' when no claim holds it
    claimed_until INTEGER NOT NULL,
    created_at    INTEGER NOT NULL,
    finished_at   INTEGER              -- NULL while pending
) STRICT;
-- One Logout Token per client and session per revocation, however many
-- of the client's grants in the session it revoked.
CREATE UNIQUE INDEX logout_deliveries_once ON logout_deliveries (client_id, session_id, revoked_at, reason);
CREATE INDEX logout_deliveries_due ON logout_deliveries (next_attempt) WHERE state = 'pending';
CREATE INDEX logout_deliveries_finished ON logout_deliveries (finished_at) WHERE finished_at IS NOT NULL;
