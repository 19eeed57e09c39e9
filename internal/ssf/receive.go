package ssf

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"time"

	"github.com/go-jose/go-jose/v4"

	"github.com/tokend/tokend/internal/assertion"
	"github.com/tokend/tokend/internal/revocation"
	"github.com/tokend/tokend/internal/store"
)

// ReplayWindow is how long the jti of a SET received is remembered; a SET
// issued longer ago than that is refused, so none is taken twice.
const ReplayWindow = 7 * 24 * time.Hour

// MaxSETBytes bounds a SET received.
const MaxSETBytes = 64 << 10

// The RFC 8935 §2.4 error codes a receiver answers with.
const (
	ErrCodeInvalidRequest  = "invalid_request"
	ErrCodeInvalidKey      = "invalid_key"
	ErrCodeInvalidIssuer   = "invalid_issuer"
	ErrCodeInvalidAudience = "invalid_audience"
)

// ReceiveError is a SET refused, as RFC 8935 §2.3 answers it: 400 with
// err and description.
type ReceiveError struct {
	Err         string `json:"err"`
	Description string `json:"description"`
}

func (e *ReceiveError) Error() string { return "ssf: SET refused: " + e.Err + ": " + e.Description }

func refused(code, format string, args ...any) error {
	return &ReceiveError{Err: code, Description: fmt.Sprintf(format, args...)}
}

// revokingEvents are the events a receiver acts on: each revokes the
// subject's grants that came from the issuer.
var revokingEvents = []string{EventSessionRevoked, EventCredentialChange, EventAccountDisabled, EventAccountPurged}

// Receiver takes SETs pushed by the issuers trusted for the JWT bearer
// grant (tokend issuer add) and revokes, through the engine, the grants
// of the subjects they name that came from that issuer.
type Receiver struct {
	Issuers store.Issuers
	Keys    *assertion.KeySource // nil: a default one
	// Audiences are the aud values meant for us: the issuer identifier.
	Audiences []string
	Engine    *revocation.Engine
	Now       func() time.Time
	Logger    *slog.Logger
}

// setClaims are the claims a SET received is checked on.
type setClaims struct {
	Issuer   string                     `json:"iss"`
	Audience json.RawMessage            `json:"aud"`
	IssuedAt *float64                   `json:"iat"`
	JTI      string                     `json:"jti"`
	SubID    map[string]any             `json:"sub_id"`
	Events   map[string]json.RawMessage `json:"events"`
}

// Receive checks raw (RFC 8417, SSF 1.0 §4.1) and acts on it; a refusal
// is a *ReceiveError, any other error the store's.
func (r *Receiver) Receive(ctx context.Context, raw string) (revoked int, err error) {
	c, err := r.verify(ctx, raw)
	if err != nil {
		return 0, err
	}
	// The revocation comes first, the jti's record after: a store that
	// fails between them leaves the SET to be sent again, not lost. A
	// replay is refused all the same, having revoked again only what the
	// subject was granted from the issuer since.
	for typ, body := range c.Events {
		if !slices.Contains(revokingEvents, typ) {
			continue
		}
		var ev struct {
			Subject map[string]any `json:"subject"`
		}
		_ = json.Unmarshal(body, &ev)
		for _, sub := range subjectsOf(c.Issuer, cmpSubject(c.SubID, ev.Subject)) {
			res, err := r.Engine.RevokeUpstreamSubject(ctx, c.Issuer, sub)
			if err != nil {
				return revoked, err
			}
			revoked += res.Grants
		}
	}
	now := r.now()
	if err := r.Issuers.UseJTI(ctx, c.Issuer, "set:"+c.JTI, now.Add(ReplayWindow), now); errors.Is(err, store.ErrAlreadyExists) {
		return revoked, refused(ErrCodeInvalidRequest, "the SET's jti was received before")
	} else if err != nil {
		return revoked, err
	}
	r.log().InfoContext(ctx, "ssf SET received", "iss", c.Issuer, "jti", c.JTI, "grants", revoked)
	return revoked, nil
}

// cmpSubject is the SET's sub_id, or for an older CAEP or RISC event the
// subject inside it (SSF 1.0 §3.1.1).
func cmpSubject(subID, inEvent map[string]any) map[string]any {
	if subID != nil {
		return subID
	}
	return inEvent
}

// subjectsOf are the subs of the issuer iss that id names: an iss_sub of
// that issuer, directly, among aliases, or as a complex subject's user.
func subjectsOf(iss string, id map[string]any) []string {
	str := func(m map[string]any, k string) string { s, _ := m[k].(string); return s }
	switch str(id, "format") {
	case "iss_sub":
		if str(id, "iss") == iss && str(id, "sub") != "" {
			return []string{str(id, "sub")}
		}
	case "aliases":
		var out []string
		list, _ := id["identifiers"].([]any)
		for _, v := range list {
			if m, ok := v.(map[string]any); ok && str(m, "format") != "aliases" {
				out = append(out, subjectsOf(iss, m)...)
			}
		}
		return out
	case "complex":
		if u, ok := id["user"].(map[string]any); ok && str(u, "format") != "complex" {
			return subjectsOf(iss, u)
		}
	}
	return nil
}

// verify parses raw, checks its signature with the issuer's keys, and
// its claims.
func (r *Receiver) verify(ctx context.Context, raw string) (setClaims, error) {
	var c setClaims
	if len(raw) > MaxSETBytes || strings.Count(raw, ".") != 2 {
		return c, refused(ErrCodeInvalidRequest, "the body is not a compact JWS")
	}
	jws, err := jose.ParseSigned(raw, assertion.Algorithms)
	if err != nil || len(jws.Signatures) != 1 {
		return c, refused(ErrCodeInvalidRequest, "the SET is malformed, or signed with an algorithm not accepted")
	}
	h := jws.Signatures[0].Header
	if typ, _ := h.ExtraHeaders[jose.HeaderType].(string); typ != "secevent+jwt" && typ != "application/secevent+jwt" {
		return c, refused(ErrCodeInvalidRequest, "the SET's typ is not secevent+jwt")
	}
	if json.Unmarshal(jws.UnsafePayloadWithoutVerification(), &c) != nil || c.Issuer == "" {
		return c, refused(ErrCodeInvalidRequest, "the SET's claims are not a JSON object with an iss")
	}
	iss, err := r.Issuers.GetIssuer(ctx, c.Issuer)
	if errors.Is(err, store.ErrNotFound) {
		return c, refused(ErrCodeInvalidIssuer, "the issuer is not trusted")
	} else if err != nil {
		return c, err
	}
	keys, err := r.keys().Keys(ctx, iss, h.KeyID)
	if err != nil {
		return c, refused(ErrCodeInvalidKey, "the issuer's keys could not be loaded")
	}
	payload, ok := verifyWith(jws, keys, h)
	if !ok {
		return c, refused(ErrCodeInvalidKey, "the signature does not verify with the issuer's keys")
	}
	// Read again from the verified payload: never act on unverified bytes.
	c = setClaims{}
	if json.Unmarshal(payload, &c) != nil {
		return c, refused(ErrCodeInvalidRequest, "the SET's claims are not a JSON object")
	}
	return c, r.check(c)
}

// check checks the verified claims: for us, with a jti, issued within
// the replay window, with events.
func (r *Receiver) check(c setClaims) error {
	var auds []string
	var one string
	if json.Unmarshal(c.Audience, &one) == nil {
		auds = []string{one}
	} else if json.Unmarshal(c.Audience, &auds) != nil {
		auds = nil
	}
	if !slices.ContainsFunc(auds, func(a string) bool { return slices.Contains(r.Audiences, a) }) {
		return refused(ErrCodeInvalidAudience, "the SET is not for this receiver")
	}
	switch {
	case c.JTI == "":
		return refused(ErrCodeInvalidRequest, "the SET has no jti")
	case c.IssuedAt == nil:
		return refused(ErrCodeInvalidRequest, "the SET has no iat")
	case len(c.Events) == 0:
		return refused(ErrCodeInvalidRequest, "the SET has no events")
	}
	iat := time.Unix(int64(*c.IssuedAt), 0)
	if now := r.now(); now.Sub(iat) > ReplayWindow || iat.Sub(now) > time.Minute {
		return refused(ErrCodeInvalidRequest, "the SET's iat is outside the replay window")
	}
	return nil
}

// verifyWith checks the signature with the key the header names (or,
// without a kid, every key of its algorithm).
func verifyWith(jws *jose.JSONWebSignature, keys []jose.JSONWebKey, h jose.Header) ([]byte, bool) {
	for _, k := range keys {
		if (h.KeyID != "" && k.KeyID != h.KeyID) || (k.Algorithm != "" && k.Algorithm != h.Algorithm) || (k.Use != "" && k.Use != "sig") {
			continue
		}
		if payload, err := jws.Verify(k.Key); err == nil {
			return payload, true
		}
	}
	return nil, false
}

func (r *Receiver) now() time.Time {
	if r.Now != nil {
		return r.Now()
	}
	return time.Now()
}

func (r *Receiver) keys() *assertion.KeySource {
	if r.Keys != nil {
		return r.Keys
	}
	return defaultKeys
}

var defaultKeys = &assertion.KeySource{}

func (r *Receiver) log() *slog.Logger {
	if r.Logger != nil {
		return r.Logger
	}
	return slog.New(slog.DiscardHandler)
}
