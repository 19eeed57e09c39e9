package identity

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/tokend/tokend/internal/store"
)

// Password length bounds. The upper bound keeps a request from making
// argon2id hash megabytes.
const (
	MinPasswordLength = 8
	MaxPasswordLength = 1024
)

// ErrInvalidUser says why a username or password is refused.
type ErrInvalidUser struct{ Reason string }

func (e *ErrInvalidUser) Error() string { return "identity: " + e.Reason }

// NewUser returns a user with a fresh ID and the password hashed.
func NewUser(username, password string, admin bool, now time.Time) (store.User, error) {
	if err := ValidUsername(username); err != nil {
		return store.User{}, err
	}
	hash, err := HashNewPassword(password)
	if err != nil {
		return store.User{}, err
	}
	id, err := NewUserID()
	if err != nil {
		return store.User{}, err
	}
	return store.User{ID: id, Username: username, PasswordHash: hash, Admin: admin, CreatedAt: now, UpdatedAt: now}, nil
}

// HashNewPassword checks a password a user chose and hashes it.
func HashNewPassword(password string) (string, error) {
	if utf8.RuneCountInString(password) < MinPasswordLength {
		return "", &ErrInvalidUser{Reason: fmt.Sprintf("password must be at least %d characters", MinPasswordLength)}
	}
	if len(password) > MaxPasswordLength {
		return "", &ErrInvalidUser{Reason: fmt.Sprintf("password must be at most %d bytes", MaxPasswordLength)}
	}
	return HashPassword(password)
}

// ValidUsername accepts 1 to 128 printable characters without spaces or
// ':' (which would break HTTP Basic).
func ValidUsername(name string) error {
	if name == "" || len(name) > 128 || !utf8.ValidString(name) {
		return &ErrInvalidUser{Reason: "username must be 1 to 128 characters of valid UTF-8"}
	}
	for _, r := range name {
		if !unicode.IsPrint(r) || unicode.IsSpace(r) || r == ':' {
			return &ErrInvalidUser{Reason: "username may not hold spaces, ':' or control characters"}
		}
	}
	return nil
}

// NewUserID returns a random user ID (128 bits, UUID-shaped as SCIM
// clients expect of an id).
func NewUserID() (string, error) {
	var b [16]byte
	if _, err := rand.Read(b[:]); err != nil {
		return "", err
	}
	b[6] = b[6]&0x0f | 0x40 // version 4
	b[8] = b[8]&0x3f | 0x80 // RFC 4122 variant
	h := hex.EncodeToString(b[:])
	return h[0:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:32], nil
}

// IsInvalidUser reports whether err is a refusal of the input (as opposed to
// a failure of the system).
func IsInvalidUser(err error) bool {
	var e *ErrInvalidUser
	return errors.As(err, &e)
}
