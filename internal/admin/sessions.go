package admin

import (
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"time"

	"github.com/tokend/tokend/internal/adminauth"
	"github.com/tokend/tokend/internal/oautherr"
	"github.com/tokend/tokend/internal/store"
)

// Paths of the browser sessions and consents, as patterns of
// http.ServeMux. A username or client ID in a path is escaped
// (url.PathEscape), as it may hold characters a path segment may not.
//
// DELETE needs no Content-Type check, as the POSTs' JSON bodies do: a
// browser sends a cross-site DELETE only after a CORS preflight, which the
// admin endpoints never grant.
const (
	PathUserSessions = "/admin/users/{username}/sessions"
	PathSession      = "/admin/sessions/{sid}"
	PathUserConsents = "/admin/users/{username}/consents"
	PathUserConsent  = "/admin/users/{username}/consents/{client_id}"
)

// Session is a browser session as the admin API shows it. Times are RFC
// 3339, UTC; EndedAt is left out while the session has not ended.
type Session struct {
	ID        string `json:"id"`
	CreatedAt string `json:"created_at"`
	LastSeen  string `json:"last_seen"`
	AuthTime  string `json:"auth_time"`
	Method    string `json:"method"`
	UserAgent string `json:"user_agent"`
	Address   string `json:"address"`
	ExpiresAt string `json:"expires_at"`
	EndedAt   string `json:"ended_at,omitempty"`
	// Live: neither ended nor expired, at the server's clock.
	Live bool `json:"live"`
}

// Consent is what a user agreed a client may have, as the admin API shows
// it.
type Consent struct {
	ClientID  string `json:"client_id"`
	Scope     string `json:"scope"`
	CreatedAt string `json:"created_at"`
	UpdatedAt string `json:"updated_at"`
}

func (a *API) mountSessions(mux *http.ServeMux) {
	mux.Handle("GET "+PathUserSessions, a.handle(a.sessions))
	mux.Handle("DELETE "+PathSession, a.handle(a.endSession))
	mux.Handle("GET "+PathUserConsents, a.handle(a.consents))
	mux.Handle("DELETE "+PathUserConsent, a.handle(a.forgetConsent))
}

// timestamp is t as the admin API writes times; "" for the zero time.
func timestamp(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.UTC().Format(time.RFC3339Nano)
}

// user returns the user the request's {username} names; 404 when none.
func (a *API) user(r *http.Request) (store.User, error) {
	u, err := a.cfg.Store.GetUser(r.Context(), r.PathValue("username"))
	if errors.Is(err, store.ErrNotFound) {
		return store.User{}, oautherr.NotFound("no such user")
	}
	return u, err
}

// sessions is GET /admin/users/{username}/sessions: the user's sessions,
// ended and expired ones too (until the sweep deletes them), the most
// recently created first, as a JSON array.
func (a *API) sessions(w http.ResponseWriter, r *http.Request, _ adminauth.Principal) error {
	u, err := a.user(r)
	if err != nil {
		return err
	}
	ss, err := a.cfg.Store.ListSessions(r.Context(), u.ID)
	if err != nil {
		return err
	}
	now := a.cfg.Now()
	out := make([]Session, len(ss))
	for i, s := range ss {
		out[i] = Session{
			ID: s.ID, CreatedAt: timestamp(s.CreatedAt), LastSeen: timestamp(s.LastSeen),
			AuthTime: timestamp(s.AuthTime), Method: s.Method, UserAgent: s.UserAgent, Address: s.Address,
			ExpiresAt: timestamp(s.ExpiresAt), EndedAt: timestamp(s.EndedAt), Live: s.Live(now),
		}
	}
	return writeJSON(w, http.StatusOK, out)
}

// endSession is DELETE /admin/sessions/{sid}: it signs the session out and
// revokes the grants made in it but the offline_access ones, for
// session_ended by the admin (revocation.Engine.EndSession), and answers
// what it revoked as a bulk revocation does. A session ended already is
// ended still: 200 with what was left to revoke, usually nothing.
func (a *API) endSession(w http.ResponseWriter, r *http.Request, p adminauth.Principal) error {
	sid := r.PathValue("sid")
	res, err := a.engine.EndSession(r.Context(), sid, p.Actor())
	switch {
	case errors.Is(err, store.ErrNotFound):
		return oautherr.NotFound("no such session")
	case err != nil:
		return fmt.Errorf("admin: end session: %w", err)
	}
	a.cfg.Logger.LogAttrs(r.Context(), slog.LevelInfo, "session ended",
		slog.String("actor", p.Actor()), slog.String("sid", sid),
		slog.Int("grants", res.Grants), slog.Int("tokens", res.Tokens))
	return writeJSON(w, http.StatusOK, BulkResponse{Grants: res.Grants, Tokens: res.Tokens, Seq: res.Seq})
}

// consents is GET /admin/users/{username}/consents: the user's consents,
// by client ID, as a JSON array.
func (a *API) consents(w http.ResponseWriter, r *http.Request, _ adminauth.Principal) error {
	u, err := a.user(r)
	if err != nil {
		return err
	}
	cs, err := a.cfg.Store.ListConsents(r.Context(), u.ID)
	if err != nil {
		return err
	}
	out := make([]Consent, len(cs))
	for i, c := range cs {
		out[i] = Consent{ClientID: c.ClientID, Scope: c.Scope,
			CreatedAt: timestamp(c.CreatedAt), UpdatedAt: timestamp(c.UpdatedAt)}
	}
	return writeJSON(w, http.StatusOK, out)
}

// forgetConsent is DELETE /admin/users/{username}/consents/{client_id}: it
// forgets the user's consent to the client and revokes every live grant of
// the client for the user, for consent_revoked by the admin
// (revocation.Engine.ForgetConsent), and answers what it revoked as a bulk
// revocation does. The client must ask for consent again.
func (a *API) forgetConsent(w http.ResponseWriter, r *http.Request, p adminauth.Principal) error {
	u, err := a.user(r)
	if err != nil {
		return err
	}
	clientID := r.PathValue("client_id")
	res, err := a.engine.ForgetConsent(r.Context(), u.ID, clientID, p.Actor())
	switch {
	case errors.Is(err, store.ErrNotFound):
		return oautherr.NotFound("no such consent")
	case err != nil:
		return fmt.Errorf("admin: forget consent: %w", err)
	}
	a.cfg.Logger.LogAttrs(r.Context(), slog.LevelInfo, "consent revoked",
		slog.String("actor", p.Actor()), slog.String("subject", u.ID), slog.String("client_id", clientID),
		slog.Int("grants", res.Grants), slog.Int("tokens", res.Tokens))
	return writeJSON(w, http.StatusOK, BulkResponse{Grants: res.Grants, Tokens: res.Tokens, Seq: res.Seq})
}
