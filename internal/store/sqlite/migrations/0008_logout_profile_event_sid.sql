-- 0008: what browser sign-in and logout need of clients and users, and the
-- session of each revocation.
--   clients: where the client may be sent after logout, and where it
--   receives back-channel Logout Tokens (OpenID Connect RP-Initiated and
--   Back-Channel Logout 1.0).
--   users: the profile claims of OpenID Connect userinfo.
--   revocation_events: the session (sid) the revoked grant was made in,
--   NULL when none, so that a follower of the log knows which session's
--   clients to tell without reading grants the sweep may have deleted.
ALTER TABLE clients ADD COLUMN post_logout_redirect_uris TEXT NOT NULL DEFAULT '[]';  -- JSON array
ALTER TABLE clients ADD COLUMN backchannel_logout_uri TEXT NOT NULL DEFAULT '';
ALTER TABLE clients ADD COLUMN backchannel_logout_session_required INTEGER NOT NULL DEFAULT 0;

ALTER TABLE users ADD COLUMN email TEXT NOT NULL DEFAULT '';
ALTER TABLE users ADD COLUMN email_verified INTEGER NOT NULL DEFAULT 0;
ALTER TABLE users ADD COLUMN given_name TEXT NOT NULL DEFAULT '';
ALTER TABLE users ADD COLUMN family_name TEXT NOT NULL DEFAULT '';
ALTER TABLE users ADD COLUMN name TEXT NOT NULL DEFAULT '';

-- Events logged before this migration keep NULL.
ALTER TABLE revocation_events ADD COLUMN session_id TEXT;
