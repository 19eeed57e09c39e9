package web_test

import (
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/tokend/tokend/internal/oauth"
	"github.com/tokend/tokend/internal/registry"
	"github.com/tokend/tokend/internal/store"
	"github.com/tokend/tokend/internal/testserver"
	"github.com/tokend/tokend/internal/web"
)

// deviceClient registers a public client of the device authorization
// grant named name.
func deviceClient(t *testing.T, s *testserver.Server, name string) string {
	t.Helper()
	c, _, err := oauth.Registration.New(registry.Spec{Name: name, AuthMethod: registry.AuthNone,
		GrantTypes: []string{oauth.GrantDeviceCode, oauth.GrantRefreshToken}}, s.Clock.Now())
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Store.CreateClient(t.Context(), c); err != nil {
		t.Fatal(err)
	}
	return c.ID
}

// deviceRequest is a device's authorization: its codes and where it sends
// the person.
type deviceRequest struct {
	clientID, deviceCode, userCode, complete string
}

func startDevice(t *testing.T, s *testserver.Server, clientID, scope string) deviceRequest {
	t.Helper()
	r := s.Post(oauth.PathDeviceAuthorize, url.Values{"client_id": {clientID}, "scope": {scope}}.Encode())
	if r.Status != http.StatusOK {
		t.Fatalf("device_authorize: %d %s", r.Status, r.Body)
	}
	var m map[string]any
	r.JSON(t, &m)
	d := deviceRequest{clientID: clientID}
	d.deviceCode, _ = m["device_code"].(string)
	d.userCode, _ = m["user_code"].(string)
	d.complete, _ = m["verification_uri_complete"].(string)
	return d
}

// poll polls the token endpoint once and returns the status and answer.
func (d deviceRequest) poll(t *testing.T, s *testserver.Server) (int, map[string]any) {
	t.Helper()
	r := s.Post(oauth.PathToken, url.Values{"grant_type": {oauth.GrantDeviceCode}, "client_id": {d.clientID},
		"device_code": {d.deviceCode}}.Encode())
	var m map[string]any
	r.JSON(t, &m)
	return r.Status, m
}

// hashOf is the store hash of a token in a JSON answer.
func hashOf(v any) store.Hash {
	s, _ := v.(string)
	return store.HashToken(s)
}

// press posts the device page's form f with the button and fields set.
func (b *browser) press(f form, button string, fields ...string) page {
	b.t.Helper()
	v := url.Values{}
	for k, vs := range f.values {
		v[k] = append([]string(nil), vs...)
	}
	name, value, _ := strings.Cut(button, "=")
	v.Set(name, value)
	for i := 0; i+1 < len(fields); i += 2 {
		v.Set(fields[i], fields[i+1])
	}
	if !strings.HasPrefix(f.action, web.PathDevice) {
		b.t.Fatalf("the form posts to %q", f.action)
	}
	return b.post(f.action, v)
}

// follow gets where p redirects, failing the test unless it does.
func (b *browser) follow(p page) page {
	b.t.Helper()
	u := p.location(b.t)
	if p.status != http.StatusSeeOther || u == nil {
		b.t.Fatalf("status %d; want a redirect\n%s", p.status, p.body)
	}
	return b.get(u.RequestURI())
}

// TestDeviceVerification: the link with the code leads through the
// sign-in back to the code form, filled in; Continue shows the consent
// page of the device's app with the scopes in words and the code; Allow
// lets the polling device have tokens in the person's session, and the
// code cannot be decided again. Deny gives the device access_denied.
// Signing out of that session revokes the device's tokens.
func TestDeviceVerification(t *testing.T) {
	s := testserver.New(t)
	dana := s.User("dana", false)
	id := deviceClient(t, s, "Living-room TV")
	d := startDevice(t, s, id, "openid profile")
	if status, m := d.poll(t, s); status != http.StatusBadRequest || m["error"] != "authorization_pending" {
		t.Fatalf("first poll = %d %v; want authorization_pending", status, m)
	}
	b := newBrowser(t, s)
	p := b.get(strings.TrimPrefix(d.complete, s.URL))
	if loc := p.location(t); loc == nil || loc.Path != "/device/sign-in" || loc.Query().Get("user_code") != d.userCode {
		t.Fatalf("the link sends a signed-out browser to %v; want the sign-in with the code", loc)
	}
	p = b.follow(p)
	wantPage(t, p, http.StatusOK, "Sign in", "connect your device")
	p = b.follow(b.press(p.form(t), "action=sign_in", "username", "dana", "password", testserver.Password))
	wantPage(t, p, http.StatusOK, "Connect a device", "dana")
	f := p.form(t)
	if f.values.Get("user_code") != d.userCode {
		t.Errorf("the code field holds %q; want %q", f.values.Get("user_code"), d.userCode)
	}
	p = b.press(f, "action=continue")
	wantPage(t, p, http.StatusOK, "Allow Living-room TV?", "Confirm that it is you", "Your name and username", d.userCode)
	consent := p.form(t)
	p = b.press(consent, "action=allow")
	wantPage(t, p, http.StatusOK, "You can go back to your device")

	status, m := d.poll(t, s)
	if status != http.StatusOK {
		t.Fatalf("poll after Allow = %d %v", status, m)
	}
	rec, err := s.Store.LookupToken(t.Context(), hashOf(m["access_token"]))
	if err != nil {
		t.Fatal(err)
	}
	sessions, err := s.Store.ListSessions(t.Context(), dana.ID)
	if err != nil || len(sessions) != 1 {
		t.Fatalf("sessions of dana: %v %v", sessions, err)
	}
	if rec.Subject != dana.ID || rec.SessionID != sessions[0].ID {
		t.Errorf("grant of %q in session %q; want dana's, in %q", rec.Subject, rec.SessionID, sessions[0].ID)
	}
	wantPage(t, b.press(consent, "action=deny"), http.StatusBadRequest, "That code is not one we know")
	if access, _ := m["access_token"].(string); !s.Active(access) {
		t.Fatal("the device's access token is not active")
	}

	denied := startDevice(t, s, id, "profile")
	p = b.press(b.get(web.PathDevice).form(t), "action=continue", "user_code", strings.ToLower(strings.ReplaceAll(denied.userCode, "-", " ")))
	wantPage(t, b.press(p.form(t), "action=deny"), http.StatusOK, "Your device was not connected")
	if status, m := denied.poll(t, s); status != http.StatusBadRequest || m["error"] != "access_denied" {
		t.Errorf("poll after Deny = %d %v; want access_denied", status, m)
	}

	// Signing out of the session that approved the request revokes the
	// device's grant with the session's others.
	wantPage(t, b.submit(b.get(oauth.PathEndSession).form(t), "action=sign_out"), http.StatusOK)
	if access, _ := m["access_token"].(string); s.Active(access) {
		t.Error("the device's access token is active after the approving session signed out")
	}
}

// TestDeviceWrongCodes: a wrong code shows the form again with an alert;
// after testserver.FailLimit wrong ones the session is refused, even the
// right code, and Allow posted with a guessed code counts as a guess too.
// Without the CSRF token nothing is decided.
func TestDeviceWrongCodes(t *testing.T) {
	s := testserver.New(t)
	s.User("erin", false)
	d := startDevice(t, s, deviceClient(t, s, "TV"), "profile")
	b := newBrowser(t, s)
	p := b.follow(b.press(b.follow(b.get(web.PathDevice)).form(t), "action=sign_in", "username", "erin", "password", testserver.Password))
	f := p.form(t)

	noCSRF := url.Values{"user_code": {d.userCode}, "action": {"allow"}}
	if p := b.post(web.PathDevice, noCSRF); p.status != http.StatusForbidden {
		t.Errorf("Allow without the CSRF token: status %d; want 403", p.status)
	}
	wantPage(t, b.press(f, "action=continue", "user_code", "BCDF-GHJK"), http.StatusBadRequest, "That code is not one we know")
	wantPage(t, b.press(f, "action=continue", "user_code", "not a code"), http.StatusBadRequest, "That code is not one we know")
	wantPage(t, b.press(f, "action=allow", "user_code", "XXXX-XXXX"), http.StatusBadRequest, "That code is not one we know")
	for range testserver.FailLimit - 3 {
		b.press(f, "action=continue", "user_code", "ZZZZ-ZZZZ")
	}
	wantPage(t, b.press(f, "action=continue", "user_code", d.userCode), http.StatusTooManyRequests, "Too many attempts")
	if status, m := d.poll(t, s); status != http.StatusBadRequest || m["error"] != "authorization_pending" {
		t.Errorf("poll = %d %v; want authorization_pending", status, m)
	}
	s.Clock.Advance(61 * time.Second)
	wantPage(t, b.press(f, "action=continue", "user_code", d.userCode), http.StatusOK, "Allow TV?")
}
