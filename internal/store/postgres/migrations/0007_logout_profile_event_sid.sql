-- 0007: the same columns as the SQLite backend's 0008: what browser
-- sign-in and logout need of clients and users, and the session of each
-- revocation.
--   clients: where the client may be sent after logout, and where it
--   receives back-channel Logout Tokens (OpenID Connect RP-Initiated and
--   Back-Channel Logout 1.0).
--   users: the profile claims of OpenID Connect userinfo.
--   revocation_events: the session (sid) the revoked grant was made in,
--   NULL when none, so that a follower of the log knows which session's
--   clients to tell without reading grants the sweep may have deleted.
ALTER TABLE clients
    ADD COLUMN post_logout_redirect_uris text[] NOT NULL DEFAULT '{}',
    ADD COLUMN backchannel_logout_uri text NOT NULL DEFAULT '',
    ADD COLUMN backchannel_logout_session_required boolean NOT NULL DEFAULT false;

ALTER TABLE users
    ADD COLUMN email text NOT NULL DEFAULT '',
    ADD COLUMN email_verified boolean NOT NULL DEFAULT false,
    ADD COLUMN given_name text NOT NULL DEFAULT '',
    ADD COLUMN family_name text NOT NULL DEFAULT '',
    ADD COLUMN name text NOT NULL DEFAULT '';

-- Events logged before this migration keep NULL.
ALTER TABLE revocation_events ADD COLUMN session_id text;
