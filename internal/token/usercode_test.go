package token_test

import (
	"testing"

	"github.com/tokend/tokend/internal/token"
)

// TestUserCode: fresh codes are XXXX-XXXX from the alphabet and normalise
// to themselves without the dash; what people type around a code
// (lower case, spaces, dashes) normalises to it; anything else does not.
func TestUserCode(t *testing.T) {
	seen := map[string]bool{}
	for range 200 {
		c, err := token.NewUserCode()
		if err != nil {
			t.Fatal(err)
		}
		n, ok := token.NormalUserCode(c)
		if len(c) != 9 || c[4] != '-' || !ok || n != c[:4]+c[5:] {
			t.Fatalf("NewUserCode = %q, normal %q %v", c, n, ok)
		}
		seen[c] = true
	}
	if len(seen) < 199 {
		t.Errorf("%d distinct codes of 200", len(seen))
	}
	for typed, want := range map[string]string{
		"wdjb-mjht": "WDJBMJHT", " WDJB MJHT ": "WDJBMJHT", "WD-JB-MJ-HT": "WDJBMJHT",
		"WDJBMJHT": "WDJBMJHT", "WDJB-MJH": "", "WDJB-MJHTX": "", "WDJB-MJH0": "", "WAJB-MJHT": "", "": "",
		"WDJB-MJHÉ": "",
	} {
		got, ok := token.NormalUserCode(typed)
		if got != want || ok != (want != "") {
			t.Errorf("NormalUserCode(%q) = %q, %v; want %q", typed, got, ok, want)
		}
	}
}
