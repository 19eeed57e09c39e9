// Package rs protects the HTTP handlers of a resource server written in Go
// with the access tokens of a tokend authorization server (or any server
// that publishes the same things).
//
// A JWT access token (RFC 9068) is verified locally against the server's
// JWKS, with no network call per request, and refused if it has been
// revoked. Revocations reach the middleware through tokend's revocation
// feed, a Server-Sent Events stream followed in the background, within
// milliseconds; while the feed is down, the token's Token Status List
// (draft-ietf-oauth-status-list) is fetched and cached instead. An opaque
// token is introspected (RFC 7662); the answer is cached for a short time,
// and the feed drops it at once when the token is revoked.
//
// A token bound to a DPoP key (RFC 9449: cnf.jkt in the JWT or in the
// introspection answer) is accepted only as "Authorization: DPoP <token>"
// with a DPoP proof of that key for the request, carrying the token's
// hash; sent as a Bearer token, or with another key's proof, it is refused
// with a DPoP challenge (RFC 9449 §7). Package dpop checks the proof, as
// tokend's token endpoint does; Config.DPoP tunes it.
//
// Refusals are RFC 6750 §3 errors with a WWW-Authenticate challenge; an
// accepted request carries the token's claims in its context (ClaimsFrom).
//
//	guard, err := rs.New(rs.Config{
//		Issuer:       "https://localhost:9443",
//		Audience:     "https://api.example.com",
//		ClientID:     os.Getenv("RS_CLIENT_ID"),
//		ClientSecret: os.Getenv("RS_CLIENT_SECRET"),
//	})
//	...
//	defer guard.Close()
//	http.ListenAndServe(":8080", guard.Middleware(mux))
package rs
