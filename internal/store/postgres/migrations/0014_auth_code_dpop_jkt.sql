-- 0014: an authorization code bound to a DPoP key by the authorization
-- request's dpop_jkt (RFC 9449 §10). The thumbprint travels with the code
-- so that the token request that exchanges it must prove the same key: a
-- code stolen on its way back to the client is of no use without it.
ALTER TABLE auth_codes ADD COLUMN dpop_jkt TEXT NOT NULL DEFAULT '';
