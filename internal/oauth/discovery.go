package oauth

import (
	"encoding/json"
	"net/http"

	"github.com/tokend/tokend/internal/clientauth"
	"github.com/tokend/tokend/internal/store"
)

// metadata is the authorization server metadata of RFC 8414 §2.
type metadata struct {
	Issuer                            string   `json:"issuer"`
	TokenEndpoint                     string   `json:"token_endpoint"`
	RevocationEndpoint                string   `json:"revocation_endpoint"`
	RevocationEndpointAuthMethods     []string `json:"revocation_endpoint_auth_methods_supported"`
	IntrospectionEndpoint             string   `json:"introspection_endpoint"`
	IntrospectionEndpointAuthMethods  []string `json:"introspection_endpoint_auth_methods_supported"`
	RegistrationEndpoint              string   `json:"registration_endpoint"`
	GrantTypesSupported               []string `json:"grant_types_supported"`
	TokenEndpointAuthMethodsSupported []string `json:"token_endpoint_auth_methods_supported"`
	ResponseTypesSupported            []string `json:"response_types_supported"`
	JWKSURI                           string   `json:"jwks_uri,omitempty"`
	// The revocation feed (tokend's own members): the Server-Sent Events
	// stream and the JSON page for polling.
	RevocationFeedEndpoint   string `json:"revocation_feed_endpoint,omitempty"`
	RevocationEventsEndpoint string `json:"revocation_events_endpoint,omitempty"`
	// draft-parecki-oauth-global-token-revocation §6.
	GlobalTokenRevocationEndpoint string `json:"global_token_revocation_endpoint,omitempty"`
	// DPoPSigningAlgs are the algorithms of the DPoP proofs the token
	// endpoint accepts (RFC 9449 §5.1).
	DPoPSigningAlgs []string `json:"dpop_signing_alg_values_supported"`
	// DeviceAuthorizationEndpoint is RFC 8628 §4's, when the grant is
	// offered.
	DeviceAuthorizationEndpoint string `json:"device_authorization_endpoint,omitempty"`
	browserMetadata
}

// browserMetadata is what the metadata says of browser sign-in when it is
// served (Config.Browser): OpenID Connect Discovery 1.0 §3, RFC 8414 §2,
// RFC 9207 §3, and OpenID Connect RP-Initiated and Back-Channel Logout.
// Every member is left out when it is not.
type browserMetadata struct {
	AuthorizationEndpoint             string   `json:"authorization_endpoint,omitempty"`
	UserinfoEndpoint                  string   `json:"userinfo_endpoint,omitempty"`
	EndSessionEndpoint                string   `json:"end_session_endpoint,omitempty"`
	ResponseModesSupported            []string `json:"response_modes_supported,omitempty"`
	CodeChallengeMethodsSupported     []string `json:"code_challenge_methods_supported,omitempty"`
	IDTokenSigningAlgsSupported       []string `json:"id_token_signing_alg_values_supported,omitempty"`
	SubjectTypesSupported             []string `json:"subject_types_supported,omitempty"`
	ScopesSupported                   []string `json:"scopes_supported,omitempty"`
	ClaimsSupported                   []string `json:"claims_supported,omitempty"`
	PromptValuesSupported             []string `json:"prompt_values_supported,omitempty"`
	ISSParameterSupported             bool     `json:"authorization_response_iss_parameter_supported,omitempty"`
	BackchannelLogoutSupported        bool     `json:"backchannel_logout_supported,omitempty"`
	BackchannelLogoutSessionSupported bool     `json:"backchannel_logout_session_supported,omitempty"`
}

// What browser sign-in offers, as the metadata advertises it; package web
// must honour each value listed.
var (
	// scopesSupported: OpenID Connect's scope values that tokend gives a
	// meaning to (Core 1.0 §5.4, §11).
	scopesSupported = []string{scopeOpenID, scopeProfile, scopeEmail, store.ScopeOfflineAccess}
	// claimsSupported: the ID Token's claims (as token.IDClaims sets
	// them) and the UserInfo Endpoint's (claimsOf).
	claimsSupported = []string{"iss", "sub", "aud", "exp", "iat", "auth_time", "nonce", "sid", "amr", "at_hash",
		"preferred_username", "name", "given_name", "family_name", "email", "email_verified"}
	// promptValuesSupported: the prompt values of the authorization
	// request (Core 1.0 §3.1.2.1) that the sign-in pages act on.
	promptValuesSupported = []string{"none", "login", "consent"}
)

// browser returns the browser sign-in members of the metadata: all empty
// unless Config.Browser.
func (e *Endpoints) browser() browserMetadata {
	if !e.cfg.Browser {
		return browserMetadata{}
	}
	b := browserMetadata{
		AuthorizationEndpoint:             e.cfg.Issuer + PathAuthorize,
		UserinfoEndpoint:                  e.cfg.Issuer + PathUserinfo,
		EndSessionEndpoint:                e.cfg.Issuer + PathEndSession,
		ResponseModesSupported:            []string{"query"},
		CodeChallengeMethodsSupported:     []string{pkceS256},
		SubjectTypesSupported:             []string{"public"},
		ScopesSupported:                   scopesSupported,
		ClaimsSupported:                   claimsSupported,
		PromptValuesSupported:             promptValuesSupported,
		ISSParameterSupported:             true,
		BackchannelLogoutSupported:        true,
		BackchannelLogoutSessionSupported: true,
	}
	if e.cfg.JWT != nil {
		b.IDTokenSigningAlgsSupported = []string{e.cfg.JWT.Alg()}
	}
	return b
}

// Metadata paths: RFC 8414, OpenID Connect Discovery, and WSO2 IS's.
var metadataPaths = []string{
	"/.well-known/oauth-authorization-server",
	"/.well-known/openid-configuration",
	"/oauth2/token/.well-known/openid-configuration",
}

// PathJWKS is where the signing keys are published (WSO2 IS's path).
const PathJWKS = "/oauth2/jwks"

func (e *Endpoints) mountDiscovery(mux *http.ServeMux) {
	for _, p := range metadataPaths {
		mux.Handle("GET "+p, e.handle(e.discovery))
	}
	if e.cfg.JWT != nil {
		mux.Handle("GET "+PathJWKS, e.handle(e.jwks))
	}
}

// jwks publishes every key whose tokens may still be alive (RFC 7517 §5).
// Resource servers cache it and fetch again on an unknown kid, so a short
// max-age is enough.
func (e *Endpoints) jwks(w http.ResponseWriter, r *http.Request) error {
	h := w.Header()
	h.Set("Access-Control-Allow-Origin", "*")
	h.Set("Content-Type", "application/jwk-set+json")
	h.Set("Cache-Control", "public, max-age=300")
	return json.NewEncoder(w).Encode(e.cfg.JWT.Keys.JWKS())
}

func (e *Endpoints) metadata() metadata {
	authMethods := []string{clientauth.MethodBasic, clientauth.MethodPost, clientauth.MethodNone}
	m := metadata{
		Issuer:                            e.cfg.Issuer,
		TokenEndpoint:                     e.cfg.Issuer + PathToken,
		RevocationEndpoint:                e.cfg.Issuer + PathRevoke,
		RevocationEndpointAuthMethods:     authMethods,
		IntrospectionEndpoint:             e.cfg.Issuer + PathIntrospect,
		IntrospectionEndpointAuthMethods:  []string{clientauth.MethodBasic, clientauth.MethodPost, "bearer"},
		RegistrationEndpoint:              e.cfg.Issuer + PathRegister,
		GrantTypesSupported:               e.grantTypesSupported(),
		TokenEndpointAuthMethodsSupported: authMethods,
		// Without browser sign-in there is no authorization endpoint, so
		// no response types; RFC 8414 makes the member required, and an
		// empty list says exactly that.
		ResponseTypesSupported: []string{},
		browserMetadata:        e.browser(),
		DPoPSigningAlgs:        e.dpop.Algorithms(),
	}
	if e.cfg.Browser {
		m.ResponseTypesSupported = []string{"code"}
	}
	if e.cfg.JWT != nil {
		m.JWKSURI = e.cfg.Issuer + PathJWKS
	}
	if e.cfg.Feed != nil {
		m.RevocationFeedEndpoint = e.cfg.Issuer + PathRevocationStream
		m.RevocationEventsEndpoint = e.cfg.Issuer + PathRevocationEvents
	}
	if (deviceCode{}).enabled(e) {
		m.DeviceAuthorizationEndpoint = e.cfg.Issuer + PathDeviceAuthorize
	}
	if e.cfg.GlobalTokenRevocationPath != "" {
		m.GlobalTokenRevocationEndpoint = e.cfg.Issuer + e.cfg.GlobalTokenRevocationPath
	}
	return m
}

// grantTypesSupported lists the grants this server's configuration offers.
func (e *Endpoints) grantTypesSupported() []string {
	var names []string
	for _, g := range grants {
		if g.enabled(e) {
			names = append(names, g.registration().Name)
		}
	}
	return names
}

// discovery serves the server metadata (RFC 8414 §3).
func (e *Endpoints) discovery(w http.ResponseWriter, r *http.Request) error {
	w.Header().Set("Access-Control-Allow-Origin", "*")
	w.Header().Set("Content-Type", contentTypeJSON)
	w.Header().Set("Cache-Control", "public, max-age=3600")
	return json.NewEncoder(w).Encode(e.metadata())
}
