package oauth_test

import (
	"errors"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"testing"
	"time"

	"github.com/tokend/tokend/internal/oauth"
	"github.com/tokend/tokend/internal/registry"
	"github.com/tokend/tokend/internal/store"
	"github.com/tokend/tokend/internal/token"
)

// deviceHarness is a server offering the device authorization grant, and
// a confidential and a public client registered for it.
type deviceHarness struct {
	*harness
	id, secret string // the confidential client
	public     string // the public client's id
}

func newDeviceHarness(t *testing.T) deviceHarness {
	h := newHarness(t, withJWT(t, token.ES256), withBrowser)
	grants := []string{oauth.GrantDeviceCode, oauth.GrantRefreshToken}
	id, secret := h.client(registry.Spec{Name: "Living-room TV", GrantTypes: grants})
	pub, _ := h.client(registry.Spec{Name: "CLI", GrantTypes: grants, AuthMethod: registry.AuthNone})
	return deviceHarness{harness: h, id: id, secret: secret, public: pub}
}

// authorize starts a device authorization of the confidential client and
// returns the answer's members.
func (h deviceHarness) authorize(scope string) map[string]any {
	h.t.Helper()
	r := h.post(oauth.PathDeviceAuthorize, url.Values{"scope": {scope}}.Encode(), basic(h.id, h.secret))
	if r.status != http.StatusOK {
		h.t.Fatalf("device_authorize: status %d, body %s", r.status, r.body)
	}
	if cc := r.header.Get("Cache-Control"); cc != "no-store" {
		h.t.Errorf("device_authorize Cache-Control %q; want no-store", cc)
	}
	return r.json(h.t)
}

// poll polls the token endpoint with a device code as the confidential
// client, and returns the status and the answer's members.
func (h deviceHarness) poll(deviceCode string) (int, map[string]any) {
	h.t.Helper()
	r := h.post(oauth.PathToken, url.Values{"grant_type": {oauth.GrantDeviceCode}, "device_code": {deviceCode}}.Encode(),
		basic(h.id, h.secret))
	return r.status, r.json(h.t)
}

// wantError polls and wants the error code.
func (h deviceHarness) wantError(deviceCode, code string) {
	h.t.Helper()
	status, m := h.poll(deviceCode)
	if status != http.StatusBadRequest || m["error"] != code {
		h.t.Fatalf("poll = %d %v; want 400 %s", status, m, code)
	}
}

// decide records a person's decision as the verification page does, for
// user ulla in session sid-ulla.
func (h deviceHarness) decide(userCode string, approve bool) {
	h.t.Helper()
	now := h.clock.Now()
	sess := store.Session{ID: "sid-ulla", UserID: codeUser, Username: "ulla", AuthTime: now.Add(-time.Minute),
		Method: "pwd", CreatedAt: now.Add(-time.Minute), LastSeen: now, ExpiresAt: now.Add(time.Hour)}
	if err := h.store.CreateSession(h.t.Context(), sess); err != nil && !errors.Is(err, store.ErrAlreadyExists) {
		h.t.Fatal(err)
	}
	normal, ok := token.NormalUserCode(userCode)
	if !ok {
		h.t.Fatalf("user code %q does not normalise", userCode)
	}
	_, err := h.store.DecideDeviceCode(h.t.Context(), store.HashToken(normal), h.clock.Now(), store.DeviceDecision{
		Approve: approve, UserID: codeUser, Username: "ulla", SessionID: "sid-ulla", AuthTime: h.clock.Now().Add(-time.Minute)})
	if err != nil {
		h.t.Fatal(err)
	}
}

var userCodeForm = regexp.MustCompile(`^[BCDFGHJKLMNPQRSTVWXZ]{4}-[BCDFGHJKLMNPQRSTVWXZ]{4}$`)

// TestDeviceFlow: the device authorization response (RFC 8628 §3.2); a
// poll before the person decides is authorization_pending, one sooner
// than the interval slow_down, which lengthens it by five seconds; after
// approval the device gets an access token, an ID Token of the approving
// session and a grant recorded in that session; the device code used
// again is invalid_grant.
func TestDeviceFlow(t *testing.T) {
	h := newDeviceHarness(t)
	m := h.authorize("openid profile offline_access")
	userCode, deviceCode := str(m["user_code"]), str(m["device_code"])
	if !userCodeForm.MatchString(userCode) || len(deviceCode) < 43 {
		t.Errorf("user_code %q, device_code %q", userCode, deviceCode)
	}
	page := h.cfg.Issuer + "/device"
	if m["verification_uri"] != page || m["verification_uri_complete"] != page+"?user_code="+userCode ||
		m["expires_in"] != 600.0 || m["interval"] != 5.0 {
		t.Errorf("device authorization response %v", m)
	}

	h.wantError(deviceCode, "authorization_pending")
	h.clock.Advance(4 * time.Second)
	h.wantError(deviceCode, "slow_down") // 4 s < 5 s: the interval becomes 10 s
	h.clock.Advance(9 * time.Second)
	h.wantError(deviceCode, "slow_down") // 9 s < 10 s: 15 s
	h.clock.Advance(15 * time.Second)
	h.wantError(deviceCode, "authorization_pending")

	h.decide(userCode, true)
	h.clock.Advance(15 * time.Second)
	status, tok := h.poll(deviceCode)
	if status != http.StatusOK {
		t.Fatalf("poll after approval = %d %v", status, tok)
	}
	if str(tok["refresh_token"]) == "" || tok["scope"] != "openid profile offline_access" {
		t.Errorf("tokens %v; want a refresh token (offline_access) and the scope", tok)
	}
	claims := h.verifyIDToken(str(tok["id_token"]))
	if claims["sub"] != codeUser || claims["sid"] != "sid-ulla" || claims["aud"] != h.id {
		t.Errorf("id_token claims %v", claims)
	}
	rec := h.record(str(tok["access_token"]))
	if rec.SessionID != "sid-ulla" || rec.Subject != codeUser || rec.ClientID != h.id {
		t.Errorf("grant recorded as %+v; want ulla's, in session sid-ulla", rec)
	}
	if !h.active(str(tok["access_token"])) {
		t.Error("the access token is not active")
	}

	h.clock.Advance(15 * time.Second)
	h.wantError(deviceCode, "invalid_grant")
	if !h.active(str(tok["access_token"])) {
		t.Error("the access token is inactive after the device code was presented again")
	}
}

// TestDeviceDeniedExpiredUnknown: a denied request is access_denied; an
// expired one expired_token, also once approved; one approved in a session
// that has ended since, a device code that was never issued, or one issued
// to another client is invalid_grant.
func TestDeviceDeniedExpiredUnknown(t *testing.T) {
	h := newDeviceHarness(t)
	denied, expired, stale := h.authorize("profile"), h.authorize("profile"), h.authorize("profile")
	h.decide(str(denied["user_code"]), false)
	h.wantError(str(denied["device_code"]), "access_denied")

	h.decide(str(stale["user_code"]), true)
	h.clock.Advance(10 * time.Minute)
	h.wantError(str(expired["device_code"]), "expired_token")
	h.wantError(str(stale["device_code"]), "expired_token")

	ended := h.authorize("profile")
	h.decide(str(ended["user_code"]), true)
	if _, err := h.store.EndSession(t.Context(), "sid-ulla", h.clock.Now(), store.Revocation{Time: h.clock.Now(),
		Reason: store.ReasonSessionEnded, Actor: codeUser}); err != nil {
		t.Fatal(err)
	}
	h.wantError(str(ended["device_code"]), "invalid_grant") // approved in a session that ended since

	h.wantError("never-issued", "invalid_grant")
	other, otherSecret := h.client(registry.Spec{Name: "other", GrantTypes: []string{oauth.GrantDeviceCode}})
	r := h.post(oauth.PathToken, url.Values{"grant_type": {oauth.GrantDeviceCode},
		"device_code": {str(denied["device_code"])}}.Encode(), basic(other, otherSecret))
	if r.status != http.StatusBadRequest || r.json(t)["error"] != "invalid_grant" {
		t.Errorf("another client's device code = %d %s; want invalid_grant", r.status, r.body)
	}
	r = h.post(oauth.PathToken, "grant_type="+url.QueryEscape(oauth.GrantDeviceCode), basic(h.id, h.secret))
	if r.status != http.StatusBadRequest || r.json(t)["error"] != "invalid_request" {
		t.Errorf("no device_code = %d %s; want invalid_request", r.status, r.body)
	}
}

// TestDeviceClients: a public client runs the flow with its client_id
// alone; a client not registered for the grant is unauthorized_client at
// both endpoints; a wrong secret is invalid_client.
func TestDeviceClients(t *testing.T) {
	h := newDeviceHarness(t)
	r := h.post(oauth.PathDeviceAuthorize, url.Values{"client_id": {h.public}, "scope": {"openid"}}.Encode())
	if r.status != http.StatusOK {
		t.Fatalf("public device_authorize = %d %s", r.status, r.body)
	}
	m := r.json(t)
	h.decide(str(m["user_code"]), true)
	r = h.post(oauth.PathToken, url.Values{"grant_type": {oauth.GrantDeviceCode}, "client_id": {h.public},
		"device_code": {str(m["device_code"])}}.Encode())
	if r.status != http.StatusOK || str(r.json(t)["id_token"]) == "" {
		t.Fatalf("public poll = %d %s; want tokens with an ID Token", r.status, r.body)
	}
	if str(r.json(t)["refresh_token"]) != "" {
		t.Error("a refresh token with openid and without offline_access")
	}

	id, secret := h.client(confidential("no device"))
	for _, path := range []string{oauth.PathDeviceAuthorize, oauth.PathToken} {
		r = h.post(path, url.Values{"grant_type": {oauth.GrantDeviceCode}, "device_code": {"x"}}.Encode(), basic(id, secret))
		if r.status != http.StatusBadRequest || r.json(t)["error"] != "unauthorized_client" {
			t.Errorf("%s by a client without the grant = %d %s; want unauthorized_client", path, r.status, r.body)
		}
	}
	r = h.post(oauth.PathDeviceAuthorize, "scope=openid", basic(h.id, "wrong"))
	if r.status != http.StatusUnauthorized || r.json(t)["error"] != "invalid_client" {
		t.Errorf("wrong secret = %d %s; want invalid_client", r.status, r.body)
	}
	r = h.post(oauth.PathDeviceAuthorize, "scope=bad%22scope", basic(h.id, h.secret))
	if r.status != http.StatusBadRequest || r.json(t)["error"] != "invalid_scope" {
		t.Errorf("bad scope = %d %s; want invalid_scope", r.status, r.body)
	}
}

// TestDeviceRegistration: dynamic client registration takes the grant,
// for a public client too, and the client it makes starts a device flow.
func TestDeviceRegistration(t *testing.T) {
	h := newDeviceHarness(t)
	r := h.json(http.MethodPost, oauth.PathRegister, `{"client_name":"Kitchen radio","token_endpoint_auth_method":"none",
		"grant_types":["`+oauth.GrantDeviceCode+`","refresh_token"]}`, adminBearer)
	if r.status != http.StatusCreated {
		t.Fatalf("DCR of a device client = %d %s", r.status, r.body)
	}
	id := str(r.json(t)["client_id"])
	r = h.post(oauth.PathDeviceAuthorize, url.Values{"client_id": {id}}.Encode())
	if r.status != http.StatusOK || str(r.json(t)["user_code"]) == "" {
		t.Errorf("device_authorize of the registered client = %d %s", r.status, r.body)
	}
}

// TestDeviceDiscovery: the metadata names the endpoint and the grant
// when the verification page is served, and neither when it is not, nor
// is the endpoint mounted then.
func TestDeviceDiscovery(t *testing.T) {
	for _, browser := range []bool{true, false} {
		opts := []harnessOption{withJWT(t, token.ES256)}
		if browser {
			opts = append(opts, withBrowser)
		}
		h := newHarness(t, opts...)
		req, _ := http.NewRequestWithContext(t.Context(), http.MethodGet, h.srv.URL+"/.well-known/oauth-authorization-server", nil)
		m := h.do(req).json(t)
		grants, _ := m["grant_types_supported"].([]any)
		listed := slices.Contains(grants, any(oauth.GrantDeviceCode))
		if listed != browser || (m["device_authorization_endpoint"] == h.cfg.Issuer+oauth.PathDeviceAuthorize) != browser {
			t.Errorf("browser %v: metadata %v", browser, m)
		}
		if r := h.post(oauth.PathDeviceAuthorize, "client_id=x"); (r.status == http.StatusNotFound) == browser {
			t.Errorf("browser %v: device_authorize answered %d", browser, r.status)
		}
	}
}
