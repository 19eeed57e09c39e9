-- 0015: subject entries in the revocation log, as the SQLite backend's
-- 0017. A change to a user that revoked no grant (a password change, a
-- disable or a deletion of a user who held none, an enable, a change of
-- the claims tokend releases) is one row with grant_id and client_id ''
-- (NOT NULL, and tied to no grant by any constraint), so that the Shared
-- Signals transmitter, which follows the log, tells of it. claims names,
-- for a claims_changed row, the claims that changed; NULL on every other.
ALTER TABLE revocation_events ADD COLUMN claims text[];
