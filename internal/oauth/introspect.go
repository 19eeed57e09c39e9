package oauth

import (
	"errors"
	"net/http"

	"github.com/tokend/tokend/internal/registry"
	"github.com/tokend/tokend/internal/revocation"
	"github.com/tokend/tokend/internal/store"
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
	kind, ok := revocation.Recognise(e.cfg.JWT, raw)
	if !ok {
		return writeIntrospection(w, inactive)
	}
	rec, err := e.cfg.Store.LookupToken(r.Context(), store.HashToken(raw))
	if errors.Is(err, store.ErrNotFound) {
		return writeIntrospection(w, inactive)
	}
	if err != nil {
		return err
	}
	mayRead := req.admin || registry.MayIntrospectAny(req.client) || rec.ClientID == req.client.ID
	if !mayRead || rec.Kind != kind || !rec.Active(e.cfg.Now()) {
		return writeIntrospection(w, inactive)
	}
	if rec.ClientID != req.client.ID {
		// A disabled or deleted client's tokens are not honoured. The
		// caller's own client was checked when it authenticated.
		owner, err := e.cfg.Store.GetClient(r.Context(), rec.ClientID)
		if err != nil && !errors.Is(err, store.ErrNotFound) {
			return err
		}
		if err != nil || owner.Disabled {
			return writeIntrospection(w, inactive)
		}
	}
	tokenType := "Bearer"
	if rec.Kind == store.RefreshToken {
		tokenType = "refresh_token"
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
	})
}
