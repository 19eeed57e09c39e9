-- 0011: the DPoP key a grant's tokens are bound to (RFC 9449 §6), its
-- SHA-256 thumbprint; NULL for bearer tokens, which most grants are.
ALTER TABLE grants ADD COLUMN dpop_jkt TEXT;
-- A client that registered dpop_bound_access_tokens (RFC 9449 §5.2) is
-- given no bearer token.
ALTER TABLE clients ADD COLUMN dpop_bound_access_tokens INTEGER NOT NULL DEFAULT 0;
