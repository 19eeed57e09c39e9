package server

import (
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"strings"
)

// ParseTrustedProxies parses a comma-separated list of CIDR prefixes
// (10.0.0.0/8, fd00::/8) or single addresses (192.0.2.10), the proxies and
// load balancers whose X-Forwarded-For is believed. Spaces and empty items
// are ignored; an empty list trusts no proxy.
func ParseTrustedProxies(list string) ([]netip.Prefix, error) {
	var out []netip.Prefix
	for item := range strings.SplitSeq(list, ",") {
		item = strings.TrimSpace(item)
		if item == "" {
			continue
		}
		if p, err := netip.ParsePrefix(item); err == nil {
			out = append(out, unmapPrefix(p).Masked())
			continue
		}
		a, err := netip.ParseAddr(item)
		if err != nil || a.Zone() != "" {
			return nil, fmt.Errorf("trusted proxy %q is neither a CIDR prefix nor an IP address", item)
		}
		a = a.Unmap()
		out = append(out, netip.PrefixFrom(a, a.BitLen()))
	}
	return out, nil
}

// unmapPrefix turns an IPv4-mapped IPv6 prefix (::ffff:10.0.0.0/104) into
// its IPv4 form, since addresses are compared unmapped.
func unmapPrefix(p netip.Prefix) netip.Prefix {
	if !p.Addr().Is4In6() || p.Bits() < 96 {
		return p
	}
	return netip.PrefixFrom(p.Addr().Unmap(), p.Bits()-96)
}

// trustedProxies is a set of proxies whose X-Forwarded-For is believed.
type trustedProxies []netip.Prefix

func (t trustedProxies) contains(a netip.Addr) bool {
	for _, p := range t {
		if p.Contains(a) {
			return true
		}
	}
	return false
}

// withClientAddr sets the RemoteAddr of a request whose peer is a trusted
// proxy to the client's address from X-Forwarded-For, so that everything
// downstream (the failed-authentication limits per address, the request
// log) sees the client rather than the proxy. RemoteAddr is then the bare
// address, without a port.
//
// The client is the rightmost address of X-Forwarded-For that is not
// itself a trusted proxy: each proxy appends the address it received the
// request from, so the entries on the right were written by our proxies
// and those on the left by whoever sent the request, who may forge them.
// If every entry is a trusted proxy, the leftmost is the client; a
// malformed entry ends the walk at the last trusted address before it.
// A request from any other peer keeps its RemoteAddr, whatever headers it
// carries.
func withClientAddr(trusted []netip.Prefix, next http.Handler) http.Handler {
	if len(trusted) == 0 {
		return next
	}
	t := trustedProxies(trusted)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		peer, ok := parseHost(r.RemoteAddr)
		if !ok || !t.contains(peer) {
			next.ServeHTTP(w, r)
			return
		}
		client, ok := t.clientOf(r.Header.Values("X-Forwarded-For"))
		if !ok {
			next.ServeHTTP(w, r)
			return
		}
		r2 := r.WithContext(r.Context()) // a shallow copy: handlers must not change r
		r2.RemoteAddr = client.String()
		next.ServeHTTP(w, r2)
	})
}

// clientOf returns the client address of X-Forwarded-For header lines
// sent by a trusted proxy, as withClientAddr describes; false when there
// is none to take.
func (t trustedProxies) clientOf(lines []string) (netip.Addr, bool) {
	var entries []string
	for _, line := range lines {
		entries = append(entries, strings.Split(line, ",")...)
	}
	var client netip.Addr
	for i := len(entries) - 1; i >= 0; i-- {
		a, ok := parseForwarded(strings.TrimSpace(entries[i]))
		if !ok {
			break
		}
		client = a
		if !t.contains(a) {
			break
		}
	}
	return client, client.IsValid()
}

// parseHost returns the address of a RemoteAddr ("ip:port", or a bare ip).
func parseHost(remoteAddr string) (netip.Addr, bool) {
	host := remoteAddr
	if h, _, err := net.SplitHostPort(remoteAddr); err == nil {
		host = h
	}
	a, err := netip.ParseAddr(host)
	if err != nil {
		return netip.Addr{}, false
	}
	return a.WithZone("").Unmap(), true
}

// parseForwarded parses one X-Forwarded-For entry: an address, possibly
// with a port ("192.0.2.1:4711", "[2001:db8::1]:4711") as some proxies
// write it.
func parseForwarded(entry string) (netip.Addr, bool) {
	if a, err := netip.ParseAddr(entry); err == nil {
		return a.WithZone("").Unmap(), true
	}
	if ap, err := netip.ParseAddrPort(entry); err == nil {
		return ap.Addr().WithZone("").Unmap(), true
	}
	return netip.Addr{}, false
}
