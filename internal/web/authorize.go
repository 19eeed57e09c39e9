package web

import (
	"context"
	"errors"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/tokend/tokend/internal/registry"
	"github.com/tokend/tokend/internal/store"
)

// grantAuthorizationCode is the grant_type a client must be registered for
// to use this endpoint (RFC 6749 §4.1.3; package oauth's
// GrantAuthorizationCode, which an HTTP area does not import).
const grantAuthorizationCode = "authorization_code"

// authParams are the authorization request's parameters this endpoint
// reads (RFC 6749 §4.1.1, RFC 7636 §4.3, OpenID Connect Core 1.0
// §3.1.2.1, RFC 9449 §10), in the order the pages forward them as hidden fields. Any
// other parameter is ignored (RFC 6749 §3.1).
var authParams = []string{
	"response_type", "client_id", "redirect_uri", "scope", "state", "response_mode",
	"code_challenge", "code_challenge_method", "nonce", "prompt", "max_age", "login_hint",
	"dpop_jkt",
}

// prompt is the OpenID Connect prompt parameter (Core §3.1.2.1).
type prompt struct {
	none    bool // show nothing: answer at once, or with an error
	login   bool // ask for the password even with a live session
	consent bool // ask for consent even when it was remembered
}

// authRequest is an authorization request, validated. It is rebuilt from
// the parameters on every request: the pages carry them as hidden fields,
// so no instance keeps a pending request.
type authRequest struct {
	iss    string
	client store.Client
	// params are the authorization parameters as received, one value
	// each, those present only: what the pages forward.
	params map[string]string
	// redirectURI is where the answer goes; askedRedirect is redirect_uri
	// as asked, "" when it was omitted (one registered URI): stored in the
	// code, which the token request must repeat (RFC 6749 §4.1.3).
	redirectURI   string
	askedRedirect string
	state         string
	scope         string
	nonce         string
	challenge     string
	// jkt is the DPoP key thumbprint the client bound the code to
	// (dpop_jkt, RFC 9449 §10), or "".
	jkt       string
	prompt    prompt
	maxAge    time.Duration
	hasMaxAge bool
	loginHint string
	// signedIn: the user signed in with a password in this request, which
	// satisfies prompt=login and max_age; the pages that follow forward
	// neither, so that they do not ask for the password again.
	signedIn bool
}

// redirectError is an error answered by redirecting to the client (RFC
// 6749 §4.1.2.1), once the client and its redirect URI are known good.
type redirectError struct {
	location    string
	code        string
	description string
}

func (e *redirectError) Error() string { return "authorization error " + e.code + ": " + e.description }

// parseAuthorization validates an authorization request: first the client
// and its redirect URI, whose errors are shown on the error page and never
// redirected (RFC 6749 §4.1.2.1: that would be an open redirect), then
// everything else, whose errors go back to the client.
func (p *Pages) parseAuthorization(ctx context.Context, vals url.Values) (*authRequest, error) {
	c, err := p.authClient(ctx, vals)
	if err != nil {
		return nil, err
	}
	req := &authRequest{iss: p.cfg.Issuer, client: c, params: map[string]string{}}
	if err := req.chooseRedirect(vals); err != nil {
		return nil, err
	}
	// A state that is not text is not echoed; the error says why.
	req.state, _ = single(vals, "state", maxParamBytes)
	if err := req.read(vals); err != nil {
		return nil, err
	}
	return req, nil
}

// authClient returns the enabled client the request names.
func (p *Pages) authClient(ctx context.Context, vals url.Values) (store.Client, error) {
	id, ok := single(vals, "client_id", maxParamBytes)
	if !ok || id == "" {
		return store.Client{}, badRequest("The application did not say who it is",
			"The link that brought you here does not name the application you are signing in to. Go back to the application and try again.")
	}
	c, err := p.cfg.Store.GetClient(ctx, id)
	switch {
	case errors.Is(err, store.ErrNotFound):
		return store.Client{}, badRequest("This application is not known here",
			"The application you came from is not registered with this sign-in service. Contact the application's owner.")
	case err != nil:
		return store.Client{}, err
	case c.Disabled:
		return store.Client{}, badRequest("This application is turned off",
			"The application you came from may not sign people in at the moment. Contact the application's owner.")
	}
	return c, nil
}

// chooseRedirect picks where the answer goes: redirect_uri when it is one
// the client registered (registry.RedirectMatches), or the client's only
// registered URI when it is omitted.
func (req *authRequest) chooseRedirect(vals url.Values) error {
	asked, ok := single(vals, "redirect_uri", maxParamBytes)
	unregistered := badRequest("The return address is not registered",
		"The application asked to send you back to an address it has not registered, so you were not sent there. Contact the application's owner.")
	switch {
	case !ok:
		return unregistered
	case asked != "":
		if !registry.RedirectMatches(req.client.RedirectURIs, asked) {
			return unregistered
		}
		req.redirectURI, req.askedRedirect = asked, asked
	case len(req.client.RedirectURIs) == 1:
		req.redirectURI = req.client.RedirectURIs[0]
	default:
		return badRequest("The application did not say where to return",
			"The application has several return addresses and did not say which to use. Contact the application's owner.")
	}
	if u, err := url.Parse(req.redirectURI); err != nil || !u.IsAbs() || u.Fragment != "" || strings.Contains(req.redirectURI, "#") {
		return badRequest("The return address is not usable",
			"The application registered a return address that cannot be used. Contact the application's owner.")
	}
	return nil
}

// read validates the parameters other than the client and its redirect
// URI; every error goes back to the client.
func (req *authRequest) read(vals url.Values) error {
	for _, name := range authParams {
		v, ok := single(vals, name, maxParamBytes)
		if !ok {
			return req.fail("invalid_request", name+" is repeated, too long or not text")
		}
		if v != "" {
			req.params[name] = v
		}
	}
	switch {
	case vals.Has("request"):
		return req.fail("request_not_supported", "request objects are not supported")
	case vals.Has("request_uri"):
		return req.fail("request_uri_not_supported", "request_uri is not supported")
	case req.params["response_type"] == "":
		return req.fail("invalid_request", "response_type is required")
	case req.params["response_type"] != "code":
		return req.fail("unsupported_response_type", "only response_type code is supported")
	case req.params["response_mode"] != "" && req.params["response_mode"] != "query":
		return req.fail("invalid_request", "only response_mode query is supported")
	case !slices.Contains(req.client.GrantTypes, grantAuthorizationCode):
		return req.fail("unauthorized_client", "the client is not registered for the authorization_code grant")
	}
	if err := checkChallenge(req.params["code_challenge_method"], req.params["code_challenge"]); err != nil {
		return req.fail("invalid_request", err.Error())
	}
	req.challenge = req.params["code_challenge"]
	if err := checkThumbprint(req.params["dpop_jkt"]); err != nil {
		return req.fail("invalid_request", err.Error())
	}
	req.jkt = req.params["dpop_jkt"]
	var err error
	if req.scope, err = normalScope(req.params["scope"]); err != nil {
		return req.fail("invalid_scope", err.Error())
	}
	if req.prompt, err = parsePrompt(req.params["prompt"]); err != nil {
		return req.fail("invalid_request", err.Error())
	}
	if v, ok := req.params["max_age"]; ok {
		n, err := strconv.ParseUint(v, 10, 31)
		if err != nil {
			return req.fail("invalid_request", "max_age must be a whole number of seconds")
		}
		req.maxAge, req.hasMaxAge = time.Duration(n)*time.Second, true
	}
	req.nonce, req.loginHint = req.params["nonce"], req.params["login_hint"]
	return nil
}

// normalScope returns the scope with its values once each, in the order
// asked, or an error when one holds a character RFC 6749 §3.3 excludes.
func normalScope(s string) (string, error) {
	var out []string
	for _, v := range strings.Fields(s) {
		for i := 0; i < len(v); i++ {
			if c := v[i]; c < 0x21 || c == '"' || c == '\\' || c > 0x7e {
				return "", errors.New("scope holds a character a scope may not")
			}
		}
		if !slices.Contains(out, v) {
			out = append(out, v)
		}
	}
	return strings.Join(out, " "), nil
}

// parsePrompt reads the prompt parameter (OpenID Connect Core §3.1.2.1).
// select_account is taken as login: the sign-in page is where another
// account is chosen.
func parsePrompt(s string) (prompt, error) {
	var pr prompt
	values := strings.Fields(s)
	for _, v := range values {
		switch v {
		case "none":
			pr.none = true
		case "login", "select_account":
			pr.login = true
		case "consent":
			pr.consent = true
		default:
			return prompt{}, errors.New("prompt " + strconv.Quote(v) + " is not supported")
		}
	}
	if pr.none && len(values) > 1 {
		return prompt{}, errors.New("prompt none may not be combined with another value")
	}
	return pr, nil
}

// fail is the error answered to the client with error code and
// description (RFC 6749 §4.1.2.1).
func (req *authRequest) fail(code, description string) error {
	return &redirectError{
		location:    req.location(url.Values{"error": {code}, "error_description": {description}}),
		code:        code,
		description: description,
	}
}

// location is the redirect URI with v, the state and iss (RFC 9207) added
// to its query, which is kept as registered.
func (req *authRequest) location(v url.Values) string {
	if req.state != "" {
		v.Set("state", req.state)
	}
	v.Set("iss", req.iss)
	sep := "?"
	switch {
	case strings.HasSuffix(req.redirectURI, "?"):
		sep = ""
	case strings.Contains(req.redirectURI, "?"):
		sep = "&"
	}
	return req.redirectURI + sep + v.Encode()
}

// forward returns the authorization parameters the next page carries as
// hidden fields: as received, but after a sign-in in this request without
// prompt=login and max_age, which it satisfied.
func (req *authRequest) forward() []hidden {
	var out []hidden
	for _, name := range authParams {
		v, ok := req.params[name]
		if !ok {
			continue
		}
		if req.signedIn {
			switch name {
			case "max_age":
				continue
			case "prompt":
				if req.prompt.consent {
					v = "consent"
				} else {
					continue
				}
			}
		}
		out = append(out, hidden{Name: name, Value: v})
	}
	return out
}

// hidden is a hidden field of a page's form.
type hidden struct{ Name, Value string }
