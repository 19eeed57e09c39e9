package web

import (
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/tokend/tokend/internal/identity"
	"github.com/tokend/tokend/internal/store"
)

// The flash messages of the account page, by the code the actions send
// back in its query: the page shows only these fixed texts, never what
// the query says.
const (
	flashAppRemoved   = "app_removed"
	flashSessionEnded = "session_ended"
	flashOthersEnded  = "others_ended"

	flashPasswordChanged  = "password_changed"
	flashPasswordWrong    = "password_wrong"
	flashPasswordMissing  = "password_missing"
	flashPasswordMismatch = "password_mismatch"
	flashPasswordRules    = "password_rules"
)

var flashMessages = map[string]struct {
	text  string
	alert bool
}{
	flashAppRemoved:   {text: "The app’s access was removed. It will have to ask you again."},
	flashSessionEnded: {text: "That session was signed out."},
	flashOthersEnded:  {text: "You were signed out everywhere else."},

	flashPasswordChanged:  {text: "Your password was changed. You were signed out everywhere else, and your apps will have to sign you in again."},
	flashPasswordWrong:    {text: "Your current password is not right. Your password was not changed.", alert: true},
	flashPasswordMissing:  {text: "Enter your current password and the new one. Your password was not changed.", alert: true},
	flashPasswordMismatch: {text: "The two new passwords are not the same. Your password was not changed.", alert: true},
	flashPasswordRules:    {text: fmt.Sprintf("A new password must have at least %d characters. Your password was not changed.", identity.MinPasswordLength), alert: true},
}

// accountView is what the account page shows.
type accountView struct {
	Flash      string
	FlashAlert bool
	Apps       []appEntry
	Sessions   []sessionEntry
	// Others: there are sessions besides this browser's.
	Others bool
	// SignOut is where this browser signs out (RP-Initiated Logout's
	// page, which asks first).
	SignOut string
	// ConfirmPath is the confirmation page, where each destructive
	// action's button goes first.
	ConfirmPath string
	// MinPassword is the shortest password allowed.
	MinPassword int
	History     []historyEntry
}

// historyEntry is one revocation of the person's grants, or several made
// at once by one cause (an app removed with all its grants).
type historyEntry struct {
	App    string
	When   string
	Why    string
	By     string
	Grants int
}

// sessionEntry is one live session of the person.
type sessionEntry struct {
	ID       string
	Device   string // the browser and its system, in words
	Address  string
	Started  string
	LastSeen string
	Current  bool // this browser's
}

// appEntry is one connected app: a client that holds live grants of the
// person, or a consent they remembered.
type appEntry struct {
	ClientID  string
	Name      string
	Scopes    []string
	FirstUsed string // when it was first allowed
	LastUsed  string // when it last got a token, "" when it holds none
	Sessions  int    // on how many sessions (or sign-ins outside a browser)
}

// accountView reads what the account page of si's person shows.
func (p *Pages) accountView(r *http.Request, si signedIn, flash string) (*accountView, error) {
	av := &accountView{MinPassword: identity.MinPasswordLength, ConfirmPath: pathAccountConfirm}
	if m, ok := flashMessages[flash]; ok {
		av.Flash, av.FlashAlert = m.text, m.alert
	}
	var err error
	if av.Apps, err = p.connectedApps(r, si); err != nil {
		return nil, err
	}
	if err := p.sessionsView(r, si, av); err != nil {
		return nil, err
	}
	if av.History, err = p.history(r, si); err != nil {
		return nil, err
	}
	return av, nil
}

// historyLimit is how many of the person's newest revocation events the
// history reads.
const historyLimit = 50

// reasonWords say each reason of the log as the person reads it; an
// admin's own reason is shown as given.
var reasonWords = map[string]string{
	store.ReasonClientRequest:  "The app gave up its access (it signed you out)",
	store.ReasonRefreshReuse:   "A token of the app was used twice, which can mean it was stolen",
	store.ReasonPasswordChange: "Your password was changed",
	store.ReasonUserDisabled:   "Your account was disabled",
	store.ReasonUserDeleted:    "Your account was deleted",
	store.ReasonClientDeleted:  "The app was removed from this service",
	store.ReasonSecretRotated:  "The app’s credentials were changed",
	store.ReasonAdmin:          "An administrator revoked it",
	store.ReasonCodeReuse:      "A sign-in code of the app was used twice",
	store.ReasonSessionEnded:   "The session it was signed in with was signed out",
	store.ReasonConsentRevoked: "Your permission for the app was withdrawn",
	store.ReasonUserRequest:    "You removed the app’s access",
}

// history is the person's revocations, newest first: the last
// historyLimit events of the log, those of one cause at one instant for
// one app shown as one.
func (p *Pages) history(r *http.Request, si signedIn) ([]historyEntry, error) {
	evs, err := p.cfg.Store.UserEvents(r.Context(), si.user.ID, historyLimit)
	if err != nil {
		return nil, err
	}
	names := map[string]string{}
	name := func(id string) (string, error) {
		if n, ok := names[id]; ok {
			return n, nil
		}
		n, err := p.appName(r, id)
		names[id] = n
		return n, err
	}
	var out []historyEntry
	var last store.Event
	for _, e := range evs {
		if e.SubjectLevel() {
			continue // no app lost access: the page lists what apps lost
		}
		if len(out) > 0 && e.ClientID == last.ClientID && e.Reason == last.Reason && e.Actor == last.Actor && e.Time.Equal(last.Time) {
			out[len(out)-1].Grants++
			continue
		}
		last = e
		app, err := name(e.ClientID)
		if err != nil {
			return nil, err
		}
		by, err := p.actorWords(r, si, e.Actor, names)
		if err != nil {
			return nil, err
		}
		why, ok := reasonWords[e.Reason]
		if !ok {
			why = "Revoked: " + e.Reason
		}
		out = append(out, historyEntry{App: app, When: when(e.Time), Why: why, By: by, Grants: 1})
	}
	return out, nil
}

// actorWords say who revoked: the person, an administrator, tokend
// itself, an app by its name, or a name as the log holds it.
func (p *Pages) actorWords(r *http.Request, si signedIn, actor string, names map[string]string) (string, error) {
	switch actor {
	case si.user.Username:
		return "you", nil
	case "admin":
		return "an administrator", nil
	case "system":
		return "tokend, on its own", nil
	}
	if n, ok := names[actor]; ok {
		return n, nil
	}
	c, err := p.cfg.Store.GetClient(r.Context(), actor)
	switch {
	case errors.Is(err, store.ErrNotFound):
		return actor, nil
	case err != nil:
		return "", err
	}
	return clientName(c.Name, c.ID), nil
}

// sessionsView lists the person's live sessions, this browser's first,
// then the most recently started.
func (p *Pages) sessionsView(r *http.Request, si signedIn, av *accountView) error {
	sessions, err := p.cfg.Store.ListSessions(r.Context(), si.user.ID)
	if err != nil {
		return err
	}
	now := p.cfg.Now()
	av.SignOut = p.cfg.EndSessionPath
	for _, s := range sessions {
		if !s.Live(now) {
			continue
		}
		e := sessionEntry{ID: s.ID, Device: describeAgent(s.UserAgent), Address: s.Address,
			Started: when(s.CreatedAt), LastSeen: when(s.LastSeen), Current: s.ID == si.session.ID}
		if e.Current {
			e.LastSeen = "now"
			av.Sessions = append([]sessionEntry{e}, av.Sessions...)
		} else {
			av.Others = true
			av.Sessions = append(av.Sessions, e)
		}
	}
	return nil
}

// appUse gathers one client's grants and consent.
type appUse struct {
	scope    []string
	first    time.Time
	last     time.Time
	sessions map[string]bool
	grants   int
}

// connectedApps lists the clients that hold live grants of the person or
// a consent of theirs, by name. When an app was last used is the newest
// token issued in its grants (at sign-in or by a refresh): what the store
// knows without a write on each introspection.
func (p *Pages) connectedApps(r *http.Request, si signedIn) ([]appEntry, error) {
	ctx := r.Context()
	grants, err := p.cfg.Store.ListUserGrants(ctx, si.user.ID, p.cfg.Now())
	if err != nil {
		return nil, err
	}
	consents, err := p.cfg.Store.ListConsents(ctx, si.user.ID)
	if err != nil {
		return nil, err
	}
	uses := map[string]*appUse{}
	use := func(clientID, scope string, first time.Time) *appUse {
		u := uses[clientID]
		if u == nil {
			u = &appUse{first: first, sessions: map[string]bool{}}
			uses[clientID] = u
		}
		for _, s := range strings.Fields(scope) {
			if !slices.Contains(u.scope, s) {
				u.scope = append(u.scope, s)
			}
		}
		if first.Before(u.first) {
			u.first = first
		}
		return u
	}
	for _, c := range consents {
		use(c.ClientID, c.Scope, c.CreatedAt)
	}
	for _, g := range grants {
		u := use(g.ClientID, g.Scope, g.CreatedAt)
		u.grants++
		u.last = maxTime(u.last, g.LastIssued)
		// A grant outside a browser session (the password grant) is a
		// sign-in of its own.
		sid := g.SessionID
		if sid == "" {
			sid = "grant:" + g.ID
		}
		u.sessions[sid] = true
	}
	return p.appEntries(r, uses)
}

// appEntries names the apps of uses and sorts them by name.
func (p *Pages) appEntries(r *http.Request, uses map[string]*appUse) ([]appEntry, error) {
	out := make([]appEntry, 0, len(uses))
	for id, u := range uses {
		name, err := p.appName(r, id)
		if err != nil {
			return nil, err
		}
		e := appEntry{ClientID: id, Name: name, Scopes: describeScope(strings.Join(u.scope, " ")),
			FirstUsed: when(u.first), Sessions: len(u.sessions)}
		if u.grants > 0 {
			e.LastUsed = when(u.last)
		}
		out = append(out, e)
	}
	slices.SortFunc(out, func(a, b appEntry) int {
		if c := strings.Compare(strings.ToLower(a.Name), strings.ToLower(b.Name)); c != 0 {
			return c
		}
		return strings.Compare(a.ClientID, b.ClientID)
	})
	return out, nil
}

func maxTime(a, b time.Time) time.Time {
	if b.After(a) {
		return b
	}
	return a
}

// when is a time as the account page shows it: in UTC, said so, since
// the server does not know the person's time zone.
func when(t time.Time) string {
	return t.UTC().Format("2 Jan 2006, 15:04 UTC")
}
