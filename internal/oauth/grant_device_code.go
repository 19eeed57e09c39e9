package oauth

import (
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"time"

	"github.com/tokend/tokend/internal/oautherr"
	"github.com/tokend/tokend/internal/registry"
	"github.com/tokend/tokend/internal/store"
	"github.com/tokend/tokend/internal/token"
)

// GrantDeviceCode is the device authorization grant of RFC 8628 §3.4.
const GrantDeviceCode = "urn:ietf:params:oauth:grant-type:device_code"

const (
	// PathDeviceAuthorize is the device authorization endpoint (RFC 8628
	// §3.1).
	PathDeviceAuthorize = "/oauth2/device_authorize"
	// PathDevice is the verification page (RFC 8628 §3.3), served by
	// package web: short, for a person to type.
	PathDevice = "/device"
)

const (
	// deviceCodeTTL is how long a person has to go to the verification
	// page and decide: RFC 8628's examples use 1800 s; ten minutes is
	// enough for a person at hand and keeps a guessable user code short-lived.
	deviceCodeTTL = 10 * time.Minute
	// deviceInterval is the least time between polls (RFC 8628 §3.2: 5 s
	// is the default a device assumes).
	deviceInterval = 5 * time.Second
	// deviceCodeBytes is a device code's length in random bytes (256 bits):
	// it is a bearer secret of the device, never typed.
	deviceCodeBytes = 32
	// userCodeTries bounds the fresh user codes drawn when one is taken.
	userCodeTries = 4
)

// deviceAuthorization is the device authorization response (RFC 8628 §3.2).
type deviceAuthorization struct {
	DeviceCode              string `json:"device_code"`
	UserCode                string `json:"user_code"`
	VerificationURI         string `json:"verification_uri"`
	VerificationURIComplete string `json:"verification_uri_complete"`
	ExpiresIn               int64  `json:"expires_in"`
	Interval                int64  `json:"interval"`
}

// deviceAuthorize is the device authorization endpoint (RFC 8628 §3.1):
// the client, authenticated as at the token endpoint (a public client
// names itself), must be registered for the grant. It stores the request
// by the hashes of its two codes and answers with them.
func (e *Endpoints) deviceAuthorize(w http.ResponseWriter, r *http.Request, req request) error {
	c := req.client
	if !slices.Contains(c.GrantTypes, GrantDeviceCode) {
		return oautherr.UnauthorizedClient("the client may not use the device authorization grant")
	}
	scope, err := scopeParam(req.form)
	if err != nil {
		return err
	}
	var random [deviceCodeBytes]byte
	if _, err := rand.Read(random[:]); err != nil {
		return fmt.Errorf("oauth: read random bytes: %w", err)
	}
	deviceCode := base64.RawURLEncoding.EncodeToString(random[:])
	now := e.cfg.Now()
	d := store.DeviceCode{DeviceHash: store.HashToken(deviceCode), ClientID: c.ID, Scope: scope,
		Status: store.DevicePending, Interval: deviceInterval, CreatedAt: now, ExpiresAt: now.Add(deviceCodeTTL)}
	userCode, err := e.storeDeviceCode(r, d)
	if err != nil {
		return err
	}
	page := e.cfg.Issuer + PathDevice
	return writeJSON(w, http.StatusOK, deviceAuthorization{
		DeviceCode: deviceCode, UserCode: userCode,
		VerificationURI: page, VerificationURIComplete: page + "?" + url.Values{"user_code": {userCode}}.Encode(),
		ExpiresIn: int64(deviceCodeTTL / time.Second), Interval: int64(deviceInterval / time.Second),
	})
}

// storeDeviceCode stores d with a fresh user code, and returns the code;
// a code taken already (one chance in billions) is drawn again.
func (e *Endpoints) storeDeviceCode(r *http.Request, d store.DeviceCode) (string, error) {
	for range userCodeTries {
		userCode, err := token.NewUserCode()
		if err != nil {
			return "", err
		}
		normal, _ := token.NormalUserCode(userCode)
		d.UserHash = store.HashToken(normal)
		err = e.cfg.Store.CreateDeviceCode(r.Context(), d)
		if !errors.Is(err, store.ErrAlreadyExists) {
			return userCode, err
		}
	}
	return "", fmt.Errorf("oauth: %d user codes in a row were taken", userCodeTries)
}

// deviceCode is the device authorization grant (RFC 8628 §3.4): the
// device polls with its device code until the person at the verification
// page decides. Every poll is recorded, and one sooner than the interval
// lengthens it (slow_down). Once approved, the code is exchanged once, as
// an authorization code is: the grant is made in the browser session that
// approved it, and ends with it unless offline; with openid it comes with
// an ID Token, and a refresh token as the authorization code grant gives.
type deviceCode struct{}

func (deviceCode) registration() registry.GrantType {
	return registry.GrantType{Name: GrantDeviceCode, Public: true}
}

// enabled: the verification page is browser sign-in's, and the ID Token
// needs the signing keys.
func (deviceCode) enabled(e *Endpoints) bool { return e.cfg.Browser && e.cfg.JWT != nil }

func (deviceCode) issue(e *Endpoints, w http.ResponseWriter, r *http.Request, c store.Client, form url.Values) error {
	raw, err := required(form, "device_code")
	if err != nil {
		return err
	}
	h := store.HashToken(raw)
	now := e.cfg.Now()
	d, tooFast, err := e.cfg.Store.PollDeviceCode(r.Context(), h, c.ID, now)
	switch {
	case errors.Is(err, store.ErrNotFound):
		return oautherr.InvalidGrant("invalid device code")
	case err != nil:
		return err
	case !now.Before(d.ExpiresAt):
		return oautherr.ExpiredToken()
	}
	switch d.Status {
	case store.DevicePending:
		if tooFast {
			return oautherr.SlowDown()
		}
		return oautherr.AuthorizationPending()
	case store.DeviceDenied:
		return oautherr.DeniedByUser()
	case store.DeviceApproved:
		if err := e.sessionLive(r, d.SessionID, now); err != nil {
			return err
		}
		return e.exchangeDevice(w, r, c, h, d, now)
	default:
		return oautherr.InvalidGrant("the device code was used already")
	}
}

// exchangeDevice mints the tokens of the approved request d and exchanges
// its device code for them in one store call.
func (e *Endpoints) exchangeDevice(w http.ResponseWriter, r *http.Request, c store.Client, h store.Hash, d store.DeviceCode, now time.Time) error {
	g := store.Grant{ClientID: c.ID, Subject: d.UserID, Username: d.Username, Scope: d.Scope, SessionID: d.SessionID}
	refreshTTL := e.refreshTTL(c)
	if store.ScopeHas(g.Scope, scopeOpenID) && !g.Offline() {
		refreshTTL = 0
	}
	ttl := e.userAccessTTL(c)
	g, resp, tokens, err := e.mintGrant(r.Context(), c, g, now, ttl, refreshTTL)
	if err != nil {
		return err
	}
	if store.ScopeHas(g.Scope, scopeOpenID) {
		code := store.AuthCode{UserID: d.UserID, SessionID: d.SessionID, AuthTime: d.AuthTime}
		if resp.IDToken, err = e.idToken(c, code, resp.AccessToken, now, ttl); err != nil {
			return err
		}
	}
	_, err = e.cfg.Store.ExchangeDeviceCode(r.Context(), h, now, g, tokens)
	switch {
	case errors.Is(err, store.ErrNotFound):
		// Another poll exchanged it between this one's read and write.
		return oautherr.InvalidGrant("the device code was used already")
	case err != nil:
		return fmt.Errorf("oauth: exchange device code: %w", err)
	}
	return writeJSON(w, http.StatusOK, resp)
}

// sessionLive refuses the exchange of a request whose approving session
// has ended since: ending a session revokes its grants, and a grant made
// in it afterwards would escape that. (The window left, between this read
// and the exchange's write, is one request's.)
func (e *Endpoints) sessionLive(r *http.Request, sid string, now time.Time) error {
	sess, err := e.cfg.Store.GetSession(r.Context(), sid)
	switch {
	case errors.Is(err, store.ErrNotFound):
	case err != nil:
		return err
	case sess.Live(now):
		return nil
	}
	return oautherr.InvalidGrant("the session that approved the device has ended")
}
