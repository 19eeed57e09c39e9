package oauth

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strconv"
	"time"
)

// Error codes of RFC 6749 §5.2, RFC 7009 §2.2.1, RFC 7591 §3.2.2 and RFC 6750 §3.1.
const (
	CodeInvalidRequest         = "invalid_request"
	CodeInvalidClient          = "invalid_client"
	CodeInvalidGrant           = "invalid_grant"
	CodeUnauthorizedClient     = "unauthorized_client"
	CodeUnsupportedGrantType   = "unsupported_grant_type"
	CodeInvalidScope           = "invalid_scope"
	CodeUnsupportedTokenType   = "unsupported_token_type"
	CodeServerError            = "server_error"
	CodeTemporarilyUnavailable = "temporarily_unavailable"
	CodeInvalidClientMetadata  = "invalid_client_metadata"
	CodeAccessDenied           = "access_denied"
	CodeInvalidToken           = "invalid_token"
)

// basicChallenge is the WWW-Authenticate value of every invalid_client answer.
const basicChallenge = `Basic realm="tokend"`

const contentTypeJSON = "application/json;charset=UTF-8"

// Error is an OAuth error response (RFC 6749 §5.2): what the client sees
// (Code, Description, Status) and, separately, the Cause that goes only to
// the log.
type Error struct {
	Code        string
	Description string
	Status      int
	// RetryAfter, when set, is sent as Retry-After (429, 503).
	RetryAfter time.Duration
	// Header holds extra response headers (e.g. Allow for a 405).
	Header http.Header
	Cause  error
}

func (e *Error) Error() string {
	s := e.Code
	if e.Description != "" {
		s += ": " + e.Description
	}
	if e.Cause != nil {
		s += ": " + e.Cause.Error()
	}
	return s
}

// Unwrap returns the cause, so errors.Is sees through an OAuth error.
func (e *Error) Unwrap() error { return e.Cause }

// Is matches another *Error by code, so errors.Is(err, ErrInvalidClient())
// holds whatever the description.
func (e *Error) Is(target error) bool {
	t, ok := target.(*Error)
	return ok && t.Code == e.Code
}

// LogLevel is the level at which the error is logged: client mistakes are
// routine (debug), server faults are not.
func (e *Error) LogLevel() slog.Level {
	switch {
	case e.Status >= 500:
		return slog.LevelError
	case e.Code == CodeInvalidClient:
		return slog.LevelInfo // failed authentications are worth seeing
	default:
		return slog.LevelDebug
	}
}

// WithCause returns a copy of e carrying cause for the log.
func (e *Error) WithCause(cause error) *Error {
	c := *e
	c.Cause = cause
	return &c
}

func newError(code string, status int, format string, args ...any) *Error {
	desc := format
	if len(args) > 0 {
		desc = fmt.Sprintf(format, args...)
	}
	return &Error{Code: code, Description: desc, Status: status}
}

// ErrInvalidRequest: a parameter is missing, repeated or malformed.
func ErrInvalidRequest(format string, args ...any) *Error {
	return newError(CodeInvalidRequest, http.StatusBadRequest, format, args...)
}

// ErrInvalidClient: client authentication failed (RFC 6749 §5.2); answered
// with 401 and a WWW-Authenticate challenge.
func ErrInvalidClient(format string, args ...any) *Error {
	e := newError(CodeInvalidClient, http.StatusUnauthorized, format, args...)
	e.Header = http.Header{"WWW-Authenticate": {basicChallenge}}
	return e
}

// ErrInvalidGrant: the grant or refresh token is invalid, expired or revoked.
func ErrInvalidGrant(format string, args ...any) *Error {
	return newError(CodeInvalidGrant, http.StatusBadRequest, format, args...)
}

// ErrUnauthorizedClient: the client may not do this.
func ErrUnauthorizedClient(format string, args ...any) *Error {
	return newError(CodeUnauthorizedClient, http.StatusBadRequest, format, args...)
}

// ErrUnsupportedGrantType: the grant type is unknown to the server.
func ErrUnsupportedGrantType(format string, args ...any) *Error {
	return newError(CodeUnsupportedGrantType, http.StatusBadRequest, format, args...)
}

// ErrInvalidScope: the requested scope is invalid or exceeds the grant.
func ErrInvalidScope(format string, args ...any) *Error {
	return newError(CodeInvalidScope, http.StatusBadRequest, format, args...)
}

// ErrInvalidClientMetadata: RFC 7591 §3.2.2.
func ErrInvalidClientMetadata(format string, args ...any) *Error {
	return newError(CodeInvalidClientMetadata, http.StatusBadRequest, format, args...)
}

// ErrTooManyRequests: too many failed authentications; retry later.
func ErrTooManyRequests(retryAfter time.Duration) *Error {
	e := newError(CodeInvalidClient, http.StatusTooManyRequests, "too many failed authentication attempts")
	e.RetryAfter = retryAfter
	return e
}

// ErrTemporarilyUnavailable: RFC 7009 §2.2.1; the client should retry.
func ErrTemporarilyUnavailable(retryAfter time.Duration, cause error) *Error {
	e := newError(CodeTemporarilyUnavailable, http.StatusServiceUnavailable, "the server is temporarily unable to handle the request")
	e.RetryAfter = retryAfter
	e.Cause = cause
	return e
}

// ErrServer wraps an unexpected failure; its cause is logged, never shown.
func ErrServer(cause error) *Error {
	e := newError(CodeServerError, http.StatusInternalServerError, "internal error")
	e.Cause = cause
	return e
}

// ErrUnauthorized: an admin endpoint was called without valid credentials.
func ErrUnauthorized(challenge string) *Error {
	e := newError(CodeInvalidToken, http.StatusUnauthorized, "missing or invalid credentials")
	e.Header = http.Header{"WWW-Authenticate": {challenge}}
	return e
}

// ErrForbidden: the caller is authenticated but not allowed.
func ErrForbidden(format string, args ...any) *Error {
	return newError(CodeAccessDenied, http.StatusForbidden, format, args...)
}

// ErrNotFound: no such resource (RFC 7592 answers 401 for unknown clients;
// admin endpoints answer 404).
func ErrNotFound(format string, args ...any) *Error {
	return newError(CodeInvalidRequest, http.StatusNotFound, format, args...)
}

// ErrMethodNotAllowed lists the methods the endpoint does accept.
func ErrMethodNotAllowed(allow string) *Error {
	e := newError(CodeInvalidRequest, http.StatusMethodNotAllowed, "method not allowed")
	e.Header = http.Header{"Allow": {allow}}
	return e
}

// ErrBodyTooLarge: the request body is over the endpoint's limit.
func ErrBodyTooLarge(limit int64) *Error {
	return newError(CodeInvalidRequest, http.StatusRequestEntityTooLarge, "request body larger than %d bytes", limit)
}

// AsError turns any error into the *Error to send: an *Error anywhere in the
// chain is used as it is; anything else becomes a server_error whose cause
// is kept for the log.
func AsError(err error) *Error {
	var oe *Error
	if errors.As(err, &oe) {
		return oe
	}
	return ErrServer(err)
}

// WriteError writes err as an RFC 6749 §5.2 JSON error response and logs it
// at the level the error chooses. Only Code and Description reach the client.
//
// When the client has gone (the request's context is cancelled: it closed
// the connection, or a write to it failed), nothing is written and err is
// logged at debug: whatever it became (a store call cancelled with the
// request fails with context.Canceled, a server_error by default), it is
// no fault of the server's, and nobody reads the answer.
func WriteError(w http.ResponseWriter, r *http.Request, log *slog.Logger, err error) {
	if errors.Is(r.Context().Err(), context.Canceled) {
		if log != nil {
			log.LogAttrs(r.Context(), slog.LevelDebug, "client went away", slog.String("cause", err.Error()))
		}
		return
	}
	oe := AsError(err)
	h := w.Header()
	for k, vs := range oe.Header {
		h[k] = vs
	}
	if oe.RetryAfter > 0 {
		secs := int((oe.RetryAfter + time.Second - 1) / time.Second)
		h.Set("Retry-After", strconv.Itoa(secs))
	}
	noStore(h, hdrJSON)
	w.WriteHeader(oe.Status)
	body := struct {
		Error       string `json:"error"`
		Description string `json:"error_description,omitempty"`
	}{oe.Code, oe.Description}
	_ = json.NewEncoder(w).Encode(body)

	if log != nil {
		attrs := []slog.Attr{slog.String("error", oe.Code), slog.Int("status", oe.Status)}
		if oe.Cause != nil {
			attrs = append(attrs, slog.String("cause", oe.Cause.Error()))
		}
		log.LogAttrs(r.Context(), oe.LogLevel(), "oauth error", attrs...)
	}
}

// writeJSON writes v as a JSON response with the no-store headers that
// RFC 6749 §5.1 requires of every response carrying tokens.
func writeJSON(w http.ResponseWriter, status int, v any) error {
	noStore(w.Header(), hdrJSON)
	w.WriteHeader(status)
	return json.NewEncoder(w).Encode(v)
}

// writeIntrospection writes an introspection response as writeJSON would.
func writeIntrospection(w http.ResponseWriter, in introspection) error {
	noStore(w.Header(), hdrJSON)
	w.WriteHeader(http.StatusOK)
	buf := make([]byte, 0, 512)
	_, err := w.Write(append(in.appendJSON(buf), '\n'))
	return err
}
