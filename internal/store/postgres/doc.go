// Package postgres is tokend's scale-out store: one PostgreSQL database,
// through pgx v5 and its pool, shared by any number of tokend processes.
// It implements store.Store, store.Issuers and store.Maintenance, and
// passes the storetest suite.
//
// # Schema
//
// Numbered migrations (migrations/NNNN_name.sql) are embedded in the binary
// and applied by Open, each in one transaction, under an advisory lock, so
// that several processes starting at once against one new database apply
// each exactly once. Options.Schema puts the tables in a schema of their
// own.
//
// # Durability and round trips
//
// A nil error from a write means PostgreSQL committed it with
// synchronous_commit on (the store turns it on for its sessions if the
// server has it off). A commit whose answer did not arrive is an error
// wrapping store.ErrUnavailable, never a success.
//
// Each call sends its statements in one pgx batch (one round trip) that
// PostgreSQL runs as one transaction: LookupToken, CreateGrant, RevokeGrant
// and RevokeMatching take one round trip each, RotateRefresh and the
// account updates, which must read before they decide what to write, two.
// CreateGrant, the write that comes by the dozen under load, goes through
// a group-commit writer (group.go): the calls waiting at a time share one
// batch, one transaction and one commit, each answered once it is
// acknowledged. Revocations run alone (group.go says why).
//
// # Concurrency
//
// The grant's row lock is the lock of its token family: a rotation takes
// it before it reads the refresh token, and a revocation before it counts
// the tokens it covers. So of parallel rotations of one token exactly one
// wins and the others see reuse, and a revocation racing a rotation covers
// the rotation's new tokens.
//
// Revocation events get their sequence numbers in one order and commit in
// another. A reader resuming from a sequence number never skips an event
// committed late: Events returns events only up to a safe-read horizon,
// below which every number has committed or rolled back (horizon.go says
// how, and why a filter on each row's writer ID would not do). Appends
// take no lock a reader waits on; a reader waits for the transactions
// that were writing when it looked, on the whole server. Should one of
// them stay open (a writing transaction left idle, not tokend's), the
// reader gives up on the horizon after horizonPatience and takes the
// log's advisory lock exclusively, which every append holds shared:
// that waits for the appends in flight alone, as readers did before the
// horizon (and as older versions' readers still do).
package postgres
