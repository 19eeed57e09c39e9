package ratelimit

import "testing"

func TestHostOf(t *testing.T) {
	for in, want := range map[string]string{
		"127.0.0.1:5555":             "127.0.0.1",
		"[::ffff:10.0.0.1]:80":       "10.0.0.1",
		"[2001:db8:1:2:3:4:5:6]:443": "2001:db8:1:2::/64",
		"[2001:db8:1:2:ffff::1]:443": "2001:db8:1:2::/64",
		"not-an-address":             "not-an-address",
	} {
		if got := hostOf(in); got != want {
			t.Errorf("hostOf(%q) = %q; want %q", in, got, want)
		}
	}
}
