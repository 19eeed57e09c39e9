package oauth

import (
	"errors"
	"io"
	"mime"
	"net/http"
	"net/url"
	"strings"
	"unicode/utf8"

	"github.com/tokend/tokend/internal/oautherr"
)

// MaxFormBytes bounds the body of every form endpoint; a larger body is
// answered 413 without being read past the limit.
const MaxFormBytes = 64 << 10

// credentialParams must never travel in a URL, where proxies and logs would
// keep them (RFC 6749 §2.3.1, RFC 7009 §2.1).
var credentialParams = []string{"token", "client_secret", "password", "refresh_token", "assertion", "client_assertion"}

// parseForm reads an application/x-www-form-urlencoded POST body strictly:
// a wrong content type, a repeated parameter (RFC 6749 §3.1), a credential
// in the query string or a body over MaxFormBytes is an error.
func parseForm(w http.ResponseWriter, r *http.Request) (url.Values, error) {
	if r.ContentLength > MaxFormBytes {
		return nil, tooLarge(w)
	}
	if !isForm(r.Header.Get("Content-Type")) {
		return nil, oautherr.InvalidRequest("content type must be application/x-www-form-urlencoded")
	}
	if r.URL.RawQuery != "" {
		q, err := url.ParseQuery(r.URL.RawQuery)
		if err != nil {
			return nil, oautherr.InvalidRequest("malformed query string")
		}
		for _, p := range credentialParams {
			if q.Has(p) {
				return nil, oautherr.InvalidRequest("parameter %s must be sent in the request body, not in the URL", p)
			}
		}
	}
	body, err := readBody(w, r)
	if err != nil {
		var maxBytes *http.MaxBytesError
		if errors.As(err, &maxBytes) {
			return nil, tooLarge(w)
		}
		return nil, oautherr.InvalidRequest("could not read the request body")
	}
	form, err := url.ParseQuery(string(body))
	if err != nil {
		return nil, oautherr.InvalidRequest("malformed form body")
	}
	for name, vs := range form {
		if len(vs) > 1 && !repeatable[name] {
			return nil, oautherr.InvalidRequest("parameter %s is repeated", name)
		}
		if len(vs) > 1 && !text(vs...) {
			return nil, oautherr.InvalidRequest("parameter %.40q is not valid UTF-8 text", name)
		}
		// No OAuth parameter holds a NUL or invalid UTF-8, and a store
		// may refuse them (PostgreSQL text cannot hold NUL). The token
		// to revoke or introspect is exempt: a malformed token is not a
		// malformed request (RFC 7009 §2.2), and it is only ever hashed
		// or parsed, never stored as text.
		if name != "token" && !text(name, vs[0]) {
			return nil, oautherr.InvalidRequest("parameter %.40q is not valid UTF-8 text", name)
		}
	}
	return form, nil
}

// repeatable are the parameters that may be sent more than once: the
// targets of a token exchange (RFC 8693 §2.1, RFC 8707 §2).
var repeatable = map[string]bool{"resource": true, "audience": true}

// formType is the one content type of a form endpoint.
const formType = "application/x-www-form-urlencoded"

// isForm reports whether contentType is formType. Clients nearly always
// send it bare, which is checked without the parse (and the map of
// parameters) mime.ParseMediaType costs.
func isForm(contentType string) bool {
	if contentType == formType {
		return true
	}
	mt, _, err := mime.ParseMediaType(contentType)
	return err == nil && mt == formType
}

// readBody reads r's body, at most MaxFormBytes. A body of a declared
// length (parseForm has checked it is not over the bound) is read into a
// buffer of that length, without the bounding reader and the growing
// buffer io.ReadAll starts at 512 bytes: net/http ends such a body at its
// Content-Length, so it cannot be longer.
func readBody(w http.ResponseWriter, r *http.Request) ([]byte, error) {
	if n := r.ContentLength; n > 0 && n <= MaxFormBytes {
		body := make([]byte, n)
		if _, err := io.ReadFull(r.Body, body); err != nil {
			return nil, err
		}
		return body, nil
	}
	return io.ReadAll(http.MaxBytesReader(w, r.Body, MaxFormBytes))
}

// text reports whether every s is valid UTF-8 without a NUL.
func text(ss ...string) bool {
	for _, s := range ss {
		if !utf8.ValidString(s) || strings.IndexByte(s, 0) >= 0 {
			return false
		}
	}
	return true
}

// tooLarge answers a body over MaxFormBytes. The connection is closed
// after the answer: otherwise net/http would read on through the unread
// body to reuse the connection.
func tooLarge(w http.ResponseWriter) error {
	w.Header().Set("Connection", "close")
	return oautherr.BodyTooLarge(MaxFormBytes)
}

// required returns the single value of a parameter that must be present.
func required(form url.Values, name string) (string, error) {
	v := form.Get(name)
	if v == "" {
		return "", oautherr.InvalidRequest("missing parameter %s", name)
	}
	return v, nil
}
