// Package feed follows the revocation log and hands its events, as they
// land, to whoever must learn of revocations: the Server-Sent Events stream
// and the polling endpoint that resource servers read, and the Token Status
// Lists.
//
// A Hub learns that the log has grown in four ways: Offer, the new entries
// themselves, handed over by a store whose writer knows them as it commits
// (SQLite's); Nudge, called in-process right after a revocation commits
// (Nudging is a store decorator that does it for every revoking call); a
// poll of the store every few hundred milliseconds, for revocations made
// by another process (the CLI, another instance); and an optional Notifier
// (PostgreSQL LISTEN/NOTIFY). Woken, it reads the log from the last
// sequence number it has seen, so a lost or duplicated wake-up loses
// nothing; offered entries it takes without a read only when they follow
// on from that number, so an offer cannot make it skip one either.
//
// The hub keeps the most recent events in memory and serves readers from
// there; a reader who resumes from further back is served from the store.
// The followers that keep a cursor of their own in the store (back-channel
// logout, the Shared Signals transmitter) read the log the same way
// (Hub.Events), woken by the hub once it holds the new events (Hub.Follow),
// rather than each reading the store after every commit.
//
// The log's sequence numbers must appear in commit order: Events may not
// return an event while one with a lower sequence number may still commit
// (SQLite's single writer guarantees it; PostgreSQL's Events waits for a
// safe-read horizon).
package feed
