package oauth_test

import (
	"bufio"
	"bytes"
	"compress/zlib"
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"
	"github.com/google/go-cmp/cmp"

	"github.com/tokend/tokend/internal/feed"
	"github.com/tokend/tokend/internal/oauth"
	"github.com/tokend/tokend/internal/registry"
	"github.com/tokend/tokend/internal/revocation"
	"github.com/tokend/tokend/internal/statuslist"
	"github.com/tokend/tokend/internal/store"
	"github.com/tokend/tokend/internal/token"
)

// feedHarness is a harness with JWTs, the revocation feed and the status
// lists, wired as serve wires them: the endpoints' store nudges the hub,
// the hub reads the log from the store itself and feeds the lists.
type feedHarness struct {
	*harness
	hub   *feed.Hub
	lists *statuslist.Lists
}

func newFeedHarness(t *testing.T) *feedHarness {
	t.Helper()
	f := &feedHarness{}
	ctx, stop := context.WithCancel(context.Background())
	withFeed := func(c *oauth.Config) {
		f.hub = feed.New(feed.Config{Source: c.Store, Poll: 20 * time.Millisecond})
		f.lists = statuslist.NewLists(statuslist.ListsConfig{Issuer: c.Issuer, Keys: c.JWT.Keys, Now: c.Now})
		f.hub.Subscribe(f.lists.Apply)
		if err := f.hub.Start(ctx); err != nil {
			t.Fatal(err)
		}
		c.Store = feed.Nudging{Store: c.Store, Nudge: f.hub.Nudge}
		c.Feed, c.StatusLists = f.hub, f.lists
	}
	f.harness = newHarness(t, withJWT(t, token.ES256), withFeed)
	// Registered after the harness's own clean-up, so it runs first: the
	// streams end with the hub before the server waits for them.
	t.Cleanup(func() { stop(); f.hub.Wait() })
	return f
}

// get sends a GET with the given headers ("Name: value").
func (h *harness) get(path string, headers ...string) response {
	h.t.Helper()
	req, err := http.NewRequestWithContext(h.t.Context(), http.MethodGet, h.srv.URL+path, nil)
	if err != nil {
		h.t.Fatal(err)
	}
	for _, hv := range headers {
		k, v, _ := strings.Cut(hv, ":")
		req.Header.Set(k, strings.TrimSpace(v))
	}
	return h.do(req)
}

// sse is an open revocation stream.
type sse struct {
	t      *testing.T
	resp   *http.Response
	br     *bufio.Reader
	cancel context.CancelFunc
}

type sseEvent struct {
	id, event, data string
}

func (h *harness) stream(authorization, lastEventID string) *sse {
	h.t.Helper()
	ctx, cancel := context.WithCancel(h.t.Context())
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, h.srv.URL+oauth.PathRevocationStream, nil)
	req.Header.Set("Authorization", authorization)
	if lastEventID != "" {
		req.Header.Set("Last-Event-ID", lastEventID)
	}
	resp, err := h.srv.Client().Do(req)
	if err != nil {
		h.t.Fatal(err)
	}
	if resp.StatusCode != http.StatusOK {
		b, _ := io.ReadAll(resp.Body)
		h.t.Fatalf("stream: %d %s", resp.StatusCode, b)
	}
	s := &sse{t: h.t.(*testing.T), resp: resp, br: bufio.NewReader(resp.Body), cancel: cancel}
	h.t.Cleanup(s.close)
	return s
}

func (s *sse) close() { s.cancel(); s.resp.Body.Close() }

// next returns the next event (comments skipped), failing after 5 s.
func (s *sse) next() sseEvent {
	s.t.Helper()
	timer := time.AfterFunc(5*time.Second, s.cancel)
	defer timer.Stop()
	var ev sseEvent
	for {
		line, err := s.br.ReadString('\n')
		if err != nil {
			s.t.Fatalf("stream ended waiting for an event: %v", err)
		}
		line = strings.TrimSuffix(line, "\n")
		switch {
		case line == "":
			if ev.event != "" || ev.data != "" {
				return ev
			}
		case strings.HasPrefix(line, ":"), strings.HasPrefix(line, "retry:"):
		case strings.HasPrefix(line, "id: "):
			ev.id = line[4:]
		case strings.HasPrefix(line, "event: "):
			ev.event = line[7:]
		case strings.HasPrefix(line, "data: "):
			ev.data = line[6:]
		default:
			s.t.Fatalf("unexpected line %q", line)
		}
	}
}

// until returns the next event of the type, skipping others.
func (s *sse) until(event string) sseEvent {
	s.t.Helper()
	for {
		if ev := s.next(); ev.event == event {
			return ev
		}
	}
}

func b64hash(tok string) string {
	h := sha256.Sum256([]byte(tok))
	return base64.RawURLEncoding.EncodeToString(h[:])
}

// jwtClaims decodes a JWT's claims without verifying it (the test minted it).
func jwtClaims(t *testing.T, tok string) token.AccessClaims {
	t.Helper()
	parts := strings.Split(tok, ".")
	b, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil {
		t.Fatal(err)
	}
	var c token.AccessClaims
	if err := json.Unmarshal(b, &c); err != nil {
		t.Fatal(err)
	}
	return c
}

func TestRevocationStream(t *testing.T) {
	h := newFeedHarness(t)
	appID, appSecret := h.client(jwtClient("app"))
	rsID, rsSecret := h.client(registry.Spec{Name: "api", CanIntrospect: true})

	s := h.stream(basic(rsID, rsSecret)[len("Authorization: "):], "")
	ready := s.until("ready")
	if ready.data != `{"seq":`+ready.id+`}` {
		t.Errorf("ready event %+v", ready)
	}

	tk := h.passwordTokens(appID, appSecret, "alice")
	claims := jwtClaims(t, tk.Access)
	if r := h.post(oauth.PathRevoke, "token="+url.QueryEscape(tk.Access), basic(appID, appSecret)); r.status != http.StatusOK {
		t.Fatalf("revoke: %d %s", r.status, r.body)
	}
	ev := s.until("revocation")
	var got feed.Message
	if err := json.Unmarshal([]byte(ev.data), &got); err != nil {
		t.Fatal(err)
	}
	if ev.id != strconv.FormatInt(got.Seq, 10) {
		t.Errorf("SSE id %q, seq %d", ev.id, got.Seq)
	}
	rec := h.record(tk.Refresh)
	want := feed.Message{
		Seq:         got.Seq,
		Time:        h.clock.Now().UTC(),
		JTIs:        []string{claims.JTI},
		TokenHashes: []string{b64hash(tk.Access), b64hash(tk.Refresh)},
		StatusList:  []feed.StatusRef{{Index: claims.Status.StatusList.Index, URI: claims.Status.StatusList.URI}},
		Subject:     claims.Subject,
		ClientID:    appID,
		Reason:      "client_request",
		ExpiresAt:   rec.ExpiresAt.Unix(),
	}
	sortStrings := cmp.Transformer("sort", func(in []string) []string {
		out := append([]string(nil), in...)
		for i := range out {
			for j := i + 1; j < len(out); j++ {
				if out[j] < out[i] {
					out[i], out[j] = out[j], out[i]
				}
			}
		}
		return out
	})
	if diff := cmp.Diff(got, want, sortStrings); diff != "" {
		t.Errorf("event (-got +want):\n%s", diff)
	}

	// A token revoked by another process (no nudge) arrives by polling:
	// here an admin's bulk revocation of bob's one grant, made on the
	// store itself.
	tk2 := h.passwordTokens(appID, appSecret, "bob")
	rec2 := h.record(tk2.Access)
	other := &revocation.Engine{Store: h.store, Now: h.clock.Now}
	if _, err := other.RevokeBulk(t.Context(), revocation.Bulk{Subject: rec2.Subject, ClientID: rec2.ClientID}); err != nil {
		t.Fatal(err)
	}
	ev2 := s.until("revocation")
	if !strings.Contains(ev2.data, b64hash(tk2.Access)) {
		t.Errorf("second event %s lacks the token's hash", ev2.data)
	}
}

func TestRevocationStreamResumes(t *testing.T) {
	h := newFeedHarness(t)
	appID, appSecret := h.client(jwtClient("app"))
	auth := "Bearer " + testAdminToken
	var access []string
	for i := range 5 {
		tk := h.passwordTokens(appID, appSecret, "user"+strconv.Itoa(i))
		h.post(oauth.PathRevoke, "token="+url.QueryEscape(tk.Access), basic(appID, appSecret))
		access = append(access, tk.Access)
	}
	s := h.stream(auth, "")
	first := s.until("revocation")
	s.close()

	// Resume after the first: the other four, in order, then ready.
	s = h.stream(auth, first.id)
	prev, _ := strconv.ParseInt(first.id, 10, 64)
	for i := 1; i < 5; i++ {
		ev := s.next()
		seq, _ := strconv.ParseInt(ev.id, 10, 64)
		if ev.event != "revocation" || seq <= prev || !strings.Contains(ev.data, b64hash(access[i])) {
			t.Fatalf("event %d after resuming: %+v", i, ev)
		}
		prev = seq
	}
	if ev := s.next(); ev.event != "ready" || ev.id != strconv.FormatInt(prev, 10) {
		t.Errorf("after the backlog: %+v; want ready with id %d", ev, prev)
	}
	// ?since= does the same as Last-Event-ID.
	r := h.get(oauth.PathRevocationEvents+"?since="+first.id, "Authorization: "+auth)
	var page struct {
		Events    []feed.Message `json:"events"`
		NextSince int64          `json:"next_since"`
		LastSeq   int64          `json:"last_seq"`
	}
	if err := json.Unmarshal([]byte(r.body), &page); err != nil || len(page.Events) != 4 || page.NextSince != prev || page.LastSeq != prev {
		t.Errorf("polling since %s: %d events, next %d, last %d (%v)", first.id, len(page.Events), page.NextSince, page.LastSeq, err)
	}
}

func TestRevocationEventsPolling(t *testing.T) {
	h := newFeedHarness(t)
	appID, appSecret := h.client(jwtClient("app"))
	rsID, rsSecret := h.client(registry.Spec{Name: "api", CanIntrospect: true})
	for i := range 3 {
		tk := h.passwordTokens(appID, appSecret, "user"+strconv.Itoa(i))
		h.post(oauth.PathRevoke, "token="+url.QueryEscape(tk.Access), basic(appID, appSecret))
	}
	deadline := time.Now().Add(2 * time.Second)
	for h.hub.Last() < 3 && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond)
	}
	type page struct {
		Events []struct {
			Seq int64 `json:"seq"`
		} `json:"events"`
		NextSince int64 `json:"next_since"`
		LastSeq   int64 `json:"last_seq"`
	}
	read := func(query string) page {
		t.Helper()
		r := h.get(oauth.PathRevocationEvents+query, basic(rsID, rsSecret))
		if r.status != http.StatusOK || r.header.Get("Content-Type") != "application/json;charset=UTF-8" || r.header.Get("Cache-Control") != "no-store" {
			t.Fatalf("%s: %d %v %s", query, r.status, r.header, r.body)
		}
		var p page
		if err := json.Unmarshal([]byte(r.body), &p); err != nil {
			t.Fatal(err)
		}
		return p
	}
	all := read("")
	if len(all.Events) != 3 || all.NextSince != all.Events[2].Seq || all.LastSeq != all.NextSince {
		t.Fatalf("all: %+v", all)
	}
	one := read("?since=0&limit=1")
	if len(one.Events) != 1 || one.NextSince != all.Events[0].Seq || one.LastSeq != all.LastSeq {
		t.Errorf("limit 1: %+v", one)
	}
	none := read("?since=" + strconv.FormatInt(all.LastSeq, 10))
	if len(none.Events) != 0 || none.NextSince != all.LastSeq {
		t.Errorf("nothing new: %+v", none)
	}
	for _, q := range []string{"?since=-1", "?since=x", "?limit=0", "?limit=x"} {
		r := h.get(oauth.PathRevocationEvents+q, basic(rsID, rsSecret))
		if r.status != http.StatusBadRequest || r.json(t)["error"] != "invalid_request" {
			t.Errorf("%s: %d %s", q, r.status, r.body)
		}
	}
}

func TestRevocationFeedRefusals(t *testing.T) {
	h := newFeedHarness(t)
	appID, appSecret := h.client(jwtClient("app"))
	rsID, rsSecret := h.client(registry.Spec{Name: "api", CanIntrospect: true})
	pubID := h.publicIntrospector(oauth.GrantJWTBearer)
	cases := []struct {
		name          string
		authorization string
		status        int
		body          string
		challenge     string
	}{
		{"no credentials", "", 401, `{"error":"invalid_client","error_description":"client authentication is required"}`, `Basic realm="tokend"`},
		{"wrong secret", basic(rsID, "wrong")[len("Authorization: "):], 401, `{"error":"invalid_client","error_description":"client authentication failed"}`, `Basic realm="tokend"`},
		{"wrong bearer", "Bearer not-the-admin-token", 401, `{"error":"invalid_client","error_description":"client authentication failed"}`, `Basic realm="tokend"`},
		{"client without can_introspect", basic(appID, appSecret)[len("Authorization: "):], 403, `{"error":"access_denied","error_description":"the client may not read the revocation feed; it needs can_introspect"}`, ""},
		{"public client", basic(pubID, "")[len("Authorization: "):], 401, `{"error":"invalid_client","error_description":"client authentication failed"}`, `Basic realm="tokend"`},
	}
	for _, path := range []string{oauth.PathRevocationStream, oauth.PathRevocationEvents} {
		for _, c := range cases {
			t.Run(path+"/"+c.name, func(t *testing.T) {
				// Each case on a clean slate: the failures of the
				// ones before would have the address rate-limited.
				h.clock.Advance(time.Minute + time.Second)
				var hs []string
				if c.authorization != "" {
					hs = append(hs, "Authorization: "+c.authorization)
				}
				r := h.get(path, hs...)
				if r.status != c.status || strings.TrimSpace(r.body) != c.body || r.header.Get("WWW-Authenticate") != c.challenge {
					t.Errorf("got %d %s (challenge %q); want %d %s (%q)", r.status, r.body, r.header.Get("WWW-Authenticate"), c.status, c.body, c.challenge)
				}
			})
		}
	}
	h.clock.Advance(time.Minute + time.Second)
	for _, auth := range []string{"Authorization: Bearer " + testAdminToken, basic(rsID, rsSecret)} {
		if r := h.get(oauth.PathRevocationEvents, auth); r.status != http.StatusOK {
			t.Errorf("%s: %d %s", auth[:20], r.status, r.body)
		}
	}
}

func TestStatusListOverHTTP(t *testing.T) {
	h := newFeedHarness(t)
	appID, appSecret := h.client(jwtClient("app"))
	revoked := h.passwordTokens(appID, appSecret, "alice")
	live := h.passwordTokens(appID, appSecret, "bob")
	rc, lc := jwtClaims(t, revoked.Access), jwtClaims(t, live.Access)
	if rc.Status.StatusList.URI != lc.Status.StatusList.URI {
		t.Fatalf("the two tokens are in different lists: %s, %s", rc.Status.StatusList.URI, lc.Status.StatusList.URI)
	}
	h.post(oauth.PathRevoke, "token="+url.QueryEscape(revoked.Access), basic(appID, appSecret))
	// The list is current once the hub has read the revocation.
	deadline := time.Now().Add(2 * time.Second)
	for h.hub.Last() < 1 && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond)
	}

	uri := rc.Status.StatusList.URI
	r := h.get(strings.TrimPrefix(uri, h.srv.URL), "Accept: application/statuslist+jwt")
	if r.status != http.StatusOK || r.header.Get("Content-Type") != "application/statuslist+jwt" || r.header.Get("Cache-Control") != "public, max-age=60" {
		t.Fatalf("status list: %d %v", r.status, r.header)
	}
	jws, err := jose.ParseSigned(r.body, []jose.SignatureAlgorithm{jose.ES256})
	if err != nil {
		t.Fatal(err)
	}
	hdr := jws.Signatures[0].Header
	if hdr.ExtraHeaders[jose.HeaderType] != "statuslist+jwt" {
		t.Errorf("typ %v", hdr.ExtraHeaders[jose.HeaderType])
	}
	set := h.fetchJWKS()
	keys := set.Key(hdr.KeyID)
	if len(keys) != 1 {
		t.Fatalf("kid %q not in the JWKS", hdr.KeyID)
	}
	payload, err := jws.Verify(keys[0])
	if err != nil {
		t.Fatal(err)
	}
	var c struct {
		Sub        string `json:"sub"`
		Iat        int64  `json:"iat"`
		Exp        int64  `json:"exp"`
		TTL        int64  `json:"ttl"`
		StatusList struct {
			Bits int    `json:"bits"`
			Lst  string `json:"lst"`
		} `json:"status_list"`
	}
	if err := json.Unmarshal(payload, &c); err != nil {
		t.Fatal(err)
	}
	if c.Sub != uri || c.Iat != h.clock.Now().Unix() || c.Exp <= c.Iat || c.TTL != 60 || c.StatusList.Bits != 1 {
		t.Errorf("claims %+v", c)
	}
	z, _ := base64.RawURLEncoding.DecodeString(c.StatusList.Lst)
	zr, err := zlib.NewReader(bytes.NewReader(z))
	if err != nil {
		t.Fatal(err)
	}
	bits, _ := io.ReadAll(zr)
	bit := func(i int64) bool { return bits[i/8]&(1<<(i%8)) != 0 }
	if !bit(rc.Status.StatusList.Index) {
		t.Errorf("the revoked token's bit %d is 0", rc.Status.StatusList.Index)
	}
	if bit(lc.Status.StatusList.Index) {
		t.Errorf("the live token's bit %d is 1", lc.Status.StatusList.Index)
	}
	ones := 0
	for _, b := range bits {
		for ; b != 0; b &= b - 1 {
			ones++
		}
	}
	if ones != 1 {
		t.Errorf("%d bits set; want 1", ones)
	}

	for path, want := range map[string]int{"/oauth2/statuslists/x": 404, "/oauth2/statuslists/-1": 404, "/oauth2/statuslists/99999999999": 404} {
		if r := h.get(path); r.status != want {
			t.Errorf("%s: %d; want %d", path, r.status, want)
		}
	}
	if r := h.get(strings.TrimPrefix(uri, h.srv.URL), "Accept: application/statuslist+cwt"); r.status != http.StatusNotAcceptable {
		t.Errorf("CWT asked: %d; want 406", r.status)
	}
}

func TestMetadataAdvertisesTheFeed(t *testing.T) {
	h := newFeedHarness(t)
	m := h.get("/.well-known/oauth-authorization-server").json(t)
	if m["revocation_feed_endpoint"] != h.srv.URL+"/oauth2/revocations/stream" || m["revocation_events_endpoint"] != h.srv.URL+"/oauth2/revocations" {
		t.Errorf("metadata %v", m)
	}
	plain := newHarness(t)
	m = plain.get("/.well-known/oauth-authorization-server").json(t)
	if _, ok := m["revocation_feed_endpoint"]; ok {
		t.Error("the feed is advertised by a server without it")
	}
}

// TestStatusListPastReservationsIs404: a list that holds no reserved index
// is 404, without a signature: anyone may ask for any number, and each
// Status List Token costs one. A list reserved by this server, or by
// another instance on the same store, is served.
func TestStatusListPastReservationsIs404(t *testing.T) {
	h := newFeedHarness(t)
	appID, appSecret := h.client(jwtClient("app"))
	tk := h.token(appID, appSecret, "grant_type=client_credentials")
	own := strings.TrimPrefix(jwtClaims(t, tk.Access).Status.StatusList.URI, h.srv.URL)
	if own != oauth.PathStatusLists+"0" {
		t.Fatalf("the first JWT's list is %s; want list 0", own)
	}
	get := func(path string) int {
		t.Helper()
		return h.get(path, "Accept: application/statuslist+jwt").status
	}
	if got := get(own); got != http.StatusOK {
		t.Fatalf("GET %s: %d; want 200", own, got)
	}
	signed := h.lists.Signed()
	for _, n := range []string{"1", "2", "1000", strconv.Itoa(statuslist.MaxList - 1)} {
		if got := get(oauth.PathStatusLists + n); got != http.StatusNotFound {
			t.Errorf("GET list %s, past every reservation: %d; want 404", n, got)
		}
	}
	if got := h.lists.Signed(); got != signed {
		t.Errorf("%d Status List Tokens signed for lists past every reservation; want none", got-signed)
	}
	// Another instance on the same store reserves up into list 2.
	if _, err := h.store.ReserveStatusIndexes(t.Context(), 2*statuslist.ListSize); err != nil {
		t.Fatal(err)
	}
	for _, n := range []string{"1", "2"} {
		if got := get(oauth.PathStatusLists + n); got != http.StatusOK {
			t.Errorf("GET list %s, reserved by another instance: %d; want 200", n, got)
		}
	}
	if got := get(oauth.PathStatusLists + "3"); got != http.StatusNotFound {
		t.Errorf("GET list 3: %d; want 404", got)
	}
}

// TestFeedPassesOverSubjectEntries: a subject entry of the log (here a
// password change and a disable of a user who holds no grant, which
// revoke nothing) is not sent to resource servers, by the stream or by
// polling, and the feed goes on past it: the next revocation comes next,
// a reader resuming from before it gets that revocation, and polling's
// next_since moves over it.
func TestFeedPassesOverSubjectEntries(t *testing.T) {
	h := newFeedHarness(t)
	appID, appSecret := h.client(jwtClient("app"))
	auth := "Bearer " + testAdminToken
	s := h.stream(auth, "")
	before := s.until("ready")
	h.user("carol", "correct horse battery")
	engine := &revocation.Engine{Store: h.cfg.Store, Now: h.clock.Now}
	disable := func(u store.User) (store.User, error) { u.Disabled = true; return u, nil }
	if _, err := engine.DisableUser(t.Context(), "carol", "admin", disable); err != nil {
		t.Fatal(err)
	}
	tk := h.passwordTokens(appID, appSecret, "alice")
	if r := h.post(oauth.PathRevoke, "token="+url.QueryEscape(tk.Access), basic(appID, appSecret)); r.status != http.StatusOK {
		t.Fatalf("revoke: %d %s", r.status, r.body)
	}
	ev := s.next()
	if ev.event != "revocation" || !strings.Contains(ev.data, b64hash(tk.Access)) || strings.Contains(ev.data, store.ReasonUserDisabled) {
		t.Fatalf("after the subject entry the stream sent %+v; want alice's revocation", ev)
	}
	entries, err := h.store.Events(t.Context(), 0, 10)
	if err != nil || len(entries) != 2 || !entries[0].SubjectLevel() {
		t.Fatalf("log %+v (%v); want carol's subject entry, then alice's revocation", entries, err)
	}
	s.close()
	resumed := h.stream(auth, before.id)
	if again := resumed.next(); again.event != "revocation" || again.id != ev.id {
		t.Errorf("resuming from %s: %+v; want alice's revocation, id %s", before.id, again, ev.id)
	}
	resumed.close()
	r := h.get(oauth.PathRevocationEvents+"?since="+before.id+"&limit=1", "Authorization: "+auth)
	var page struct {
		Events    []feed.Message `json:"events"`
		NextSince int64          `json:"next_since"`
	}
	if err := json.Unmarshal([]byte(r.body), &page); err != nil || len(page.Events) != 0 || page.NextSince != entries[0].Seq {
		t.Errorf("polling the subject entry alone: %s (%v); want no event and next_since %d", r.body, err, entries[0].Seq)
	}
}
