// Package backchannel tells relying parties that a browser session's
// grants were revoked, with OpenID Connect Back-Channel Logout 1.0: each
// client that had a grant in the session and registered a
// backchannel_logout_uri receives a Logout Token, POSTed as
// application/x-www-form-urlencoded logout_token=... (§2.5).
//
// It is driven by the revocation log, whatever revoked: a sign-out, an
// admin, a password change, a user disabled or deleted, a consent
// withdrawn. A Follower reads the log from its cursor in the store and
// turns each event of a grant made in a session, whose client has a
// back-channel URI, into a queued delivery, in the transaction that moves
// the cursor past the event (store.Logouts): a restart resumes where it
// stopped, and of several instances on one PostgreSQL database exactly one
// queues each event. One revocation of several grants of a client in one
// session queues one delivery: one token per client and session per
// revocation. Events of a client's own revocation request queue nothing
// (the client revoked its tokens itself), nor do events older than the
// retry horizon.
//
// Deliveries are claimed with a lease, so two instances never send one at
// once, and sent with a Logout Token minted for the attempt (a short
// lifetime; iss, aud, iat, exp, jti, the back-channel logout event, sid
// and sub; never a nonce). A client that does not answer 2xx is tried
// again after an exponential backoff with jitter, until the retry horizon
// after the revocation; then the delivery is abandoned. The HTTP client
// has timeouts, follows no redirect and reads at most a few KiB of an
// answer.
//
// A grant whose scope holds offline_access outlives its session's end:
// a sign-out does not revoke it, logs no event for it, and so tells its
// client nothing, unless the client also had a grant in the session that
// the sign-out revoked.
//
// The feed's hub nudges the follower when the log grows; a poll is the
// fallback. Logs name the client and the outcome, never the token.
package backchannel
