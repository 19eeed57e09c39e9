package web

import (
	"fmt"
	"net/http"
	"net/url"

	"github.com/tokend/tokend/internal/identity"
	"github.com/tokend/tokend/internal/store"
)

// The console's flash messages, by the code its actions send back in the
// query: the pages show only these fixed texts.
const (
	flashConsentForgotten = "consent_forgotten"
	flashConsentGone      = "consent_gone"
	flashUserDisabled     = "user_disabled"
	flashUserEnabled      = "user_enabled"
	flashUserDeleted      = "user_deleted"
	flashTypeMismatch     = "type_mismatch"
	flashPasswordReset    = "password_reset"
	flashResetMissing     = "reset_missing"
	flashResetRules       = "reset_rules"
	flashRevokedAll       = "revoked_all"
)

// consoleFlash is a flash message, and whether it says nothing was done.
type consoleFlash struct {
	text  string
	alert bool
}

var consoleFlashes = map[string]consoleFlash{
	flashSessionEnded:     {text: "The session was signed out, and the apps signed in with it lost access but those allowed to stay connected."},
	flashConsentForgotten: {text: "The consent was withdrawn, and the app’s access for this user ended."},
	flashConsentGone:      {text: "There was no such consent any more. Nothing was changed.", alert: true},
	flashUserDisabled:     {text: "The user was disabled: signed out everywhere, every token revoked."},
	flashUserEnabled:      {text: "The user was enabled and can sign in again."},
	flashUserDeleted:      {text: "The user was deleted, and every token of theirs revoked."},
	flashTypeMismatch:     {text: "What you typed did not match. Nothing was deleted.", alert: true},
	flashPasswordReset:    {text: "The password was reset. The user was signed out everywhere and every token of theirs revoked."},
	flashPasswordMismatch: {text: "The two passwords are not the same. The password was not changed.", alert: true},
	flashResetMissing:     {text: "Type the new password twice. The password was not changed.", alert: true},
	flashResetRules:       {text: fmt.Sprintf("A password must have at least %d characters. The password was not changed.", identity.MinPasswordLength), alert: true},
	flashRevokedAll:       {text: "Every token of the user was revoked. Their sessions go on; each app must sign them in again."},
}

// consoleConfirm is the second step of a destructive action of the
// console: a page that says what will happen, whose button posts the
// action with the CSRF token. A GET, it changes nothing.
func (p *Pages) consoleConfirm(w http.ResponseWriter, r *http.Request) error {
	vals, _, ok, err := p.consoleRequest(w, r)
	if !ok || err != nil {
		return err
	}
	if r.Method == http.MethodPost {
		return unreadableForm()
	}
	c, err := p.consoleConfirmation(r, vals)
	if err != nil {
		return err
	}
	v, err := formView(w, r, c.action, c.fields)
	if err != nil {
		return err
	}
	v.Title, v.Heading, v.Message, v.Confirm, v.Back = c.heading, c.heading, c.message, c.button, c.back
	v.TypeLabel = c.typeLabel
	p.render(w, r, confirmPage, http.StatusOK, v)
	return nil
}

// consoleConfirmation says what the confirmation page asks: where the
// button posts, where Cancel goes, and, for a deletion, what must be
// typed.
type consoleConfirmation struct {
	confirmation
	action, back string
	typeLabel    string
}

// consoleConfirmation reads the confirmation page's parameters: the
// action and the user (or client) it acts on, which must exist, so that
// the page names only what is there.
func (p *Pages) consoleConfirmation(r *http.Request, vals url.Values) (consoleConfirmation, error) {
	do, _ := single(vals, "do", maxParamBytes)
	if username, ok := single(vals, "username", maxParamBytes); ok && username != "" {
		u, err := p.cfg.Store.GetUser(r.Context(), username)
		if err != nil {
			return consoleConfirmation{}, notFound(err, "user")
		}
		c, err := p.userConfirmation(r, u, do, vals)
		path := consoleUserPath(u.Username)
		return consoleConfirmation{confirmation: c, action: path, back: path, typeLabel: c.typeLabel()}, err
	}
	if clientID, ok := single(vals, "client_id", maxParamBytes); ok && clientID != "" {
		cl, err := p.cfg.Store.GetClient(r.Context(), clientID)
		if err != nil {
			return consoleConfirmation{}, notFound(err, "client")
		}
		c, err := clientConfirmation(cl, do)
		path := consoleClientPath(cl.ID)
		return consoleConfirmation{confirmation: c, action: path, back: path, typeLabel: c.typeLabel()}, err
	}
	return consoleConfirmation{}, brokenLink()
}

// typeLabel is the label of the field a deletion's confirmation asks to
// type the name in, "" for other actions.
func (c confirmation) typeLabel() string {
	return c.typed
}

// userConfirmation is what the confirmation of do on u asks.
func (p *Pages) userConfirmation(r *http.Request, u store.User, do string, vals url.Values) (confirmation, error) {
	name := u.Username
	field := func(extra ...hidden) []hidden { return append([]hidden{{Name: "action", Value: do}}, extra...) }
	switch do {
	case actionEndSession:
		sid, _ := single(vals, "sid", maxParamBytes)
		sess, err := p.ownSession(r, signedIn{user: u}, sid)
		if err != nil {
			return confirmation{}, err
		}
		return confirmation{heading: "Sign out " + name + " on " + describeAgent(sess.UserAgent) + "?",
			message: "The session started " + when(sess.CreatedAt) + " from " + sess.Address + " ends now, and the apps signed in with it lose access, except those allowed to stay connected.",
			button:  "Sign out this session", fields: field(hidden{Name: "sid", Value: sid})}, nil
	case actionForgetConsent:
		clientID, _ := single(vals, "client_id", maxParamBytes)
		if _, err := p.cfg.Store.GetConsent(r.Context(), u.ID, clientID); err != nil {
			return confirmation{}, notFound(err, "consent")
		}
		app, err := p.appName(r, clientID)
		if err != nil {
			return confirmation{}, err
		}
		return confirmation{heading: "Withdraw " + name + "’s consent to " + app + "?",
			message: app + " loses its access for " + name + " now, and must ask them again.",
			button:  "Withdraw consent", fields: field(hidden{Name: "client_id", Value: clientID})}, nil
	case actionDisableUser:
		return confirmation{heading: "Disable " + name + "?",
			message: name + " is signed out everywhere, every token of theirs is revoked, and they cannot sign in until an admin enables them.",
			button:  "Disable " + name, fields: field()}, nil
	case actionRevokeAll:
		return confirmation{heading: "Revoke every token of " + name + "?",
			message: "Every app loses its access for " + name + " now and must sign them in again. Their sessions and password stay as they are.",
			button:  "Revoke everything", fields: field()}, nil
	case actionDeleteUser:
		return confirmation{heading: "Delete " + name + "?",
			message: name + " is deleted for good: signed out everywhere, every token revoked, their consents forgotten. This cannot be undone.",
			button:  "Delete " + name, fields: field(), typed: "Type " + name + " to confirm"}, nil
	}
	return confirmation{}, brokenLink()
}
