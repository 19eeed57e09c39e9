package web

import (
	"errors"
	"log/slog"
	"net/http"
	"net/url"

	"github.com/tokend/tokend/internal/identity"
	"github.com/tokend/tokend/internal/revocation"
	"github.com/tokend/tokend/internal/store"
)

// PathAccount is the account page: what has access to the signed-in
// person, and where they cut it. Its sign-in and confirmation pages are
// beside it.
const (
	PathAccount        = "/account"
	pathAccountSignIn  = "/account/sign-in"
	pathAccountConfirm = "/account/confirm"
)

// The account page's actions: the value of the action field of its posts,
// and of the do parameter of the confirmation page that asks first.
const (
	actionRemoveApp      = "remove_app"
	actionEndSession     = "end_session"
	actionEndOthers      = "end_others"
	actionChangePassword = "change_password"
)

// account is the account page: GET shows it, POST does one of its
// actions. A browser without a session is sent to sign in first.
func (p *Pages) account(w http.ResponseWriter, r *http.Request) error {
	vals, err := readParams(w, r)
	if err != nil {
		return err
	}
	if r.Method == http.MethodPost {
		return p.accountAction(w, r, vals)
	}
	si, ok, err := p.sessionOrSignIn(w, r, pathAccountSignIn)
	if !ok {
		return err
	}
	v, err := formView(w, r, PathAccount, nil)
	if err != nil {
		return err
	}
	flash, _ := single(vals, "m", maxParamBytes)
	if v.Account, err = p.accountView(r, si, flash); err != nil {
		return err
	}
	v.Title, v.Wide, v.Username = "Your account", true, si.user.Username
	p.render(w, r, accountPage, http.StatusOK, v)
	return nil
}

// accountAction does what a post of the account page (or its
// confirmation page) asks, for the signed-in person only, and sends the
// browser back to the page with a flash message's code: the CSRF token
// is checked before anything else is read.
func (p *Pages) accountAction(w http.ResponseWriter, r *http.Request, form url.Values) error {
	if err := checkCSRF(r, form); err != nil {
		return err
	}
	si, ok, err := p.sessionOrSignIn(w, r, pathAccountSignIn)
	if !ok {
		return err
	}
	action, _ := single(form, "action", maxParamBytes)
	var flash string
	switch action {
	case actionRemoveApp:
		flash, err = p.removeApp(r, si, form)
	case actionEndSession:
		flash, err = p.endOwnSession(w, r, si, form)
	case actionEndOthers:
		flash, err = p.endOtherSessions(r, si)
	case actionChangePassword:
		flash, err = p.changePassword(r, si, form)
	default:
		return unreadableForm()
	}
	if err != nil {
		return err
	}
	redirect(w, PathAccount+"?m="+url.QueryEscape(flash))
	return nil
}

// unreadableForm is the error of a post that is not one the pages make.
func unreadableForm() error {
	return badRequest("The form could not be read", "The form was not sent as this page made it. Go back to your account page and try again.")
}

// removeApp revokes every grant of the person for the client in the form
// and forgets their consent to it, for user_request by them.
func (p *Pages) removeApp(r *http.Request, si signedIn, form url.Values) (string, error) {
	clientID, ok := single(form, "client_id", maxParamBytes)
	if !ok || clientID == "" {
		return "", unreadableForm()
	}
	res, err := p.cfg.Engine.RemoveAccess(r.Context(), si.user.ID, clientID, si.user.Username)
	if errors.Is(err, revocation.ErrNoFilter) {
		return "", unreadableForm()
	}
	if err != nil {
		return "", err
	}
	p.log.LogAttrs(r.Context(), slog.LevelInfo, "access removed", slog.String("user", si.user.Username),
		slog.String("client_id", clientID), slog.Int("grants", res.Grants))
	return flashAppRemoved, nil
}

// signInFor is the sign-in page of a page of the site (the account page,
// the console) at self: the sign-in page of the authorization flow, with
// no request behind it, naming what in the words of what. A sign-in starts
// the session and goes back to back.
func (p *Pages) signInFor(self, back, what string) func(http.ResponseWriter, *http.Request) error {
	return func(w http.ResponseWriter, r *http.Request) error {
		vals, err := readParams(w, r)
		if err != nil {
			return err
		}
		if r.Method != http.MethodPost {
			if _, ok, err := p.currentSession(r); err != nil || ok {
				if ok {
					redirect(w, back)
				}
				return err
			}
			return p.showSiteSignIn(w, r, self, what, http.StatusOK, "", "")
		}
		if err := checkCSRF(r, vals); err != nil {
			return err
		}
		username, okU := single(vals, "username", maxParamBytes)
		password, okP := single(vals, "password", identity.MaxPasswordLength)
		if !okU || !okP || username == "" || password == "" {
			return p.showSiteSignIn(w, r, self, what, http.StatusBadRequest, "Enter your username and your password.", username)
		}
		u, err := p.checkPassword(r, username, password)
		var tooMany *identity.TooManyGuesses
		switch {
		case errors.As(err, &tooMany):
			return tooManyGuesses(tooMany.RetryAfter)
		case errors.Is(err, identity.ErrWrongPassword):
			p.log.LogAttrs(r.Context(), slog.LevelInfo, "sign-in failed")
			return p.showSiteSignIn(w, r, self, what, http.StatusBadRequest, wrongPassword, username)
		case err != nil:
			return err
		}
		if _, err := p.startSession(w, r, u); err != nil {
			return err
		}
		redirect(w, back)
		return nil
	}
}

// showSiteSignIn shows the sign-in page posting to self.
func (p *Pages) showSiteSignIn(w http.ResponseWriter, r *http.Request, self, what string, status int, alert, username string) error {
	v, err := formView(w, r, self, nil)
	if err != nil {
		return err
	}
	v.Title, v.Client, v.Alert, v.LoginHint = "Sign in", what, alert, username
	p.render(w, r, signInPage, status, v)
	return nil
}

// accountConfirm is the second step of a destructive action: a page that
// says what will happen, whose button posts the action with the CSRF
// token. A GET, it changes nothing.
func (p *Pages) accountConfirm(w http.ResponseWriter, r *http.Request) error {
	vals, err := readParams(w, r)
	if err != nil {
		return err
	}
	si, ok, err := p.sessionOrSignIn(w, r, pathAccountSignIn)
	if !ok {
		return err
	}
	c, err := p.confirmation(r, si, vals)
	if err != nil {
		return err
	}
	v, err := formView(w, r, PathAccount, c.fields)
	if err != nil {
		return err
	}
	v.Title, v.Heading, v.Message, v.Confirm, v.Back = c.heading, c.heading, c.message, c.button, PathAccount
	p.render(w, r, confirmPage, http.StatusOK, v)
	return nil
}

// confirmation is what the confirmation page asks.
type confirmation struct {
	heading, message, button string
	fields                   []hidden
	// typed is, for a deletion, the label of the field where the name of
	// what is deleted must be typed; "" for other actions.
	typed string
}

// confirmation reads the confirmation page's parameters: the action and
// what it acts on.
func (p *Pages) confirmation(r *http.Request, si signedIn, vals url.Values) (confirmation, error) {
	do, _ := single(vals, "do", maxParamBytes)
	switch do {
	case actionRemoveApp:
		clientID, ok := single(vals, "client_id", maxParamBytes)
		if !ok || clientID == "" {
			return confirmation{}, brokenLink()
		}
		// Only a registered app is named: the page must not say what a
		// crafted link's client_id says.
		c, err := p.cfg.Store.GetClient(r.Context(), clientID)
		switch {
		case errors.Is(err, store.ErrNotFound):
			return confirmation{}, brokenLink()
		case err != nil:
			return confirmation{}, err
		}
		name := clientName(c.Name, c.ID)
		return confirmation{
			heading: "Remove access for " + name + "?",
			message: name + " will be signed out everywhere and its access ends now. It will have to ask you again before it can use your account.",
			button:  "Remove access",
			fields:  []hidden{{Name: "action", Value: actionRemoveApp}, {Name: "client_id", Value: clientID}},
		}, nil
	case actionEndSession:
		sid, ok := single(vals, "sid", maxParamBytes)
		if !ok || sid == "" {
			return confirmation{}, brokenLink()
		}
		sess, err := p.ownSession(r, si, sid)
		if err != nil {
			return confirmation{}, err
		}
		return confirmation{
			heading: "Sign out " + describeAgent(sess.UserAgent) + "?",
			message: "The session started " + when(sess.CreatedAt) + " from " + sess.Address + " ends now, and the apps signed in with it lose access, except those you allowed to stay connected.",
			button:  "Sign out",
			fields:  []hidden{{Name: "action", Value: actionEndSession}, {Name: "sid", Value: sid}},
		}, nil
	case actionEndOthers:
		return confirmation{
			heading: "Sign out everywhere else?",
			message: "Every other session of yours ends now, and the apps signed in with them lose access, except those you allowed to stay connected. You stay signed in here.",
			button:  "Sign out everywhere else",
			fields:  []hidden{{Name: "action", Value: actionEndOthers}},
		}, nil
	}
	return confirmation{}, brokenLink()
}

// notYourSession refuses to act on a session that is not the person's
// (or is unknown: the answer is the same, whoever's it is).
var notYourSession = &pageError{status: http.StatusForbidden, heading: "This is not one of your sessions",
	message: "The session you asked to sign out is not one of yours, so nothing was done. Go back to your account page and try again."}

// ownSession returns the session sid when it is si's person's.
func (p *Pages) ownSession(r *http.Request, si signedIn, sid string) (store.Session, error) {
	sess, err := p.cfg.Store.GetSession(r.Context(), sid)
	switch {
	case errors.Is(err, store.ErrNotFound):
		return store.Session{}, notYourSession
	case err != nil:
		return store.Session{}, err
	case sess.UserID != si.user.ID:
		p.log.LogAttrs(r.Context(), slog.LevelWarn, "account: another user's session refused", slog.String("user", si.user.Username))
		return store.Session{}, notYourSession
	}
	return sess, nil
}

// endOwnSession ends a session of the person, which must be theirs, and
// the grants made in it but the offline ones, as sign-out does. When it is
// the one this browser holds, the browser is signed out.
func (p *Pages) endOwnSession(w http.ResponseWriter, r *http.Request, si signedIn, form url.Values) (string, error) {
	sid, ok := single(form, "sid", maxParamBytes)
	if !ok || sid == "" {
		return "", unreadableForm()
	}
	if _, err := p.ownSession(r, si, sid); err != nil {
		return "", err
	}
	if _, err := p.cfg.Engine.EndSession(r.Context(), sid, si.user.Username); err != nil {
		return "", err
	}
	p.log.LogAttrs(r.Context(), slog.LevelInfo, "session ended from the account page", slog.String("user", si.user.Username), slog.String("sid", sid))
	if sid == si.session.ID {
		clearSession(w)
	}
	return flashSessionEnded, nil
}

// endOtherSessions ends every live session of the person but this
// browser's, one engine call each.
func (p *Pages) endOtherSessions(r *http.Request, si signedIn) (string, error) {
	ctx := r.Context()
	sessions, err := p.cfg.Store.ListSessions(ctx, si.user.ID)
	if err != nil {
		return "", err
	}
	now := p.cfg.Now()
	for _, sess := range sessions {
		if sess.ID == si.session.ID || !sess.Live(now) {
			continue
		}
		if _, err := p.cfg.Engine.EndSession(ctx, sess.ID, si.user.Username); err != nil && !errors.Is(err, store.ErrNotFound) {
			return "", err
		}
	}
	p.log.LogAttrs(ctx, slog.LevelInfo, "signed out everywhere else", slog.String("user", si.user.Username))
	return flashOthersEnded, nil
}

// appName is how the pages name the client with ID id: its name, or its
// ID when it has none or is gone.
func (p *Pages) appName(r *http.Request, id string) (string, error) {
	c, err := p.cfg.Store.GetClient(r.Context(), id)
	switch {
	case errors.Is(err, store.ErrNotFound):
		return id, nil
	case err != nil:
		return "", err
	}
	return clientName(c.Name, c.ID), nil
}

// changePassword sets the person's new password, given twice, once their
// current one is checked again (limited as sign-in is, and in its slots).
// Every grant of theirs is revoked and every other session ends in the
// same transaction (Engine.ChangeOwnPassword); this one goes on. Nothing
// changes on a wrong current password, or a new one that does not follow
// the rules of every other way to set it (identity.HashNewPassword).
func (p *Pages) changePassword(r *http.Request, si signedIn, form url.Values) (string, error) {
	current, ok1 := single(form, "current_password", identity.MaxPasswordLength)
	next, ok2 := single(form, "new_password", maxParamBytes)
	again, ok3 := single(form, "new_password_again", maxParamBytes)
	switch {
	case !ok1 || !ok2 || !ok3:
		return "", unreadableForm()
	case current == "" || next == "":
		return flashPasswordMissing, nil
	case next != again:
		return flashPasswordMismatch, nil
	}
	hash, err := identity.HashNewPassword(next)
	switch {
	case identity.IsInvalidUser(err):
		return flashPasswordRules, nil
	case err != nil:
		return "", err
	}
	_, err = p.checkPassword(r, si.user.Username, current)
	var tooMany *identity.TooManyGuesses
	switch {
	case errors.As(err, &tooMany):
		return "", tooManyGuesses(tooMany.RetryAfter)
	case errors.Is(err, identity.ErrWrongPassword):
		p.log.LogAttrs(r.Context(), slog.LevelInfo, "password change refused: wrong current password", slog.String("user", si.user.Username))
		return flashPasswordWrong, nil
	case err != nil:
		return "", err
	}
	now := p.cfg.Now()
	res, err := p.cfg.Engine.ChangeOwnPassword(r.Context(), si.user.Username, si.session.ID, func(u store.User) (store.User, error) {
		u.PasswordHash, u.UpdatedAt = hash, now
		return u, nil
	})
	if err != nil {
		return "", err
	}
	p.log.LogAttrs(r.Context(), slog.LevelInfo, "password changed", slog.String("user", si.user.Username), slog.Int("grants", res.Grants))
	return flashPasswordChanged, nil
}
