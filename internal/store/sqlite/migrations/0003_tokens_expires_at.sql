-- 0003: the sweep deletes expired tokens of live grants too (the access
-- tokens and rotated refresh tokens a long session leaves behind at every
-- refresh), found by their expiry.
CREATE INDEX tokens_expires_at ON tokens (expires_at);
