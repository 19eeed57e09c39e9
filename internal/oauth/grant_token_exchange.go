package oauth

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/tokend/tokend/internal/oautherr"
	"github.com/tokend/tokend/internal/registry"
	"github.com/tokend/tokend/internal/revocation"
	"github.com/tokend/tokend/internal/store"
)

// GrantTokenExchange is the token exchange grant of RFC 8693 §2.1.
const GrantTokenExchange = registry.GrantTokenExchange

// The token types of RFC 8693 §3 that the token exchange grant takes or
// issues.
const (
	TokenTypeAccessToken  = "urn:ietf:params:oauth:token-type:access_token"
	TokenTypeRefreshToken = "urn:ietf:params:oauth:token-type:refresh_token"
	// TokenTypeJWT is one of tokend's JWT access tokens (RFC 9068).
	TokenTypeJWT = "urn:ietf:params:oauth:token-type:jwt"
)

// maxTargets bounds the resource and audience values of one exchange.
const maxTargets = 10

// tokenExchange is the token exchange grant (RFC 8693): a client an admin
// allowed (store.Client.TokenExchange) turns a token of tokend's it was
// shown (subject_token: an access token, a JWT access token, or a refresh
// token of its own) into an access token of its own for the same subject,
// with no wider scope, for the targets it names, and, given an
// actor_token, acting for the subject (the act claim). The new grant
// remembers the subject token's grant (store.Grant.ParentID): revoking
// that one revokes it, and everything exchanged from it in turn, in the
// same transaction. Its token expires no later than the subject token,
// and it has no refresh token.
//
// A subject or actor token that is not tokend's, or is expired, revoked,
// or a disabled client's, is invalid_grant (RFC 8693 §2.2.2 says
// invalid_request; invalid_grant is what RFC 6749 §5.2 names for a grant
// that is "invalid, expired, revoked", and what other servers answer).
type tokenExchange struct{}

func (tokenExchange) registration() registry.GrantType {
	return registry.GrantType{Name: GrantTokenExchange}
}

func (tokenExchange) enabled(*Endpoints) bool { return true }

// exchangeResponse is the token exchange response (RFC 8693 §2.2.1).
type exchangeResponse struct {
	tokenResponse
	IssuedTokenType string `json:"issued_token_type"`
}

func (tokenExchange) issue(e *Endpoints, w http.ResponseWriter, r *http.Request, c store.Client, form url.Values) error {
	if !c.TokenExchange || c.Public() {
		return oautherr.UnauthorizedClient("an admin has not allowed the client to exchange tokens")
	}
	issued, err := requestedTokenType(e, form)
	if err != nil {
		return err
	}
	scope, err := scopeParam(form)
	if err != nil {
		return err
	}
	audience, err := e.exchangeTargets(r.Context(), form)
	if err != nil {
		return err
	}
	subject, err := e.exchangedToken(r.Context(), c, form, "subject_token")
	if err != nil {
		return err
	}
	if subject.JKT != "" && (proofOf(r.Context()) == nil || proofOf(r.Context()).JKT != subject.JKT) {
		return oautherr.InvalidGrant("the subject_token is DPoP-bound: the request needs a DPoP proof of its key")
	}
	act, err := e.actClaim(r.Context(), c, form, subject)
	if err != nil {
		return err
	}
	if scope == "" {
		scope = subject.Scope
	} else if err := withinScope(subject.Scope, scope); err != nil {
		return err
	}
	now := e.cfg.Now()
	ttl := min(e.userAccessTTL(c), subject.ExpiresAt.Sub(now).Truncate(time.Second))
	if ttl <= 0 {
		return oautherr.InvalidGrant("the subject_token expires within a second")
	}
	g := store.Grant{
		ClientID: c.ID, Subject: subject.Subject, Username: subject.Username, Scope: scope,
		ParentID: subject.GrantID, Act: act, Audience: audience,
	}
	if issued == TokenTypeJWT {
		c.TokenFormat = registry.FormatJWT
	}
	g, resp, tokens, err := e.mintGrant(r.Context(), c, g, now, ttl, 0)
	if err != nil {
		return err
	}
	err = e.cfg.Store.CreateGrant(r.Context(), g, tokens)
	if errors.Is(err, store.ErrNotFound) { // revoked since it was read
		return oautherr.InvalidGrant("the subject_token is not active").WithCause(err)
	}
	if err != nil {
		return fmt.Errorf("oauth: store exchanged grant: %w", err)
	}
	return writeJSON(w, http.StatusOK, exchangeResponse{tokenResponse: resp, IssuedTokenType: issued})
}

// requestedTokenType is the type of token the exchange issues: an access
// token (RFC 8693 §3), in the client's token format, unless a JWT was
// asked for.
func requestedTokenType(e *Endpoints, form url.Values) (string, error) {
	switch t := form.Get("requested_token_type"); t {
	case "", TokenTypeAccessToken:
		return TokenTypeAccessToken, nil
	case TokenTypeJWT:
		if e.cfg.JWT == nil {
			return "", oautherr.InvalidRequest("this server issues no JWT access tokens")
		}
		return TokenTypeJWT, nil
	default:
		return "", oautherr.InvalidRequest("requested_token_type %q is not supported: %s or %s", t, TokenTypeAccessToken, TokenTypeJWT)
	}
}

// exchangedToken returns the record of the token in the parameter name
// (subject_token or actor_token) of the form, with its type in
// name+"_type": a token of tokend's, active, of a client that is enabled.
// A refresh token is taken only as the subject token, and only the
// client's own, which never left it.
func (e *Endpoints) exchangedToken(ctx context.Context, c store.Client, form url.Values, name string) (store.TokenRecord, error) {
	raw, err := required(form, name)
	if err != nil {
		return store.TokenRecord{}, err
	}
	typ, err := required(form, name+"_type")
	if err != nil {
		return store.TokenRecord{}, err
	}
	want := store.AccessToken
	switch {
	case typ == TokenTypeRefreshToken && name == "subject_token":
		want = store.RefreshToken
	case typ != TokenTypeAccessToken && typ != TokenTypeJWT:
		return store.TokenRecord{}, oautherr.InvalidRequest("%s_type %q is not supported", name, typ)
	}
	kind, ok := revocation.Recognise(e.cfg.JWT, raw)
	if ok && kind != want {
		return store.TokenRecord{}, oautherr.InvalidRequest("the %s is not of type %s", name, typ)
	}
	rec, active, err := e.activeToken(ctx, raw)
	switch {
	case err != nil:
		return store.TokenRecord{}, err
	case !active:
		return store.TokenRecord{}, oautherr.InvalidGrant("the %s is not an active token of this server", name)
	case typ == TokenTypeJWT && rec.JTI == "":
		return store.TokenRecord{}, oautherr.InvalidRequest("the %s is not a JWT", name)
	case want == store.RefreshToken && rec.ClientID != c.ID:
		return store.TokenRecord{}, oautherr.InvalidGrant("the subject_token is a refresh token of another client")
	}
	if rec.ClientID != c.ID {
		enabled, err := e.clientEnabled(ctx, rec.ClientID)
		if err != nil {
			return store.TokenRecord{}, err
		}
		if !enabled {
			return store.TokenRecord{}, oautherr.InvalidGrant("the %s is not an active token of this server", name)
		}
	}
	return rec, nil
}

// actor is an act claim (RFC 8693 §4.1): who acts, and nested in Act
// who acted before.
type actor struct {
	Subject string          `json:"sub"`
	Act     json.RawMessage `json:"act,omitempty"`
}

// actClaim is the act claim of the exchanged grant, JSON, or "": with an
// actor_token, its subject acts, and the subject token's act, if it had
// one, is nested inside (the actors before it); without one, the subject
// token's act is kept, since whoever acted in it still does.
func (e *Endpoints) actClaim(ctx context.Context, c store.Client, form url.Values, subject store.TokenRecord) (string, error) {
	if !form.Has("actor_token") {
		if form.Has("actor_token_type") {
			return "", oautherr.InvalidRequest("actor_token_type without actor_token")
		}
		return subject.Act, nil
	}
	a, err := e.exchangedToken(ctx, c, form, "actor_token")
	if err != nil {
		return "", err
	}
	b, err := json.Marshal(actor{Subject: a.Subject, Act: json.RawMessage(subject.Act)})
	if err != nil {
		return "", err
	}
	return string(b), nil
}

// exchangeTargets are the audience of the exchanged token: each resource
// (RFC 8707: an absolute http or https URI without a fragment) and each
// audience, which must name a registered client that is enabled (a
// resource server is one) or the configured JWT audience. None gives the
// default audience.
func (e *Endpoints) exchangeTargets(ctx context.Context, form url.Values) ([]string, error) {
	resources, audiences := form["resource"], form["audience"]
	if len(resources)+len(audiences) > maxTargets {
		return nil, oautherr.InvalidTarget("at most %d resource and audience values", maxTargets)
	}
	var out []string
	for _, res := range resources {
		u, err := url.Parse(res)
		if err != nil || !u.IsAbs() || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" || u.Fragment != "" || len(res) > 512 || strings.ContainsAny(res, " \t\r\n") {
			return nil, oautherr.InvalidTarget("resource %.80q is not an absolute http or https URI without a fragment", res)
		}
		out = append(out, res)
	}
	for _, aud := range audiences {
		if aud == "" || aud != e.cfg.JWTAudience {
			enabled, err := e.clientEnabled(ctx, aud)
			if err != nil {
				return nil, err
			}
			if !enabled {
				return nil, oautherr.InvalidTarget("audience %.80q is not a target of this server", aud)
			}
		}
		out = append(out, aud)
	}
	slices.Sort(out)
	return slices.Compact(out), nil
}
