-- 0010: the DPoP key a grant's tokens are bound to (RFC 9449 §6), its
-- SHA-256 thumbprint; NULL for bearer tokens, which most grants are. Adding
-- a nullable column without a default rewrites no row. The SQLite
-- backend's 0011.
ALTER TABLE grants ADD COLUMN dpop_jkt text;
-- A client that registered dpop_bound_access_tokens (RFC 9449 §5.2) is
-- given no bearer token; a constant default rewrites no row either.
ALTER TABLE clients ADD COLUMN dpop_bound_access_tokens boolean NOT NULL DEFAULT false;
