package admin

import (
	"errors"
	"log/slog"
	"net/http"
	"net/url"
	"strconv"
	"time"

	"github.com/tokend/tokend/internal/adminauth"
	"github.com/tokend/tokend/internal/oautherr"
	"github.com/tokend/tokend/internal/revocation"
	"github.com/tokend/tokend/internal/store"
)

// BulkRequest is the body of POST /admin/revocations. Subject (or
// Username) and ClientID select the grants: both select the pair's.
type BulkRequest struct {
	// Subject is the grants' subject: a user's ID (the sub of the user's
	// tokens), a client's ID for its client_credentials grants, or
	// "<sub>@<iss>" for an upstream issuer's subject (JWT bearer grant).
	Subject string `json:"subject"`
	// Username may be given instead of Subject: the user's ID is looked up.
	Username string `json:"username"`
	ClientID string `json:"client_id"`
	// Reason is recorded in the log: one of revocation.Reasons; "admin"
	// when empty.
	Reason string `json:"reason"`
}

// BulkResponse says what a bulk revocation revoked.
type BulkResponse struct {
	Grants int   `json:"grants"`
	Tokens int   `json:"tokens"`
	Seq    int64 `json:"seq"` // the last event appended; 0 when nothing was revoked
}

// revoke is POST /admin/revocations. Members it does not know are refused:
// a misspelt "client_id" must not widen a revocation to every client of
// the subject.
func (a *API) revoke(w http.ResponseWriter, r *http.Request, p adminauth.Principal) error {
	var req BulkRequest
	if err := readJSON(w, r, &req, true); err != nil {
		return err
	}
	res, err := a.engine.RevokeBulk(r.Context(), revocation.Bulk{
		Subject: req.Subject, Username: req.Username, ClientID: req.ClientID,
		Reason: req.Reason, Actor: p.Actor(),
	})
	switch {
	case errors.Is(err, revocation.ErrUnknownUser):
		return oautherr.NotFound("no such user")
	case revocation.IsBadBulk(err):
		return oautherr.InvalidRequest("%s", trimPkg(err))
	case err != nil:
		return err
	}
	a.cfg.Logger.LogAttrs(r.Context(), slog.LevelInfo, "bulk revocation",
		slog.String("actor", p.Actor()), slog.String("subject", req.Subject), slog.String("username", req.Username),
		slog.String("client_id", req.ClientID), slog.Int("grants", res.Grants), slog.Int("tokens", res.Tokens))
	return writeJSON(w, http.StatusOK, BulkResponse{Grants: res.Grants, Tokens: res.Tokens, Seq: res.Seq})
}

// trimPkg drops the "revocation: " prefix of an error meant for a caller.
func trimPkg(err error) string {
	s := err.Error()
	const prefix = "revocation: "
	if len(s) > len(prefix) && s[:len(prefix)] == prefix {
		return s[len(prefix):]
	}
	return s
}

// Event is one revocation log entry as the admin API and `tokend audit
// --json` show it.
type Event struct {
	Seq      int64  `json:"seq"`
	Time     string `json:"time"` // RFC 3339, UTC
	Actor    string `json:"actor"`
	Reason   string `json:"reason"`
	Subject  string `json:"subject"`
	ClientID string `json:"client_id"`
	GrantID  string `json:"grant_id"`
	Tokens   int    `json:"tokens"`
	// ParentGrantID is the grant the revoked one was exchanged from (RFC
	// 8693): a revocation of a grant revokes those exchanged from it, each
	// with its own event naming its parent.
	ParentGrantID string `json:"parent_grant_id,omitempty"`
	// Claims are, for a claims_changed subject entry (a change to a user
	// that revoked nothing: GrantID and ClientID are empty), the claims
	// that changed.
	Claims []string `json:"claims,omitempty"`
}

// EventOf returns e as the API shows it.
func EventOf(e store.Event) Event {
	return Event{
		Seq: e.Seq, Time: e.Time.UTC().Format(time.RFC3339Nano), Actor: e.Actor, Reason: e.Reason,
		Subject: e.Subject, ClientID: e.ClientID, GrantID: e.GrantID, Tokens: e.Tokens,
		ParentGrantID: e.ParentGrantID, Claims: e.Claims,
	}
}

// Limits of GET /admin/revocations.
const (
	DefaultEventLimit = 100
	MaxEventLimit     = 1000
)

// events is GET /admin/revocations?since=SEQ&limit=N: up to limit events
// with a sequence number above since, oldest first, as a JSON array. A
// reader pages on with since set to the last seq it got.
func (a *API) events(w http.ResponseWriter, r *http.Request, _ adminauth.Principal) error {
	q := r.URL.Query()
	since, err := intParam(q, "since", 0, 0, 1<<62)
	if err != nil {
		return err
	}
	limit, err := intParam(q, "limit", DefaultEventLimit, 1, MaxEventLimit)
	if err != nil {
		return err
	}
	evs, err := a.cfg.Store.Events(r.Context(), since, int(limit))
	if err != nil {
		return err
	}
	out := make([]Event, len(evs))
	for i, e := range evs {
		out[i] = EventOf(e)
	}
	return writeJSON(w, http.StatusOK, out)
}

// intParam reads an optional decimal query parameter within [lo, hi].
func intParam(q url.Values, name string, def, lo, hi int64) (int64, error) {
	vs, ok := q[name]
	if !ok {
		return def, nil
	}
	if len(vs) != 1 {
		return 0, oautherr.InvalidRequest("%s is repeated", name)
	}
	n, err := strconv.ParseInt(vs[0], 10, 64)
	if err != nil || n < lo || n > hi {
		return 0, oautherr.InvalidRequest("%s must be an integer from %d to %d", name, lo, hi)
	}
	return n, nil
}
