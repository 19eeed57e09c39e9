package main

import (
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/tokend/tokend/internal/store/sqlite"
)

// TestUserCommandsRevoke: changing a user's password, disabling and
// deleting the user with the CLI each revoke every grant of that user, and
// only theirs, with the reason the log records and the actor admin.
func TestUserCommandsRevoke(t *testing.T) {
	t.Parallel()
	data := migratedData(t)
	ids := map[string]string{}
	for _, name := range []string{"ann", "ben", "cai", "dee"} {
		if _, err := cli(t, "a good password\n", "user", "add", name, "--password-stdin", "--data", data); err != nil {
			t.Fatal(err)
		}
	}
	out, err := cli(t, "", "user", "list", "--data", data)
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range strings.Split(out, "\n") {
		if f := strings.Fields(line); len(f) > 1 {
			ids[f[0]] = f[1]
		}
	}
	seedGrants(t, data, time.Hour,
		[2]string{ids["ann"], "web"}, [2]string{ids["ann"], "app"},
		[2]string{ids["ben"], "web"}, [2]string{ids["cai"], "web"}, [2]string{ids["dee"], "web"})

	steps := []struct {
		args   []string
		stdin  string
		user   string
		reason string
		grants int
	}{
		{[]string{"user", "passwd", "ann", "--password-stdin"}, "another good password\n", "ann", "password_change", 2},
		{[]string{"user", "disable", "ben"}, "", "ben", "user_disabled", 1},
		{[]string{"user", "delete", "cai"}, "", "cai", "user_deleted", 1},
	}
	for _, s := range steps {
		if _, err := cli(t, s.stdin, append(s.args, "--data", data)...); err != nil {
			t.Fatalf("tokend %s: %v", strings.Join(s.args, " "), err)
		}
	}
	evs := auditEvents(t, data)
	got := map[string]int{}
	for _, e := range evs {
		if e.Actor != "admin" || e.Tokens != 2 {
			t.Errorf("event %+v; want actor admin and 2 tokens", e)
		}
		for _, s := range steps {
			if e.Subject == ids[s.user] && e.Reason == s.reason {
				got[s.user]++
			}
		}
	}
	for _, s := range steps {
		if got[s.user] != s.grants {
			t.Errorf("%s: %d events with reason %s; want %d", s.user, got[s.user], s.reason, s.grants)
		}
	}
	if len(evs) != 4 {
		t.Errorf("%d events; want 4 (dee's grant untouched): %+v", len(evs), evs)
	}
}

// TestUserAddProfile: user add stores --email and --name as the user's
// email address (not marked verified) and display name.
func TestUserAddProfile(t *testing.T) {
	t.Parallel()
	data := migratedData(t)
	if _, err := cli(t, "a good password\n", "user", "add", "eve", "--password-stdin", "--email", "eve@example.com", "--name", "Eve Example", "--data", data); err != nil {
		t.Fatal(err)
	}
	st, err := sqlite.Open(filepath.Join(data, "tokend.db"), sqlite.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	u, err := st.GetUser(t.Context(), "eve")
	if err != nil {
		t.Fatal(err)
	}
	if u.Email != "eve@example.com" || u.EmailVerified || u.Name != "Eve Example" {
		t.Errorf("stored email %q verified %t name %q; want eve@example.com, false, Eve Example", u.Email, u.EmailVerified, u.Name)
	}
}

// TestUserEnableLogged: disabling and enabling a user who holds no grant
// with the CLI revokes nothing and logs both, as subject entries (no
// grant, no client) by admin: user_disabled, then user_enabled.
func TestUserEnableLogged(t *testing.T) {
	t.Parallel()
	data := migratedData(t)
	if _, err := cli(t, "a good password\n", "user", "add", "eve", "--password-stdin", "--data", data); err != nil {
		t.Fatal(err)
	}
	for _, sub := range []string{"disable", "enable"} {
		if _, err := cli(t, "", "user", sub, "eve", "--data", data); err != nil {
			t.Fatalf("tokend user %s: %v", sub, err)
		}
	}
	evs := auditEvents(t, data)
	if len(evs) != 2 || evs[0].Reason != "user_disabled" || evs[1].Reason != "user_enabled" {
		t.Fatalf("log %+v; want user_disabled, then user_enabled", evs)
	}
	for _, e := range evs {
		if e.GrantID != "" || e.ClientID != "" || e.Actor != "admin" || e.Tokens != 0 {
			t.Errorf("event %+v; want a subject entry by admin", e)
		}
	}
}
