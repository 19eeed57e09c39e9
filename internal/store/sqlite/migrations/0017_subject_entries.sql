-- 0017: subject entries in the revocation log. A change to a user that
-- revoked no grant (a password change, a disable or a deletion of a user
-- who held none, an enable, a change of the claims tokend releases) is one
-- row with grant_id and client_id '' (they are NOT NULL, and no constraint
-- ties them to a grant: the empty string needs no rebuild of the table),
-- so that the Shared Signals transmitter, which follows the log, tells of
-- it. claims names, for a claims_changed row, the claims that changed, a
-- JSON array; NULL on every other row.
ALTER TABLE revocation_events ADD COLUMN claims TEXT;
