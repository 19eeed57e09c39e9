package oautherr

import "net/http"

// The token endpoint's answers to a device polling with a device code
// (RFC 8628 §3.5). Each is a 400 with the JSON body of RFC 6749 §5.2.
const (
	CodeAuthorizationPending = "authorization_pending"
	CodeSlowDown             = "slow_down"
	CodeExpiredToken         = "expired_token"
)

// AuthorizationPending: the person has not decided yet; poll again.
func AuthorizationPending() *Error {
	return New(CodeAuthorizationPending, http.StatusBadRequest, "the user has not decided yet")
}

// SlowDown: polled sooner than the interval; the interval is five seconds
// longer from now on.
func SlowDown() *Error {
	return New(CodeSlowDown, http.StatusBadRequest, "polled too soon: wait five seconds more between polls")
}

// ExpiredToken: the device code expired; the device must start again.
func ExpiredToken() *Error {
	return New(CodeExpiredToken, http.StatusBadRequest, "the device code expired")
}

// DeniedByUser: the person denied the request (access_denied as a 400 of
// the token endpoint, unlike Forbidden's 403).
func DeniedByUser() *Error {
	return New(CodeAccessDenied, http.StatusBadRequest, "the user denied the request")
}
