-- 0013: token exchange (RFC 8693), as the SQLite backend's 0015. An admin
-- allows a client to exchange tokens (clients.token_exchange). An
-- exchanged grant remembers the grant whose token it was exchanged from
-- (grants.parent_grant_id), so that a revocation reaches every grant
-- exchanged from the one it revokes, transitively, in its transaction; the
-- partial index finds a grant's children, and only exchanged grants pay
-- for it. act is the grant's act claim (JSON), audience its tokens'
-- audience. Each event says which grant the revoked one was exchanged
-- from. The insert of an exchanged grant checks that its parent is live
-- under the parent's row lock (grants.go), so no cascade can miss it.

ALTER TABLE clients ADD COLUMN token_exchange boolean NOT NULL DEFAULT false;

ALTER TABLE grants ADD COLUMN parent_grant_id text;
ALTER TABLE grants ADD COLUMN act text;
ALTER TABLE grants ADD COLUMN audience text[];
CREATE INDEX grants_parent ON grants (parent_grant_id) WHERE parent_grant_id IS NOT NULL;

ALTER TABLE revocation_events ADD COLUMN parent_grant_id text;

-- An exchanged grant is inserted only while its parent is live. The
-- trigger first takes a share lock on every grant of its chain, the one
-- that began it first (the order in which a revocation locks them: its
-- roots, then what it cascades to), so that a revocation of any of them in
-- flight is waited for; a revocation that comes later waits for this insert
-- to commit, and then its cascade sees the new grant. Then it checks the
-- parent, with a snapshot taken after the locks. A chain's depth is the
-- number of rows locked: a few for the usual chains of one to three
-- exchanges. (Each step of the walk is a LATERAL subquery kept apart by
-- OFFSET 0, so that it is a primary key probe, not a join with the table.)
CREATE FUNCTION grants_parent_live() RETURNS trigger LANGUAGE plpgsql
    SET search_path FROM CURRENT AS $$
DECLARE
    r record;
BEGIN
    FOR r IN
        WITH RECURSIVE a (id, depth) AS (
            SELECT NEW.parent_grant_id, 0
            UNION ALL
            SELECT p.parent_grant_id, a.depth + 1 FROM a CROSS JOIN LATERAL (
                SELECT p.parent_grant_id FROM grants p WHERE p.id = a.id AND p.parent_grant_id IS NOT NULL OFFSET 0) p
        )
        SELECT g.id FROM grants g JOIN a ON g.id = a.id ORDER BY a.depth DESC FOR SHARE OF g
    LOOP
    END LOOP;
    IF NOT EXISTS (SELECT 1 FROM grants p WHERE p.id = NEW.parent_grant_id AND p.revoked_at IS NULL) THEN
        RAISE EXCEPTION 'tokend: parent grant not live';
    END IF;
    RETURN NEW;
END
$$;

CREATE TRIGGER grants_parent_live BEFORE INSERT ON grants
    FOR EACH ROW WHEN (NEW.parent_grant_id IS NOT NULL) EXECUTE FUNCTION grants_parent_live();
