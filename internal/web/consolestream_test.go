package web_test

import (
	"bufio"
	"encoding/json"
	"html"
	"net/http"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/tokend/tokend/internal/testserver"
	"github.com/tokend/tokend/internal/web"
)

// sse is one Server-Sent Event of a stream.
type sse struct {
	id, event, data string
}

// liveEvent is a "revocation" event's data.
type liveEvent struct {
	Seq      int64  `json:"seq"`
	Reason   string `json:"reason"`
	Actor    string `json:"actor"`
	Client   string `json:"client"`
	User     string `json:"user"`
	UserPath string `json:"user_path"`
	Tokens   int    `json:"tokens"`
	Grants   int    `json:"grants"`
}

// streamWait bounds the wait for one event of a stream: the hub polls the
// log every 200 ms; a busy machine may take far longer, none this long.
const streamWait = 30 * time.Second

// openStream opens the live log at path with the browser's cookies and
// returns its events as they come, or fails unless it answers status
// (then nil).
func (b *browser) openStream(path string, status int) <-chan sse {
	b.t.Helper()
	req, err := http.NewRequestWithContext(b.t.Context(), http.MethodGet, b.s.URL+path, nil)
	if err != nil {
		b.t.Fatal(err)
	}
	resp, err := b.c.Do(req)
	if err != nil {
		b.t.Fatal(err)
	}
	if resp.StatusCode != status {
		resp.Body.Close()
		b.t.Fatalf("GET %s: %d; want %d", path, resp.StatusCode, status)
	}
	if status != http.StatusOK {
		resp.Body.Close()
		return nil
	}
	if ct := resp.Header.Get("Content-Type"); ct != "text/event-stream" {
		b.t.Fatalf("GET %s: Content-Type %q", path, ct)
	}
	ch := make(chan sse, 64)
	go func() {
		defer resp.Body.Close()
		defer close(ch)
		sc := bufio.NewScanner(resp.Body)
		var ev sse
		for sc.Scan() {
			line := sc.Text()
			switch {
			case line == "":
				if ev.event != "" {
					ch <- ev
				}
				ev = sse{}
			case strings.HasPrefix(line, "id: "):
				ev.id = line[4:]
			case strings.HasPrefix(line, "event: "):
				ev.event = line[7:]
			case strings.HasPrefix(line, "data: "):
				ev.data = line[6:]
			}
		}
	}()
	return ch
}

// nextRevocation returns the next "revocation" event of ch, skipping the
// "stats" ones.
func nextRevocation(t *testing.T, ch <-chan sse) liveEvent {
	t.Helper()
	timer := time.NewTimer(streamWait)
	defer timer.Stop()
	for {
		select {
		case ev, ok := <-ch:
			if !ok {
				t.Fatal("the stream ended")
			}
			if ev.event != "revocation" {
				continue
			}
			var le liveEvent
			if err := json.Unmarshal([]byte(ev.data), &le); err != nil {
				t.Fatalf("event %q: %v", ev.data, err)
			}
			return le
		case <-timer.C:
			t.Fatalf("no revocation on the stream in %s", streamWait)
		}
	}
}

var streamRe = regexp.MustCompile(`data-stream="([^"]+)"`)

// TestConsoleLiveLog: the log page names its stream, with its filter and
// where the page ends, and runs its one script from the assets, which its
// Content-Security-Policy alone allows; the stream sends the revocations
// logged after the page that match its filter, each with the names the
// page shows, and after a reconnection only those after Last-Event-ID.
// Without a session it sends the browser to sign in, and a person who is
// not an admin is refused.
func TestConsoleLiveLog(t *testing.T) {
	s := testserver.New(t)
	s.User("root", true)
	s.User("alice", false)
	s.User("bob", false)
	id, secret := s.Client("Backend")
	old := s.PasswordTokens(id, secret, "alice")
	if r := s.Post("/oauth2/revoke", "token="+old.Refresh, testserver.Basic(id, secret)); r.Status != http.StatusOK {
		t.Fatalf("revoke: %d", r.Status)
	}
	ta := s.PasswordTokens(id, secret, "alice")
	tb := s.PasswordTokens(id, secret, "bob")
	b := newBrowser(t, s)
	b.consoleSignIn("root")

	p := b.get("/console/log?username=alice")
	wantPage(t, p, http.StatusOK, "Revocation log")
	if !strings.Contains(p.body, `id="live-announce" role="status" aria-live="polite"`) {
		t.Error("the log page has no polite live region for its script to announce new revocations in")
	}
	if csp := p.header.Get("Content-Security-Policy"); !strings.Contains(csp, "script-src 'self'") || !strings.Contains(csp, "connect-src 'self'") ||
		!strings.Contains(csp, "default-src 'none'") {
		t.Errorf("the log page's Content-Security-Policy %q does not allow its own script and stream only", csp)
	}
	if csp := b.get(web.PathConsole).header.Get("Content-Security-Policy"); strings.Contains(csp, "script-src") {
		t.Errorf("the console's search page allows scripts: %q", csp)
	}
	src := regexp.MustCompile(`<script src="(/assets/livelog\.[0-9a-f]{12}\.js)" defer></script>`).FindStringSubmatch(p.body)
	if src == nil || strings.Count(p.body, "<script") != 1 {
		t.Fatalf("the log page does not load its one script from the assets:\n%s", p.body)
	}
	if js := b.get(src[1]); js.status != http.StatusOK || !strings.HasPrefix(js.header.Get("Content-Type"), "text/javascript") ||
		strings.Contains(js.body, "innerHTML") {
		t.Errorf("the script: %d %q, or it writes markup", js.status, js.header.Get("Content-Type"))
	}
	m := streamRe.FindStringSubmatch(p.body)
	if m == nil {
		t.Fatalf("the log page names no stream:\n%s", p.body)
	}
	stream := html.UnescapeString(m[1])
	if !strings.HasPrefix(stream, web.PathConsoleLogStream+"?") || !strings.Contains(stream, "username=alice") || strings.Contains(stream, "since=0") {
		t.Fatalf("the stream %q does not carry the filter and where the page ends", stream)
	}

	ch := b.openStream(stream, http.StatusOK)
	// bob's first: the filter must keep it out, and alice's come next.
	for _, refresh := range []string{tb.Refresh, ta.Refresh} {
		if r := s.Post("/oauth2/revoke", "token="+refresh, testserver.Basic(id, secret)); r.Status != http.StatusOK {
			t.Fatalf("revoke: %d", r.Status)
		}
	}
	ev := nextRevocation(t, ch)
	if ev.User != "alice" || ev.UserPath != "/console/users/alice" || ev.Reason != "client_request" || ev.Actor != "Backend" ||
		ev.Client != "Backend" || ev.Tokens != 2 {
		t.Errorf("the stream sent %+v; want alice's revocation by Backend, named", ev)
	}

	// Reconnected from alice's event, unfiltered: only what follows.
	all := b.openStreamFrom(web.PathConsoleLogStream, ev.Seq)
	s.PasswordTokens(id, secret, "bob")
	b.cback(b.cconfirm(b.get("/console/users/bob"), []string{"Disable bob?"}, []string{"do", "disable"}), "/console/users/bob", "user_disabled")
	if got := nextRevocation(t, all); got.Reason != "user_disabled" || got.User != "bob" || got.Actor != "root" || got.Seq <= ev.Seq {
		t.Errorf("after Last-Event-ID %d the stream sent %+v; want bob's disabling by root", ev.Seq, got)
	}
	// Enabling bob revokes nothing: its subject entry comes as a row of no
	// grant.
	p = b.get("/console/users/bob")
	b.cback(b.csend(p.formWith(t, "action", ""), "action", "enable"), "/console/users/bob", "user_enabled")
	if got := nextRevocation(t, all); got.Reason != "user_enabled" || got.User != "bob" || got.Grants != 0 || got.Client != "" {
		t.Errorf("after bob's enabling the stream sent %+v; want his user_enabled entry, of no grant and no app", got)
	}

	newBrowser(t, s).openStream(web.PathConsoleLogStream, http.StatusSeeOther)
	alice := newBrowser(t, s)
	alice.consoleSignIn("alice")
	alice.openStream(web.PathConsoleLogStream, http.StatusForbidden)
	b.openStream(web.PathConsoleLogStream+"?username=nobody", http.StatusBadRequest)
}

// openStreamFrom opens the stream at path as an EventSource reconnects:
// with Last-Event-ID.
func (b *browser) openStreamFrom(path string, lastID int64) <-chan sse {
	b.t.Helper()
	c := *b
	c.c = &http.Client{Jar: b.c.Jar, CheckRedirect: b.c.CheckRedirect,
		Transport: lastEventID{id: lastID}}
	return c.openStream(path, http.StatusOK)
}

// lastEventID is a transport that sends Last-Event-ID.
type lastEventID struct{ id int64 }

func (l lastEventID) RoundTrip(r *http.Request) (*http.Response, error) {
	r = r.Clone(r.Context())
	r.Header.Set("Last-Event-ID", strconv.FormatInt(l.id, 10))
	return http.DefaultTransport.RoundTrip(r)
}
