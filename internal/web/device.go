package web

import (
	"errors"
	"log/slog"
	"net/http"
	"net/url"

	"github.com/tokend/tokend/internal/ratelimit"
	"github.com/tokend/tokend/internal/store"
	"github.com/tokend/tokend/internal/token"
)

const (
	// PathDevice is the device authorization grant's verification page
	// (RFC 8628 §3.3), the verification_uri the device shows.
	PathDevice       = "/device"
	pathDeviceSignIn = "/device/sign-in"
	// actionContinue is the code form's button.
	actionContinue = "continue"
)

// Messages of the code form.
const (
	wrongUserCode = "That code is not one we know, or it has expired. Check the code your device shows and try again."
	typeUserCode  = "Enter the code your device shows."
)

// mountDevice mounts the verification page and its sign-in, which keeps
// the user code of a verification_uri_complete link across the sign-in.
func (p *Pages) mountDevice(mux *http.ServeMux) {
	p.mountPage(mux, PathDevice, p.device)
	p.mountPage(mux, pathDeviceSignIn, func(w http.ResponseWriter, r *http.Request) error {
		code := shownUserCode(r.URL.Query().Get("user_code"))
		return p.signInFor(withUserCode(pathDeviceSignIn, code), withUserCode(PathDevice, code), "connect your device")(w, r)
	})
}

// withUserCode is path with the user code as its query, when there is one.
func withUserCode(path, code string) string {
	if code == "" {
		return path
	}
	return path + "?" + url.Values{"user_code": {code}}.Encode()
}

// shownUserCode is a user code as the page shows it, XXXX-XXXX, or "" when
// typed is not one. Only a code of the alphabet comes out, so it is safe
// in a link.
func shownUserCode(typed string) string {
	n, ok := token.NormalUserCode(typed)
	if !ok {
		return ""
	}
	return n[:4] + "-" + n[4:]
}

// device is the verification page (RFC 8628 §3.3). A GET, for a signed-in
// person, shows the code form, filled in from verification_uri_complete's
// user_code but never submitted by itself: the person confirms the code,
// then sees what the device's client asks for, as the consent page of the
// browser flow shows it, and allows or denies (§5.4: a link alone decides
// nothing). Each post is checked from scratch: CSRF token, session, code;
// and every post that names a code counts a wrong one against the person's
// session and address (§5.1).
func (p *Pages) device(w http.ResponseWriter, r *http.Request) error {
	vals, err := readParams(w, r)
	if err != nil {
		return err
	}
	typed, okCode := single(vals, "user_code", maxParamBytes)
	si, ok, err := p.sessionOrSignIn(w, r, withUserCode(pathDeviceSignIn, shownUserCode(typed)))
	if !ok {
		return err
	}
	if r.Method != http.MethodPost {
		return p.showDeviceCode(w, r, si, http.StatusOK, "", shownUserCode(typed))
	}
	if err := checkCSRF(r, vals); err != nil {
		return err
	}
	action, okAction := single(vals, "action", maxParamBytes)
	switch {
	case !okCode || !okAction:
		return badRequest("The form could not be read", "The form was not sent as this page made it. Go back and try again.")
	case typed == "":
		return p.showDeviceCode(w, r, si, http.StatusBadRequest, typeUserCode, "")
	case action == actionContinue:
		return p.deviceConsent(w, r, si, typed)
	case action == actionAllow || action == actionDeny:
		return p.deviceDecide(w, r, si, typed, action == actionAllow)
	default:
		return badRequest("The form could not be read", "The form was not sent as this page made it. Go back and try again.")
	}
}

// byUserCode runs find with the hash of the typed user code, unless the
// person's session or address typed too many wrong ones; a code that
// is not one, or that find does not find (store.ErrNotFound), counts as
// wrong.
func (p *Pages) byUserCode(r *http.Request, si signedIn, typed string, find func(store.Hash) (store.DeviceCode, error)) (store.DeviceCode, error) {
	keys := []string{ratelimit.UserCodeSessionKey(si.session.ID), ratelimit.UserCodeAddressKey(r.RemoteAddr)}
	if wait, blocked := p.cfg.UserLimiter.Blocked(keys...); blocked {
		return store.DeviceCode{}, tooManyGuesses(wait)
	}
	d, err := store.DeviceCode{}, error(store.ErrNotFound)
	if n, ok := token.NormalUserCode(typed); ok {
		d, err = find(store.HashToken(n))
	}
	if errors.Is(err, store.ErrNotFound) {
		p.log.LogAttrs(r.Context(), slog.LevelInfo, "wrong user code", slog.String("user", si.user.Username))
		if wait, blocked := p.cfg.UserLimiter.Fail(keys...); blocked {
			return store.DeviceCode{}, tooManyGuesses(wait)
		}
	}
	return d, err
}

// deviceConsent shows what the client of the request with the typed user
// code asks for, with Allow and Deny; a wrong code, the code form again.
func (p *Pages) deviceConsent(w http.ResponseWriter, r *http.Request, si signedIn, typed string) error {
	ctx := r.Context()
	now := p.cfg.Now()
	d, err := p.byUserCode(r, si, typed, func(h store.Hash) (store.DeviceCode, error) {
		return p.cfg.Store.GetDeviceCodeByUser(ctx, h, now)
	})
	var c store.Client
	if err == nil {
		c, err = p.cfg.Store.GetClient(ctx, d.ClientID)
	}
	switch {
	case errors.Is(err, store.ErrNotFound):
		return p.showDeviceCode(w, r, si, http.StatusBadRequest, wrongUserCode, typed)
	case err != nil:
		return err
	}
	shown := shownUserCode(typed)
	v, err := formView(w, r, PathDevice, []hidden{{Name: "user_code", Value: shown}})
	if err != nil {
		return err
	}
	name := clientName(c.Name, c.ID)
	v.Title, v.Client, v.Username, v.Scopes, v.UserCode = "Allow "+name, name, si.user.Username, describeScope(d.Scope), shown
	p.render(w, r, deviceConsentPage, http.StatusOK, v)
	return nil
}

// deviceDecide records the person's decision on the request with the
// typed user code, with their session: the grant the device gets is made
// in it, and ends with it unless offline.
func (p *Pages) deviceDecide(w http.ResponseWriter, r *http.Request, si signedIn, typed string, allow bool) error {
	ctx := r.Context()
	now := p.cfg.Now()
	d, err := p.byUserCode(r, si, typed, func(h store.Hash) (store.DeviceCode, error) {
		return p.cfg.Store.DecideDeviceCode(ctx, h, now, store.DeviceDecision{Approve: allow,
			UserID: si.user.ID, Username: si.user.Username, SessionID: si.session.ID, AuthTime: si.session.AuthTime})
	})
	switch {
	case errors.Is(err, store.ErrNotFound):
		return p.showDeviceCode(w, r, si, http.StatusBadRequest, wrongUserCode, typed)
	case err != nil:
		return err
	}
	p.log.LogAttrs(ctx, slog.LevelInfo, "device request decided", slog.String("client_id", d.ClientID),
		slog.String("user", si.user.Username), slog.String("status", d.Status), slog.String("scope", d.Scope))
	v := view{Title: "Device connected", Heading: "You can go back to your device",
		Message: "Your device is connected to your account. It may take a few seconds to notice."}
	if !allow {
		v = view{Title: "Device not connected", Heading: "Your device was not connected",
			Message: "You denied the request. Your device gets no access to your account. You can close this page."}
	}
	p.render(w, r, deviceDonePage, http.StatusOK, v)
	return nil
}

// showDeviceCode shows the code form with status, an alert when not
// empty, and the code filled in.
func (p *Pages) showDeviceCode(w http.ResponseWriter, r *http.Request, si signedIn, status int, alert, code string) error {
	v, err := formView(w, r, PathDevice, nil)
	if err != nil {
		return err
	}
	v.Title, v.Username, v.Alert, v.UserCode = "Connect a device", si.user.Username, alert, code
	p.render(w, r, deviceCodePage, status, v)
	return nil
}
