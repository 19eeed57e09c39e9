-- 0002: what the revocation feed, the Token Status List and the JWT bearer
-- grant need: the tokens' status list indexes, what each event covered,
-- trusted issuers and used assertion ids, and the indexes of the sweep.

-- The token's index in the Token Status List; NULL for opaque tokens.
ALTER TABLE tokens ADD COLUMN status_index bigint CHECK (status_index > 0);

-- What an event covered: every token of the grant unexpired at the
-- revocation (rotated ones included) by hash, the jtis and status list
-- indexes of those that have them, and the latest expiry among them (NULL
-- when the revocation covered no token). Written once, with the event, so
-- the log stays whole after the sweep deletes the tokens.
ALTER TABLE revocation_events
    ADD COLUMN token_hashes   bytea[]  NOT NULL DEFAULT '{}',
    ADD COLUMN jtis           text[]   NOT NULL DEFAULT '{}',
    ADD COLUMN status_indexes bigint[] NOT NULL DEFAULT '{}',
    ADD COLUMN expires_at     timestamptz;
CREATE INDEX revocation_events_time ON revocation_events (time);

-- The last Token Status List index handed out. One row; an UPDATE ...
-- RETURNING reserves a block, and the row lock orders concurrent callers.
CREATE TABLE status_list_counter (
    one  boolean PRIMARY KEY DEFAULT true CHECK (one),
    last bigint NOT NULL CHECK (last >= 0)
);
INSERT INTO status_list_counter (last) VALUES (0);

-- Trusted issuers of the JWT bearer grant (RFC 7523 §2.1).
CREATE TABLE issuers (
    issuer        text PRIMARY KEY,
    jwks          bytea,              -- a JWK Set document, or NULL
    jwks_uri      text NOT NULL,      -- '' when jwks is set
    subject_claim text NOT NULL,
    created_at    timestamptz NOT NULL
);

-- The jtis of assertions already used, until they expire. Kept when their
-- issuer is deleted: an issuer added again must not accept them twice.
CREATE TABLE used_jtis (
    issuer     text NOT NULL,
    jti        text NOT NULL,
    expires_at timestamptz NOT NULL,
    PRIMARY KEY (issuer, jti)
);
CREATE INDEX used_jtis_expires_at ON used_jtis (expires_at);
