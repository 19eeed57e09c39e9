package rs

// CanonicalCompact reports whether every dot-separated segment of s is the
// canonical unpadded base64url encoding of its bytes (RFC 7515 §2; RFC 4648
// §5 and §3.5): characters of the base64url alphabet only, no padding, no
// length of 1 modulo 4, and zero in the bits of the last character that
// encode no byte.
//
// go-jose decodes with base64.RawURLEncoding, which ignores those bits and
// skips CR and LF, and verifies the signature over the re-encoded header
// and payload, so a token spelt differently from the one issued still
// verifies. The authorization server knows a token by the SHA-256 of its
// text: it would not recognise such a spelling, so its owner could not
// revoke or introspect it by that text, and the revocation feed's token
// hashes would not name it. A token is accepted only in the spelling its
// issuer wrote; tokend's own verifier uses this same check. It reads each
// character once and allocates nothing.
func CanonicalCompact(s string) bool {
	start := 0
	for i := 0; i <= len(s); i++ {
		if i < len(s) && s[i] != '.' {
			continue
		}
		if !canonicalSegment(s[start:i]) {
			return false
		}
		start = i + 1
	}
	return true
}

// canonicalSegment reports whether seg is canonical unpadded base64url.
// A final group of 2 characters encodes one byte in 12 bits, of 3
// characters two bytes in 18 bits: the last character's low 4 or 2 bits
// are unused and must be zero. A final group of 1 character encodes
// nothing and is malformed.
func canonicalSegment(seg string) bool {
	var last byte
	for i := 0; i < len(seg); i++ {
		v := base64URLValue[seg[i]]
		if v == invalidBase64 {
			return false
		}
		last = v
	}
	switch len(seg) % 4 {
	case 1:
		return false
	case 2:
		return last&0x0f == 0
	case 3:
		return last&0x03 == 0
	}
	return true
}

const invalidBase64 = 0xff

// base64URLValue maps a character to its 6-bit value in the base64url
// alphabet (RFC 4648 §5), or invalidBase64.
var base64URLValue = func() (t [256]byte) {
	const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
	for i := range t {
		t[i] = invalidBase64
	}
	for i := range len(alphabet) {
		t[alphabet[i]] = byte(i)
	}
	return t
}()
