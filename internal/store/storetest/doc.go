// Package storetest is the one conformance suite of package store. Every
// backend (sqlite, postgres, ...) calls [Run] from its own tests; a backend is
// done when the suite passes on it.
//
// The suite pins down the parts of the store contract that callers rely on
// but that the interface cannot express: which errors come back when, what a
// revocation covers and counts, that revoked tokens stay visible to lookups,
// refresh-token reuse detection (RFC 9700 §4.14.2), the order of the
// revocation log, and how the store behaves under concurrent revocation and
// rotation of one token family.
//
// Beyond that, it decides for every backend:
//
//   - Expiry: a token, grant or used jti expires at its ExpiresAt: it is
//     live at now only when ExpiresAt is after now.
//   - Event coverage: an event lists every token of its grant unexpired at
//     the revocation's time, rotated ones included, by hash; the jtis and
//     the status list indexes of those of them that have one, as two lists
//     of their own; and ExpiresAt, the latest expiry among them (the zero
//     time when it covered none). The order of the lists is not fixed.
//     Tokens still counts the live ones only (unexpired, not rotated).
//   - StatusIndex 0 means none and round-trips as 0.
//   - Used jtis: UseJTI fails with ErrAlreadyExists while a record of the
//     jti for that issuer is unexpired at now, and then changes nothing; an
//     expired record is replaced. Records are per issuer and independent of
//     the issuers table: DeleteIssuer does not forget them.
//   - DeleteExpired deletes grants whose ExpiresAt is before now (not at
//     now) with all their tokens, and used jtis expired at now; nothing
//     else: no event, no expired token of a live grant, no revoked grant
//     before it expires. It deletes exactly min(limit, what is left) grants,
//     and likewise jtis, so a short batch means the sweep is done.
//   - DeleteEventsBefore deletes events whose Time is before the bound,
//     whatever their Seq, exactly min(limit, what is left) a call; Seq
//     numbers are never reused.
//   - Stats: live grants are unrevoked and unexpired; live tokens also
//     unexpired and not rotated. CountMatching counts those a filter
//     selects, what RevokeMatching then reports.
//   - SearchEvents: the events a filter selects (reason, client, subject,
//     a time on or after), newest first, at most limit.
//   - Sessions: ListSessions returns ended and expired sessions too, the
//     newest first. EndSession revokes the session's live grants whose
//     scope lacks offline_access; UpdateUser with a revocation and
//     DeleteUser end the user's sessions at the revocation's time.
//   - Authorization codes: an exchange is refused with ErrNotFound when
//     the code is unknown, expired at now, or of another client or user;
//     every exchange after the first answers ErrCodeReused, and the first
//     of them revokes the grant the code produced (code_reuse).
//   - DeleteExpired also deletes codes expired at now and sessions that
//     ended or expired store.SessionRetention before now, limit of each.
//   - ReserveStatusIndexes: the first reservation of a new store starts at
//     1; a reservation never overlaps an earlier or concurrent one (gaps
//     are allowed); n < 1 is an error. LastStatusIndex is 0 in a new
//     store, then at least the end of every reservation and below the
//     start of the next.
package storetest
