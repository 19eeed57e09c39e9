package web

import (
	"errors"
	"log/slog"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/tokend/tokend/internal/store"
)

// The values of the action field: which button of which page posted.
const (
	actionSignIn  = "sign_in"
	actionAllow   = "allow"
	actionDeny    = "deny"
	actionSignOut = "sign_out"
)

// codeTTL is an authorization code's life: long enough for a client to
// exchange it at once, short enough that a leaked one is stale (RFC 6749
// §4.1.2 recommends at most ten minutes).
const codeTTL = 60 * time.Second

// codeBytes is an authorization code's length in random bytes (256 bits).
const codeBytes = 32

// authorize is the authorization endpoint (RFC 6749 §3.1), GET or POST.
// A request without an action is an authorization request; the pages post
// back to it with the request's parameters and their action, and every
// such post is checked from scratch: its CSRF token first, then the
// request, then the session.
func (p *Pages) authorize(w http.ResponseWriter, r *http.Request) error {
	vals, err := readParams(w, r)
	if err != nil {
		return err
	}
	var action string
	if r.Method == http.MethodPost {
		var ok bool
		if action, ok = single(vals, "action", maxParamBytes); !ok {
			return badRequest("The form could not be read", "The form was not sent as this page made it. Go back to the application and try again.")
		}
		if action != "" {
			if err := checkCSRF(r, vals); err != nil {
				return err
			}
		}
	}
	req, err := p.parseAuthorization(r.Context(), vals)
	if err != nil {
		return err
	}
	switch action {
	case "":
		return p.decide(w, r, req)
	case actionSignIn:
		return p.signIn(w, r, req, vals)
	case actionAllow, actionDeny:
		return p.consent(w, r, req, vals, action == actionAllow)
	default:
		return badRequest("The form could not be read", "The form was not sent as this page made it. Go back to the application and try again.")
	}
}

// decide answers an authorization request: the sign-in page when the
// browser has no usable session, or must sign in again (prompt=login, or
// a session older than max_age); then as afterSignIn does. With
// prompt=none a page is never shown: the client gets login_required.
func (p *Pages) decide(w http.ResponseWriter, r *http.Request, req *authRequest) error {
	si, ok, err := p.currentSession(r)
	if err != nil {
		return err
	}
	if !ok || req.prompt.login || req.tooOld(si.session, p.cfg.Now()) {
		if req.prompt.none {
			return req.fail("login_required", "the user must sign in")
		}
		return p.showSignIn(w, r, req, http.StatusOK, "", req.loginHint)
	}
	return p.afterSignIn(w, r, req, si)
}

// tooOld reports whether the session's sign-in is older than max_age.
func (req *authRequest) tooOld(s store.Session, now time.Time) bool {
	return req.hasMaxAge && now.Sub(s.AuthTime) > req.maxAge
}

// afterSignIn answers for a signed-in user: the consent page, unless the
// user's remembered consent to the client covers every scope asked for
// and prompt is not consent; then the code. With prompt=none the consent
// page is not shown: the client gets consent_required.
func (p *Pages) afterSignIn(w http.ResponseWriter, r *http.Request, req *authRequest, si signedIn) error {
	covered, err := p.consented(r, si.user.ID, req)
	if err != nil {
		return err
	}
	if covered && !req.prompt.consent {
		return p.issue(w, r, req, si)
	}
	if req.prompt.none {
		return req.fail("consent_required", "the user must consent")
	}
	return p.showConsent(w, r, req, si)
}

// consented reports whether the user's remembered consent to the client
// covers every scope the request asks for.
func (p *Pages) consented(r *http.Request, userID string, req *authRequest) (bool, error) {
	c, err := p.cfg.Store.GetConsent(r.Context(), userID, req.client.ID)
	switch {
	case errors.Is(err, store.ErrNotFound):
		return false, nil
	case err != nil:
		return false, err
	}
	granted := strings.Fields(c.Scope)
	for _, s := range strings.Fields(req.scope) {
		if !slices.Contains(granted, s) {
			return false, nil
		}
	}
	return true, nil
}

// consent is the consent page's post: Deny sends access_denied to the
// client; Allow, from a browser still signed in as it must be, issues the
// code, after storing the consent when it is to be remembered.
func (p *Pages) consent(w http.ResponseWriter, r *http.Request, req *authRequest, form url.Values, allow bool) error {
	if !allow {
		return req.fail("access_denied", "the user denied the request")
	}
	si, ok, err := p.currentSession(r)
	if err != nil {
		return err
	}
	if !ok || req.prompt.login || req.tooOld(si.session, p.cfg.Now()) {
		return p.showSignIn(w, r, req, http.StatusOK, "", req.loginHint)
	}
	if v, _ := single(form, "remember", maxParamBytes); v != "" {
		if err := p.remember(r, si.user.ID, req); err != nil {
			return err
		}
	}
	return p.issue(w, r, req, si)
}

// remember stores the user's consent to the client for the request's
// scope, added to what an earlier consent holds.
func (p *Pages) remember(r *http.Request, userID string, req *authRequest) error {
	ctx := r.Context()
	scope := strings.Fields(req.scope)
	old, err := p.cfg.Store.GetConsent(ctx, userID, req.client.ID)
	switch {
	case errors.Is(err, store.ErrNotFound):
	case err != nil:
		return err
	default:
		for _, s := range strings.Fields(old.Scope) {
			if !slices.Contains(scope, s) {
				scope = append(scope, s)
			}
		}
	}
	now := p.cfg.Now()
	return p.cfg.Store.PutConsent(ctx, store.Consent{UserID: userID, ClientID: req.client.ID,
		Scope: strings.Join(scope, " "), CreatedAt: now, UpdatedAt: now})
}

// issue stores an authorization code for the request and the session, and
// sends the browser to the client with it (RFC 6749 §4.1.2). Only the
// code's SHA-256 is stored.
func (p *Pages) issue(w http.ResponseWriter, r *http.Request, req *authRequest, si signedIn) error {
	code, err := randomString(codeBytes)
	if err != nil {
		return err
	}
	now := p.cfg.Now()
	err = p.cfg.Store.CreateAuthCode(r.Context(), store.AuthCode{
		Hash: store.HashToken(code), ClientID: req.client.ID, RedirectURI: req.askedRedirect,
		CodeChallenge: req.challenge, UserID: si.user.ID, Username: si.user.Username,
		SessionID: si.session.ID, Scope: req.scope, Nonce: req.nonce, AuthTime: si.session.AuthTime,
		CreatedAt: now, ExpiresAt: now.Add(codeTTL), JKT: req.jkt,
	})
	if err != nil {
		return err
	}
	p.log.LogAttrs(r.Context(), slog.LevelInfo, "authorization code issued", slog.String("client_id", req.client.ID),
		slog.String("user", si.user.Username), slog.String("scope", req.scope))
	redirect(w, req.location(url.Values{"code": {code}}))
	return nil
}

// showSignIn shows the sign-in page with status, an alert when not empty,
// and the username prefilled.
func (p *Pages) showSignIn(w http.ResponseWriter, r *http.Request, req *authRequest, status int, alert, username string) error {
	v, err := formView(w, r, p.cfg.AuthorizePath, req.forward())
	if err != nil {
		return err
	}
	v.Title, v.Client, v.Alert, v.LoginHint = "Sign in", clientName(req.client.Name, req.client.ID), alert, username
	p.render(w, r, signInPage, status, v)
	return nil
}

// showConsent shows the consent page.
func (p *Pages) showConsent(w http.ResponseWriter, r *http.Request, req *authRequest, si signedIn) error {
	v, err := formView(w, r, p.cfg.AuthorizePath, req.forward())
	if err != nil {
		return err
	}
	name := clientName(req.client.Name, req.client.ID)
	v.Title, v.Client, v.Username, v.Scopes = "Allow "+name, name, si.user.Username, describeScope(req.scope)
	p.render(w, r, consentPage, http.StatusOK, v)
	return nil
}
