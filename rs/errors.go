package rs

import (
	"encoding/json"
	"net/http"
	"strconv"
	"strings"
)

// Error codes of RFC 6750 §3.1.
const (
	CodeInvalidRequest    = "invalid_request"
	CodeInvalidToken      = "invalid_token"
	CodeInsufficientScope = "insufficient_scope"
)

// Error is why a request was refused. The middleware writes it as an RFC
// 6750 §3 response; Check returns it.
type Error struct {
	// Status is the HTTP status: 400, 401, 403, or 503 when the
	// authorization server could not be asked whether the token is
	// revoked.
	Status int
	// Code is the RFC 6750 §3.1 error code; empty for a request with no
	// token at all (§3.1: no error code then) and for a 503.
	Code string
	// Description is a short explanation for the client's developer.
	Description string
	// Scope is the scope the request needs (insufficient_scope).
	Scope string
	// Err is the cause, for logs; it is never sent.
	Err error
	// Scheme is the scheme of the challenge: "" for Bearer (RFC 6750
	// §3), "DPoP" for a refusal of a DPoP-bound token or of its proof
	// (RFC 9449 §7.1), whose Code may then be invalid_dpop_proof or
	// use_dpop_nonce.
	Scheme string
	// Nonce, with use_dpop_nonce, is sent as DPoP-Nonce (RFC 9449 §9).
	Nonce string

	algs string // the DPoP algorithms, for the challenge's algs
}

func (e *Error) Error() string {
	s := "rs: " + e.Description
	if e.Err != nil {
		s += ": " + e.Err.Error()
	}
	return s
}

// Unwrap returns the cause.
func (e *Error) Unwrap() error { return e.Err }

func invalidToken(desc string, cause error) *Error {
	return &Error{Status: http.StatusUnauthorized, Code: CodeInvalidToken, Description: desc, Err: cause}
}

func unavailable(desc string, cause error) *Error {
	return &Error{Status: http.StatusServiceUnavailable, Description: desc, Err: cause}
}

// noToken: the request has no credentials (RFC 6750 §3.1: no error code).
func noToken() *Error {
	return &Error{Status: http.StatusUnauthorized, Description: "a bearer token is required"}
}

// writeError writes e: a WWW-Authenticate challenge, Bearer (RFC 6750 §3)
// or DPoP (RFC 9449 §7.1) as e.Scheme says, and a small JSON body of the
// same content. A request with no token at all is told of both schemes.
func writeError(w http.ResponseWriter, e *Error) {
	h := w.Header()
	if e.Status == http.StatusServiceUnavailable {
		h.Set("Retry-After", "1")
	} else {
		scheme := "Bearer"
		if e.Scheme != "" {
			scheme = e.Scheme
		}
		h.Set("WWW-Authenticate", challenge(scheme, e))
		if e.Code == "" && e.algs != "" {
			h.Add("WWW-Authenticate", challenge(dpopScheme, &Error{algs: e.algs}))
		}
		if e.Nonce != "" {
			h.Set(dpopNonceHeader, e.Nonce)
		}
	}
	h.Set("Content-Type", "application/json")
	h.Set("Cache-Control", "no-store")
	w.WriteHeader(e.Status)
	code := e.Code
	if code == "" && e.Status == http.StatusServiceUnavailable {
		code = "temporarily_unavailable"
	}
	_ = json.NewEncoder(w).Encode(struct {
		Error       string `json:"error,omitempty"`
		Description string `json:"error_description,omitempty"`
		Scope       string `json:"scope,omitempty"`
	}{code, e.Description, e.Scope})
}

// challenge is the WWW-Authenticate value of scheme for e.
func challenge(scheme string, e *Error) string {
	var b strings.Builder
	b.WriteString(scheme)
	sep := " "
	param := func(name, value string) {
		if value == "" {
			return
		}
		b.WriteString(sep + name + `="` + quotable(value) + `"`)
		sep = ", "
	}
	// A request without a token gets a bare challenge (§3.1).
	if e.Code != "" {
		param("error", e.Code)
		param("error_description", e.Description)
		param("scope", e.Scope)
	}
	if scheme == dpopScheme {
		param("algs", e.algs)
	}
	return b.String()
}

// quotable keeps the characters RFC 6750 §3 allows in a quoted value
// (%x20-21 / %x23-5B / %x5D-7E), dropping '"' and '\'.
func quotable(s string) string {
	return strings.Map(func(r rune) rune {
		if r < 0x20 || r > 0x7e || r == '"' || r == '\\' {
			return -1
		}
		return r
	}, s)
}

// statusText is used in error causes for unexpected answers.
func statusText(code int) string { return strconv.Itoa(code) + " " + http.StatusText(code) }
