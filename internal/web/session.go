package web

import (
	"context"
	"crypto/rand"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"time"

	"github.com/tokend/tokend/internal/store"
)

// The cookies. __Host- makes a browser keep them only when they are
// Secure, for the whole host (Path=/) and without a Domain, so no other
// host, a subdomain included, can set or overwrite them. Secure is set
// also on plain HTTP: browsers keep Secure cookies from http://localhost.
const (
	// sessionCookie holds "<sid>.<secret>".
	sessionCookie = "__Host-tokend-session"
	// csrfCookie holds the value every form echoes in csrfField.
	csrfCookie = "__Host-tokend-csrf"
)

// touchEvery is how stale a session's LastSeen may grow before a use of the
// session writes it again: a write a minute at most per session, however
// busy.
const touchEvery = time.Minute

// Lengths of the random values, in bytes before base64url: a session ID
// names (128 bits, unguessable but public: it is the sid of ID Tokens), a
// secret and a CSRF token authorise (256 bits).
const (
	sidBytes    = 16
	secretBytes = 32
)

// randomString returns n random bytes in unpadded base64url.
func randomString(n int) (string, error) {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		return "", err
	}
	return base64.RawURLEncoding.EncodeToString(b), nil
}

// newCookie is a cookie of the pages with value, living maxAge seconds
// (0: until the browser closes; negative: deleted).
func newCookie(name, value string, maxAge int) *http.Cookie {
	return &http.Cookie{Name: name, Value: value, Path: "/", MaxAge: maxAge,
		Secure: true, HttpOnly: true, SameSite: http.SameSiteLaxMode}
}

// signedIn is the session a browser presented, with its user.
type signedIn struct {
	session store.Session
	user    store.User
}

// currentSession returns the session the request's cookie names, when the
// cookie holds its secret, it is live, and its user still exists and is
// enabled; ok is false otherwise. Its LastSeen is moved forward at most
// once a minute.
func (p *Pages) currentSession(r *http.Request) (si signedIn, ok bool, err error) {
	ctx := r.Context()
	sid, secret, found := sessionFromCookie(r)
	if !found {
		return si, false, nil
	}
	sess, err := p.cfg.Store.GetSession(ctx, sid)
	switch {
	case errors.Is(err, store.ErrNotFound):
		return si, false, nil
	case err != nil:
		return si, false, err
	}
	want := store.HashToken(secret)
	now := p.cfg.Now()
	if sess.SecretHash == (store.Hash{}) || subtle.ConstantTimeCompare(sess.SecretHash[:], want[:]) != 1 || !sess.Live(now) {
		return si, false, nil
	}
	u, err := p.cfg.Store.GetUserByID(ctx, sess.UserID)
	switch {
	case errors.Is(err, store.ErrNotFound):
		return si, false, nil
	case err != nil:
		return si, false, err
	case u.Disabled:
		return si, false, nil
	}
	if now.Sub(sess.LastSeen) >= touchEvery {
		if ok, err := p.touch(ctx, sess.ID, now); !ok {
			return si, false, err
		}
		sess.LastSeen = now
	}
	return signedIn{session: sess, user: u}, true, nil
}

// sessionOrSignIn returns the browser's live session. ok is false when
// there is none, or reading it failed (err): with none, the browser has
// been sent to the page's sign-in, signIn, and the answer is given.
func (p *Pages) sessionOrSignIn(w http.ResponseWriter, r *http.Request, signIn string) (signedIn, bool, error) {
	si, ok, err := p.currentSession(r)
	switch {
	case err != nil:
		return si, false, err
	case !ok:
		redirect(w, signIn)
		return si, false, nil
	}
	return si, true, nil
}

// touch records a use of the session. ok is false when the session ended
// meanwhile; a failure to write is logged and the session used all the
// same, since LastSeen is for the user's list of sessions, not a check.
func (p *Pages) touch(ctx context.Context, sid string, now time.Time) (ok bool, err error) {
	err = p.cfg.Store.TouchSession(ctx, sid, now)
	switch {
	case errors.Is(err, store.ErrNotFound):
		return false, nil
	case err != nil:
		p.log.LogAttrs(ctx, slog.LevelWarn, "touch session", slog.String("cause", err.Error()))
	}
	return true, nil
}

// sessionFromCookie returns the session ID and secret of the session
// cookie, when it has their shape.
func sessionFromCookie(r *http.Request) (sid, secret string, ok bool) {
	c, err := r.Cookie(sessionCookie)
	if err != nil {
		return "", "", false
	}
	sid, secret, ok = strings.Cut(c.Value, ".")
	if !ok || len(sid) != base64.RawURLEncoding.EncodedLen(sidBytes) || len(secret) != base64.RawURLEncoding.EncodedLen(secretBytes) ||
		!unreserved(sid) || !unreserved(secret) {
		return "", "", false
	}
	return sid, secret, true
}

// startSession signs u in. When the browser's session is u's already (a
// sign-in asked for by prompt=login or max_age), that session goes on
// with a new AuthTime: proving again who you are must not sign you out of
// the apps you use. Otherwise a new session starts, whose cookie is set on
// w, and a session of another user that the browser held ends first, its
// grants with it (but the offline ones): a browser holds one session, and
// a session nobody can reach any more should not stay live.
func (p *Pages) startSession(w http.ResponseWriter, r *http.Request, u store.User) (signedIn, error) {
	ctx := r.Context()
	old, ok, err := p.currentSession(r)
	switch {
	case err != nil:
		return signedIn{}, err
	case ok && old.user.ID == u.ID:
		return p.reauthenticate(ctx, old)
	case ok:
		if _, err := p.cfg.Engine.EndSession(ctx, old.session.ID, old.user.Username); err != nil && !errors.Is(err, store.ErrNotFound) {
			return signedIn{}, err
		}
	}
	sid, err := randomString(sidBytes)
	if err != nil {
		return signedIn{}, err
	}
	secret, err := randomString(secretBytes)
	if err != nil {
		return signedIn{}, err
	}
	now := p.cfg.Now()
	sess := store.Session{
		ID: sid, SecretHash: store.HashToken(secret), UserID: u.ID, Username: u.Username,
		AuthTime: now, Method: "pwd", UserAgent: userAgent(r), Address: address(r),
		CreatedAt: now, LastSeen: now, ExpiresAt: now.Add(p.cfg.SessionTTL),
	}
	if err := p.cfg.Store.CreateSession(ctx, sess); err != nil {
		return signedIn{}, err
	}
	http.SetCookie(w, newCookie(sessionCookie, sid+"."+secret, int(p.cfg.SessionTTL/time.Second)))
	p.log.LogAttrs(ctx, slog.LevelInfo, "signed in", slog.String("user", u.Username), slog.String("sid", sid))
	return signedIn{session: sess, user: u}, nil
}

// reauthenticate moves the AuthTime of si's session to now. A session
// that ended meanwhile cannot be reauthenticated: the sign-in fails with
// the store's ErrNotFound and the person signs in afresh.
func (p *Pages) reauthenticate(ctx context.Context, si signedIn) (signedIn, error) {
	now := p.cfg.Now()
	if err := p.cfg.Store.ReauthenticateSession(ctx, si.session.ID, now); err != nil {
		return signedIn{}, err
	}
	si.session.AuthTime, si.session.LastSeen = now, now
	p.log.LogAttrs(ctx, slog.LevelInfo, "signed in again", slog.String("user", si.user.Username), slog.String("sid", si.session.ID))
	return si, nil
}

// clearSession deletes the session cookie from the browser.
func clearSession(w http.ResponseWriter) {
	http.SetCookie(w, newCookie(sessionCookie, "", -1))
}

// maxUserAgent bounds the user agent kept with a session: enough to tell
// one browser from another in the user's list.
const maxUserAgent = 256

// userAgent is the request's User-Agent as a session keeps it: valid
// UTF-8, without control characters, at most maxUserAgent bytes.
func userAgent(r *http.Request) string {
	ua := strings.Map(func(c rune) rune {
		if c < 0x20 || c == 0x7f {
			return -1
		}
		return c
	}, strings.ToValidUTF8(r.UserAgent(), ""))
	if len(ua) > maxUserAgent {
		ua = strings.ToValidUTF8(ua[:maxUserAgent], "")
	}
	return ua
}

// address is the client's IP address: RemoteAddr, which package server has
// set to the client's address behind a trusted proxy, without its port.
func address(r *http.Request) string {
	if host, _, err := net.SplitHostPort(r.RemoteAddr); err == nil {
		return host
	}
	return r.RemoteAddr
}
