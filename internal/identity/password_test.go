package identity

import (
	"errors"
	"regexp"
	"strings"
	"testing"
	"time"
)

var phcRE = regexp.MustCompile(`^\$argon2id\$v=19\$m=19456,t=2,p=1\$[A-Za-z0-9+/]{22}\$[A-Za-z0-9+/]{43}$`)

func TestHashPassword(t *testing.T) {
	h1, err := HashPassword("correct horse battery staple")
	if err != nil {
		t.Fatal(err)
	}
	if !phcRE.MatchString(h1) {
		t.Errorf("HashPassword = %q; want a PHC string matching %s", h1, phcRE)
	}
	h2, err := HashPassword("correct horse battery staple")
	if err != nil {
		t.Fatal(err)
	}
	if h1 == h2 {
		t.Errorf("two hashes of one password are both %q; want different salts", h1)
	}
	for _, tc := range []struct {
		name string
		pw   string
		want bool
	}{
		{"right", "correct horse battery staple", true},
		{"wrong", "correct horse battery stapler", false},
		{"case", "Correct horse battery staple", false},
		{"empty", "", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := VerifyPassword(h1, tc.pw)
			if err != nil || got != tc.want {
				t.Errorf("VerifyPassword(hash, %q) = %v, %v; want %v, nil", tc.pw, got, err, tc.want)
			}
		})
	}
}

func TestHashPasswordEmpty(t *testing.T) {
	if h, err := HashPassword(""); !errors.Is(err, ErrEmptySecret) {
		t.Errorf("HashPassword(\"\") = %q, %v; want ErrEmptySecret", h, err)
	}
}

// The vector of the reference implementation (phc-winner-argon2,
// src/test.c): other implementations' hashes verify, and parameters come
// from the stored string (m=64 MiB here, not our 19 MiB).
func TestVerifyPasswordReferenceVector(t *testing.T) {
	const stored = "$argon2id$v=19$m=65536,t=2,p=1$c29tZXNhbHQ$CTFhFdXPJO1aFaMaO6Mm5c8y7cJHAph8ArZWb2GRPPc"
	for _, tc := range []struct {
		pw   string
		want bool
	}{
		{"password", true},
		{"Password", false},
	} {
		got, err := VerifyPassword(stored, tc.pw)
		if err != nil || got != tc.want {
			t.Errorf("VerifyPassword(reference, %q) = %v, %v; want %v, nil", tc.pw, got, err, tc.want)
		}
	}
}

func TestVerifyPasswordMalformed(t *testing.T) {
	const (
		salt = "c29tZXNhbHQ"                                 // "somesalt"
		key  = "CTFhFdXPJO1aFaMaO6Mm5c8y7cJHAph8ArZWb2GRPPc" // 32 bytes
	)
	for _, tc := range []struct {
		name, stored string
	}{
		{"empty", ""},
		{"sha256 form", "sha256$47DEQpj8HBSa-_TImW-5JCeuQeRkm5NMpJWZG3hSuFU"},
		{"argon2i", "$argon2i$v=19$m=65536,t=2,p=1$" + salt + "$" + key},
		{"bcrypt", "$2a$10$N9qo8uLOickgx2ZMRZoMyeIjZAgcfl7p92ldGxad68LJZdL17lhWy"},
		{"no version", "$argon2id$m=65536,t=2,p=1$" + salt + "$" + key},
		{"version 16", "$argon2id$v=16$m=65536,t=2,p=1$" + salt + "$" + key},
		{"no key", "$argon2id$v=19$m=65536,t=2,p=1$" + salt},
		{"trailing field", "$argon2id$v=19$m=65536,t=2,p=1$" + salt + "$" + key + "$"},
		{"parameters reordered", "$argon2id$v=19$t=2,m=65536,p=1$" + salt + "$" + key},
		{"parameter missing", "$argon2id$v=19$m=65536,t=2$" + salt + "$" + key},
		{"extra parameter", "$argon2id$v=19$m=65536,t=2,p=1,k=1$" + salt + "$" + key},
		{"memory zero", "$argon2id$v=19$m=0,t=2,p=1$" + salt + "$" + key},
		{"memory over 1 GiB", "$argon2id$v=19$m=1048577,t=2,p=1$" + salt + "$" + key},
		{"memory 2^32", "$argon2id$v=19$m=4294967296,t=2,p=1$" + salt + "$" + key},
		{"memory below 8 KiB a lane", "$argon2id$v=19$m=31,t=2,p=4$" + salt + "$" + key},
		{"memory signed", "$argon2id$v=19$m=+65536,t=2,p=1$" + salt + "$" + key},
		{"memory not a number", "$argon2id$v=19$m=lots,t=2,p=1$" + salt + "$" + key},
		{"time zero", "$argon2id$v=19$m=65536,t=0,p=1$" + salt + "$" + key},
		{"time over 20", "$argon2id$v=19$m=65536,t=21,p=1$" + salt + "$" + key},
		{"time huge", "$argon2id$v=19$m=65536,t=4294967295,p=1$" + salt + "$" + key},
		{"threads zero", "$argon2id$v=19$m=65536,t=2,p=0$" + salt + "$" + key},
		{"threads over 16", "$argon2id$v=19$m=65536,t=2,p=17$" + salt + "$" + key},
		{"threads over 255", "$argon2id$v=19$m=65536,t=2,p=256$" + salt + "$" + key},
		{"salt empty", "$argon2id$v=19$m=65536,t=2,p=1$$" + key},
		{"salt short", "$argon2id$v=19$m=65536,t=2,p=1$c2FsdA$" + key},
		{"salt long", "$argon2id$v=19$m=65536,t=2,p=1$" + strings.Repeat("A", 88) + "$" + key},
		{"salt padded", "$argon2id$v=19$m=65536,t=2,p=1$" + salt + "=$" + key},
		{"salt not base64", "$argon2id$v=19$m=65536,t=2,p=1$c29tZXNh*HQ$" + key},
		{"key short", "$argon2id$v=19$m=65536,t=2,p=1$" + salt + "$" + key[:20]},
		{"key long", "$argon2id$v=19$m=65536,t=2,p=1$" + salt + "$" + strings.Repeat(key, 3)},
		{"key url alphabet", "$argon2id$v=19$m=65536,t=2,p=1$" + salt + "$" + strings.ReplaceAll(key, "J", "-")},
	} {
		t.Run(tc.name, func(t *testing.T) {
			start := time.Now()
			ok, err := VerifyPassword(tc.stored, "password")
			if ok || !errors.Is(err, ErrMalformedHash) {
				t.Fatalf("VerifyPassword(%q) = %v, %v; want false, ErrMalformedHash", tc.stored, ok, err)
			}
			if strings.Contains(err.Error(), salt) || strings.Contains(err.Error(), key[:10]) {
				t.Errorf("error %q quotes the stored hash", err)
			}
			if d := time.Since(start); d > 50*time.Millisecond {
				t.Errorf("refusing took %v; a malformed hash must be refused before hashing", d)
			}
		})
	}
}

func TestVerifyPasswordOtherParameters(t *testing.T) {
	// A hash made with other parameters (here cheaper ones, as an older
	// release might have used) still verifies: they are read from it.
	stored := "$argon2id$v=19$m=256,t=2,p=1$c29tZXNhbHQ$nf65EOgLrQMR/uIPnA4rEsF5h7TKyQwu9U1bMCHGi/4"
	if ok, err := VerifyPassword(stored, "password"); err != nil || !ok {
		t.Errorf("VerifyPassword(m=256 reference, password) = %v, %v; want true, nil", ok, err)
	}
}

func BenchmarkHashPassword(b *testing.B) {
	for b.Loop() {
		if _, err := HashPassword("correct horse battery staple"); err != nil {
			b.Fatal(err)
		}
	}
}

// TestHashCostForTests: a test may make new hashes cheap, and put the
// production cost back; verification follows each hash's own parameters.
func TestHashCostForTests(t *testing.T) {
	restore := UseTestHashCost()
	cheap, err := HashPassword("correct horse battery")
	restore()
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(cheap, "$m=64,t=1,p=1$") {
		t.Errorf("cheap hash %q; want m=64,t=1", cheap)
	}
	if ok, err := VerifyPassword(cheap, "correct horse battery"); !ok || err != nil {
		t.Errorf("the cheap hash does not verify: %v %v", ok, err)
	}
	full, err := HashPassword("correct horse battery")
	if err != nil || !phcRE.MatchString(full) {
		t.Errorf("after restore: %q, %v; want the production cost", full, err)
	}
}
