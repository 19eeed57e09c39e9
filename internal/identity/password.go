package identity

import (
	"crypto/rand"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"fmt"
	"runtime"
	"strconv"
	"strings"
	"sync/atomic"

	"golang.org/x/crypto/argon2"
)

// Parameters of new argon2id hashes: OWASP's Password Storage Cheat Sheet
// minimum, m=19 MiB, t=2, p=1. RFC 9106 §4 recommends more memory, but
// every login and every request of a client with a chosen secret (on a
// cache miss) pays it, and 19 MiB by the number of cores is what a small
// server can afford. Hashes carry their parameters, so raising them later
// only affects new hashes.
const (
	argonMemory  = 19 * 1024 // KiB
	argonTime    = 2
	argonThreads = 1
	saltLen      = 16
	keyLen       = 32
)

// Bounds on the parameters VerifyPassword accepts from a stored hash, so a
// corrupt or hostile row cannot make one check take a gigabyte or seconds.
const (
	maxMemory  = 1 << 20 // KiB: 1 GiB
	maxTime    = 20
	maxThreads = 16
	minSalt    = 8 // RFC 9106 §3.1
	maxSalt    = 64
	minKey     = 16
	maxKey     = 64
)

const argonPrefix = "$argon2id$"

// hashCost is the memory (KiB) and passes of new argon2id hashes.
type hashCost struct{ memory, time uint32 }

// productionCost is the cost of new hashes: the parameters above.
var productionCost = hashCost{memory: argonMemory, time: argonTime}

// testHashCost, when set, is the cost of new hashes instead of
// productionCost (UseTestHashCost).
var testHashCost atomic.Pointer[hashCost]

// newHashCost is the cost of the next new hash.
func newHashCost() hashCost {
	if c := testHashCost.Load(); c != nil {
		return *c
	}
	return productionCost
}

// UseTestHashCost makes new password hashes cheap (64 KiB, one pass) until
// the function it returns puts the cost back. It is for the TestMain of
// packages whose tests hash and verify passwords by the hundred, where the
// production cost only slows them. Never call it outside tests: a hash
// carries its parameters, and one made cheap stays cheap to guess.
func UseTestHashCost() (restore func()) { return setHashCost(hashCost{memory: 64, time: 1}) }

// UseProductionHashCost puts the production cost back until the function
// it returns restores the cost before it: for the tests that need checks
// as slow as in production (concurrent guesses racing a limiter).
func UseProductionHashCost() (restore func()) { return setHashCost(productionCost) }

func setHashCost(c hashCost) (restore func()) {
	old := testHashCost.Swap(&c)
	return func() { testHashCost.Store(old) }
}

// ErrMalformedHash: a stored hash is not one this package produces or
// accepts. The error says what is wrong, never what the hash was.
var ErrMalformedHash = errors.New("identity: malformed stored hash")

// ErrEmptySecret: an empty password or secret cannot be hashed.
var ErrEmptySecret = errors.New("identity: empty password or secret")

// argonSlots bounds how many argon2id computations run at once. Each holds
// its memory (19 MiB by default) for its whole run and keeps one core busy,
// so running more than there are cores adds memory and latency, not
// throughput: a flood of logins queues here instead of exhausting memory.
var argonSlots = make(chan struct{}, max(2, runtime.GOMAXPROCS(0)))

func argonKey(pw string, salt []byte, time, memory uint32, threads uint8, keyLen uint32) []byte {
	argonSlots <- struct{}{}
	defer func() { <-argonSlots }()
	return argon2.IDKey([]byte(pw), salt, time, memory, threads, keyLen)
}

// HashPassword returns the argon2id hash of pw as a PHC string,
// "$argon2id$v=19$m=19456,t=2,p=1$<salt>$<hash>", with a 16-byte random
// salt and a 32-byte key, both in unpadded standard base64.
func HashPassword(pw string) (string, error) {
	if pw == "" {
		return "", ErrEmptySecret
	}
	salt := make([]byte, saltLen)
	if _, err := rand.Read(salt); err != nil {
		return "", fmt.Errorf("identity: read salt: %w", err)
	}
	c := newHashCost()
	key := argonKey(pw, salt, c.time, c.memory, argonThreads, keyLen)
	return fmt.Sprintf("%sv=%d$m=%d,t=%d,p=%d$%s$%s", argonPrefix, argon2.Version,
		c.memory, c.time, argonThreads,
		base64.RawStdEncoding.EncodeToString(salt), base64.RawStdEncoding.EncodeToString(key)), nil
}

// VerifyPassword reports whether pw matches the argon2id hash stored, in
// constant time. A wrong password is false and no error; an error means the
// stored hash is malformed or its parameters are out of bounds, which the
// caller should log (without the hash) as a data problem. The parameters are
// taken from stored, so hashes made with other parameters keep working.
func VerifyPassword(stored, pw string) (bool, error) {
	p, err := parseArgon2id(stored)
	if err != nil {
		return false, err
	}
	key := argonKey(pw, p.salt, p.time, p.memory, p.threads, uint32(len(p.key)))
	return subtle.ConstantTimeCompare(key, p.key) == 1, nil
}

type argonParams struct {
	memory, time uint32
	threads      uint8
	salt, key    []byte
}

// parseArgon2id parses "$argon2id$v=19$m=M,t=T,p=P$salt$key" strictly: the
// parameters in that order, decimal, within bounds; salt and key in
// unpadded standard base64 (the PHC format).
func parseArgon2id(s string) (argonParams, error) {
	var p argonParams
	rest, ok := strings.CutPrefix(s, argonPrefix)
	if !ok {
		return p, fmt.Errorf("%w: not argon2id", ErrMalformedHash)
	}
	parts := strings.Split(rest, "$")
	if len(parts) != 4 {
		return p, fmt.Errorf("%w: want 5 fields separated by '$'", ErrMalformedHash)
	}
	if parts[0] != "v="+strconv.Itoa(argon2.Version) {
		return p, fmt.Errorf("%w: unsupported argon2 version", ErrMalformedHash)
	}
	params := strings.Split(parts[1], ",")
	if len(params) != 3 {
		return p, fmt.Errorf("%w: want parameters m,t,p", ErrMalformedHash)
	}
	m, err := param(params[0], "m=", 1, maxMemory)
	if err != nil {
		return p, err
	}
	t, err := param(params[1], "t=", 1, maxTime)
	if err != nil {
		return p, err
	}
	th, err := param(params[2], "p=", 1, maxThreads)
	if err != nil {
		return p, err
	}
	if m < 8*th {
		return p, fmt.Errorf("%w: memory below 8 KiB per lane", ErrMalformedHash)
	}
	p.memory, p.time, p.threads = m, t, uint8(th)
	if p.salt, err = decodeB64(parts[2], minSalt, maxSalt); err != nil {
		return p, fmt.Errorf("%w: salt: %v", ErrMalformedHash, err)
	}
	if p.key, err = decodeB64(parts[3], minKey, maxKey); err != nil {
		return p, fmt.Errorf("%w: key: %v", ErrMalformedHash, err)
	}
	return p, nil
}

func param(s, name string, lo, hi uint32) (uint32, error) {
	v, ok := strings.CutPrefix(s, name)
	if !ok {
		return 0, fmt.Errorf("%w: want parameter %s", ErrMalformedHash, name[:1])
	}
	n, err := strconv.ParseUint(v, 10, 32)
	if err != nil || n < uint64(lo) || n > uint64(hi) {
		return 0, fmt.Errorf("%w: parameter %s must be an integer from %d to %d", ErrMalformedHash, name[:1], lo, hi)
	}
	return uint32(n), nil
}

func decodeB64(s string, minLen, maxLen int) ([]byte, error) {
	if len(s) > base64.RawStdEncoding.EncodedLen(maxLen) {
		return nil, fmt.Errorf("longer than %d bytes", maxLen)
	}
	b, err := base64.RawStdEncoding.Strict().DecodeString(s)
	if err != nil {
		return nil, errors.New("not unpadded base64")
	}
	if len(b) < minLen {
		return nil, fmt.Errorf("shorter than %d bytes", minLen)
	}
	return b, nil
}
