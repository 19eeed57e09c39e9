package token

import (
	"crypto/rand"
	"fmt"
	"strings"
)

// userCodeAlphabet is the user code's alphabet (RFC 8628 §6.1): twenty
// consonants, no vowel (so no word forms) and no character a person
// confuses with another (no 0/O, 1/I/L, 5/S is kept apart by having no
// digits at all).
const userCodeAlphabet = "BCDFGHJKLMNPQRSTVWXZ"

// UserCodeLen is the number of characters of a user code: 20^8 ≈ 2^34.6
// codes, which, with a code living ten minutes and guesses rate-limited,
// leaves an attacker a negligible chance (RFC 8628 §5.1).
const UserCodeLen = 8

// NewUserCode returns a fresh user code as a person is shown it: two
// groups of four separated by a dash, e.g. "WDJB-MJHT".
func NewUserCode() (string, error) {
	var b [UserCodeLen]byte
	// 256 = 12×20 + 16: a byte mod 20 would favour the first sixteen
	// characters, so a byte at or above 240 is drawn again.
	var random [1]byte
	for i := 0; i < UserCodeLen; {
		if _, err := rand.Read(random[:]); err != nil {
			return "", fmt.Errorf("token: read random bytes: %w", err)
		}
		if random[0] >= 240 {
			continue
		}
		b[i] = userCodeAlphabet[random[0]%20]
		i++
	}
	return string(b[:4]) + "-" + string(b[4:]), nil
}

// NormalUserCode returns the user code a person typed in its one stored
// form: upper case, without the dashes and spaces people type or copy
// with it (RFC 8628 §6.1). ok is false when what is left is not a user
// code, which is then not worth a lookup.
func NormalUserCode(typed string) (code string, ok bool) {
	var b strings.Builder
	for _, r := range strings.ToUpper(typed) {
		switch {
		case r == '-' || r == ' ' || r == '\t':
		case r < 128 && strings.IndexByte(userCodeAlphabet, byte(r)) >= 0 && b.Len() < UserCodeLen:
			b.WriteRune(r)
		default:
			return "", false
		}
	}
	if b.Len() != UserCodeLen {
		return "", false
	}
	return b.String(), true
}
