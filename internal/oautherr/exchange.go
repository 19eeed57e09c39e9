package oautherr

import "net/http"

// CodeInvalidTarget: the token exchange grant (RFC 8693 §2.2.2) and
// resource indicators (RFC 8707 §2) refuse a resource or audience the
// server will not issue a token for.
const CodeInvalidTarget = "invalid_target"

// InvalidTarget: a resource or audience parameter names a target the
// server does not issue tokens for, or is malformed.
func InvalidTarget(format string, args ...any) *Error {
	return New(CodeInvalidTarget, http.StatusBadRequest, format, args...)
}
