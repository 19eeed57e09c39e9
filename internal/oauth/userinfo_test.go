package oauth_test

import (
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/tokend/tokend/internal/identity"
	"github.com/tokend/tokend/internal/oauth"
	"github.com/tokend/tokend/internal/store"
	"github.com/tokend/tokend/internal/token"
)

// userinfoGet calls the UserInfo Endpoint with tok as a Bearer token.
func (h *harness) userinfoGet(tok string) response {
	h.t.Helper()
	return h.get(oauth.PathUserinfo, "Authorization: Bearer "+tok)
}

// userTokens signs a fresh user in at the client with the password grant
// and scope.
func (h *harness) userTokens(id, secret, user, scope string) tokens {
	h.t.Helper()
	h.user(user, "correct horse battery")
	return h.token(id, secret, "grant_type=password&username="+user+"&password=correct+horse+battery&scope="+url.QueryEscape(scope))
}

// checkClaims fails the test unless r is a 200 UserInfo Response of
// exactly want, not to be stored.
func checkClaims(t *testing.T, r response, want map[string]any) {
	t.Helper()
	if r.status != http.StatusOK {
		t.Fatalf("userinfo: %d %s; want 200", r.status, r.body)
	}
	if d := cmp.Diff(r.json(t), want); d != "" {
		t.Errorf("claims (-got +want):\n%s", d)
	}
	if cc, ct := r.header.Get("Cache-Control"), r.header.Get("Content-Type"); cc != "no-store" || !strings.HasPrefix(ct, "application/json") {
		t.Errorf("Cache-Control %q, Content-Type %q; want no-store, application/json", cc, ct)
	}
}

// checkRefused fails the test unless r is status with the OAuth error
// code in the body and a Bearer challenge holding challenge.
func checkRefused(t *testing.T, r response, status int, code, challenge string) {
	t.Helper()
	if r.status != status || r.json(t)["error"] != code {
		t.Errorf("got %d %s; want %d %s", r.status, r.body, status, code)
	}
	if got := r.header.Get("WWW-Authenticate"); got != challenge {
		t.Errorf("WWW-Authenticate %q; want %q", got, challenge)
	}
}

const (
	challengeNoToken      = `Bearer realm="tokend"`
	challengeInvalidToken = `Bearer realm="tokend", error="invalid_token"`
)

// TestUserinfo: a user's access token with openid answers sub, and
// preferred_username with profile, by GET and by POST, in the header or
// in the form.
func TestUserinfo(t *testing.T) {
	h := newHarness(t)
	id, secret := h.client(confidential("app"))
	tk := h.userTokens(id, secret, "alice", "openid profile")
	sub := h.record(tk.Access).Subject
	want := map[string]any{"sub": sub, "preferred_username": "alice"}

	checkClaims(t, h.userinfoGet(tk.Access), want)
	checkClaims(t, h.get(oauth.PathUserinfo, "Authorization: bearer "+tk.Access), want)
	checkClaims(t, h.post(oauth.PathUserinfo, "", "Authorization: Bearer "+tk.Access), want)
	checkClaims(t, h.post(oauth.PathUserinfo, "access_token="+tk.Access), want)

	bare := h.userTokens(id, secret, "bob", "openid")
	checkClaims(t, h.userinfoGet(bare.Access), map[string]any{"sub": h.record(bare.Access).Subject})
}

// TestUserinfoRefusals follows RFC 6750 §3: 401 invalid_token for a token
// that is not an active access token of a user, 403 insufficient_scope
// without openid, 400 invalid_request for a token in the URL or sent two
// ways, 401 with a bare challenge without a token.
func TestUserinfoRefusals(t *testing.T) {
	h := newHarness(t)
	id, secret := h.client(confidential("app"))
	tk := h.userTokens(id, secret, "alice", "openid profile")
	noOpenID := h.userTokens(id, secret, "bob", "profile read")
	app := h.token(id, secret, "grant_type=client_credentials&scope=openid")

	checkRefused(t, h.get(oauth.PathUserinfo), http.StatusUnauthorized, "invalid_token", challengeNoToken)
	checkRefused(t, h.get(oauth.PathUserinfo, basic(id, secret)), http.StatusUnauthorized, "invalid_token", challengeNoToken)
	checkRefused(t, h.userinfoGet("tka_not-a-token"), http.StatusUnauthorized, "invalid_token", challengeInvalidToken)
	checkRefused(t, h.userinfoGet(tk.Refresh), http.StatusUnauthorized, "invalid_token", challengeInvalidToken)
	checkRefused(t, h.userinfoGet(app.Access), http.StatusUnauthorized, "invalid_token", challengeInvalidToken)
	// A client whose chosen client_id is a user's ID: its own token's
	// subject names the user, but the token was not issued for the user.
	alice := h.record(tk.Access).Subject
	spec := confidential("impostor")
	spec.ID = alice
	impID, impSecret := h.client(spec)
	impostor := h.token(impID, impSecret, "grant_type=client_credentials&scope=openid+profile")
	if rec := h.record(impostor.Access); rec.Subject != alice {
		t.Fatalf("the impostor's token has subject %q; want %q", rec.Subject, alice)
	}
	checkRefused(t, h.userinfoGet(impostor.Access), http.StatusUnauthorized, "invalid_token", challengeInvalidToken)
	checkRefused(t, h.userinfoGet(noOpenID.Access), http.StatusForbidden, "insufficient_scope",
		`Bearer realm="tokend", error="insufficient_scope", scope="openid"`)
	checkRefused(t, h.get(oauth.PathUserinfo+"?access_token="+tk.Access), http.StatusBadRequest, "invalid_request",
		`Bearer realm="tokend", error="invalid_request"`)
	checkRefused(t, h.post(oauth.PathUserinfo, "access_token="+tk.Access, "Authorization: Bearer "+tk.Access),
		http.StatusBadRequest, "invalid_request", `Bearer realm="tokend", error="invalid_request"`)

	req, _ := http.NewRequestWithContext(t.Context(), http.MethodPut, h.srv.URL+oauth.PathUserinfo, nil)
	if r := h.do(req); r.status != http.StatusMethodNotAllowed || r.header.Get("Allow") != "GET, POST" {
		t.Errorf("PUT: %d, Allow %q; want 405, GET, POST", r.status, r.header.Get("Allow"))
	}
	// None of this harmed the good token.
	checkClaims(t, h.userinfoGet(tk.Access), map[string]any{"sub": h.record(tk.Access).Subject, "preferred_username": "alice"})
}

// TestUserinfoRevokedOrExpired: a token fails at the UserInfo Endpoint
// the moment it is revoked, with its client disabled, and once it
// expires.
func TestUserinfoRevokedOrExpired(t *testing.T) {
	h := newHarness(t)
	id, secret := h.client(confidential("app"))
	revoked := h.userTokens(id, secret, "alice", "openid")
	checkClaims(t, h.userinfoGet(revoked.Access), map[string]any{"sub": h.record(revoked.Access).Subject})
	// Revoking the refresh token revokes the grant, its access token with it.
	checkRevokedOK(t, h.post(oauth.PathRevoke, "token="+revoked.Refresh, basic(id, secret)))
	checkRefused(t, h.userinfoGet(revoked.Access), http.StatusUnauthorized, "invalid_token", challengeInvalidToken)

	live := h.userTokens(id, secret, "bob", "openid")
	setDisabled := func(disabled bool) {
		t.Helper()
		if _, err := h.store.UpdateClient(t.Context(), id, func(c store.Client) (store.Client, error) {
			c.Disabled = disabled
			return c, nil
		}, nil); err != nil {
			t.Fatal(err)
		}
	}
	setDisabled(true)
	checkRefused(t, h.userinfoGet(live.Access), http.StatusUnauthorized, "invalid_token", challengeInvalidToken)
	setDisabled(false)
	checkClaims(t, h.userinfoGet(live.Access), map[string]any{"sub": h.record(live.Access).Subject})

	h.clock.Advance(oauth.DefaultAccessTokenTTL + time.Second)
	checkRefused(t, h.userinfoGet(live.Access), http.StatusUnauthorized, "invalid_token", challengeInvalidToken)
}

// TestUserinfoJWT: a JWT access token is honoured as an opaque one is,
// and fails once revoked.
func TestUserinfoJWT(t *testing.T) {
	h := newHarness(t, withJWT(t, token.ES256))
	id, secret := h.client(jwtClient("app"))
	tk := h.userTokens(id, secret, "alice", "openid profile")
	if !strings.HasPrefix(tk.Access, "ey") {
		t.Fatalf("access token %.20q… is not a JWT", tk.Access)
	}
	checkClaims(t, h.userinfoGet(tk.Access), map[string]any{"sub": h.record(tk.Access).Subject, "preferred_username": "alice"})
	checkRevokedOK(t, h.post(oauth.PathRevoke, "token="+url.QueryEscape(tk.Access), basic(id, secret)))
	checkRefused(t, h.userinfoGet(tk.Access), http.StatusUnauthorized, "invalid_token", challengeInvalidToken)
}

// TestUserinfoUserGoneOrDisabled: disabling or deleting a user revokes
// the user's grants; were a token to outlive that (here the store is
// changed without the revocation), the UserInfo Endpoint still refuses
// it rather than answer for a user who is gone or disabled.
func TestUserinfoUserGoneOrDisabled(t *testing.T) {
	h := newHarness(t)
	id, secret := h.client(confidential("app"))
	tk := h.userTokens(id, secret, "alice", "openid")
	if _, err := h.store.UpdateUser(t.Context(), "alice", func(u store.User) (store.User, error) {
		u.Disabled = true
		return u, nil
	}, nil); err != nil {
		t.Fatal(err)
	}
	checkRefused(t, h.userinfoGet(tk.Access), http.StatusUnauthorized, "invalid_token", challengeInvalidToken)

	now := h.clock.Now()
	ghost, err := token.New(store.AccessToken)
	if err != nil {
		t.Fatal(err)
	}
	if err := h.store.CreateGrant(t.Context(), store.Grant{ID: "g-ghost", ClientID: id, Subject: "no-such-user-id", Username: "ghost",
		Scope: "openid", CreatedAt: now, ExpiresAt: now.Add(time.Hour)},
		[]store.Token{{Hash: store.HashToken(ghost), Kind: store.AccessToken, GrantID: "g-ghost", IssuedAt: now, ExpiresAt: now.Add(time.Hour)}}); err != nil {
		t.Fatal(err)
	}
	if !h.active(ghost) {
		t.Fatal("the ghost's token introspects inactive; the test needs it active")
	}
	checkRefused(t, h.userinfoGet(ghost), http.StatusUnauthorized, "invalid_token", challengeInvalidToken)
}

// TestUserinfoProfileClaims: profile releases the user's names, email the
// address and whether it was verified; a claim the user lacks is left
// out, and a scope not granted releases nothing.
func TestUserinfoProfileClaims(t *testing.T) {
	h := newHarness(t)
	id, secret := h.client(confidential("app"))
	for name, set := range map[string]func(*store.User){
		"carol": func(u *store.User) {
			u.Name, u.GivenName, u.FamilyName = "Carol Danvers", "Carol", "Danvers"
			u.Email, u.EmailVerified = "carol@example.com", true
		},
		"dave": func(u *store.User) { u.Email = "dave@example.com" },
		"erin": func(u *store.User) { u.GivenName = "Erin" },
	} {
		u, err := identity.NewUser(name, "correct horse battery", false, h.clock.Now())
		if err != nil {
			t.Fatal(err)
		}
		set(&u)
		if err := h.store.CreateUser(t.Context(), u); err != nil {
			t.Fatal(err)
		}
	}
	cases := []struct {
		user, scope string
		want        map[string]any
	}{
		{"carol", "openid profile email", map[string]any{"preferred_username": "carol", "name": "Carol Danvers",
			"given_name": "Carol", "family_name": "Danvers", "email": "carol@example.com", "email_verified": true}},
		{"carol", "openid profile", map[string]any{"preferred_username": "carol", "name": "Carol Danvers",
			"given_name": "Carol", "family_name": "Danvers"}},
		{"carol", "openid email", map[string]any{"email": "carol@example.com", "email_verified": true}},
		{"carol", "openid", map[string]any{}},
		{"dave", "openid profile email", map[string]any{"preferred_username": "dave", "email": "dave@example.com", "email_verified": false}},
		{"erin", "openid profile email", map[string]any{"preferred_username": "erin", "given_name": "Erin"}},
	}
	for _, c := range cases {
		t.Run(c.user+" "+c.scope, func(t *testing.T) {
			tk := h.token(id, secret, "grant_type=password&username="+c.user+"&password=correct+horse+battery&scope="+url.QueryEscape(c.scope))
			c.want["sub"] = h.record(tk.Access).Subject
			checkClaims(t, h.userinfoGet(tk.Access), c.want)
		})
	}
}
