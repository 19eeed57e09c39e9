-- 0015: token exchange (RFC 8693). An admin allows a client to exchange
-- tokens (clients.token_exchange). An exchanged grant remembers the grant
-- whose token it was exchanged from (grants.parent_grant_id), so that a
-- revocation reaches every grant exchanged from the one it revokes,
-- transitively, in its transaction; the partial index finds a grant's
-- children, and only exchanged grants pay for it. act is the grant's
-- RFC 8693 act claim (JSON), audience its tokens' audience (space-separated).
-- Each event says which grant the revoked one was exchanged from.

ALTER TABLE clients ADD COLUMN token_exchange INTEGER NOT NULL DEFAULT 0;

ALTER TABLE grants ADD COLUMN parent_grant_id TEXT;
ALTER TABLE grants ADD COLUMN act TEXT;
ALTER TABLE grants ADD COLUMN audience TEXT;
CREATE INDEX grants_parent ON grants (parent_grant_id) WHERE parent_grant_id IS NOT NULL;

ALTER TABLE revocation_events ADD COLUMN parent_grant_id TEXT;

-- A grant exchanged from a grant that is revoked (or unknown) is refused
-- in the transaction that inserts it: the writer runs one transaction at a
-- time, so a revocation either ran before, and the insert fails, or runs
-- after, and its cascade finds the new grant. Every path that inserts a
-- grant, the grouped INSERT included, goes through it.
CREATE TRIGGER grants_parent_live BEFORE INSERT ON grants
WHEN NEW.parent_grant_id IS NOT NULL AND NOT EXISTS (
    SELECT 1 FROM grants p WHERE p.id = NEW.parent_grant_id AND p.revoked_at IS NULL)
BEGIN
    SELECT RAISE(ABORT, 'tokend: parent grant not live');
END;
