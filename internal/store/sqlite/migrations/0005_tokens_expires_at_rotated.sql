-- 0005: Stats counts the live tokens from indexes alone. With rotated_at
-- only in the table, the count read every token's row, a random page
-- each: 15 s of CPU for 2 million tokens, a minute or more for ten.
--   tokens_expires_at: the unexpired, unrotated tokens; the sweep's range
--   scans by expiry use it as before.
--   tokens_grant_id: the unexpired, unrotated tokens of a revoked grant;
--   revocations and the sweep find a grant's tokens by it as before.
DROP INDEX IF EXISTS tokens_expires_at;
CREATE INDEX tokens_expires_at ON tokens (expires_at, rotated_at);
DROP INDEX IF EXISTS tokens_grant_id;
CREATE INDEX tokens_grant_id ON tokens (grant_id, expires_at, rotated_at);
