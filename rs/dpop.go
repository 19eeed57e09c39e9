package rs

import (
	"errors"
	"net/http"
	"strings"

	"github.com/tokend/tokend/dpop"
)

const (
	dpopScheme      = dpop.Scheme
	dpopNonceHeader = dpop.NonceHeader
)

// checkProof checks the DPoP proof of req, which presents token with the
// claims c under the DPoP scheme: a proof for this request (htm, htu) of
// the key the token is bound to, with the token's hash (RFC 9449 §7.1).
func (r *Guard) checkProof(req *http.Request, token string, c *Claims) *Error {
	if c.JKT == "" {
		return &Error{Status: http.StatusUnauthorized, Code: CodeInvalidToken, Scheme: dpopScheme,
			Description: "the token is not bound to a DPoP key: send it as a Bearer token"}
	}
	p, err := r.cfg.DPoP.Verify(req.Context(), req.Header.Values(dpop.HeaderName),
		dpop.Request{Method: req.Method, URI: r.requestURI(req), AccessToken: token})
	var de *dpop.Error
	switch {
	case errors.As(err, &de):
		return &Error{Status: http.StatusUnauthorized, Code: de.Code, Scheme: dpopScheme,
			Description: de.Description, Nonce: de.Nonce, Err: err}
	case err != nil:
		return unavailable("the DPoP proof could not be checked", err)
	}
	if p.JKT != c.JKT {
		return &Error{Status: http.StatusUnauthorized, Code: CodeInvalidToken, Scheme: dpopScheme,
			Description: "the DPoP proof is not of the key the token is bound to"}
	}
	return nil
}

// requestURI is the URI the client addressed req to, as a proof's htu
// names it: DPoPBaseURL with the path, or the request's own scheme and
// host. The query is left out: the proof's is ignored anyway.
func (r *Guard) requestURI(req *http.Request) string {
	path := req.URL.EscapedPath()
	if r.cfg.DPoPBaseURL != "" {
		return r.cfg.DPoPBaseURL + path
	}
	scheme := "http"
	if req.TLS != nil {
		scheme = "https"
	}
	return scheme + "://" + req.Host + path
}

// writeError writes e with the DPoP algorithms this Guard accepts in the
// challenge (RFC 9449 §7.1 algs).
func (r *Guard) writeError(w http.ResponseWriter, e *Error) {
	c := *e
	c.algs = strings.Join(r.cfg.DPoP.Algorithms(), " ")
	writeError(w, &c)
}
