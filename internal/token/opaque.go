package token

import (
	"crypto/rand"
	"encoding/binary"
	"fmt"
	"hash/crc32"
	"math/bits"

	"github.com/tokend/tokend/internal/store"
)

// Prefixes of opaque tokens, one per kind. They are part of the checksummed
// text, so a token whose prefix was changed to the other kind's is rejected.
const (
	AccessPrefix  = "tka_"
	RefreshPrefix = "tkr_"
)

// Layout of an opaque token, 53 bytes:
//
//	tka_L7Zyva3RqnFIs5C4FpyFu0L6faPc9Roe6FfV3uTxy5R0DTHvG
//	prefix (4) | random: 32 bytes as 43 base62 digits | checksum: 6 base62 digits
//
// The checksum is the CRC-32C of the first 47 bytes, prefix included. Both
// numbers are big-endian, fixed width and left-padded with '0'. 43 base62
// digits hold 256.03 bits and 6 hold 35.7: just enough for 2^256 and 2^32.
const (
	prefixLen   = 4
	randomBytes = 32
	randomLen   = 43
	checksumLen = 6
	bodyLen     = prefixLen + randomLen // the checksummed part
	// tokenLen is the length of every opaque token.
	tokenLen = bodyLen + checksumLen
)

// alphabet is base62 in ASCII order, so that for tokens of one kind string
// order is numeric order.
const alphabet = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"

// isBase62 marks the bytes of alphabet.
var isBase62 = func() (t [256]bool) {
	for i := range len(alphabet) {
		t[alphabet[i]] = true
	}
	return t
}()

// New returns a fresh opaque token of the kind (store.AccessToken or
// store.RefreshToken).
func New(kind store.TokenKind) (string, error) {
	prefix, err := prefixOf(kind)
	if err != nil {
		return "", err
	}
	var random [randomBytes]byte
	// Since Go 1.24 crypto/rand.Read never fails (it crashes the program
	// instead), but the error is checked in case that changes.
	if _, err := rand.Read(random[:]); err != nil {
		return "", fmt.Errorf("token: read random bytes: %w", err)
	}
	var buf [tokenLen]byte
	copy(buf[:prefixLen], prefix)
	encodeRandom((*[randomLen]byte)(buf[prefixLen:bodyLen]), &random)
	encodeChecksum((*[checksumLen]byte)(buf[bodyLen:]), checksum(buf[:bodyLen]))
	return string(buf[:]), nil
}

func prefixOf(kind store.TokenKind) (string, error) {
	switch kind {
	case store.AccessToken:
		return AccessPrefix, nil
	case store.RefreshToken:
		return RefreshPrefix, nil
	}
	return "", fmt.Errorf("token: no opaque format for token kind %q", kind)
}

// Parse reports the kind of a well-formed opaque token: the right length, a
// known prefix, a base62 random part and a checksum that matches. It
// returns ok=false for anything else, JWTs and other vendors' tokens
// included. Parse does not allocate, and says nothing about whether the
// token was ever issued: that takes a store lookup by store.HashToken.
//
// The random part is not checked to be below 2^256: a token whose checksum
// matches has no other way to be wrong short of the lookup.
func Parse(s string) (kind store.TokenKind, ok bool) {
	if len(s) != tokenLen {
		return "", false
	}
	switch s[:prefixLen] {
	case AccessPrefix:
		kind = store.AccessToken
	case RefreshPrefix:
		kind = store.RefreshToken
	default:
		return "", false
	}
	for i := prefixLen; i < bodyLen; i++ {
		if !isBase62[s[i]] {
			return "", false
		}
	}
	// Compare with the canonical encoding of the checksum: that also
	// rejects non-base62 bytes and over-long encodings in the last six.
	var want [checksumLen]byte
	encodeChecksum(&want, checksum(s[:bodyLen]))
	if string(want[:]) != s[bodyLen:] {
		return "", false
	}
	return kind, true
}

// encodeRandom writes b, read as a 256-bit big-endian number, as 43 base62
// digits. It divides by 62^10, the largest power of 62 below 2^64, so four
// passes of four 128-by-64-bit divisions peel off 40 digits and the
// remaining quotient (below 2^18) makes the last three.
func encodeRandom(dst *[randomLen]byte, b *[randomBytes]byte) {
	const pow62_10 = 839299365868340224 // 62^10
	var n [4]uint64                     // most significant word first
	for i := range n {
		n[i] = binary.BigEndian.Uint64(b[8*i:])
	}
	pos := randomLen
	for range 4 {
		var r uint64
		for i := range n {
			n[i], r = bits.Div64(r, n[i], pow62_10)
		}
		for range 10 {
			pos--
			dst[pos] = alphabet[r%62]
			r /= 62
		}
	}
	r := n[3] // n[0..2] are zero now: 2^256 / 62^40 < 2^18
	for pos > 0 {
		pos--
		dst[pos] = alphabet[r%62]
		r /= 62
	}
}

// encodeChecksum writes c as six base62 digits.
func encodeChecksum(dst *[checksumLen]byte, c uint32) {
	r := uint64(c)
	for i := checksumLen - 1; i >= 0; i-- {
		dst[i] = alphabet[r%62]
		r /= 62
	}
}

// The checksum is CRC-32C (Castagnoli) rather than CRC-32 (IEEE): over the
// 376 bits it covers, CRC-32C detects every change of up to 5 bits
// (Hamming distance 6) where IEEE detects up to 4, and it is the one CPUs
// compute in hardware (SSE 4.2, ARMv8), which helps other implementations,
// secret scanners for instance. Either detects every change confined to 32
// consecutive bits, so every single mistyped character.
//
// It is computed here, table-driven over 8 bytes at a time, rather than by
// hash/crc32: that package calls its hardware path through a function
// variable, so the bytes passed to it escape and Parse would allocate.
var crcTables = func() (t [8][256]uint32) {
	t[0] = *crc32.MakeTable(crc32.Castagnoli)
	for i := range 256 {
		c := t[0][i]
		for k := 1; k < 8; k++ {
			c = t[0][c&0xff] ^ c>>8
			t[k][i] = c
		}
	}
	return t
}()

// checksum returns the CRC-32C of p (slicing-by-8).
func checksum[T string | []byte](p T) uint32 {
	t := &crcTables
	crc := ^uint32(0)
	for len(p) >= 8 {
		crc ^= uint32(p[0]) | uint32(p[1])<<8 | uint32(p[2])<<16 | uint32(p[3])<<24
		crc = t[0][p[7]] ^ t[1][p[6]] ^ t[2][p[5]] ^ t[3][p[4]] ^
			t[4][crc>>24] ^ t[5][crc>>16&0xff] ^ t[6][crc>>8&0xff] ^ t[7][crc&0xff]
		p = p[8:]
	}
	for i := range len(p) {
		crc = t[0][byte(crc)^p[i]] ^ crc>>8
	}
	return ^crc
}
