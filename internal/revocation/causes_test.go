package revocation_test

import (
	"errors"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/tokend/tokend/internal/revocation"
	"github.com/tokend/tokend/internal/store"
	"github.com/tokend/tokend/internal/store/sqlite"
	"github.com/tokend/tokend/internal/testserver"
	"github.com/tokend/tokend/internal/token"
)

// fixture is a SQLite store with two clients, app and other, and four
// grants, each with an access and a refresh token: alice's and bob's at
// app, alice's at other, and app's own.
type fixture struct {
	st       *sqlite.Store
	alice    store.User
	app      store.Client
	grants   map[string]string // grant ID → name
	refresh  map[string]string // name → raw refresh token
	clientID map[string]string // name → client ID
}

var t0 = time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC)

func newFixture(t *testing.T) *fixture {
	t.Helper()
	path := filepath.Join(t.TempDir(), "tokend.db")
	testserver.MigratedDatabase(t, path) // migrated once per process, copied
	st, err := sqlite.Open(path, sqlite.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := st.Close(); err != nil {
			t.Errorf("close: %v", err)
		}
	})
	f := &fixture{st: st, grants: map[string]string{}, refresh: map[string]string{}, clientID: map[string]string{}}
	f.app = store.Client{ID: "app", Name: "app", SecretHash: "sha256$x", AuthMethod: "client_secret_basic", TokenFormat: "opaque", CreatedAt: t0, UpdatedAt: t0}
	other := store.Client{ID: "other", Name: "other", SecretHash: "sha256$y", AuthMethod: "client_secret_basic", TokenFormat: "opaque", CreatedAt: t0, UpdatedAt: t0}
	f.alice = store.User{ID: "u-alice", Username: "alice", PasswordHash: "x", CreatedAt: t0, UpdatedAt: t0}
	bob := store.User{ID: "u-bob", Username: "bob", PasswordHash: "x", CreatedAt: t0, UpdatedAt: t0}
	for _, c := range []store.Client{f.app, other} {
		if err := st.CreateClient(t.Context(), c); err != nil {
			t.Fatal(err)
		}
	}
	for _, u := range []store.User{f.alice, bob} {
		if err := st.CreateUser(t.Context(), u); err != nil {
			t.Fatal(err)
		}
	}
	for _, g := range []struct{ name, client, subject, username string }{
		{"alice@app", "app", f.alice.ID, "alice"},
		{"bob@app", "app", bob.ID, "bob"},
		{"alice@other", "other", f.alice.ID, "alice"},
		{"app", "app", "app", ""},
	} {
		id := "g-" + g.name
		f.grants[id] = g.name
		f.clientID[g.name] = g.client
		access, refresh := newToken(t, store.AccessToken), newToken(t, store.RefreshToken)
		f.refresh[g.name] = refresh
		err := st.CreateGrant(t.Context(), store.Grant{ID: id, ClientID: g.client, Subject: g.subject, Username: g.username, Scope: "read", CreatedAt: t0, ExpiresAt: t0.Add(24 * time.Hour)},
			[]store.Token{
				{Hash: store.HashToken(access), Kind: store.AccessToken, GrantID: id, IssuedAt: t0, ExpiresAt: t0.Add(time.Hour)},
				{Hash: store.HashToken(refresh), Kind: store.RefreshToken, GrantID: id, IssuedAt: t0, ExpiresAt: t0.Add(24 * time.Hour)},
			})
		if err != nil {
			t.Fatal(err)
		}
	}
	return f
}

// signIn creates alice's session sid at app with one grant for each
// scope, each named "<sid>:<scope>".
func signIn(t *testing.T, f *fixture, sid string, scopes ...string) {
	t.Helper()
	sess := store.Session{ID: sid, UserID: f.alice.ID, Username: "alice", AuthTime: t0, Method: "pwd",
		CreatedAt: t0, LastSeen: t0, ExpiresAt: t0.Add(8 * time.Hour)}
	if err := f.st.CreateSession(t.Context(), sess); err != nil {
		t.Fatal(err)
	}
	for _, scope := range scopes {
		id := sid + ":" + scope
		f.grants[id], f.clientID[id] = id, "app"
		g := store.Grant{ID: id, ClientID: "app", Subject: f.alice.ID, Username: "alice", Scope: scope, SessionID: sid, CreatedAt: t0, ExpiresAt: t0.Add(24 * time.Hour)}
		tok := store.Token{Hash: store.HashToken(newToken(t, store.RefreshToken)), Kind: store.RefreshToken, IssuedAt: t0, ExpiresAt: t0.Add(24 * time.Hour)}
		if err := f.st.CreateGrant(t.Context(), g, []store.Token{tok}); err != nil {
			t.Fatal(err)
		}
	}
}

func newToken(t *testing.T, kind store.TokenKind) string {
	t.Helper()
	raw, err := token.New(kind)
	if err != nil {
		t.Fatal(err)
	}
	return raw
}

// TestCauses: each cause revokes the grants it covers, no other, and logs
// one event per grant with its reason, the actor named and the engine's
// time (a refresh reuse: the rotation's).
func TestCauses(t *testing.T) {
	clock := t0.Add(time.Minute)
	rotation := t0.Add(2 * time.Minute)
	touch := func(u store.User) (store.User, error) { u.UpdatedAt = clock; return u, nil }
	touchClient := func(c store.Client) (store.Client, error) { c.UpdatedAt = clock; return c, nil }
	cases := []struct {
		name    string
		revoke  func(t *testing.T, e *revocation.Engine, f *fixture) error
		revoked []string
		reason  string
		actor   string
		at      time.Time
	}{
		{"password change", func(t *testing.T, e *revocation.Engine, f *fixture) error {
			_, err := e.ChangePassword(t.Context(), "alice", "root", touch)
			return err
		}, []string{"alice@app", "alice@other"}, store.ReasonPasswordChange, "root", clock},
		{"user disabled", func(t *testing.T, e *revocation.Engine, f *fixture) error {
			_, err := e.DisableUser(t.Context(), "alice", "root", touch)
			return err
		}, []string{"alice@app", "alice@other"}, store.ReasonUserDisabled, "root", clock},
		{"user deleted", func(t *testing.T, e *revocation.Engine, f *fixture) error {
			_, err := e.DeleteUser(t.Context(), "alice", "admin")
			return err
		}, []string{"alice@app", "alice@other"}, store.ReasonUserDeleted, "admin", clock},
		{"client deleted", func(t *testing.T, e *revocation.Engine, f *fixture) error {
			_, err := e.DeleteClient(t.Context(), "app", "root")
			return err
		}, []string{"alice@app", "bob@app", "app"}, store.ReasonClientDeleted, "root", clock},
		{"secret rotated", func(t *testing.T, e *revocation.Engine, f *fixture) error {
			_, err := e.RotateSecret(t.Context(), "app", "admin", touchClient)
			return err
		}, []string{"alice@app", "bob@app", "app"}, store.ReasonSecretRotated, "admin", clock},
		{"global", func(t *testing.T, e *revocation.Engine, f *fixture) error {
			_, err := e.RevokeGlobal(t.Context(), f.alice.ID, "root")
			return err
		}, []string{"alice@app", "alice@other"}, store.ReasonAdmin, "root", clock},
		{"refresh reuse", func(t *testing.T, e *revocation.Engine, f *fixture) error {
			old := store.HashToken(f.refresh["alice@app"])
			next := func() []store.Token {
				return []store.Token{{Hash: store.HashToken(newToken(t, store.AccessToken)), Kind: store.AccessToken, GrantID: "g-alice@app", IssuedAt: rotation, ExpiresAt: rotation.Add(time.Hour)}}
			}
			if _, err := e.RotateRefresh(t.Context(), f.app, old, rotation, next()); err != nil {
				return err
			}
			_, err := e.RotateRefresh(t.Context(), f.app, old, rotation, next())
			if !errors.Is(err, store.ErrRefreshReused) {
				t.Errorf("second rotation: %v; want %v", err, store.ErrRefreshReused)
			}
			return nil
		}, []string{"alice@app"}, store.ReasonRefreshReuse, "app", rotation},
		{"consent withdrawn", func(t *testing.T, e *revocation.Engine, f *fixture) error {
			if err := f.st.PutConsent(t.Context(), store.Consent{UserID: f.alice.ID, ClientID: "app", Scope: "read", CreatedAt: t0, UpdatedAt: t0}); err != nil {
				return err
			}
			_, err := e.ForgetConsent(t.Context(), f.alice.ID, "app", "alice")
			return err
		}, []string{"alice@app"}, store.ReasonConsentRevoked, "alice", clock},
		{"access removed", func(t *testing.T, e *revocation.Engine, f *fixture) error {
			if err := f.st.PutConsent(t.Context(), store.Consent{UserID: f.alice.ID, ClientID: "app", Scope: "read", CreatedAt: t0, UpdatedAt: t0}); err != nil {
				return err
			}
			if _, err := e.RemoveAccess(t.Context(), f.alice.ID, "app", "alice"); err != nil {
				return err
			}
			if _, err := f.st.GetConsent(t.Context(), f.alice.ID, "app"); !errors.Is(err, store.ErrNotFound) {
				t.Errorf("consent after RemoveAccess: %v; want %v", err, store.ErrNotFound)
			}
			return nil
		}, []string{"alice@app"}, store.ReasonUserRequest, "alice", clock},
		{"access removed without a consent", func(t *testing.T, e *revocation.Engine, f *fixture) error {
			_, err := e.RemoveAccess(t.Context(), f.alice.ID, "other", "alice")
			return err
		}, []string{"alice@other"}, store.ReasonUserRequest, "alice", clock},
		{"own password change", func(t *testing.T, e *revocation.Engine, f *fixture) error {
			signIn(t, f, "s1", "openid")
			signIn(t, f, "s2", "openid")
			if _, err := e.ChangeOwnPassword(t.Context(), "alice", "s1", touch); err != nil {
				return err
			}
			for sid, live := range map[string]bool{"s1": true, "s2": false} {
				s, err := f.st.GetSession(t.Context(), sid)
				if err != nil || s.Live(clock) != live {
					t.Errorf("session %s: live %v, %v; want %v", sid, s.Live(clock), err, live)
				}
			}
			return nil
		}, []string{"alice@app", "alice@other", "s1:openid", "s2:openid"}, store.ReasonPasswordChange, "alice", clock},
		{"sign-out", func(t *testing.T, e *revocation.Engine, f *fixture) error {
			signIn(t, f, "s1", "openid", "openid offline_access")
			_, err := e.EndSession(t.Context(), "s1", "alice")
			return err
		}, []string{"s1:openid"}, store.ReasonSessionEnded, "alice", clock},
		{"code reuse", func(t *testing.T, e *revocation.Engine, f *fixture) error {
			code := store.AuthCode{Hash: store.HashToken("code"), ClientID: "app", UserID: f.alice.ID, Username: "alice",
				SessionID: "s1", Scope: "read", AuthTime: t0, CreatedAt: t0, ExpiresAt: rotation.Add(time.Minute)}
			if err := f.st.CreateAuthCode(t.Context(), code); err != nil {
				return err
			}
			for i, id := range []string{"g-code", "g-code-again"} {
				f.grants[id], f.clientID[id] = id, "app"
				g := store.Grant{ID: id, ClientID: "app", Subject: f.alice.ID, Username: "alice", Scope: "read", CreatedAt: rotation, ExpiresAt: rotation.Add(time.Hour)}
				tok := store.Token{Hash: store.HashToken(newToken(t, store.AccessToken)), Kind: store.AccessToken, IssuedAt: rotation, ExpiresAt: rotation.Add(time.Hour)}
				_, err := e.ExchangeAuthCode(t.Context(), f.app, code.Hash, rotation, g, []store.Token{tok})
				if want := []error{nil, store.ErrCodeReused}[i]; !errors.Is(err, want) {
					t.Errorf("exchange %d: %v; want %v", i, err, want)
				}
			}
			return nil
		}, []string{"g-code"}, store.ReasonCodeReuse, "app", rotation},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			f := newFixture(t)
			e := &revocation.Engine{Store: f.st, Now: func() time.Time { return clock }}
			if err := tc.revoke(t, e, f); err != nil {
				t.Fatal(err)
			}
			evs, err := f.st.Events(t.Context(), 0, 100)
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			for _, ev := range evs {
				got = append(got, f.grants[ev.GrantID])
				if ev.Reason != tc.reason || ev.Actor != tc.actor || !ev.Time.Equal(tc.at) {
					t.Errorf("event of %s: reason %q, actor %q, time %v; want %q, %q, %v",
						f.grants[ev.GrantID], ev.Reason, ev.Actor, ev.Time, tc.reason, tc.actor, tc.at)
				}
				if ev.ClientID != f.clientID[f.grants[ev.GrantID]] {
					t.Errorf("event of %s: client %q; want %q", f.grants[ev.GrantID], ev.ClientID, f.clientID[f.grants[ev.GrantID]])
				}
			}
			slices.Sort(got)
			want := slices.Sorted(slices.Values(tc.revoked))
			if !slices.Equal(got, want) {
				t.Errorf("revoked grants %q; want %q", got, want)
			}
		})
	}
}

// TestRevokeGlobalNeedsASubject: an empty subject names no user and
// revokes nothing, rather than reaching the store as no filter at all.
func TestRevokeGlobalNeedsASubject(t *testing.T) {
	f := newFixture(t)
	e := &revocation.Engine{Store: f.st, Now: func() time.Time { return t0 }}
	if _, err := e.RevokeGlobal(t.Context(), "", "root"); !errors.Is(err, revocation.ErrNoFilter) {
		t.Errorf("RevokeGlobal with no subject: %v; want %v", err, revocation.ErrNoFilter)
	}
	evs, err := f.st.Events(t.Context(), 0, 100)
	if err != nil {
		t.Fatal(err)
	}
	if len(evs) != 0 {
		t.Errorf("%d events logged; want none", len(evs))
	}
}

// TestAt: a revocation through At(t) is logged at t, and the engine it was
// made from keeps its own clock.
func TestAt(t *testing.T) {
	f := newFixture(t)
	e := &revocation.Engine{Store: f.st, Now: func() time.Time { return t0.Add(time.Minute) }}
	change := t0.Add(time.Hour)
	if _, err := e.At(change).DeleteUser(t.Context(), "alice", "admin"); err != nil {
		t.Fatal(err)
	}
	if _, err := e.DeleteClient(t.Context(), "app", "admin"); err != nil {
		t.Fatal(err)
	}
	evs, err := f.st.Events(t.Context(), 0, 100)
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]time.Time{
		store.ReasonUserDeleted:   change,
		store.ReasonClientDeleted: t0.Add(time.Minute),
	}
	if len(evs) != 4 { // alice's two grants, then bob's and app's own at app
		t.Fatalf("%d events; want 4", len(evs))
	}
	for _, ev := range evs {
		if !ev.Time.Equal(want[ev.Reason]) {
			t.Errorf("%s event of %s at %v; want %v", ev.Reason, f.grants[ev.GrantID], ev.Time, want[ev.Reason])
		}
	}
}
