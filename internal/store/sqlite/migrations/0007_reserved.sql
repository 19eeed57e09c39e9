-- 0007 is reserved for the session secret column, which another branch
-- adds; this file holds its number so that 0008 applies on this branch
-- (migrations are numbered without gaps). When that branch's 0007 is
-- merged, delete this file: two files numbered 0007 fail to load.
SELECT 1;
