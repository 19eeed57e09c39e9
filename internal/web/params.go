package web

import (
	"errors"
	"io"
	"mime"
	"net/http"
	"net/url"
	"strings"
	"unicode/utf8"
)

// maxFormBytes bounds the body of a page's POST: the authorization
// parameters, an ID Token hint and a password fit many times over.
const maxFormBytes = 64 << 10

// maxParamBytes bounds every parameter but the ID Token hint: a state or a
// nonce longer than this is no client's, and would be echoed or stored.
const maxParamBytes = 4 << 10

// readParams returns the parameters of a page request: the query of a GET,
// the form body of a POST (never its query). The body is bounded; one that
// is too large, of another type or malformed is shown as an error page.
func readParams(w http.ResponseWriter, r *http.Request) (url.Values, error) {
	if r.Method != http.MethodPost {
		q, err := url.ParseQuery(r.URL.RawQuery)
		if err != nil {
			return nil, brokenLink()
		}
		return q, nil
	}
	mt, _, err := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if err != nil || mt != "application/x-www-form-urlencoded" {
		return nil, &pageError{status: http.StatusUnsupportedMediaType, heading: "The form could not be read",
			message: "The form was sent in a way this page does not read. Go back to the application and try again."}
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxFormBytes))
	var tooLarge *http.MaxBytesError
	switch {
	case errors.As(err, &tooLarge):
		w.Header().Set("Connection", "close")
		return nil, &pageError{status: http.StatusRequestEntityTooLarge, heading: "The form is too large",
			message: "The form sent to this page is larger than any of its forms. Go back to the application and try again."}
	case err != nil:
		return nil, &pageError{status: http.StatusBadRequest, heading: "The form could not be read",
			message: "The form did not arrive whole. Try again."}
	}
	form, err := url.ParseQuery(string(body))
	if err != nil {
		return nil, brokenLink()
	}
	return form, nil
}

// brokenLink is the error page of a request whose parameters cannot be
// read at all.
func brokenLink() *pageError {
	return badRequest("This link is broken",
		"The address of this page is malformed. Go back to the application and try again.")
}

// single returns the one value of the parameter name, "" when absent. ok
// is false when it is repeated (RFC 6749 §3.1), longer than limit, or not
// text (invalid UTF-8, or a NUL, which no parameter holds and a store may
// refuse).
func single(vals url.Values, name string, limit int) (v string, ok bool) {
	vs := vals[name]
	switch {
	case len(vs) == 0:
		return "", true
	case len(vs) > 1:
		return "", false
	}
	v = vs[0]
	if len(v) > limit || !utf8.ValidString(v) || strings.IndexByte(v, 0) >= 0 {
		return "", false
	}
	return v, true
}
