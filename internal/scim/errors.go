package scim

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"
	"strconv"
	"time"

	"github.com/tokend/tokend/internal/httperr"
)

// SCIM message schemas (RFC 7644 §3.12, §3.4.2, §3.5.2).
const (
	SchemaError        = "urn:ietf:params:scim:api:messages:2.0:Error"
	SchemaListResponse = "urn:ietf:params:scim:api:messages:2.0:ListResponse"
	SchemaPatchOp      = "urn:ietf:params:scim:api:messages:2.0:PatchOp"
)

// scimType values of RFC 7644 §3.12, Table 9.
const (
	TypeInvalidFilter = "invalidFilter"
	TypeUniqueness    = "uniqueness"
	TypeMutability    = "mutability"
	TypeInvalidSyntax = "invalidSyntax"
	TypeInvalidPath   = "invalidPath"
	TypeNoTarget      = "noTarget"
	TypeInvalidValue  = "invalidValue"
)

// ContentType is the media type of every SCIM answer (RFC 7644 §8.1).
const ContentType = "application/scim+json"

// Error is a SCIM error response (RFC 7644 §3.12): what the client sees
// (Status, ScimType, Detail) and, apart, the Cause that only goes to the log.
type Error struct {
	Status     int
	ScimType   string
	Detail     string
	Header     http.Header
	RetryAfter time.Duration
	Cause      error
}

func (e *Error) Error() string {
	s := "scim: " + strconv.Itoa(e.Status)
	if e.ScimType != "" {
		s += " " + e.ScimType
	}
	if e.Detail != "" {
		s += ": " + e.Detail
	}
	if e.Cause != nil {
		s += ": " + e.Cause.Error()
	}
	return s
}

// Unwrap returns the cause.
func (e *Error) Unwrap() error { return e.Cause }

func newError(status int, scimType, detail string) *Error {
	return &Error{Status: status, ScimType: scimType, Detail: detail}
}

func errSyntax(detail string) *Error {
	return newError(http.StatusBadRequest, TypeInvalidSyntax, detail)
}
func errValue(detail string) *Error { return newError(http.StatusBadRequest, TypeInvalidValue, detail) }
func errPath(detail string) *Error  { return newError(http.StatusBadRequest, TypeInvalidPath, detail) }
func errNotFound() *Error           { return newError(http.StatusNotFound, "", "no such user") }

// errorBody is the JSON of a SCIM error; status is a string (RFC 7644 §3.12).
type errorBody struct {
	Schemas  []string `json:"schemas"`
	Status   string   `json:"status"`
	ScimType string   `json:"scimType,omitempty"`
	Detail   string   `json:"detail,omitempty"`
}

// asError turns any error into the *Error to send: a SCIM error as it is,
// anything else as package httperr maps it (a refusal of package adminauth
// keeps its status and headers, a store outage is a 503, anything unknown a
// 500 whose cause is logged, never shown).
func asError(ctx context.Context, err error) *Error {
	var se *Error
	if errors.As(err, &se) {
		return se
	}
	a := httperr.Of(ctx, err)
	return &Error{Status: a.Status, Detail: a.Detail, Header: a.Header, RetryAfter: a.RetryAfter, Cause: err}
}

// writeError writes err as a SCIM error response and logs it: server
// faults at error level, refused credentials at info, the rest at debug.
// When the client went away, nothing is written and err is logged at debug.
func writeError(w http.ResponseWriter, r *http.Request, log *slog.Logger, err error) {
	if httperr.Of(r.Context(), err).Kind == httperr.ClientGone {
		log.LogAttrs(r.Context(), slog.LevelDebug, "client went away", slog.String("cause", err.Error()))
		return
	}
	e := asError(r.Context(), err)
	h := w.Header()
	httperr.SetHeaders(h, e.Header, e.RetryAfter)
	setHeaders(h)
	w.WriteHeader(e.Status)
	_ = json.NewEncoder(w).Encode(errorBody{
		Schemas: []string{SchemaError}, Status: strconv.Itoa(e.Status), ScimType: e.ScimType, Detail: e.Detail,
	})
	level := slog.LevelDebug
	switch {
	case e.Status >= 500:
		level = slog.LevelError
	case e.Status == http.StatusUnauthorized || e.Status == http.StatusForbidden || e.Status == http.StatusTooManyRequests:
		level = slog.LevelInfo
	}
	attrs := []slog.Attr{slog.Int("status", e.Status), slog.String("scim_type", e.ScimType)}
	if e.Cause != nil {
		attrs = append(attrs, slog.String("cause", e.Cause.Error()))
	}
	log.LogAttrs(r.Context(), level, "scim error", attrs...)
}

func setHeaders(h http.Header) {
	h.Set("Content-Type", ContentType)
	h.Set("Cache-Control", "no-store")
	h.Set("Pragma", "no-cache")
}

// writeJSON writes a SCIM resource or message.
func writeJSON(w http.ResponseWriter, status int, v any) error {
	setHeaders(w.Header())
	w.WriteHeader(status)
	return json.NewEncoder(w).Encode(v)
}
