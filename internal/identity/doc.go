// Package identity stores and checks the secrets people and programs sign
// in with: user passwords and client secrets.
//
// Two kinds of secret need two kinds of hash. A secret the server
// generates has 256 bits of entropy, so a slow hash would protect nothing
// and only cap how many clients per second can authenticate: it is stored
// as SHA-256 ("sha256$..."). A secret a person chose, a user's
// password or a client secret an admin typed, may be weak, so it is stored
// with argon2id in the PHC string format, whose parameters travel with the
// hash and can be raised later. SecretVerifier checks either kind and may
// remember a successful argon2id check for a few minutes, so a client with
// a chosen secret does not pay argon2id on every request.
//
// Nothing here logs, and no error carries a secret or a stored hash.
package identity
