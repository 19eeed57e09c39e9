// Package sqlite is tokend's embedded default store: one SQLite file in WAL
// mode, through the pure-Go driver modernc.org/sqlite, so the binary stays
// static. It implements store.Store and passes the storetest suite.
//
// # One writer, group commit
//
// SQLite lets one transaction write at a time, and with synchronous=FULL
// every commit waits for an fsync: the promise that a nil error means the
// write is on disk. Many connections each committing their own write would
// queue on the database lock and pay one fsync per write (and fail with
// "database is locked" under load). Instead one writer goroutine owns the
// only write connection. Every write method hands it an op and waits; the
// writer takes the first op, drains the ops queued meanwhile (up to
// Options.MaxBatch), runs them in ONE transaction, each under a SAVEPOINT of
// its own so that a failing op is undone alone, commits once, and only then
// answers every caller. Under load a batch grows to cover the writes that
// arrived during the previous fsync, so one fsync makes many revocations
// durable: durability does not cost throughput.
//
// The savepoints have a cost: SQLite copies every page an op changes into
// the statement journal first. A batch of one op needs none (if the op
// fails, the transaction is rolled back), and an op that changes thousands
// of pages, a batch of the expiry sweep, is "solo": the writer commits it in
// a transaction of its own, between batches, so that it never pays for a
// savepoint. The ops queued behind it wait for its commit, so each sweep
// batch is kept small (DeleteExpired's limit; see BenchmarkDeleteExpired).
//
// A batch's issuances (CreateGrant) and revocations of tokens
// (RevokeToken) run as groups: the writer runs each kind's ops together on
// shared statements (one multi-row INSERT of grants and one of tokens; one
// lookup of every hash, one INSERT ... SELECT appending the events and one
// UPDATE marking the grants), paying the statements' overhead per chunk of
// up to 64 ops instead of per op, then runs the batch's other ops one by
// one. Each op still gets its own answer, computed as if it had run alone
// in the group's order; if a shared statement fails, the transaction is
// rolled back and the batch runs again op by op under savepoints, so that
// the failing op fails alone. See group.go and BenchmarkWrites.
//
// Reads go to a separate pool of query_only connections and run in
// parallel with each other and with the writer (WAL readers see the last
// commit and never block it).
//
// Another process (the tokend CLI next to a running server) may open the
// same file: transactions begin IMMEDIATE and wait up to busy_timeout for
// the other process's writer, so neither sees "database is locked".
//
// # Representation
//
// Times are unix milliseconds, durations nanoseconds, string lists JSON
// arrays; see migrations/0001_init.sql. What an event covers is a BLOB of
// concatenated 32-byte token hashes and two JSON arrays (jtis, status
// indexes), computed by the INSERT that appends the event; see
// migrations/0002_coverage_issuers_maintenance.sql. The schema is a series
// of numbered migrations embedded in the binary and applied by Open.
package sqlite
