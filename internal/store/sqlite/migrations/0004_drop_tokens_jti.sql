-- 0004: no query looks a token up by its jti (a JWT is found by the hash
-- of the whole token, like an opaque one), and a jti is random, so the
-- index only cost every JWT's issuance a write to a random page.
DROP INDEX IF EXISTS tokens_jti;
