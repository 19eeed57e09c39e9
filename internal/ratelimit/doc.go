// Package ratelimit counts failed authentications per key — a remote
// address, a username — and refuses a key that failed too often, so that
// secrets and passwords cannot be guessed online. A slow check (argon2id) is
// reserved before it runs (Limiter.Reserve), so guesses sent at once are
// checked no more often than the limit allows. The keys are built here
// (AddressKey, LoginAddressKey, UserKey), so that an address is keyed the
// same way by every caller: client authentication, the password grant and
// the admin endpoints.
package ratelimit
