package web

import (
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/tokend/tokend/internal/revocation"
	"github.com/tokend/tokend/internal/store"
)

// logLimit is how many matching events the log page lists, the newest.
const logLimit = 100

// chartLimit bounds the events the chart of the last hour reads: past it
// the earliest minutes are short, and the page says so.
const chartLimit = 10000

// The chart's geometry, in the SVG's user units: one bar a minute.
const (
	chartMinutes  = 60
	chartBarWidth = 10
	chartHeight   = 100
)

// logView is the log page: its filter, the events, and the chart.
type logView struct {
	Reason, ClientID, Username string
	Reasons                    []string
	Alert                      string
	Events                     []logEntry
	Bars                       []chartBar
	Total, Max                 int
	Capped                     bool
	Width, Height              int
	// Start is the unix time of the chart's first minute.
	Start int64
	// Stats are the live counts.
	Stats store.Stats
	// Stream is the live log's URL, with the filter and where it follows
	// on from (Since); "" when the server follows no log.
	Stream string
	Since  int64
}

// logEntry is one row of the page: an event, or several in a row that
// differ only in their grant (Grants of them).
type logEntry struct {
	When, Reason, Actor, Client, User string
	UserPath                          string
	Grants, Tokens                    int
	Group                             string // groupKey
}

// chartBar is one minute of the chart.
type chartBar struct {
	X, Y, W, H int
	Label      string
	Count      int
}

// consoleLog is the revocation log, newest first, filtered by the query's
// reason, client_id and username, and a chart of the revocations of each
// minute of the last hour under the same filter: an SVG of rectangles
// drawn by the page's style sheet, since the pages allow no script and no
// inline style.
func (p *Pages) consoleLog(w http.ResponseWriter, r *http.Request) error {
	vals, si, ok, err := p.consoleRequest(w, r)
	if !ok || err != nil {
		return err
	}
	if r.Method == http.MethodPost {
		return unreadableForm()
	}
	lv := &logView{Reasons: logReasons(), Width: chartMinutes * chartBarWidth, Height: chartHeight}
	lv.Reason, _ = single(vals, "reason", maxParamBytes)
	lv.ClientID, _ = single(vals, "client_id", maxParamBytes)
	lv.Username, _ = single(vals, "username", maxParamBytes)
	f, err := p.logFilter(r, lv)
	if err != nil {
		return err
	}
	if lv.Alert == "" {
		if err := p.readLog(r, lv, f); err != nil {
			return err
		}
	}
	if lv.Stats, err = p.cfg.Store.Stats(r.Context(), p.cfg.Now()); err != nil {
		return err
	}
	if lv.Stream != "" {
		// The one page with a script: its own, from the assets.
		w.Header()["Content-Security-Policy"] = hdrCSPLive
	}
	return p.consolePage(w, r, si, vals, consoleLogPage, "Revocation log · Admin console", &consoleView{Log: lv})
}

// logReasons are the reasons the filter offers.
func logReasons() []string {
	rs := slices.Clone(revocation.Reasons)
	if !slices.Contains(rs, store.ReasonUserRequest) {
		rs = append(rs, store.ReasonUserRequest)
	}
	return rs
}

// logFilter checks the page's filter and returns the store's; one the
// admin must fix sets lv.Alert.
func (p *Pages) logFilter(r *http.Request, lv *logView) (store.EventFilter, error) {
	f := store.EventFilter{Reason: lv.Reason, ClientID: lv.ClientID}
	if lv.Reason != "" && !slices.Contains(lv.Reasons, lv.Reason) {
		lv.Alert = "There is no reason " + lv.Reason + "."
		return f, nil
	}
	if lv.Username != "" {
		u, err := p.cfg.Store.GetUser(r.Context(), lv.Username)
		switch {
		case errors.Is(err, store.ErrNotFound):
			lv.Alert = "No user is named " + lv.Username + "."
			return f, nil
		case err != nil:
			return f, err
		}
		f.Subject = u.ID
	}
	return f, nil
}

// readLog reads the events and the chart of f, and where the live log
// follows on from.
func (p *Pages) readLog(r *http.Request, lv *logView, f store.EventFilter) error {
	ctx := r.Context()
	if p.cfg.Feed != nil {
		// Read before the events: every event the hub knew of by then is
		// in the store, so the page shows those that match, and the
		// stream sends what follows.
		lv.Since = p.cfg.Feed.Last()
	}
	evs, err := p.cfg.Store.SearchEvents(ctx, f, logLimit)
	if err != nil {
		return err
	}
	users := map[string]string{}
	clients := map[string]string{}
	for _, e := range evs {
		lv.Since = max(lv.Since, e.Seq)
		entry, err := p.logEntry(r, users, clients, e)
		if err != nil {
			return err
		}
		if n := len(lv.Events); n > 0 && lv.Events[n-1].Group == entry.Group {
			lv.Events[n-1].Grants++
			lv.Events[n-1].Tokens += entry.Tokens
			continue
		}
		lv.Events = append(lv.Events, entry)
	}
	now := p.cfg.Now().UTC()
	start := now.Truncate(time.Minute).Add(-(chartMinutes - 1) * time.Minute)
	f.Since = start
	recent, err := p.cfg.Store.SearchEvents(ctx, f, chartLimit)
	if err != nil {
		return err
	}
	lv.Capped = len(recent) == chartLimit
	lv.chart(start, recent)
	if p.cfg.Feed != nil {
		lv.Stream = PathConsoleLogStream + "?" + url.Values{"reason": {lv.Reason}, "client_id": {lv.ClientID},
			"username": {lv.Username}, "since": {strconv.FormatInt(lv.Since, 10)}}.Encode()
	}
	return nil
}

// logEntry is the row of e, with the names of its client, actor and
// subject read through the caches users and clients. A subject entry (a
// change to a user that revoked no grant) is a row of no app and no grant:
// the audit log shows it.
func (p *Pages) logEntry(r *http.Request, users, clients map[string]string, e store.Event) (logEntry, error) {
	entry := logEntry{When: e.Time.UTC().Format("2 Jan 15:04:05"), Reason: e.Reason, Tokens: e.Tokens, Grants: 1}
	if e.SubjectLevel() {
		entry.Grants = 0
	}
	var err error
	if entry.Client, err = p.cachedName(r, clients, e.ClientID); err != nil {
		return entry, err
	}
	// An actor is a client (its ID, named), a username, "admin" or
	// "system": a name that is no client's comes back as it is.
	if entry.Actor, err = p.cachedName(r, clients, e.Actor); err != nil {
		return entry, err
	}
	if entry.User, entry.UserPath, err = p.subjectName(r, users, e.Subject); err != nil {
		return entry, err
	}
	entry.Group = groupKey(entry)
	return entry, nil
}

// groupKey is what makes rows of the log one: the same second, reason,
// actor, app and user, as a bulk revocation or a password change writes
// (one event a grant). The live log's script builds the same key from
// the stream's events.
func groupKey(e logEntry) string {
	return strings.Join([]string{e.When, e.Reason, e.Actor, e.Client, e.User}, "\x1f")
}

// chart counts evs per minute from start and draws a bar for each.
func (lv *logView) chart(start time.Time, evs []store.Event) {
	counts := make([]int, chartMinutes)
	for _, e := range evs {
		if e.SubjectLevel() {
			continue // revoked nothing: the chart counts revocations
		}
		if i := int(e.Time.Sub(start) / time.Minute); i >= 0 && i < chartMinutes {
			counts[i]++
			lv.Total++
		}
	}
	lv.Max = max(1, slices.Max(counts))
	lv.Start = start.Unix()
	for i, n := range counts {
		h := n * chartHeight / lv.Max
		if n > 0 {
			h = max(h, 2) // a minute with one revocation among thousands still shows
		}
		t := start.Add(time.Duration(i) * time.Minute)
		lv.Bars = append(lv.Bars, chartBar{X: i * chartBarWidth, Y: chartHeight - h, W: chartBarWidth - 2, H: h, Count: n,
			Label: fmt.Sprintf("%s UTC: %d", t.Format("15:04"), n)})
	}
}

// cachedName is the name of the client id, read once a page.
func (p *Pages) cachedName(r *http.Request, names map[string]string, id string) (string, error) {
	if n, ok := names[id]; ok {
		return n, nil
	}
	n, err := p.appName(r, id)
	names[id] = n
	return n, err
}

// subjectName is the username of the subject, with the path of their
// page, or the subject as the log holds it when it names no user (a
// client's own grant, an upstream issuer's subject, a deleted user).
func (p *Pages) subjectName(r *http.Request, names map[string]string, subject string) (string, string, error) {
	n, ok := names[subject]
	if !ok {
		u, err := p.cfg.Store.GetUserByID(r.Context(), subject)
		switch {
		case errors.Is(err, store.ErrNotFound):
			n = ""
		case err != nil:
			return "", "", err
		default:
			n = u.Username
		}
		names[subject] = n
	}
	if n == "" {
		return subject, "", nil
	}
	return n, consoleUserPath(n), nil
}
