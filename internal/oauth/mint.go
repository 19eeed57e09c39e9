package oauth

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/tokend/tokend/dpop"
	"github.com/tokend/tokend/internal/oautherr"
	"github.com/tokend/tokend/internal/registry"
	"github.com/tokend/tokend/internal/statuslist"
	"github.com/tokend/tokend/internal/store"
	"github.com/tokend/tokend/internal/token"
)

// tokenResponse is a successful access token response (RFC 6749 §5.1).
type tokenResponse struct {
	AccessToken  string `json:"access_token"`
	TokenType    string `json:"token_type"`
	ExpiresIn    int64  `json:"expires_in"`
	RefreshToken string `json:"refresh_token,omitempty"`
	Scope        string `json:"scope,omitempty"`
	// IDToken is the OpenID Connect ID Token (OpenID Connect Core 1.0
	// §3.1.3.3) of a grant whose scope holds openid.
	IDToken string `json:"id_token,omitempty"`
}

// issueNew creates a grant with an access token and, when refreshTTL > 0,
// a refresh token, and answers with them once they are committed.
func (e *Endpoints) issueNew(w http.ResponseWriter, r *http.Request, c store.Client, g store.Grant, ttl, refreshTTL time.Duration) error {
	g, resp, tokens, err := e.mintGrant(r.Context(), c, g, e.cfg.Now(), ttl, refreshTTL)
	if err != nil {
		return err
	}
	if err := e.cfg.Store.CreateGrant(r.Context(), g, tokens); err != nil {
		return fmt.Errorf("oauth: store grant: %w", err)
	}
	return writeJSON(w, http.StatusOK, resp)
}

// mintGrant gives the new grant g, issued at now, its identifier and its
// tokens (mintPair), and returns the grant as it is to be stored and the
// answer to send once it is.
func (e *Endpoints) mintGrant(ctx context.Context, c store.Client, g store.Grant, now time.Time, ttl, refreshTTL time.Duration) (store.Grant, tokenResponse, []store.Token, error) {
	id, err := newGrantID(now)
	if err != nil {
		return g, tokenResponse{}, nil, err
	}
	g.ID, g.CreatedAt = id, now
	if p := proofOf(ctx); p != nil {
		g.JKT = p.JKT // every token of the grant is bound to the proof's key
	}
	resp, tokens, err := e.mintPair(ctx, c, g, now, ttl, refreshTTL)
	if err != nil {
		return g, tokenResponse{}, nil, err
	}
	g.ExpiresAt = latestExpiry(tokens)
	resp.Scope = g.Scope
	return g, resp, tokens, nil
}

// mintPair mints an access token (opaque, or a JWT for a client whose
// token format is jwt) and, when refreshTTL > 0, an opaque refresh token,
// for the grant g.
func (e *Endpoints) mintPair(ctx context.Context, c store.Client, g store.Grant, now time.Time, ttl, refreshTTL time.Duration) (tokenResponse, []store.Token, error) {
	access := store.Token{Kind: store.AccessToken, GrantID: g.ID, IssuedAt: now, ExpiresAt: now.Add(ttl)}
	var raw string
	var err error
	if c.TokenFormat == registry.FormatJWT && e.cfg.JWT != nil {
		raw, err = e.mintJWT(ctx, c, g, &access)
	} else {
		raw, err = token.New(store.AccessToken)
	}
	if err != nil {
		return tokenResponse{}, nil, err
	}
	access.Hash = store.HashToken(raw)
	resp := tokenResponse{AccessToken: raw, TokenType: tokenTypeOf(g), ExpiresIn: int64(ttl / time.Second)}
	tokens := []store.Token{access}
	if refreshTTL > 0 {
		refresh, err := token.New(store.RefreshToken)
		if err != nil {
			return tokenResponse{}, nil, err
		}
		resp.RefreshToken = refresh
		tokens = append(tokens, store.Token{Hash: store.HashToken(refresh), Kind: store.RefreshToken, GrantID: g.ID, IssuedAt: now, ExpiresAt: now.Add(refreshTTL)})
	}
	return resp, tokens, nil
}

// mintJWT mints a JWT access token (RFC 9068) for the grant and records
// its jti and status list index in t, so it is revoked, cascaded and
// introspected exactly like an opaque token.
func (e *Endpoints) mintJWT(ctx context.Context, c store.Client, g store.Grant, t *store.Token) (string, error) {
	jti, err := token.NewJTI()
	if err != nil {
		return "", err
	}
	claims := token.AccessClaims{
		Subject:   g.Subject,
		Audience:  e.audiences(c, g),
		ClientID:  c.ID,
		Scope:     g.Scope,
		Username:  g.Username,
		IssuedAt:  t.IssuedAt.Unix(),
		ExpiresAt: t.ExpiresAt.Unix(),
		JTI:       jti,
	}
	if e.cfg.StatusIndexes != nil {
		idx, err := e.cfg.StatusIndexes.Next(ctx)
		if err != nil {
			return "", fmt.Errorf("oauth: status list index: %w", err)
		}
		list, bit := statuslist.Locate(idx)
		claims.Status = &token.Status{StatusList: token.StatusListRef{Index: bit, URI: statuslist.URI(e.cfg.Issuer, list)}}
		t.StatusIndex = idx
	}
	if g.JKT != "" {
		claims.Confirmation = &token.Confirmation{JKT: g.JKT}
	}
	if g.Act != "" {
		claims.Act = json.RawMessage(g.Act)
	}
	t.JTI = jti
	return e.cfg.JWT.Mint(claims)
}

// tokenTypeOf is the token_type of the access tokens of g (RFC 9449 §5).
func tokenTypeOf(g store.Grant) string {
	if g.JKT != "" {
		return dpop.Scheme
	}
	return "Bearer"
}

// audience is the aud of a client's JWT access tokens: the configured
// audience, or the client itself (as WSO2 IS does) when none is set.
func (e *Endpoints) audience(c store.Client) string {
	if e.cfg.JWTAudience != "" {
		return e.cfg.JWTAudience
	}
	return c.ID
}

// audiences is the aud of the JWT access tokens of grant g of client c:
// the targets an exchange asked for (Grant.Audience), else audience.
func (e *Endpoints) audiences(c store.Client, g store.Grant) token.Audience {
	if len(g.Audience) > 0 {
		return token.Audience(g.Audience)
	}
	return token.Audience{e.audience(c)}
}

func latestExpiry(tokens []store.Token) time.Time {
	var t time.Time
	for _, tok := range tokens {
		if tok.ExpiresAt.After(t) {
			t = tok.ExpiresAt
		}
	}
	return t
}

// newGrantID returns a grant identifier: the time of issuance in
// milliseconds (48 bits), then 80 random bits, in 22 characters that sort
// as the bytes do. Identifiers that grow with time are appended at the
// right edge of the grants table and of the tokens' grant index, where a
// random one lands on a random page of each: under issuance load every
// commit would then write many pages for a few rows, and the write-ahead
// log and its checkpoints write each page again.
func newGrantID(now time.Time) (string, error) {
	var b [16]byte
	ms := uint64(now.UnixMilli())
	for i := range 6 {
		b[i] = byte(ms >> (8 * (5 - i)))
	}
	if _, err := rand.Read(b[6:]); err != nil {
		return "", err
	}
	return sortableBase64.EncodeToString(b[:]), nil
}

// sortableBase64 is base64 with its alphabet in ASCII order, so that
// encoded strings compare as their bytes do.
var sortableBase64 = base64.NewEncoding("-0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ_abcdefghijklmnopqrstuvwxyz").WithPadding(base64.NoPadding)

// scopeParam validates the optional scope parameter (RFC 6749 §3.3).
func scopeParam(form url.Values) (string, error) {
	s := form.Get("scope")
	for _, tok := range strings.Fields(s) {
		for _, ch := range tok {
			if ch < 0x21 || ch == '"' || ch == '\\' || ch > 0x7e {
				return "", oautherr.InvalidScope("scope contains an invalid character")
			}
		}
	}
	return strings.Join(strings.Fields(s), " "), nil
}

// withinScope checks that requested does not exceed granted (RFC 6749 §6).
func withinScope(granted, requested string) error {
	have := strings.Fields(granted)
	for _, s := range strings.Fields(requested) {
		if !slices.Contains(have, s) {
			return oautherr.InvalidScope("scope %q exceeds the scope of the grant", s)
		}
	}
	return nil
}

func firstNonZero(ds ...time.Duration) time.Duration {
	for _, d := range ds {
		if d > 0 {
			return d
		}
	}
	return 0
}
