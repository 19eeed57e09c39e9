package web

import (
	"errors"
	"html/template"
	"log/slog"
	"net/http"
	"net/url"
	"slices"
	"strings"

	"github.com/tokend/tokend/internal/store"
)

// The admin console: pages for a user with store.User.Admin, signed in with
// the browser session every other page uses. Its paths are under /console,
// not /admin: /admin/... is the admin API's (token or Basic credentials,
// JSON), and a page there would share a prefix, and a proxy's rules, with
// endpoints that answer machines.
const (
	PathConsole        = "/console"
	pathConsoleSignIn  = "/console/sign-in"
	pathConsoleConfirm = "/console/confirm"
	pathConsoleUser    = "/console/users/{username}"
	pathConsoleClient  = "/console/clients/{client_id}"
	pathConsoleRevoke  = "/console/revoke"
	pathConsoleLog     = "/console/log"
)

// consoleUserPath and consoleClientPath are the pages of one user and one
// client.
func consoleUserPath(username string) string {
	return PathConsole + "/users/" + url.PathEscape(username)
}

func consoleClientPath(id string) string {
	return PathConsole + "/clients/" + url.PathEscape(id)
}

// mountConsole registers the console's pages on mux.
func (p *Pages) mountConsole(mux *http.ServeMux) {
	p.mountPage(mux, PathConsole, p.consoleSearch)
	p.mountPage(mux, pathConsoleSignIn, p.signInFor(pathConsoleSignIn, PathConsole, "the admin console"))
	p.mountPage(mux, pathConsoleConfirm, p.consoleConfirm)
	p.mountPage(mux, pathConsoleUser, p.consoleUser)
	p.mountPage(mux, pathConsoleClient, p.consoleClient)
	p.mountPage(mux, pathConsoleRevoke, p.consoleRevoke)
	p.mountPage(mux, pathConsoleLog, p.consoleLog)
	mux.Handle("GET "+PathConsoleLogStream, p.handle(p.consoleLogStream))
}

// notAdmin is the answer to a signed-in person who is not an admin: the
// page says nothing of what it would have shown.
var notAdmin = &pageError{status: http.StatusForbidden, heading: "This page is for administrators",
	message: "Your account cannot use the admin console. Nothing was shown or changed."}

// admin returns the signed-in admin. ok is false when the browser has no
// session, and it was sent to sign in; a person who is not an admin is
// refused with notAdmin. A post's CSRF token is checked by the caller
// first, as on every page.
func (p *Pages) admin(w http.ResponseWriter, r *http.Request) (signedIn, bool, error) {
	si, ok, err := p.sessionOrSignIn(w, r, pathConsoleSignIn)
	switch {
	case !ok:
		return si, false, err
	case !si.user.Admin:
		p.log.LogAttrs(r.Context(), slog.LevelWarn, "console: refused a user who is not an admin",
			slog.String("user", si.user.Username), slog.String("path", r.URL.Path))
		return si, false, notAdmin
	}
	return si, true, nil
}

// consoleRequest reads a console page's request: its parameters, the CSRF
// token of a post (before anything else), and the signed-in admin. ok is
// false when the answer was given (a redirect to sign in).
func (p *Pages) consoleRequest(w http.ResponseWriter, r *http.Request) (url.Values, signedIn, bool, error) {
	vals, err := readParams(w, r)
	if err != nil {
		return nil, signedIn{}, false, err
	}
	if r.Method == http.MethodPost {
		if err := checkCSRF(r, vals); err != nil {
			return nil, signedIn{}, false, err
		}
	}
	si, ok, err := p.admin(w, r)
	return vals, si, ok, err
}

// consoleView is what the console's pages show; each page fills its part.
type consoleView struct {
	Admin      string
	Flash      string
	FlashAlert bool
	Confirm    string // the confirmation page's path
	Search     *searchView
	User       *consoleUserView
	Client     *consoleClientView
	Bulk       *bulkView
	Log        *logView
}

// consolePage renders the console page t for the admin of si, with the
// flash message whose code the query's m holds.
func (p *Pages) consolePage(w http.ResponseWriter, r *http.Request, si signedIn, vals url.Values, t *template.Template, title string, cv *consoleView) error {
	code, _ := single(vals, "m", maxParamBytes) // vals may be nil
	if m, ok := consoleFlashes[code]; ok {
		cv.Flash, cv.FlashAlert = m.text, m.alert
	}
	return p.consolePageStatus(w, r, si, http.StatusOK, t, title, cv)
}

// consolePageStatus renders the console page t with status.
func (p *Pages) consolePageStatus(w http.ResponseWriter, r *http.Request, si signedIn, status int, t *template.Template, title string, cv *consoleView) error {
	v, err := formView(w, r, r.URL.Path, nil)
	if err != nil {
		return err
	}
	cv.Admin, cv.Confirm = si.user.Username, pathConsoleConfirm
	v.Title, v.Wide, v.Username, v.Console = title, true, si.user.Username, cv
	p.render(w, r, t, status, v)
	return nil
}

// consoleBack sends the browser to path with the flash message code.
func consoleBack(w http.ResponseWriter, path, code string) {
	redirect(w, path+"?m="+url.QueryEscape(code))
}

// searchLimit bounds the users and the clients a search lists: a search
// narrows, it does not page through thousands.
const searchLimit = 25

// searchView is the search page: the query, what matched, and the store's
// live counts.
type searchView struct {
	Query      string
	Users      []userRow
	MoreUsers  bool
	Clients    []clientRow
	MoreClient bool
	Stats      store.Stats
}

type userRow struct {
	Username, ID, Path string
	Admin, Disabled    bool
	Grants, Sessions   int
}

type clientRow struct {
	Name, ID, Path string
	Disabled       bool
}

// consoleSearch is the console's first page: one box finding users by
// username or ID and clients by name or ID, a case-insensitive substring
// of either; an empty box lists the first of each.
func (p *Pages) consoleSearch(w http.ResponseWriter, r *http.Request) error {
	vals, si, ok, err := p.consoleRequest(w, r)
	if !ok || err != nil {
		return err
	}
	if r.Method == http.MethodPost {
		return unreadableForm()
	}
	q, _ := single(vals, "q", maxParamBytes)
	sv := &searchView{Query: strings.TrimSpace(q)}
	if sv.Stats, err = p.cfg.Store.Stats(r.Context(), p.cfg.Now()); err != nil {
		return err
	}
	if err := p.searchUsers(r, sv); err != nil {
		return err
	}
	if err := p.searchClients(r, sv); err != nil {
		return err
	}
	return p.consolePage(w, r, si, vals, consoleSearchPage, "Admin console", &consoleView{Search: sv})
}

// matches reports whether q is a substring of one of fields, ignoring case.
func matches(q string, fields ...string) bool {
	q = strings.ToLower(q)
	return slices.ContainsFunc(fields, func(f string) bool { return strings.Contains(strings.ToLower(f), q) })
}

// searchUsers lists the users that match, each with its live grants and
// live sessions: two indexed reads a user, for at most searchLimit.
func (p *Pages) searchUsers(r *http.Request, sv *searchView) error {
	ctx, now := r.Context(), p.cfg.Now()
	users, err := p.cfg.Store.ListUsers(ctx)
	if err != nil {
		return err
	}
	for _, u := range users {
		if !matches(sv.Query, u.Username, u.ID) {
			continue
		}
		if len(sv.Users) == searchLimit {
			sv.MoreUsers = true
			break
		}
		grants, err := p.cfg.Store.ListUserGrants(ctx, u.ID, now)
		if err != nil {
			return err
		}
		sessions, err := p.cfg.Store.ListSessions(ctx, u.ID)
		if err != nil {
			return err
		}
		live := 0
		for _, s := range sessions {
			if s.Live(now) {
				live++
			}
		}
		sv.Users = append(sv.Users, userRow{Username: u.Username, ID: u.ID, Path: consoleUserPath(u.Username),
			Admin: u.Admin, Disabled: u.Disabled, Grants: len(grants), Sessions: live})
	}
	return nil
}

// searchClients lists the clients that match.
func (p *Pages) searchClients(r *http.Request, sv *searchView) error {
	clients, err := p.cfg.Store.ListClients(r.Context())
	if err != nil {
		return err
	}
	for _, c := range clients {
		if !matches(sv.Query, c.Name, c.ID) {
			continue
		}
		if len(sv.Clients) == searchLimit {
			sv.MoreClient = true
			break
		}
		sv.Clients = append(sv.Clients, clientRow{Name: clientName(c.Name, c.ID), ID: c.ID, Path: consoleClientPath(c.ID), Disabled: c.Disabled})
	}
	return nil
}

// consoleUnknown is the page of a user or client that does not exist (or
// no longer does).
func consoleUnknown(what string) error {
	return &pageError{status: http.StatusNotFound, heading: "No such " + what,
		message: "There is no " + what + " by that name. It may have been deleted. Go back to the admin console and search again."}
}

// notFound maps the store's ErrNotFound to the page of an unknown what.
func notFound(err error, what string) error {
	if errors.Is(err, store.ErrNotFound) {
		return consoleUnknown(what)
	}
	return err
}
