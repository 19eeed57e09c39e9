package web

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"net/url"
	"slices"
	"strings"

	"github.com/tokend/tokend/internal/store"
	"github.com/tokend/tokend/internal/token"
)

// logoutRequest is a sign-out request (OpenID Connect RP-Initiated Logout
// 1.0 §2), validated.
type logoutRequest struct {
	// hint is the verified id_token_hint; nil when none was sent.
	hint *token.IDClaims
	// client is the client that asked, by client_id or the hint's
	// audience; "" when none said.
	client store.Client
	// redirect is the post_logout_redirect_uri, registered for the client;
	// "" when none was asked.
	redirect string
	state    string
	// params are the request's parameters, forwarded by the confirmation
	// page.
	params []hidden
}

// logoutParams are the parameters of a sign-out request the endpoint reads
// and the confirmation page forwards.
var logoutParams = []string{"id_token_hint", "client_id", "post_logout_redirect_uri", "state"}

// logout is the end-session endpoint (RP-Initiated Logout 1.0), GET or
// POST. A browser with a session is asked to confirm; the confirmation,
// a post with the CSRF token, ends the session (revoking its grants but
// the offline ones), clears the cookie and sends the browser to the
// client's registered post-logout URI with state, or shows that the user
// is signed out. A browser without a session is signed out already.
func (p *Pages) logout(w http.ResponseWriter, r *http.Request) error {
	vals, err := readParams(w, r)
	if err != nil {
		return err
	}
	var action string
	if r.Method == http.MethodPost {
		action, _ = single(vals, "action", maxParamBytes)
		if action != "" {
			if err := checkCSRF(r, vals); err != nil {
				return err
			}
		}
	}
	lr, err := p.parseLogout(r.Context(), vals)
	if err != nil {
		return err
	}
	si, ok, err := p.currentSession(r)
	switch {
	case err != nil:
		return err
	case !ok:
		clearSession(w)
		return p.signedOut(w, r, lr)
	case lr.hint != nil && lr.hint.Subject != si.user.ID:
		return badRequest("You are signed in as someone else",
			"The application asked to sign out another account than the one signed in here, so nothing was done.")
	}
	switch action {
	case "":
		return p.showLogout(w, r, lr, si)
	case actionSignOut:
		if _, err := p.cfg.Engine.EndSession(r.Context(), si.session.ID, si.user.Username); err != nil && !errors.Is(err, store.ErrNotFound) {
			return err
		}
		clearSession(w)
		p.log.LogAttrs(r.Context(), slog.LevelInfo, "signed out", slog.String("user", si.user.Username), slog.String("sid", si.session.ID))
		return p.signedOut(w, r, lr)
	default:
		return badRequest("The form could not be read", "The form was not sent as this page made it. Nothing was done.")
	}
}

// parseLogout validates a sign-out request: the hint must be an ID Token
// of ours (expired or not), the client one that exists and is among the
// hint's audience, and the post-logout URI one the client registered,
// exactly. Every error is shown on the error page: a sign-out never
// redirects to an address it has not checked.
func (p *Pages) parseLogout(ctx context.Context, vals url.Values) (logoutRequest, error) {
	var lr logoutRequest
	v := map[string]string{}
	for _, name := range logoutParams {
		limit := maxParamBytes
		if name == "id_token_hint" {
			limit = token.MaxJWTLength
		}
		s, ok := single(vals, name, limit)
		if !ok {
			return lr, badRequest("This sign-out link is broken",
				"The application's sign-out request is malformed, so nothing was done. Go back to the application and try again.")
		}
		if s != "" {
			v[name] = s
			lr.params = append(lr.params, hidden{Name: name, Value: s})
		}
	}
	lr.state = v["state"]
	if err := p.logoutHint(&lr, v["id_token_hint"]); err != nil {
		return lr, err
	}
	clientID := v["client_id"]
	switch {
	case lr.hint != nil && clientID != "" && !lr.hint.Audience.Contains(clientID):
		return lr, badRequest("This sign-out request does not add up",
			"The application that asked to sign you out is not the one the request was made for, so nothing was done.")
	case lr.hint != nil && clientID == "" && len(lr.hint.Audience) == 1:
		clientID = lr.hint.Audience[0]
	}
	return lr, p.logoutRedirect(ctx, &lr, clientID, v["post_logout_redirect_uri"])
}

// logoutHint verifies the id_token_hint, when there is one.
func (p *Pages) logoutHint(lr *logoutRequest, raw string) error {
	if raw == "" {
		return nil
	}
	if p.cfg.JWT == nil {
		return badRequest("This sign-out request cannot be checked", "The application's sign-out request could not be verified, so nothing was done.")
	}
	c, err := p.cfg.JWT.VerifyIDToken(raw)
	if err != nil {
		return badRequest("This sign-out request cannot be checked", "The application's sign-out request could not be verified, so nothing was done.")
	}
	lr.hint = &c
	return nil
}

// logoutRedirect looks the client up and checks the post-logout URI
// against those it registered.
func (p *Pages) logoutRedirect(ctx context.Context, lr *logoutRequest, clientID, asked string) error {
	if clientID != "" {
		c, err := p.cfg.Store.GetClient(ctx, clientID)
		switch {
		case errors.Is(err, store.ErrNotFound):
			return badRequest("This application is not known here",
				"The application that asked to sign you out is not registered with this sign-in service, so nothing was done.")
		case err != nil:
			return err
		}
		lr.client = c
	}
	if asked == "" {
		return nil
	}
	if lr.client.ID == "" || !slices.Contains(lr.client.PostLogoutRedirectURIs, asked) {
		return badRequest("The return address is not registered",
			"The application asked to send you to an address it has not registered for after signing out, so nothing was done and you were not sent there.")
	}
	lr.redirect = asked
	return nil
}

// showLogout shows the confirmation page.
func (p *Pages) showLogout(w http.ResponseWriter, r *http.Request, lr logoutRequest, si signedIn) error {
	v, err := formView(w, r, p.cfg.EndSessionPath, lr.params)
	if err != nil {
		return err
	}
	v.Title, v.Username = "Sign out", si.user.Username
	if lr.client.ID != "" {
		v.Client = clientName(lr.client.Name, lr.client.ID)
	}
	p.render(w, r, logoutPage, http.StatusOK, v)
	return nil
}

// signedOut sends the browser to the post-logout URI with state, or shows
// the signed-out page.
func (p *Pages) signedOut(w http.ResponseWriter, r *http.Request, lr logoutRequest) error {
	if lr.redirect == "" {
		p.render(w, r, signedOutPage, http.StatusOK, view{Title: "Signed out", Heading: "You are signed out",
			Message: "You can close this window."})
		return nil
	}
	loc := lr.redirect
	if lr.state != "" {
		sep := "?"
		if strings.Contains(loc, "?") {
			sep = "&"
		}
		loc += sep + url.Values{"state": {lr.state}}.Encode()
	}
	redirect(w, loc)
	return nil
}
