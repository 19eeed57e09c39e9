package web

import (
	"errors"
	"log/slog"
	"net/http"
	"net/url"

	"github.com/tokend/tokend/internal/identity"
	"github.com/tokend/tokend/internal/store"
)

// The console's actions on a user: the value of the action field of the
// posts to the user's page, and of the do parameter of the confirmation
// page that asks first.
const (
	actionForgetConsent = "forget_consent"
	actionDisableUser   = "disable"
	actionEnableUser    = "enable"
	actionDeleteUser    = "delete"
	actionResetPassword = "reset_password"
	actionRevokeAll     = "revoke_all"
)

// consoleUserView is a user's page.
type consoleUserView struct {
	Username, ID, Path string
	Admin, Disabled    bool
	Created            string
	Sessions           []sessionEntry
	Apps               []appEntry
	Consents           []consentEntry
	MinPassword        int
	// LiveGrants are the user's live grants now, of every app.
	LiveGrants int
}

// consentEntry is one consent the user remembered.
type consentEntry struct {
	ClientID, Name string
	Scopes         []string
	Given          string
}

// consoleUser is a user's page (GET) and its actions (POST).
func (p *Pages) consoleUser(w http.ResponseWriter, r *http.Request) error {
	vals, si, ok, err := p.consoleRequest(w, r)
	if !ok || err != nil {
		return err
	}
	u, err := p.cfg.Store.GetUser(r.Context(), r.PathValue("username"))
	if err != nil {
		return notFound(err, "user")
	}
	if r.Method == http.MethodPost {
		return p.consoleUserAction(w, r, si, u, vals)
	}
	uv, err := p.consoleUserView(r, u)
	if err != nil {
		return err
	}
	return p.consolePage(w, r, si, vals, consoleUserPage, u.Username+" · Admin console", &consoleView{User: uv})
}

// consoleUserView reads what the page of u shows: the same sessions and
// connected apps the person sees on their account page, and the consents
// they remembered.
func (p *Pages) consoleUserView(r *http.Request, u store.User) (*consoleUserView, error) {
	uv := &consoleUserView{Username: u.Username, ID: u.ID, Path: consoleUserPath(u.Username), Admin: u.Admin,
		Disabled: u.Disabled, Created: when(u.CreatedAt), MinPassword: identity.MinPasswordLength}
	them := signedIn{user: u}
	var av accountView
	if err := p.sessionsView(r, them, &av); err != nil {
		return nil, err
	}
	uv.Sessions = av.Sessions
	apps, err := p.connectedApps(r, them)
	if err != nil {
		return nil, err
	}
	uv.Apps = apps
	grants, err := p.cfg.Store.ListUserGrants(r.Context(), u.ID, p.cfg.Now())
	if err != nil {
		return nil, err
	}
	uv.LiveGrants = len(grants)
	consents, err := p.cfg.Store.ListConsents(r.Context(), u.ID)
	if err != nil {
		return nil, err
	}
	for _, c := range consents {
		name, err := p.appName(r, c.ClientID)
		if err != nil {
			return nil, err
		}
		uv.Consents = append(uv.Consents, consentEntry{ClientID: c.ClientID, Name: name,
			Scopes: describeScope(c.Scope), Given: when(c.CreatedAt)})
	}
	return uv, nil
}

// consoleUserAction does one action of the user's page, through the
// engine with the admin as actor, and sends the browser back to the page
// (the console's search, after a deletion) with a flash message.
func (p *Pages) consoleUserAction(w http.ResponseWriter, r *http.Request, si signedIn, u store.User, form url.Values) error {
	action, _ := single(form, "action", maxParamBytes)
	actor, back := si.user.Username, consoleUserPath(u.Username)
	var flash string
	var err error
	switch action {
	case actionEndSession:
		flash, err = p.adminEndSession(r, actor, u, form)
	case actionForgetConsent:
		flash, err = p.adminForgetConsent(r, actor, u, form)
	case actionDisableUser, actionEnableUser:
		flash, err = p.adminSetDisabled(r, actor, u, action == actionDisableUser)
	case actionDeleteUser:
		if flash, err = p.adminDeleteUser(r, actor, u, form); flash == flashUserDeleted {
			back = PathConsole
		}
	case actionResetPassword:
		flash, err = p.adminResetPassword(r, actor, u, form)
	case actionRevokeAll:
		flash, err = p.adminRevokeAll(r, actor, u)
	default:
		return unreadableForm()
	}
	if err != nil {
		return err
	}
	if sess, ok, _ := p.currentSession(r); !ok || sess.session.ID != si.session.ID {
		// The admin ended their own session, or disabled, deleted or
		// reset themselves: the console is gone for this browser.
		clearSession(w)
	}
	consoleBack(w, back, flash)
	return nil
}

// adminEndSession ends a session of u, which must be u's, as sign-out does.
func (p *Pages) adminEndSession(r *http.Request, actor string, u store.User, form url.Values) (string, error) {
	sid, ok := single(form, "sid", maxParamBytes)
	if !ok || sid == "" {
		return "", unreadableForm()
	}
	if _, err := p.ownSession(r, signedIn{user: u}, sid); err != nil {
		return "", err
	}
	res, err := p.cfg.Engine.EndSession(r.Context(), sid, actor)
	if err != nil && !errors.Is(err, store.ErrNotFound) {
		return "", err
	}
	p.logAdmin(r, "console: session ended", actor, u.Username, slog.String("sid", sid), slog.Int("grants", res.Grants))
	return flashSessionEnded, nil
}

// adminForgetConsent withdraws u's consent to a client, and the client's
// grants for u with it.
func (p *Pages) adminForgetConsent(r *http.Request, actor string, u store.User, form url.Values) (string, error) {
	clientID, ok := single(form, "client_id", maxParamBytes)
	if !ok || clientID == "" {
		return "", unreadableForm()
	}
	res, err := p.cfg.Engine.ForgetConsent(r.Context(), u.ID, clientID, actor)
	switch {
	case errors.Is(err, store.ErrNotFound):
		return flashConsentGone, nil
	case err != nil:
		return "", err
	}
	p.logAdmin(r, "console: consent withdrawn", actor, u.Username, slog.String("client_id", clientID), slog.Int("grants", res.Grants))
	return flashConsentForgotten, nil
}

// adminSetDisabled disables u, revoking every grant and ending every
// session (Engine.DisableUser), or enables u, which revokes nothing: the
// revocation log has a user_enabled subject entry by the admin
// (Engine.ChangeUser).
func (p *Pages) adminSetDisabled(r *http.Request, actor string, u store.User, disable bool) (string, error) {
	now := p.cfg.Now()
	apply := func(u store.User) (store.User, error) {
		u.Disabled, u.UpdatedAt = disable, now
		return u, nil
	}
	if !disable {
		if _, err := p.cfg.Engine.At(now).ChangeUser(r.Context(), u.Username, actor, apply); err != nil {
			return "", notFound(err, "user")
		}
		p.logAdmin(r, "console: user enabled", actor, u.Username)
		return flashUserEnabled, nil
	}
	res, err := p.cfg.Engine.DisableUser(r.Context(), u.Username, actor, apply)
	if err != nil {
		return "", notFound(err, "user")
	}
	p.logAdmin(r, "console: user disabled", actor, u.Username, slog.Int("grants", res.Grants))
	return flashUserDisabled, nil
}

// adminDeleteUser deletes u once the form repeats the username, as its
// confirmation page asks.
func (p *Pages) adminDeleteUser(r *http.Request, actor string, u store.User, form url.Values) (string, error) {
	typed, _ := single(form, "confirm", maxParamBytes)
	if typed != u.Username {
		return flashTypeMismatch, nil
	}
	res, err := p.cfg.Engine.DeleteUser(r.Context(), u.Username, actor)
	if err != nil {
		return "", notFound(err, "user")
	}
	p.logAdmin(r, "console: user deleted", actor, u.Username, slog.Int("grants", res.Grants))
	return flashUserDeleted, nil
}

// adminResetPassword sets the password the admin typed twice and revokes
// every grant of u and ends every session of theirs, as a password change
// does (Engine.ChangePassword).
func (p *Pages) adminResetPassword(r *http.Request, actor string, u store.User, form url.Values) (string, error) {
	next, ok1 := single(form, "new_password", maxParamBytes)
	again, ok2 := single(form, "new_password_again", maxParamBytes)
	switch {
	case !ok1 || !ok2:
		return "", unreadableForm()
	case next == "":
		return flashResetMissing, nil
	case next != again:
		return flashPasswordMismatch, nil
	}
	hash, err := identity.HashNewPassword(next)
	switch {
	case identity.IsInvalidUser(err):
		return flashResetRules, nil
	case err != nil:
		return "", err
	}
	now := p.cfg.Now()
	res, err := p.cfg.Engine.ChangePassword(r.Context(), u.Username, actor, func(u store.User) (store.User, error) {
		u.PasswordHash, u.UpdatedAt = hash, now
		return u, nil
	})
	if err != nil {
		return "", notFound(err, "user")
	}
	p.logAdmin(r, "console: password reset", actor, u.Username, slog.Int("grants", res.Grants))
	return flashPasswordReset, nil
}

// adminRevokeAll revokes every live grant of u, for admin by the admin:
// the global token revocation's path.
func (p *Pages) adminRevokeAll(r *http.Request, actor string, u store.User) (string, error) {
	res, err := p.cfg.Engine.RevokeGlobal(r.Context(), u.ID, actor)
	if err != nil {
		return "", err
	}
	p.logAdmin(r, "console: every grant of the user revoked", actor, u.Username, slog.Int("grants", res.Grants), slog.Int("tokens", res.Tokens))
	return flashRevokedAll, nil
}

// logAdmin logs an action of the console with the admin who did it and
// the user or client it was done to.
func (p *Pages) logAdmin(r *http.Request, msg, actor, subject string, attrs ...slog.Attr) {
	attrs = append([]slog.Attr{slog.String("actor", actor), slog.String("subject", subject)}, attrs...)
	p.log.LogAttrs(r.Context(), slog.LevelInfo, msg, attrs...)
}
