package ratelimit

import (
	"net"
	"net/netip"
)

// AddressKey is the Limiter key of a request's RemoteAddr: the IPv4
// address, or the IPv6 /64, as client authentication counts failures. Other
// callers that rate-limit failed authentications per address (the admin
// endpoints) use it so that an address is keyed the same way everywhere.
func AddressKey(remoteAddr string) string { return "addr:" + hostOf(remoteAddr) }

// UserKey is the Limiter key of a username, as the password grant counts
// failed sign-ins: one key per user whichever endpoint was guessed at.
func UserKey(username string) string { return "user:" + username }

// LoginAddressKey is the Limiter key of a request's address for password
// guesses (the password grant, admin HTTP Basic), keyed like AddressKey
// but apart from it: users' typos through an app then never count against
// the app's own client authentication, nor stop it from revoking.
func LoginAddressKey(remoteAddr string) string { return "login-addr:" + hostOf(remoteAddr) }

// hostOf is the rate-limit key of a RemoteAddr: the IPv4 address, or the
// IPv6 /64 (one subscriber commonly holds a whole /64, so keying by full
// address would give an attacker 2^64 fresh keys).
func hostOf(remoteAddr string) string {
	host := remoteAddr
	if h, _, err := net.SplitHostPort(remoteAddr); err == nil {
		host = h
	}
	addr, err := netip.ParseAddr(host)
	if err != nil {
		return host
	}
	addr = addr.Unmap()
	if addr.Is6() {
		if p, err := addr.Prefix(64); err == nil {
			return p.String()
		}
	}
	return addr.String()
}

// UserCodeAddressKey and UserCodeSessionKey are the Limiter keys of the
// device verification page's wrong user codes (RFC 8628 §5.1), per address
// and per browser session: apart from the password keys, so that typing a
// code wrong does not lock a person out of signing in.
func UserCodeAddressKey(remoteAddr string) string { return "user-code-addr:" + hostOf(remoteAddr) }

// UserCodeSessionKey: see UserCodeAddressKey.
func UserCodeSessionKey(sid string) string { return "user-code-sid:" + sid }
