package statuslist

import (
	"bytes"
	"compress/zlib"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/go-jose/go-jose/v4"

	"github.com/tokend/tokend/internal/store"
	"github.com/tokend/tokend/internal/token"
)

// MediaType is the media type of a Status List Token in JWT form, and
// TokenType its "typ" header (draft-ietf-oauth-status-list §5.1).
const (
	MediaType = "application/statuslist+jwt"
	TokenType = "statuslist+jwt"
)

// Defaults of ListsConfig.
const (
	DefaultTTL      = time.Minute
	DefaultLifetime = 24 * time.Hour
	DefaultReuse    = 5 * time.Second
)

// MaxList bounds the list numbers served: 2^23 lists of 2^20 bits are 2^43
// indexes, far more than a store hands out.
const MaxList = 1 << 23

// ErrNoSuchList: the list number is out of range.
var ErrNoSuchList = errors.New("statuslist: no such list")

// ListsConfig configures Lists.
type ListsConfig struct {
	// Issuer builds the lists' URIs (the "sub" of each token).
	Issuer string
	// Keys signs the Status List Tokens with its active key.
	Keys *token.Keyring
	// TTL is the "ttl" claim: how long a resource server may cache a
	// list before fetching it again. 0 means DefaultTTL.
	TTL time.Duration
	// Lifetime is exp - iat of a Status List Token. 0 means
	// DefaultLifetime.
	Lifetime time.Duration
	// Reuse is how long a signed token is served again while its list
	// does not change; any change re-signs at once. 0 means DefaultReuse.
	Reuse time.Duration
	// Now is the clock; nil means time.Now.
	Now func() time.Time
}

// Lists holds the Token Status Lists (draft-ietf-oauth-status-list) of
// tokend's JWT access tokens in memory, one bit per token, 1 meaning
// revoked (status INVALID), and serves them as signed Status List Tokens.
// They are kept current by Apply, which a feed.Hub calls with every event
// of the revocation log, from the start of the log.
type Lists struct {
	cfg ListsConfig

	mu     sync.Mutex
	lists  map[int64]*list
	pruned time.Time // when Apply last pruned
	// empty caches the signed tokens of lists with no revoked token.
	empty map[int64]*signed

	zeroOnce sync.Once
	zero     string // lst of a list with no bit set
	zeroErr  error

	signed atomic.Uint64 // Status List Tokens signed (Signed)
}

type list struct {
	mu      sync.Mutex // bits, version, cached, expires
	bits    []byte     // ListSize/8 bytes, bit i at bits[i/8] & (1 << (i%8))
	version uint64     // incremented by every bit set
	cached  *signed
	// expires is the latest expiry of the revoked tokens the list holds
	// (zero: unknown, kept for ever): after it, none of its bits matters
	// any more and the list may leave memory (Prune).
	expires time.Time

	encMu sync.Mutex // one encoder at a time per list; guards enc
	enc   encoded
}

// encoded is the lst of one version of a list.
type encoded struct {
	version uint64
	lst     string
	best    bool // compressed at the best level
}

// signed is a Status List Token, ready to send.
type signed struct {
	jwt     []byte
	iat     time.Time
	version uint64
}

// NewLists returns empty lists for cfg.
func NewLists(cfg ListsConfig) *Lists {
	if cfg.TTL <= 0 {
		cfg.TTL = DefaultTTL
	}
	if cfg.Lifetime <= 0 {
		cfg.Lifetime = DefaultLifetime
	}
	if cfg.Reuse <= 0 {
		cfg.Reuse = DefaultReuse
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	return &Lists{cfg: cfg, lists: map[int64]*list{}, empty: map[int64]*signed{}}
}

// Signed returns how many Status List Tokens l has signed: each is a
// signature with the active key, the costly part of serving a list.
func (l *Lists) Signed() uint64 { return l.signed.Load() }

// TTL returns the ttl the tokens carry.
func (l *Lists) TTL() time.Duration { return l.cfg.TTL }

// Apply sets the bit of every status index the events cover; a subject
// entry of the log (store.Event.SubjectLevel) covers none, and so sets
// none. It is quick (no encoding happens here) so the feed is never held
// up.
func (l *Lists) Apply(evs []store.Event) {
	for _, ev := range evs {
		for _, idx := range ev.StatusIndexes {
			l.revoke(idx, ev.ExpiresAt)
		}
	}
	if now := l.cfg.Now(); now.Sub(l.pruned) >= pruneEvery {
		l.pruned = now
		l.Prune(now)
	}
}

// pruneEvery is how often Apply prunes; pruneLeeway is how long after the
// expiry of its last revoked token a list stays, for resource servers
// whose clocks lag ours.
const (
	pruneEvery  = time.Minute
	pruneLeeway = 5 * time.Minute
)

// Prune drops from memory the lists whose revoked tokens have all been
// expired for pruneLeeway at now: a resource server checks exp before
// status, so their bits no longer matter, and without pruning the lists
// of a long-running server would grow with every 2^20 JWTs. A dropped
// list is served empty; a later revocation in it brings it back with that
// bit alone. It returns how many lists it dropped.
func (l *Lists) Prune(now time.Time) int {
	l.mu.Lock()
	defer l.mu.Unlock()
	n := 0
	for num, ls := range l.lists {
		ls.mu.Lock()
		done := !ls.expires.IsZero() && now.Sub(ls.expires) > pruneLeeway
		ls.mu.Unlock()
		if done {
			delete(l.lists, num)
			n++
		}
	}
	return n
}

// Revoke sets the bit of one status index, of a token whose expiry is
// unknown (its list is never pruned).
func (l *Lists) Revoke(idx int64) { l.revoke(idx, time.Time{}) }

// revoke sets the bit of idx, of a token that expires at exp (zero:
// unknown).
func (l *Lists) revoke(idx int64, exp time.Time) {
	if idx < 0 {
		return
	}
	n, bit := Locate(idx)
	l.mu.Lock()
	ls := l.lists[n]
	if ls == nil {
		ls = &list{bits: make([]byte, ListSize/8), expires: exp}
		l.lists[n] = ls
		delete(l.empty, n)
	}
	l.mu.Unlock()
	mask := byte(1) << (bit % 8)
	ls.mu.Lock()
	if ls.bits[bit/8]&mask == 0 {
		ls.bits[bit/8] |= mask
		ls.version++
	}
	switch {
	case exp.IsZero():
		ls.expires = time.Time{} // unknown: kept for ever
	case !ls.expires.IsZero() && exp.After(ls.expires):
		ls.expires = exp
	}
	ls.mu.Unlock()
}

// Revoked reports whether the bit of idx is set.
func (l *Lists) Revoked(idx int64) bool {
	n, bit := Locate(idx)
	l.mu.Lock()
	ls := l.lists[n]
	l.mu.Unlock()
	if ls == nil {
		return false
	}
	ls.mu.Lock()
	defer ls.mu.Unlock()
	return ls.bits[bit/8]&(1<<(bit%8)) != 0
}

// Token returns the signed Status List Token of list n, and when it was
// issued. A token is signed again as soon as its list changed, else at
// most every Reuse.
func (l *Lists) Token(ctx context.Context, n int64) ([]byte, time.Time, error) {
	if n < 0 || n >= MaxList {
		return nil, time.Time{}, ErrNoSuchList
	}
	l.mu.Lock()
	ls := l.lists[n]
	if ls == nil {
		s := l.empty[n]
		l.mu.Unlock()
		if s != nil && l.cfg.Now().Sub(s.iat) < l.cfg.Reuse {
			return s.jwt, s.iat, nil
		}
		return l.signEmpty(n)
	}
	l.mu.Unlock()
	s, err := l.listToken(ls, n)
	if err != nil {
		return nil, time.Time{}, err
	}
	return s.jwt, s.iat, nil
}

// listToken returns a token of ls that reflects at least every revocation
// applied before the call: the cached one when it does and is younger
// than Reuse, else a new one. One encoder works per list; requests that
// queue behind it take its result when that is recent enough for them,
// so a burst of revocations costs one encoding per burst, not per request.
//
// Compression: right after a change the list is compressed at zlib's
// default level, much quicker than the best level for slightly more
// bytes, so a revocation reaches the list at once; when the list has
// stayed unchanged for Reuse, the next signing compresses it at the best
// level, once, as the draft recommends (§4.1).
func (l *Lists) listToken(ls *list, n int64) (*signed, error) {
	usable := func(want uint64) *signed {
		s := ls.cached
		if s != nil && s.version >= want && l.cfg.Now().Sub(s.iat) < l.cfg.Reuse {
			return s
		}
		return nil
	}
	ls.mu.Lock()
	want := ls.version
	s := usable(want)
	ls.mu.Unlock()
	if s != nil {
		return s, nil
	}

	ls.encMu.Lock()
	defer ls.encMu.Unlock()
	ls.mu.Lock()
	if s := usable(want); s != nil {
		ls.mu.Unlock()
		return s, nil
	}
	version := ls.version
	quiet := ls.cached != nil && ls.cached.version == version
	var bits []byte
	if ls.enc.lst == "" || ls.enc.version != version || (quiet && !ls.enc.best) {
		bits = bytes.Clone(ls.bits)
	}
	ls.mu.Unlock()

	if bits != nil {
		best := quiet
		level := zlib.DefaultCompression
		if best {
			level = zlib.BestCompression
		}
		lst, err := encode(bits, level)
		if err != nil {
			return nil, err
		}
		ls.enc = encoded{version: version, lst: lst, best: best}
	}
	s, err := l.sign(n, ls.enc.lst)
	if err != nil {
		return nil, err
	}
	s.version = version
	ls.mu.Lock()
	if ls.cached == nil || ls.cached.version <= version {
		ls.cached = s
	}
	ls.mu.Unlock()
	return s, nil
}

// maxEmpty bounds the signed tokens of empty lists kept, so asking for
// many list numbers cannot grow memory.
const maxEmpty = 256

func (l *Lists) signEmpty(n int64) ([]byte, time.Time, error) {
	l.zeroOnce.Do(func() { l.zero, l.zeroErr = Encode(make([]byte, ListSize/8)) })
	if l.zeroErr != nil {
		return nil, time.Time{}, l.zeroErr
	}
	s, err := l.sign(n, l.zero)
	if err != nil {
		return nil, time.Time{}, err
	}
	l.mu.Lock()
	if l.lists[n] == nil {
		if len(l.empty) >= maxEmpty {
			clear(l.empty)
		}
		l.empty[n] = s
	}
	l.mu.Unlock()
	return s.jwt, s.iat, nil
}

// Encode compresses a status list's bytes with DEFLATE in the ZLIB format
// at the best compression level and returns them base64url-encoded: the
// "lst" member (draft-ietf-oauth-status-list §4.1, §4.2).
func Encode(bits []byte) (string, error) { return encode(bits, zlib.BestCompression) }

func encode(bits []byte, level int) (string, error) {
	var buf bytes.Buffer
	zw, err := zlib.NewWriterLevel(&buf, level)
	if err != nil {
		return "", err
	}
	if _, err := zw.Write(bits); err != nil {
		return "", err
	}
	if err := zw.Close(); err != nil {
		return "", err
	}
	return base64.RawURLEncoding.EncodeToString(buf.Bytes()), nil
}

// claims are the claims of a Status List Token (§5.1).
type claims struct {
	Subject    string     `json:"sub"`
	IssuedAt   int64      `json:"iat"`
	ExpiresAt  int64      `json:"exp"`
	TTL        int64      `json:"ttl"`
	Issuer     string     `json:"iss"`
	StatusList statusList `json:"status_list"`
}

type statusList struct {
	Bits int    `json:"bits"`
	Lst  string `json:"lst"`
}

// sign makes the Status List Token of list n with the keyring's active
// key: typ statuslist+jwt, kid, the key's algorithm.
func (l *Lists) sign(n int64, lst string) (*signed, error) {
	now := l.cfg.Now()
	iat := now.Truncate(time.Second)
	exp := iat.Add(l.cfg.Lifetime)
	key := l.cfg.Keys.Active()
	// The key must stay published for as long as the list is valid.
	if err := l.cfg.Keys.NoteExpiry(key, exp); err != nil {
		return nil, fmt.Errorf("statuslist: record key lifetime: %w", err)
	}
	payload, err := json.Marshal(claims{
		Subject:    URI(l.cfg.Issuer, n),
		IssuedAt:   iat.Unix(),
		ExpiresAt:  exp.Unix(),
		TTL:        int64(l.cfg.TTL / time.Second),
		Issuer:     l.cfg.Issuer,
		StatusList: statusList{Bits: 1, Lst: lst},
	})
	if err != nil {
		return nil, err
	}
	signer, err := jose.NewSigner(
		jose.SigningKey{Algorithm: jose.SignatureAlgorithm(key.Alg), Key: key.Private},
		(&jose.SignerOptions{}).WithType(TokenType).WithHeader(jose.HeaderKey("kid"), key.ID),
	)
	if err != nil {
		return nil, fmt.Errorf("statuslist: signer: %w", err)
	}
	l.signed.Add(1)
	jws, err := signer.Sign(payload)
	if err != nil {
		return nil, fmt.Errorf("statuslist: sign: %w", err)
	}
	compact, err := jws.CompactSerialize()
	if err != nil {
		return nil, err
	}
	return &signed{jwt: []byte(compact), iat: iat}, nil
}
