package dpop

import (
	"net/url"
	"strings"
)

// SameURI reports whether a proof's htu and the request's URI are the same
// resource, as RFC 9449 §4.3 compares them: query and fragment ignored,
// and both normalised as RFC 3986 §6.2.2 and §6.2.3 do (scheme and host
// in lower case, the scheme's default port dropped, an empty path as "/",
// percent-encoding in one canonical form). Only http and https URIs with
// a host match.
func SameURI(htu, uri string) bool {
	a, ok := normalURI(htu)
	if !ok {
		return false
	}
	b, ok := normalURI(uri)
	return ok && a == b
}

func normalURI(s string) (string, bool) {
	u, err := url.Parse(s)
	if err != nil || u.Host == "" || u.Opaque != "" {
		return "", false
	}
	scheme := strings.ToLower(u.Scheme)
	if scheme != "https" && scheme != "http" {
		return "", false
	}
	host := strings.ToLower(u.Hostname())
	if port := u.Port(); port != "" && !(scheme == "https" && port == "443") && !(scheme == "http" && port == "80") {
		host += ":" + port
	} else if strings.Contains(host, ":") {
		host = "[" + host + "]" // an IPv6 literal without its port
	}
	// Path is decoded; with RawPath cleared EscapedPath encodes it again
	// in Go's one form, so %7E and ~, or %3a and %3A, compare equal.
	u.RawPath = ""
	path := u.EscapedPath()
	if path == "" {
		path = "/"
	}
	return scheme + "://" + host + path, true
}
