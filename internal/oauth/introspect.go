package oauth

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"

	"github.com/tokend/tokend/internal/registry"
	"github.com/tokend/tokend/internal/revocation"
	"github.com/tokend/tokend/internal/store"
	"github.com/tokend/tokend/internal/token"
)

// introspection is an RFC 7662 §2.2 response. Only Active is sent for an
// inactive token.
type introspection struct {
	Active    bool   `json:"active"`
	Scope     string `json:"scope,omitempty"`
	ClientID  string `json:"client_id,omitempty"`
	Username  string `json:"username,omitempty"`
	Subject   string `json:"sub,omitempty"`
	TokenType string `json:"token_type,omitempty"`
	ExpiresAt int64  `json:"exp,omitempty"`
	IssuedAt  int64  `json:"iat,omitempty"`
	NotBefore int64  `json:"nbf,omitempty"`
	Issuer    string `json:"iss,omitempty"`
	JTI       string `json:"jti,omitempty"`
	// Confirmation is the DPoP key a bound token is bound to (RFC 9449
	// §6.2); nil for a bearer token.
	Confirmation *token.Confirmation `json:"cnf,omitempty"`
	// Audience is an exchanged token's targets (RFC 8693 §2.1).
	Audience token.Audience `json:"aud,omitempty"`
	// Act is an exchanged token's actor (RFC 8693 §4.1), the actors
	// before it nested inside.
	Act json.RawMessage `json:"act,omitempty"`
	// ExchangedFrom is tokend's: the grants an exchanged token's grant
	// was exchanged from (RFC 8693), its parent first and the grant that
	// began the chain last, by the IDs the revocation log's events carry.
	// Revoking any of them revokes the token.
	ExchangedFrom []string `json:"exchanged_from,omitempty"`
}

// introspect is the introspection endpoint (RFC 7662). A client sees its
// own tokens; a confidential client registered with can_introspect (a
// resource server, registry.MayIntrospectAny) or the admin sees any. A
// public client sees only its own, as a client without can_introspect
// does. Every other token, and every token that is
// unknown, expired, rotated or revoked, is {"active":false}: the answer
// never tells a caller that a token it may not see exists.
func (e *Endpoints) introspect(w http.ResponseWriter, r *http.Request, req request) error {
	raw, err := required(req.form, "token")
	if err != nil {
		return err
	}
	inactive := introspection{}
	rec, ok, err := e.activeToken(r.Context(), raw)
	if err != nil {
		return err
	}
	mayRead := req.admin || registry.MayIntrospectAny(req.client) || rec.ClientID == req.client.ID
	if !ok || !mayRead {
		return writeIntrospection(w, inactive)
	}
	if rec.ClientID != req.client.ID {
		// The caller's own client was checked when it authenticated.
		enabled, err := e.clientEnabled(r.Context(), rec.ClientID)
		if err != nil {
			return err
		}
		if !enabled {
			return writeIntrospection(w, inactive)
		}
	}
	// A bound access token's type is DPoP (RFC 9449 §6.2), which tells a
	// resource server to want a proof with it.
	tokenType := tokenTypeOf(store.Grant{JKT: rec.JKT})
	if rec.Kind == store.RefreshToken {
		tokenType = "refresh_token"
	}
	var cnf *token.Confirmation
	if rec.JKT != "" {
		cnf = &token.Confirmation{JKT: rec.JKT}
	}
	var chain []string
	if rec.ParentID != "" {
		if chain, err = e.cfg.Store.GrantChain(r.Context(), rec.GrantID); err != nil {
			return err
		}
	}
	var act json.RawMessage
	if rec.Act != "" {
		act = json.RawMessage(rec.Act)
	}
	return writeIntrospection(w, introspection{
		Active:    true,
		Scope:     rec.Scope,
		ClientID:  rec.ClientID,
		Username:  rec.Username,
		Subject:   rec.Subject,
		TokenType: tokenType,
		ExpiresAt: rec.ExpiresAt.Unix(),
		IssuedAt:  rec.IssuedAt.Unix(),
		NotBefore: rec.IssuedAt.Unix(),
		Issuer:    e.cfg.Issuer,
		JTI:       rec.JTI,

		Confirmation:  cnf,
		Audience:      token.Audience(rec.Audience),
		Act:           act,
		ExchangedFrom: chain,
	})
}

// activeToken returns the record of raw when raw is a token of ours that
// the store knows and that is active now; ok is false for any other. It
// is the one lookup of the endpoints that honour a token (introspection,
// userinfo): the token is recognised from itself before any read, then
// looked up by hash in the cache, which is exact for this process's
// revocations and current with the log for others', so a revoked token
// fails at once.
func (e *Endpoints) activeToken(ctx context.Context, raw string) (rec store.TokenRecord, ok bool, err error) {
	kind, ok := revocation.Recognise(e.cfg.JWT, raw)
	if !ok {
		return store.TokenRecord{}, false, nil
	}
	rec, err = e.cfg.Store.LookupToken(ctx, store.HashToken(raw))
	if errors.Is(err, store.ErrNotFound) {
		return store.TokenRecord{}, false, nil
	}
	if err != nil {
		return store.TokenRecord{}, false, err
	}
	return rec, rec.Kind == kind && rec.Active(e.cfg.Now()), nil
}

// clientEnabled reports whether the client id exists and is enabled: the
// tokens of a disabled or deleted client are not honoured.
func (e *Endpoints) clientEnabled(ctx context.Context, id string) (bool, error) {
	c, err := e.cfg.Store.GetClient(ctx, id)
	if errors.Is(err, store.ErrNotFound) {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	return !c.Disabled, nil
}
