package dpop

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"time"
)

// DefaultNoncePeriod is how often Nonces moves to a new nonce; a nonce is
// accepted for one to two periods.
const DefaultNoncePeriod = 5 * time.Minute

// Nonces makes and checks server nonces (RFC 9449 §8) without keeping any:
// a nonce is the start of its period and a MAC of it under the key, so
// every instance that has the same key accepts the nonces of the others.
// A nonce is accepted during its period and the next, so a client that
// got one just before the period changed is not refused at once.
type Nonces struct {
	key    []byte
	period time.Duration
	now    func() time.Time
}

// NewNonces returns nonces MACed with key (32 random bytes, the same on
// every instance), changing every period (DefaultNoncePeriod when 0);
// now is the clock, time.Now when nil.
func NewNonces(key []byte, period time.Duration, now func() time.Time) *Nonces {
	if period <= 0 {
		period = DefaultNoncePeriod
	}
	if now == nil {
		now = time.Now
	}
	return &Nonces{key: append([]byte(nil), key...), period: period, now: now}
}

// Current returns the nonce of the current period.
func (n *Nonces) Current() string { return n.make(n.slot(n.now())) }

// Valid reports whether s is the nonce of the current or the previous
// period.
func (n *Nonces) Valid(s string) bool {
	slot := n.slot(n.now())
	return s != "" && (hmac.Equal([]byte(s), []byte(n.make(slot))) || hmac.Equal([]byte(s), []byte(n.make(slot-1))))
}

func (n *Nonces) slot(t time.Time) int64 { return t.UnixNano() / int64(n.period) }

func (n *Nonces) make(slot int64) string {
	var b [8]byte
	binary.BigEndian.PutUint64(b[:], uint64(slot))
	m := hmac.New(sha256.New, n.key)
	m.Write([]byte("dpop-nonce\x00"))
	m.Write(b[:])
	return base64.RawURLEncoding.EncodeToString(append(b[:], m.Sum(nil)[:16]...))
}
