-- 0008: back-channel logout, the same tables as the SQLite backend's 0009.
-- A follower of the revocation log keeps its position in log_cursors, and
-- queues the Logout Tokens it must send in logout_deliveries, in the
-- transaction that moves its cursor: of several instances following one
-- log, the one whose move commits first queues each event, the others'
-- moves find the cursor moved.

CREATE TABLE log_cursors (
    name text PRIMARY KEY,
    seq  bigint NOT NULL   -- the last event the follower handled
);

-- No foreign key to clients or sessions: a delivery outlives a deleted
-- client (and is abandoned) and the sweep of its session.
CREATE TABLE logout_deliveries (
    id            bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    client_id     text NOT NULL,
    session_id    text NOT NULL,
    subject       text NOT NULL,
    event_seq     bigint NOT NULL,
    revoked_at    timestamptz NOT NULL,
    reason        text NOT NULL,
    state         text NOT NULL CHECK (state IN ('pending', 'delivered', 'abandoned')),
    attempts      integer NOT NULL,
    next_attempt  timestamptz NOT NULL,
    claim         text NOT NULL,       -- '' when no claim holds it
    claimed_until timestamptz NOT NULL,
    created_at    timestamptz NOT NULL,
    finished_at   timestamptz          -- NULL while pending
);
-- One Logout Token per client and session per revocation, however many
-- of the client's grants in the session it revoked.
CREATE UNIQUE INDEX logout_deliveries_once ON logout_deliveries (client_id, session_id, revoked_at, reason);
CREATE INDEX logout_deliveries_due ON logout_deliveries (next_attempt) WHERE state = 'pending';
CREATE INDEX logout_deliveries_finished ON logout_deliveries (finished_at) WHERE finished_at IS NOT NULL;
