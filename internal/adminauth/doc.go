// Package adminauth decides whether a request may use an admin endpoint:
// dynamic client registration, bulk revocation and the revocation log,
// Global Token Revocation and SCIM. Two kinds of credentials are accepted:
//
//   - the admin token as a Bearer token (RFC 6750 §2.1), compared in
//     constant time as SHA-256 digests whatever the lengths;
//   - HTTP Basic credentials (RFC 7617) of a user with the admin flag,
//     checked with argon2id; an unknown user costs the same argon2id run as
//     a wrong password, so timing does not tell which usernames exist.
//
// Failed attempts are counted with a ratelimit.Limiter: password guesses
// per username and per remote address, reserved before argon2id runs so
// that guesses sent at once are checked no more than the limit allows;
// other failures (a wrong admin token, malformed credentials) per remote
// address. A caller over the limit is refused (429 with Retry-After)
// before its credential is checked. The package renders
// nothing: it returns an *Error with the status, the WWW-Authenticate
// challenges and the Retry-After to send, and each API writes it in its own
// error format (RFC 6749 JSON, SCIM).
package adminauth
