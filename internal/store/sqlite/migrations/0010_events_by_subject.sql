-- 0010: a person's own revocations, newest first (UserEvents, for the
-- account page's history), without reading the whole log.
CREATE INDEX revocation_events_subject ON revocation_events (subject, seq);
