// Package oautherr is the one OAuth error type (RFC 6749 §5.2: a code, a
// description, an HTTP status, and a cause that goes only to the log), its
// constructors, one per code, and its single writer, shared by the OAuth
// endpoints and the admin API. Errors from below the HTTP areas (the store,
// package adminauth) are mapped by package httperr.
package oautherr

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"mime"
	"net/http"
	"time"

	"github.com/tokend/tokend/internal/httperr"
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
	CodeInvalidRedirectURI     = "invalid_redirect_uri"
	CodeAccessDenied           = "access_denied"
	CodeInvalidToken           = "invalid_token"
	CodeInsufficientScope      = "insufficient_scope"
)

// basicChallenge is the WWW-Authenticate value of every invalid_client answer.
const basicChallenge = `Basic realm="tokend"`

// ContentTypeJSON is the Content-Type of every JSON answer.
const ContentTypeJSON = "application/json;charset=UTF-8"

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

// Is matches another *Error by code, so errors.Is(err, InvalidClient(""))
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

// New returns an error with code and status whose description is format,
// formatted with args when there are any.
func New(code string, status int, format string, args ...any) *Error {
	desc := format
	if len(args) > 0 {
		desc = fmt.Sprintf(format, args...)
	}
	return &Error{Code: code, Description: desc, Status: status}
}

// InvalidRequest: a parameter is missing, repeated or malformed.
func InvalidRequest(format string, args ...any) *Error {
	return New(CodeInvalidRequest, http.StatusBadRequest, format, args...)
}

// InvalidClient: client authentication failed (RFC 6749 §5.2); answered
// with 401 and a WWW-Authenticate challenge.
func InvalidClient(format string, args ...any) *Error {
	e := New(CodeInvalidClient, http.StatusUnauthorized, format, args...)
	e.Header = http.Header{"WWW-Authenticate": {basicChallenge}}
	return e
}

// InvalidGrant: the grant or refresh token is invalid, expired or revoked.
func InvalidGrant(format string, args ...any) *Error {
	return New(CodeInvalidGrant, http.StatusBadRequest, format, args...)
}

// UnauthorizedClient: the client may not do this.
func UnauthorizedClient(format string, args ...any) *Error {
	return New(CodeUnauthorizedClient, http.StatusBadRequest, format, args...)
}

// UnsupportedGrantType: the grant type is unknown to the server.
func UnsupportedGrantType(format string, args ...any) *Error {
	return New(CodeUnsupportedGrantType, http.StatusBadRequest, format, args...)
}

// InvalidScope: the requested scope is invalid or exceeds the grant.
func InvalidScope(format string, args ...any) *Error {
	return New(CodeInvalidScope, http.StatusBadRequest, format, args...)
}

// InvalidClientMetadata: RFC 7591 §3.2.2.
func InvalidClientMetadata(format string, args ...any) *Error {
	return New(CodeInvalidClientMetadata, http.StatusBadRequest, format, args...)
}

// InvalidRedirectURI: RFC 7591 §3.2.2, for redirection URIs that are
// invalid or missing.
func InvalidRedirectURI(format string, args ...any) *Error {
	return New(CodeInvalidRedirectURI, http.StatusBadRequest, format, args...)
}

// TooManyFailedAuthentications: too many failed authentications; retry later.
func TooManyFailedAuthentications(retryAfter time.Duration) *Error {
	e := New(CodeInvalidClient, http.StatusTooManyRequests, "too many failed authentication attempts")
	e.RetryAfter = retryAfter
	return e
}

// TemporarilyUnavailable: RFC 7009 §2.2.1; the client should retry.
func TemporarilyUnavailable(retryAfter time.Duration, cause error) *Error {
	e := New(CodeTemporarilyUnavailable, http.StatusServiceUnavailable, "the server is temporarily unable to handle the request")
	e.RetryAfter = retryAfter
	e.Cause = cause
	return e
}

// ServerError wraps an unexpected failure; its cause is logged, never shown.
func ServerError(cause error) *Error {
	e := New(CodeServerError, http.StatusInternalServerError, "internal error")
	e.Cause = cause
	return e
}

// Unauthorized: an admin endpoint was called without valid credentials.
func Unauthorized(challenge string) *Error {
	e := New(CodeInvalidToken, http.StatusUnauthorized, "missing or invalid credentials")
	e.Header = http.Header{"WWW-Authenticate": {challenge}}
	return e
}

// Forbidden: the caller is authenticated but not allowed.
func Forbidden(format string, args ...any) *Error {
	return New(CodeAccessDenied, http.StatusForbidden, format, args...)
}

// NotFound: no such resource (RFC 7592 answers 401 for unknown clients;
// admin endpoints answer 404).
func NotFound(format string, args ...any) *Error {
	return New(CodeInvalidRequest, http.StatusNotFound, format, args...)
}

// MethodNotAllowed lists the methods the endpoint does accept.
func MethodNotAllowed(allow string) *Error {
	e := New(CodeInvalidRequest, http.StatusMethodNotAllowed, "method not allowed")
	e.Header = http.Header{"Allow": {allow}}
	return e
}

// BodyTooLarge: the request body is over the endpoint's limit.
func BodyTooLarge(limit int64) *Error {
	return New(CodeInvalidRequest, http.StatusRequestEntityTooLarge, "request body larger than %d bytes", limit)
}

// From turns any error into the *Error to send: an *Error anywhere in the
// chain as it is; anything else as package httperr maps it — a store outage
// is temporarily_unavailable (503 with Retry-After, RFC 7009 §2.2.1), a
// refusal of package adminauth is invalid_token (401 with its challenges),
// access_denied (403) or access_denied with 429, and anything unknown a
// server_error whose cause is kept for the log, never shown.
func From(ctx context.Context, err error) *Error {
	var oe *Error
	if errors.As(err, &oe) {
		return oe
	}
	a := httperr.Of(ctx, err)
	switch a.Kind {
	case httperr.Unavailable:
		return TemporarilyUnavailable(a.RetryAfter, err)
	case httperr.Refused:
		oe = New(CodeAccessDenied, a.Status, "%s", a.Detail)
		if a.Status == http.StatusUnauthorized {
			oe.Code = CodeInvalidToken
		}
		oe.Header, oe.RetryAfter = a.Header, a.RetryAfter
		return oe.WithCause(err)
	default:
		return ServerError(err)
	}
}

// Write writes err as an RFC 6749 §5.2 JSON error response and logs it at
// the level the error chooses. Only Code and Description reach the client.
//
// When the client has gone (the request's context is cancelled: it closed
// the connection, or a write to it failed), nothing is written and err is
// logged at debug: whatever it became (a store call cancelled with the
// request fails with context.Canceled, a server_error by default), it is
// no fault of the server's, and nobody reads the answer.
func Write(w http.ResponseWriter, r *http.Request, log *slog.Logger, err error) {
	if httperr.Of(r.Context(), err).Kind == httperr.ClientGone {
		if log != nil {
			log.LogAttrs(r.Context(), slog.LevelDebug, "client went away", slog.String("cause", err.Error()))
		}
		return
	}
	oe := From(r.Context(), err)
	h := w.Header()
	httperr.SetHeaders(h, oe.Header, oe.RetryAfter)
	h.Set("Content-Type", ContentTypeJSON)
	h.Set("Cache-Control", "no-store")
	h.Set("Pragma", "no-cache")
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

// RequireJSON refuses, with 415 and the error code given, a request whose
// body is not application/json (parameters such as charset allowed). A
// browser sends that type cross-site only after a CORS preflight, which the
// admin endpoints never grant; a form or text/plain POST needs none, so
// without this check a page could ride on an admin's Basic credentials
// that the browser holds.
func RequireJSON(r *http.Request, code string) error {
	mt, _, err := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if err != nil || mt != "application/json" {
		return New(code, http.StatusUnsupportedMediaType, "the body must be application/json")
	}
	return nil
}
