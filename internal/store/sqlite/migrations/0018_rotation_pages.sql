-- 0018: fewer pages per refresh token rotation. A rotation marks the old
-- token rotated and inserts the new pair, and every page it changes is a
-- WAL frame at its commit and a write at the next checkpoint
-- (BenchmarkRotationLayout: 8.6 frames per rotation in a store of
-- 100,000 grants, 4.4 for grants refreshed again and again).
--   tokens_expires_at loses rotated_at: the old token's entry, where its
--   expiry put it long ago, a page no other write of the batch touches,
--   moved when the token was marked rotated. The sweep finds expired
--   tokens by expiry alone, as before.
--   tokens_grant_id orders a grant's tokens by issue: by expiry, a grant's
--   access tokens and refresh tokens were two runs of entries, on two
--   pages once the grant held more than a page of them (a grant refreshed
--   often keeps its rotated refresh tokens until they expire), and each
--   rotation added one entry to each run. In issue order the new pair and
--   the old token's entry are neighbours. It still holds expires_at and
--   rotated_at: Stats counts the live tokens from it alone (its first
--   count by a scan of it, which no longer sorts them by expiry, the
--   expired ones being few once swept).
-- 7.7 and 3.8 frames; TestRotationPages, one rotation per commit: 11.4
-- before, 9.3 after. Stats scans the wider index: BenchmarkStats (400,000
-- tokens) 15 % slower. Both indexes are built again at the first start
-- after an upgrade: 6.5 s for 2 million tokens, on the machine measured.
DROP INDEX IF EXISTS tokens_expires_at;
CREATE INDEX tokens_expires_at ON tokens (expires_at);
DROP INDEX IF EXISTS tokens_grant_id;
CREATE INDEX tokens_grant_id ON tokens (grant_id, issued_at, expires_at, rotated_at);
