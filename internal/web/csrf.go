package web

import (
	"crypto/subtle"
	"encoding/base64"
	"net/http"
	"net/url"
)

// csrfField is the hidden field of every form that echoes the CSRF cookie.
// Another site can make a browser post a form here, cookies and all
// (SameSite=Lax does not stop a top-level POST from the same site's other
// pages, nor a GET), but it can neither read the cookie nor set a __Host-
// one: a form whose field matches the cookie was made by these pages.
const csrfField = "csrf_token"

// csrfToken returns the browser's CSRF token, setting a new cookie when it
// has none.
func csrfToken(w http.ResponseWriter, r *http.Request) (string, error) {
	if c, err := r.Cookie(csrfCookie); err == nil && wellFormedToken(c.Value) {
		return c.Value, nil
	}
	v, err := randomString(secretBytes)
	if err != nil {
		return "", err
	}
	http.SetCookie(w, newCookie(csrfCookie, v, 0))
	return v, nil
}

// checkCSRF refuses, with 403, a form whose csrf_token does not match the
// browser's CSRF cookie, compared in constant time. Nothing else of the
// form is looked at before it passes.
func checkCSRF(r *http.Request, form url.Values) error {
	c, err := r.Cookie(csrfCookie)
	sent, ok := single(form, csrfField, maxParamBytes)
	if err != nil || !ok || !wellFormedToken(c.Value) || subtle.ConstantTimeCompare([]byte(c.Value), []byte(sent)) != 1 {
		return &pageError{status: http.StatusForbidden, heading: "This form could not be verified",
			message: "The form was not sent from this page as it was shown, or your browser did not keep its cookie. Nothing was done. Go back to the application and start again."}
	}
	return nil
}

// wellFormedToken reports whether v has the shape of a CSRF token.
func wellFormedToken(v string) bool {
	return len(v) == base64.RawURLEncoding.EncodedLen(secretBytes) && unreserved(v)
}
