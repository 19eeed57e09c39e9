package oauth

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"time"

	"github.com/tokend/tokend/internal/adminauth"
	"github.com/tokend/tokend/internal/oautherr"
	"github.com/tokend/tokend/internal/registry"
	"github.com/tokend/tokend/internal/store"
)

// maxRegistrationBytes bounds a registration request's JSON body.
const maxRegistrationBytes = 64 << 10

// registration is the client metadata of RFC 7591 §2 with the WSO2 IS
// extensions that mean something here. Unknown members are ignored
// (RFC 7591 §2).
type registration struct {
	ClientName              string   `json:"client_name"`
	GrantTypes              []string `json:"grant_types"`
	RedirectURIs            []string `json:"redirect_uris"`
	TokenEndpointAuthMethod string   `json:"token_endpoint_auth_method"`
	// OpenID Connect RP-Initiated Logout 1.0 §3.1 and Back-Channel Logout
	// 1.0 §2.2.
	PostLogoutRedirectURIs           []string `json:"post_logout_redirect_uris"`
	BackchannelLogoutURI             string   `json:"backchannel_logout_uri"`
	BackchannelLogoutSessionRequired bool     `json:"backchannel_logout_session_required"`
	// RFC 9449 §5.2: the client always sends DPoP proofs; a token request
	// of it without one is refused.
	DPoPBoundAccessTokens bool `json:"dpop_bound_access_tokens"`

	ExtParamClientID     string `json:"ext_param_client_id"`
	ExtParamClientSecret string `json:"ext_param_client_secret"`
	ExtTokenType         string `json:"ext_token_type"`
	TokenTypeExtension   string `json:"token_type_extension"` // WSO2's older name of ext_token_type
	ExtPublicClient      *bool  `json:"ext_public_client"`
	ExtAppTokenLifetime  *int64 `json:"ext_application_token_lifetime"`
	ExtUserTokenLifetime *int64 `json:"ext_user_token_lifetime"`
	ExtRefreshLifetime   *int64 `json:"ext_refresh_token_lifetime"`
	// ExtSSFStreams is tokend's: the client may manage Shared Signals
	// streams (package ssfhttp). Absent from an update, it is kept.
	ExtSSFStreams *bool `json:"ext_ssf_streams"`
	// ExtTokenExchange is tokend's: the client may use the token exchange
	// grant (RFC 8693), which then joins its grant_types. Absent from an
	// update, it is kept.
	ExtTokenExchange *bool `json:"ext_token_exchange"`
}

// ClientInfo is the client information response (RFC 7591 §3.2.1).
type ClientInfo struct {
	ClientID                string   `json:"client_id"`
	ClientSecret            string   `json:"client_secret,omitempty"`
	ClientSecretExpiresAt   *int64   `json:"client_secret_expires_at,omitempty"`
	ClientIDIssuedAt        int64    `json:"client_id_issued_at"`
	ClientName              string   `json:"client_name"`
	GrantTypes              []string `json:"grant_types"`
	RedirectURIs            []string `json:"redirect_uris"`
	TokenEndpointAuthMethod string   `json:"token_endpoint_auth_method"`
	ExtTokenType            string   `json:"ext_token_type"`
	ExtPublicClient         bool     `json:"ext_public_client"`
	ExtAppTokenLifetime     int64    `json:"ext_application_token_lifetime"`
	ExtUserTokenLifetime    int64    `json:"ext_user_token_lifetime"`
	ExtRefreshLifetime      int64    `json:"ext_refresh_token_lifetime"`

	PostLogoutRedirectURIs           []string `json:"post_logout_redirect_uris"`
	BackchannelLogoutURI             string   `json:"backchannel_logout_uri,omitempty"`
	BackchannelLogoutSessionRequired bool     `json:"backchannel_logout_session_required"`
	DPoPBoundAccessTokens            bool     `json:"dpop_bound_access_tokens"`
	ExtSSFStreams                    bool     `json:"ext_ssf_streams"`
	ExtTokenExchange                 bool     `json:"ext_token_exchange"`
}

func (e *Endpoints) mountRegister(mux *http.ServeMux) {
	mux.Handle("POST "+PathRegister, e.handle(e.adminOnly(e.registerCreate)))
	mux.Handle("GET "+PathRegister+"/{client_id}", e.handle(e.adminOnly(e.registerGet)))
	mux.Handle("PUT "+PathRegister+"/{client_id}", e.handle(e.adminOnly(e.registerUpdate)))
	mux.Handle("DELETE "+PathRegister+"/{client_id}", e.handle(e.adminOnly(e.registerDelete)))
}

// spec turns the metadata into a registry.Spec.
func (m registration) spec() registry.Spec {
	s := registry.Spec{
		ID:             m.ExtParamClientID,
		Name:           m.ClientName,
		Secret:         m.ExtParamClientSecret,
		AuthMethod:     m.TokenEndpointAuthMethod,
		GrantTypes:     m.GrantTypes,
		RedirectURIs:   m.RedirectURIs,
		AccessTokenTTL: seconds(m.ExtUserTokenLifetime),

		PostLogoutRedirectURIs:           m.PostLogoutRedirectURIs,
		BackchannelLogoutURI:             m.BackchannelLogoutURI,
		BackchannelLogoutSessionRequired: m.BackchannelLogoutSessionRequired,
		DPoPBoundAccessTokens:            m.DPoPBoundAccessTokens,
		AppAccessTokenTTL:                seconds(m.ExtAppTokenLifetime),
		RefreshTokenTTL:                  seconds(m.ExtRefreshLifetime),
	}
	if m.ExtPublicClient != nil && *m.ExtPublicClient {
		s.AuthMethod = registry.AuthNone
	}
	if m.ExtSSFStreams != nil {
		s.SSFStreams = *m.ExtSSFStreams
	}
	if m.ExtTokenExchange != nil {
		s.TokenExchange = *m.ExtTokenExchange
	}
	tokenType := m.ExtTokenType
	if tokenType == "" {
		tokenType = m.TokenTypeExtension
	}
	// WSO2 names the formats "JWT" and "Default" (opaque).
	switch tokenType {
	case "JWT", "jwt":
		s.TokenFormat = registry.FormatJWT
	case "", "Default", "default", "opaque":
		s.TokenFormat = registry.FormatOpaque
	default:
		s.TokenFormat = tokenType // refused by the registry with its reason
	}
	return s
}

func seconds(p *int64) time.Duration {
	if p == nil || *p <= 0 {
		return 0
	}
	if *p > int64(10*365*24*time.Hour/time.Second) {
		return -1 // refused as out of range
	}
	return time.Duration(*p) * time.Second
}

// ClientInformation describes c with RFC 7591 field names; secret is
// included only when given (it is shown once, at creation or rotation).
func ClientInformation(c store.Client, secret string) ClientInfo {
	resp := ClientInfo{
		ClientID:                c.ID,
		ClientSecret:            secret,
		ClientIDIssuedAt:        c.CreatedAt.Unix(),
		ClientName:              c.Name,
		GrantTypes:              c.GrantTypes,
		RedirectURIs:            c.RedirectURIs,
		TokenEndpointAuthMethod: c.AuthMethod,
		ExtTokenType:            "Default",
		ExtPublicClient:         c.Public(),
		ExtAppTokenLifetime:     int64(c.AppAccessTokenTTL / time.Second),
		ExtUserTokenLifetime:    int64(c.AccessTokenTTL / time.Second),
		ExtRefreshLifetime:      int64(c.RefreshTokenTTL / time.Second),

		PostLogoutRedirectURIs:           c.PostLogoutRedirectURIs,
		BackchannelLogoutURI:             c.BackchannelLogoutURI,
		BackchannelLogoutSessionRequired: c.BackchannelLogoutSessionRequired,
		DPoPBoundAccessTokens:            c.DPoPBoundAccessTokens,
		ExtSSFStreams:                    c.SSFStreams,
		ExtTokenExchange:                 c.TokenExchange,
	}
	if c.TokenFormat == registry.FormatJWT {
		resp.ExtTokenType = "JWT"
	}
	if secret != "" {
		never := int64(0) // RFC 7591 §3.2.1: 0 means the secret does not expire
		resp.ClientSecretExpiresAt = &never
	}
	if resp.RedirectURIs == nil {
		resp.RedirectURIs = []string{}
	}
	if resp.PostLogoutRedirectURIs == nil {
		resp.PostLogoutRedirectURIs = []string{}
	}
	return resp
}

// readRegistration reads the client metadata of a POST or PUT, which must
// be sent as application/json (RFC 7591 §3.1; RequireJSON says why).
func readRegistration(w http.ResponseWriter, r *http.Request) (registration, error) {
	var m registration
	if err := oautherr.RequireJSON(r, oautherr.CodeInvalidClientMetadata); err != nil {
		return m, err
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxRegistrationBytes))
	if err != nil {
		var tooLarge *http.MaxBytesError
		if errors.As(err, &tooLarge) {
			return m, oautherr.BodyTooLarge(maxRegistrationBytes)
		}
		return m, oautherr.InvalidRequest("could not read the request body")
	}
	// A NUL (JSON \u0000) is in no client's metadata, and PostgreSQL text
	// cannot hold it.
	if bytes.Contains(body, []byte(`\u0000`)) {
		return m, oautherr.InvalidClientMetadata("the metadata holds a NUL character")
	}
	if err := json.Unmarshal(body, &m); err != nil {
		return m, oautherr.InvalidClientMetadata("the body is not valid client metadata JSON")
	}
	return m, nil
}

// metadataError answers the registry's refusal of the metadata as RFC
// 7591 §3.2.2 says: invalid_redirect_uri for a redirection URI,
// invalid_client_metadata for the rest.
func metadataError(err error) error {
	var inv *registry.InvalidError
	switch {
	case errors.As(err, &inv) && inv.RedirectURI:
		return oautherr.InvalidRedirectURI("%s", inv.Reason)
	case errors.As(err, &inv):
		return oautherr.InvalidClientMetadata("%s", inv.Reason)
	}
	return err
}

// registerCreate registers a client (RFC 7591 §3.1).
func (e *Endpoints) registerCreate(w http.ResponseWriter, r *http.Request) error {
	m, err := readRegistration(w, r)
	if err != nil {
		return err
	}
	c, secret, err := Registration.New(m.spec(), e.cfg.Now())
	if err != nil {
		return metadataError(err)
	}
	if err := e.cfg.Store.CreateClient(r.Context(), c); errors.Is(err, store.ErrAlreadyExists) {
		return oautherr.InvalidClientMetadata("client_id %s is taken", c.ID)
	} else if err != nil {
		return fmt.Errorf("oauth: create client: %w", err)
	}
	w.Header().Set("Location", e.cfg.Issuer+PathRegister+"/"+c.ID)
	return writeJSON(w, http.StatusCreated, ClientInformation(c, secret))
}

// registerGet reads a registration (RFC 7592 §2.1). Only the secret's hash
// is stored, so the secret is not returned.
func (e *Endpoints) registerGet(w http.ResponseWriter, r *http.Request) error {
	c, err := e.cfg.Store.GetClient(r.Context(), r.PathValue("client_id"))
	if errors.Is(err, store.ErrNotFound) {
		return oautherr.NotFound("no such client")
	}
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, ClientInformation(c, ""))
}

// registerUpdate replaces a registration's metadata (RFC 7592 §2.2). A new
// ext_param_client_secret replaces the secret and revokes every grant of
// the client, as a rotation does.
func (e *Endpoints) registerUpdate(w http.ResponseWriter, r *http.Request) error {
	id := r.PathValue("client_id")
	m, err := readRegistration(w, r)
	if err != nil {
		return err
	}
	spec := m.spec()
	if spec.ID != "" && spec.ID != id {
		return oautherr.InvalidClientMetadata("client_id cannot be changed")
	}
	spec.ID = id
	rotate := false
	var secret, storedSecret string
	if spec.Secret != "" {
		// Hash (argon2id) before the update: its callback runs on the
		// store's single writer and must not hold it up.
		if secret, storedSecret, err = registry.NewSecret(spec.Secret); err != nil {
			return metadataError(err)
		}
		rotate = true
	}
	var updated store.Client
	apply := func(c store.Client) (store.Client, error) {
		wasPublic := c.Public()
		// can_introspect is not metadata that DCR carries: an update
		// keeps it, so a resource server's registration cannot be made
		// public (registry.Apply refuses a public introspector).
		spec := spec
		spec.CanIntrospect = c.CanIntrospect
		if m.ExtSSFStreams == nil {
			spec.SSFStreams = c.SSFStreams
		}
		if m.ExtTokenExchange == nil {
			spec.TokenExchange = c.TokenExchange
		}
		if err := Registration.Apply(&c, spec); err != nil {
			return c, err
		}
		switch {
		case storedSecret != "":
			c.SecretHash = storedSecret
		case wasPublic && c.AuthMethod != registry.AuthNone:
			// A public client turned confidential needs a secret; a
			// generated one hashes with SHA-256, quick enough here.
			s, stored, err := registry.NewSecret("")
			if err != nil {
				return c, err
			}
			secret, c.SecretHash = s, stored
		}
		c.UpdatedAt = e.cfg.Now()
		updated = c
		return c, nil
	}
	if rotate {
		_, err = e.cfg.Engine.RotateSecret(r.Context(), id, adminActor(r), apply)
	} else {
		_, err = e.cfg.Store.UpdateClient(r.Context(), id, apply, nil)
	}
	switch {
	case errors.Is(err, store.ErrNotFound):
		return oautherr.NotFound("no such client")
	case err != nil:
		return metadataError(err)
	}
	return writeJSON(w, http.StatusOK, ClientInformation(updated, secret))
}

// registerDelete removes a client and revokes all its grants (RFC 7592 §2.3).
func (e *Endpoints) registerDelete(w http.ResponseWriter, r *http.Request) error {
	_, err := e.cfg.Engine.DeleteClient(r.Context(), r.PathValue("client_id"), adminActor(r))
	if errors.Is(err, store.ErrNotFound) {
		return oautherr.NotFound("no such client")
	}
	if err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

// adminOnly guards an admin endpoint with package adminauth: the admin Bearer
// token, or HTTP Basic credentials of a user with the admin flag. It is
// called once per route, when the routes are mounted.
func (e *Endpoints) adminOnly(h func(http.ResponseWriter, *http.Request) error) func(http.ResponseWriter, *http.Request) error {
	return func(w http.ResponseWriter, r *http.Request) error {
		p, err := e.cfg.Admin.Authorize(r)
		if err != nil {
			return err
		}
		return h(w, r.WithContext(adminauth.NewContext(r.Context(), p)))
	}
}
