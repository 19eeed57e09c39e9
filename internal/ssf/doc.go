// Package ssf is tokend's OpenID Shared Signals (SSF 1.0) transmitter:
// revocations told as Security Event Tokens (RFC 8417) over event streams
// that receivers create and manage themselves (SSF 1.0 §8).
//
// A Transmitter follows the revocation log from its own cursor in the
// store, as package backchannel does, and queues, in the transaction
// that moves the cursor, the SETs each stream is to get: a CAEP or RISC
// event for what caused the revocation (a session ended, a password
// changed, an account disabled or deleted) and a tokend event for every
// grant it revoked, with the hashes and jtis of its tokens. The log's
// subject entries, changes to a user that revoked no grant, are told by
// their CAEP or RISC event alone: the same for a user without grants, and
// an account enabled again (RISC account-enabled) or a change of the
// claims tokend releases (CAEP token-claims-change). What a SET
// says is fixed when it is queued; it is signed with the key active when
// it goes out. A stream is served by poll (RFC 8936: the receiver takes
// the pending SETs and acknowledges them, and is never handed an
// acknowledged one again) or by push (RFC 8935: the SETs are POSTed one at
// a time, in order, each retried with backoff until the receiver takes it;
// a receiver that fails for longer than PauseAfter has its stream paused,
// its SETs kept for when it is enabled again). A stream whose receiver
// shows no activity for the inactivity timeout (SSF 1.0 §8.1.1
// inactivity_timeout) is paused too; activity is written at most once a
// minute.
//
// The HTTP side (discovery, stream management, the poll endpoint) is
// package ssfhttp.
package ssf
