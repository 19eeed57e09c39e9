package web

import (
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"time"

	"github.com/tokend/tokend/internal/identity"
	"github.com/tokend/tokend/internal/store"
)

// wrongPassword is the one message of a failed sign-in, whether the user
// is unknown, disabled or the password wrong: the page never tells which
// usernames exist.
const wrongPassword = "The username or password is not right."

// busyRetry is the Retry-After of the page that says the server is busy.
const busyRetry = 5 * time.Second

// signIn is the sign-in page's post: the password is checked (limited per
// user and per address, with the password grant's limiter; bounded in
// concurrency by the sign-in slots), a session is started, and the
// request goes on as for a signed-in user.
func (p *Pages) signIn(w http.ResponseWriter, r *http.Request, req *authRequest, form url.Values) error {
	username, okU := single(form, "username", maxParamBytes)
	password, okP := single(form, "password", identity.MaxPasswordLength)
	if !okU || !okP || username == "" || password == "" {
		return p.showSignIn(w, r, req, http.StatusBadRequest, "Enter your username and your password.", username)
	}
	u, err := p.checkPassword(r, username, password)
	var tooMany *identity.TooManyGuesses
	switch {
	case errors.As(err, &tooMany):
		return tooManyGuesses(tooMany.RetryAfter)
	case errors.Is(err, identity.ErrWrongPassword):
		// Not the username: a person may have typed the password in it.
		p.log.LogAttrs(r.Context(), slog.LevelInfo, "sign-in failed")
		return p.showSignIn(w, r, req, http.StatusBadRequest, wrongPassword, username)
	case err != nil:
		return err
	}
	si, err := p.startSession(w, r, u)
	if err != nil {
		return err
	}
	req.signedIn = true
	return p.afterSignIn(w, r, req, si)
}

// checkPassword checks the password in one of the sign-in slots, waiting
// at most slotWait for one; a sign-in that finds none is told the server
// is busy, and no guess is counted.
func (p *Pages) checkPassword(r *http.Request, username, password string) (store.User, error) {
	t := time.NewTimer(p.slotWait)
	defer t.Stop()
	select {
	case p.slots <- struct{}{}:
	case <-t.C:
		return store.User{}, &pageError{status: http.StatusServiceUnavailable, retryAfter: busyRetry,
			heading: "The server is busy", message: "Many people are signing in right now. Wait a few seconds and try again."}
	case <-r.Context().Done():
		return store.User{}, r.Context().Err()
	}
	defer func() { <-p.slots }()
	return p.passwords.Check(r.Context(), username, password, r.RemoteAddr)
}

// tooManyGuesses is the page of a sign-in refused after too many wrong
// passwords for the user or from the address: 429, with Retry-After and
// the wait in minutes.
func tooManyGuesses(wait time.Duration) error {
	minutes := int((wait + time.Minute - 1) / time.Minute)
	when := "in 1 minute"
	if minutes > 1 {
		when = fmt.Sprintf("in %d minutes", minutes)
	}
	return &pageError{status: http.StatusTooManyRequests, retryAfter: wait, heading: "Too many attempts",
		message: "There were too many wrong passwords. For your safety, signing in is paused. Try again " + when + "."}
}
