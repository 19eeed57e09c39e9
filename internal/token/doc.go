// Package token mints and recognises the tokens tokend issues.
//
// Opaque tokens (opaque.go) are self-describing: a prefix names the kind
// (AccessPrefix, RefreshPrefix), 256 bits from crypto/rand make them
// unguessable, and a CRC-32C checksum lets Parse reject a mistyped,
// truncated or made-up token without a database read. The kind is known
// from the token itself, so token_type_hint is only an optimisation
// (RFC 7009 §2.1), and secret scanners can recognise a leaked token by its
// prefix and checksum. Only store.HashToken of a token is ever stored; the
// token itself is never stored or logged.
//
// JWT access tokens (RFC 9068) and their signing keys belong here too.
package token
