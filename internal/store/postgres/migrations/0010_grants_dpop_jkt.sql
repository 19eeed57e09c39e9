-- 0010: the DPoP key a grant's tokens are bound to (RFC 9449 §6), its
-- SHA-256 thumbprint; NULL for bearer tokens, which most grants are. Adding
-- a nullable column without a default rewrites no row. The SQLite
-- backend's 0011.
ALTER TABLE grants ADD COLUMN dpop_jkt text;
