package main

import (
	"strings"
	"testing"
)

// TestKeysRotateKeepsTheAlgorithm: `keys rotate` without --alg makes a key
// of the active key's algorithm, so rotating never changes what a server
// started with --jwt-alg signs with; --alg changes it on purpose. `keys
// list` shows the new key active and the old one still published.
func TestKeysRotateKeepsTheAlgorithm(t *testing.T) {
	t.Setenv("TOKEND_JWT_ALG", "")
	data := t.TempDir()
	// The first use of a data folder makes an RS256 key, the default.
	if _, err := cli(t, "", "keys", "list", "--data", data); err != nil {
		t.Fatal(err)
	}
	if _, err := cli(t, "", "keys", "rotate", "--alg", "ES256", "--data", data); err != nil {
		t.Fatal(err)
	}
	if _, err := cli(t, "", "keys", "rotate", "--data", data); err != nil {
		t.Fatal(err)
	}
	out, err := cli(t, "", "keys", "list", "--data", data)
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSpace(out), "\n")
	// The header, the new key, the ES256 key it replaced, and the RS256
	// key the keyring was created with. No token was signed, so the old
	// keys are already unpublished.
	if len(lines) != 4 {
		t.Fatalf("keys list:\n%s\nwant a header and three keys", out)
	}
	for i, want := range []struct{ alg, state string }{{"ES256", "active"}, {"ES256", "retired,"}, {"RS256", "retired,"}} {
		f := strings.Fields(lines[i+1])
		if len(f) < 4 || f[1] != want.alg || f[3] != want.state {
			t.Errorf("key %d: %q; want %s %s", i, lines[i+1], want.alg, want.state)
		}
	}
}
