// Package dpop checks and makes DPoP proofs (RFC 9449): the JWTs a client
// signs with a key of its own for each request, so that a token bound to
// that key (cnf.jkt) is of no use to whoever steals it without the key.
//
// A Verifier checks a proof as RFC 9449 §4.3 lists: one DPoP header, a
// compact JWS of typ dpop+jwt signed with an asymmetric algorithm of Algs
// by the public key of its jwk header (no private member), htm and htu
// matching the request (htu without query and fragment, normalised), iat
// within the window, the jti not seen before (ReplayCache), the server's
// nonce when Nonces is set, and ath when an access token comes with it.
// It returns the proof with JKT, the key's SHA-256 thumbprint (RFC 7638)
// that binds tokens.
//
// The authorization server (internal/oauth) and the resource server
// middleware (package rs) share this package, so the two check a proof the
// same way. It imports nothing of tokend's and may be used by any Go
// resource server or client; Signer makes proofs for a client.
package dpop
