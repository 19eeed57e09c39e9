-- 0006 is reserved for the session secret column, which another branch
-- adds; this file holds its number so that 0007 applies on this branch
-- (migrations are numbered without gaps). When that branch's 0006 is
-- merged, delete this file: two files numbered 0006 fail to load.
SELECT 1;
