package web

import (
	"errors"
	"log/slog"
	"net/http"

	"github.com/tokend/tokend/internal/revocation"
	"github.com/tokend/tokend/internal/store"
)

// The bulk revocation page's two posts: the first counts what the filter
// selects and asks, the second revokes.
const (
	actionBulkCount  = "count"
	actionBulkRevoke = "revoke"
)

const flashBulkRevoked = "bulk_revoked"

func init() {
	consoleFlashes[flashBulkRevoked] = consoleFlash{text: "The grants were revoked. Their tokens are inactive, and the log names you."}
}

// bulkView is the bulk revocation page: its filter, and once counted,
// what it selects.
type bulkView struct {
	Username, ClientID string
	Alert              string
	Counted            bool
	Count              store.Stats
	// Client is the client's name, when the filter names one.
	Client string
}

// consoleRevoke is the bulk revocation page. GET shows the filter, which
// the query may fill (username, client_id); a post with action=count
// shows what it selects and asks; a post with action=revoke and the same
// filter revokes it through the engine (Engine.RevokeBulk), with the admin
// as actor, and answers 303.
func (p *Pages) consoleRevoke(w http.ResponseWriter, r *http.Request) error {
	vals, si, ok, err := p.consoleRequest(w, r)
	if !ok || err != nil {
		return err
	}
	bv := &bulkView{}
	bv.Username, _ = single(vals, "username", maxParamBytes)
	bv.ClientID, _ = single(vals, "client_id", maxParamBytes)
	if r.Method == http.MethodGet {
		return p.consolePage(w, r, si, vals, consoleRevokePage, "Bulk revocation · Admin console", &consoleView{Bulk: bv})
	}
	f, err := p.bulkFilter(r, bv)
	if err != nil {
		return err
	}
	if bv.Alert != "" {
		return p.consolePageStatus(w, r, si, http.StatusBadRequest, consoleRevokePage, "Bulk revocation · Admin console", &consoleView{Bulk: bv})
	}
	switch action, _ := single(vals, "action", maxParamBytes); action {
	case actionBulkCount:
		if bv.Count, err = p.cfg.Store.CountMatching(r.Context(), f, p.cfg.Now()); err != nil {
			return err
		}
		bv.Counted = true
		return p.consolePage(w, r, si, nil, consoleRevokePage, "Bulk revocation · Admin console", &consoleView{Bulk: bv})
	case actionBulkRevoke:
		res, err := p.cfg.Engine.RevokeBulk(r.Context(), revocation.Bulk{Username: bv.Username, ClientID: bv.ClientID, Actor: si.user.Username})
		if err != nil {
			return err
		}
		p.logAdmin(r, "console: bulk revocation", si.user.Username, bv.Username, slog.String("client_id", bv.ClientID),
			slog.Int("grants", res.Grants), slog.Int("tokens", res.Tokens))
		consoleBack(w, pathConsoleRevoke, flashBulkRevoked)
		return nil
	}
	return unreadableForm()
}

// bulkFilter checks the filter of bv and returns the store's: the user
// and the client it names must exist. A filter the admin must fix sets
// bv.Alert.
func (p *Pages) bulkFilter(r *http.Request, bv *bulkView) (store.Filter, error) {
	ctx := r.Context()
	var f store.Filter
	if bv.Username == "" && bv.ClientID == "" {
		bv.Alert = "Name a user, a client, or both. Nothing was revoked."
		return f, nil
	}
	if bv.Username != "" {
		u, err := p.cfg.Store.GetUser(ctx, bv.Username)
		switch {
		case errors.Is(err, store.ErrNotFound):
			bv.Alert = "No user is named " + bv.Username + ". Nothing was revoked."
			return f, nil
		case err != nil:
			return f, err
		}
		f.Subject = u.ID
	}
	if bv.ClientID != "" {
		c, err := p.cfg.Store.GetClient(ctx, bv.ClientID)
		switch {
		case errors.Is(err, store.ErrNotFound):
			bv.Alert = "No client has the ID " + bv.ClientID + ". Nothing was revoked."
			return f, nil
		case err != nil:
			return f, err
		}
		f.ClientID, bv.Client = c.ID, clientName(c.Name, c.ID)
	}
	return f, nil
}
