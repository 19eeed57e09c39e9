package registry

import (
	"net/url"
	"slices"
)

// RedirectMatches reports whether asked is one of the registered redirect
// URIs: exactly, character for character (OAuth 2.1 §4.1.1, RFC 9700
// §2.1), except that a registered loopback redirect (http://127.0.0.1 or
// http://[::1], RFC 8252 §7.3) matches on any port, since a native app
// listens on whatever port its operating system gives it. It is the one
// rule: the authorization endpoint decides with it where a browser may be
// sent, so a looser copy elsewhere would be an open redirect.
func RedirectMatches(registered []string, asked string) bool {
	if asked == "" {
		return false
	}
	if slices.Contains(registered, asked) {
		return true
	}
	a, err := url.Parse(asked)
	if err != nil || a.Scheme != "http" || !loopback(a.Hostname()) || a.User != nil || a.Fragment != "" {
		return false
	}
	for _, r := range registered {
		u, err := url.Parse(r)
		if err != nil || u.Scheme != "http" || u.Hostname() != a.Hostname() {
			continue
		}
		if u.EscapedPath() == a.EscapedPath() && u.RawQuery == a.RawQuery {
			return true
		}
	}
	return false
}

// loopback reports whether host is a loopback IP literal (RFC 8252 §7.3:
// not "localhost", which a resolver may send elsewhere, §8.3).
func loopback(host string) bool { return host == "127.0.0.1" || host == "::1" }
