-- 0011: the DPoP key a grant's tokens are bound to (RFC 9449 §6), its
-- SHA-256 thumbprint; NULL for bearer tokens, which most grants are.
ALTER TABLE grants ADD COLUMN dpop_jkt TEXT;
