package rs

import (
	"bytes"
	"compress/zlib"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"
	"sync"
	"time"

	"github.com/go-jose/go-jose/v4"
)

// listCache holds the Token Status Lists (draft-ietf-oauth-status-list)
// fetched, each until its ttl; a list that cannot be fetched again is
// used until its exp.
type listCache struct {
	guard *Guard

	mu    sync.Mutex
	lists map[string]*statusList
}

// statusList is one fetched list.
type statusList struct {
	mu        sync.Mutex // held while fetching
	bits      int        // bits per token: 1, 2, 4 or 8
	lst       []byte     // the inflated byte array
	fetchedAt time.Time
	ttl       time.Duration
	exp       time.Time
	lastTry   time.Time
	lastError error
}

// defaultListTTL applies to a list without a ttl claim.
const defaultListTTL = time.Minute

// maxLists bounds the lists kept.
const maxLists = 1024

// revoked reports whether the token at idx of the list at uri has a status
// other than VALID (0x00): INVALID (revoked) or SUSPENDED alike.
func (c *listCache) revoked(ctx context.Context, uri string, idx int64) (bool, error) {
	// The uri comes from a token the issuer signed; still, only lists
	// the issuer serves are fetched.
	if !strings.HasPrefix(uri, c.guard.cfg.Issuer+"/") {
		return false, invalidToken("the token's status list is not the issuer's", nil)
	}
	c.mu.Lock()
	l := c.lists[uri]
	if l == nil {
		if len(c.lists) >= maxLists {
			clear(c.lists)
		}
		l = &statusList{}
		c.lists[uri] = l
	}
	c.mu.Unlock()

	l.mu.Lock()
	defer l.mu.Unlock()
	now := time.Now()
	if l.lst == nil || now.After(l.fetchedAt.Add(l.ttl)) {
		if now.Sub(l.lastTry) >= retryEvery {
			l.lastTry = now
			l.lastError = c.fetch(ctx, uri, l)
		}
		if l.lastError != nil && (l.lst == nil || !c.guard.now().Before(l.exp)) {
			return false, l.lastError
		}
	}
	return l.status(idx)
}

func (l *statusList) status(idx int64) (bool, error) {
	if idx < 0 || idx >= int64(len(l.lst))*8/int64(l.bits) {
		return false, invalidToken("the token's status list index is out of range", nil)
	}
	bit := idx * int64(l.bits)
	v := l.lst[bit/8] >> (bit % 8) & (1<<l.bits - 1)
	return v != 0, nil
}

// statusListClaims are the claims of a Status List Token (§5.1).
type statusListClaims struct {
	Subject    string `json:"sub"`
	IssuedAt   int64  `json:"iat"`
	ExpiresAt  int64  `json:"exp"`
	TTL        int64  `json:"ttl"`
	StatusList struct {
		Bits int    `json:"bits"`
		Lst  string `json:"lst"`
	} `json:"status_list"`
}

// fetch gets and verifies the Status List Token at uri (§8.3 processing):
// typ statuslist+jwt, signed by a key of the issuer's JWKS, sub equal to
// uri, not expired; then inflates its list.
func (c *listCache) fetch(ctx context.Context, uri string, l *statusList) error {
	body, err := c.guard.fetch(ctx, "GET", uri, "application/statuslist+jwt", nil, false, maxStatusList)
	if err != nil {
		return fmt.Errorf("rs: status list: %w", err)
	}
	jws, err := jose.ParseSigned(string(bytes.TrimSpace(body)), allowedAlgs)
	if err != nil || len(jws.Signatures) != 1 {
		return fmt.Errorf("rs: status list %s: not a JWS", uri)
	}
	h := jws.Signatures[0].Header
	if typ, _ := h.ExtraHeaders[jose.HeaderType].(string); !strings.EqualFold(typ, "statuslist+jwt") && !strings.EqualFold(typ, "application/statuslist+jwt") {
		return fmt.Errorf("rs: status list %s: typ %q", uri, typ)
	}
	key, err := c.guard.keys.get(ctx, h.KeyID)
	if err != nil {
		return fmt.Errorf("rs: status list %s: %w", uri, err)
	}
	payload, err := jws.Verify(key.Key)
	if err != nil {
		return fmt.Errorf("rs: status list %s: %w", uri, err)
	}
	var cl statusListClaims
	if err := json.Unmarshal(payload, &cl); err != nil {
		return fmt.Errorf("rs: status list %s: %w", uri, err)
	}
	now := c.guard.now()
	exp := time.Unix(cl.ExpiresAt, 0)
	switch {
	case cl.Subject != uri:
		return fmt.Errorf("rs: status list %s: sub is %q", uri, cl.Subject)
	case cl.ExpiresAt != 0 && !now.Before(exp.Add(c.guard.cfg.Leeway)):
		return fmt.Errorf("rs: status list %s: expired", uri)
	case cl.StatusList.Bits != 1 && cl.StatusList.Bits != 2 && cl.StatusList.Bits != 4 && cl.StatusList.Bits != 8:
		return fmt.Errorf("rs: status list %s: bits %d", uri, cl.StatusList.Bits)
	}
	z, err := base64.RawURLEncoding.DecodeString(cl.StatusList.Lst)
	if err != nil {
		return fmt.Errorf("rs: status list %s: lst: %w", uri, err)
	}
	zr, err := zlib.NewReader(bytes.NewReader(z))
	if err != nil {
		return fmt.Errorf("rs: status list %s: lst: %w", uri, err)
	}
	lst, err := io.ReadAll(io.LimitReader(zr, maxStatusList+1))
	if err != nil {
		return fmt.Errorf("rs: status list %s: lst: %w", uri, err)
	}
	if len(lst) > maxStatusList {
		return errors.New("rs: status list " + uri + ": too large")
	}
	l.bits, l.lst, l.fetchedAt = cl.StatusList.Bits, lst, time.Now()
	l.ttl = defaultListTTL
	if cl.TTL > 0 {
		l.ttl = time.Duration(cl.TTL) * time.Second
	}
	l.exp = exp
	if cl.ExpiresAt == 0 {
		l.exp = now.Add(l.ttl)
	}
	return nil
}
