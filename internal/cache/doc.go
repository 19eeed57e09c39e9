// Package cache keeps in memory what nearly every request reads: the
// calling client, and the access token presented for introspection or
// revocation. Without it each such request makes two database reads, which
// cost more CPU than the rest of the request together.
//
// Store decorates a store.Store. What it answers from memory is exact for
// the writes of its own process: every write goes through it, and it drops
// or marks what a write changes before the write returns. Writes of other
// processes (other instances on PostgreSQL, the CLI) reach it two ways:
//
//   - Revocations through the revocation log, which the feed hub follows
//     (Apply). Until the hub has read an event, another process's
//     revocation is not seen here: that is the PostgreSQL NOTIFY delay, a
//     few milliseconds, or at most one poll of the log (200 ms). A cached
//     token is answered only while the hub is current; otherwise the store
//     is read.
//   - Client changes by a time to live: a client record read from the
//     store is trusted for ClientTTL (one second by default), so that
//     disabling a client or rotating its secret on another instance takes
//     effect here within that time.
//
// Only access tokens are cached as LookupToken answers them: a refresh
// token changes (it is rotated) without a revocation event. A revoked
// record never changes again, so a token cached as revoked stays correct
// until it is evicted.
//
// Of refresh tokens, what never changes is kept instead (LookupTokenFacts):
// the token's grant, its client, subject, scope and DPoP key, which the
// refresh grant mints the new tokens for. Their state it leaves to
// RotateRefresh, which checks it in the writer's transaction: a rotated
// token presented again revokes its grant, a revoked or expired one is
// refused, whether its facts came from here or from the store. Facts need
// no invalidation, by this process or another; a token's are kept from
// its issuance (CreateGrant, a code exchange, a rotation) until it is
// rotated, refused, expired, or evicted, and read from the store when
// missing. On SQLite that read is the costly one: the read pool's page
// cache is dropped at every commit of the writer.
package cache
