// Package assertion verifies the JWT assertions of the JWT bearer grant
// (RFC 7523 §2.1 and §3): the assertion must come from a trusted issuer,
// carry that issuer's signature (keys from a registered JWKS document or
// its jwks_uri), be meant for us (aud), be within its validity window, and
// never be used twice (jti). Each failure has its own precise reason, which
// the token endpoint returns as invalid_grant's description.
package assertion
