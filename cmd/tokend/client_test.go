package main

import (
	"encoding/json"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/tokend/tokend/internal/store/sqlite"
)

// TestClientDisableEnable: the CLI disables and enables a client in the
// store a running server reads, and refuses an unknown client.
func TestClientDisableEnable(t *testing.T) {
	t.Parallel()
	data := migratedData(t)
	out, err := cli(t, "", "client", "create", "--name", "app", "--json", "--data", data)
	if err != nil {
		t.Fatal(err)
	}
	var c struct {
		ID string `json:"client_id"`
	}
	if err := json.Unmarshal([]byte(out), &c); err != nil {
		t.Fatal(err)
	}
	disabled := func() bool {
		st, err := sqlite.Open(filepath.Join(data, "tokend.db"), sqlite.Options{})
		if err != nil {
			t.Fatal(err)
		}
		defer st.Close()
		got, err := st.GetClient(t.Context(), c.ID)
		if err != nil {
			t.Fatal(err)
		}
		return got.Disabled
	}
	for _, step := range []struct {
		cmd  string
		want bool
	}{{"disable", true}, {"enable", false}} {
		if _, err := cli(t, "", "client", step.cmd, c.ID, "--data", data); err != nil {
			t.Fatalf("client %s: %v", step.cmd, err)
		}
		if got := disabled(); got != step.want {
			t.Errorf("after client %s: disabled %t; want %t", step.cmd, got, step.want)
		}
	}
	if _, err := cli(t, "", "client", "disable", "no-such-client", "--data", data); err == nil {
		t.Error("disabling an unknown client succeeded")
	}
}

// TestClientCreateLogoutFlags: client create takes the redirection URIs,
// the post-logout ones and the back-channel logout URI, refuses those the
// registry refuses, and client show prints them.
func TestClientCreateLogoutFlags(t *testing.T) {
	t.Parallel()
	data := migratedData(t)
	out, err := cli(t, "", "client", "create", "--name", "rp", "--id", "rp1", "--json", "--data", data,
		"--grant", "authorization_code", "--grant", "refresh_token",
		"--redirect-uri", "https://rp.example/cb", "--redirect-uri", "com.example.rp:/cb",
		"--post-logout-redirect-uri", "https://rp.example/bye",
		"--backchannel-logout-uri", "https://rp.example/bc", "--backchannel-logout-session-required")
	if err != nil {
		t.Fatal(err)
	}
	var c struct {
		RedirectURIs      []string `json:"redirect_uris"`
		PostLogout        []string `json:"post_logout_redirect_uris"`
		Backchannel       string   `json:"backchannel_logout_uri"`
		BackchannelNeedsS bool     `json:"backchannel_logout_session_required"`
	}
	if err := json.Unmarshal([]byte(out), &c); err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(c.RedirectURIs, []string{"https://rp.example/cb", "com.example.rp:/cb"}) ||
		!slices.Equal(c.PostLogout, []string{"https://rp.example/bye"}) || c.Backchannel != "https://rp.example/bc" || !c.BackchannelNeedsS {
		t.Errorf("client create --json printed %s; want the logout metadata given", out)
	}
	show, err := cli(t, "", "client", "show", "rp1", "--data", data)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{
		"redirect URIs:   https://rp.example/cb com.example.rp:/cb", "post-logout:     https://rp.example/bye",
		"back-channel:    https://rp.example/bc (session required)",
	} {
		if !strings.Contains(show, want) {
			t.Errorf("client show printed\n%s\nwithout %q", show, want)
		}
	}
	for _, bad := range [][]string{
		{"--redirect-uri", "http://rp.example/cb"},
		{"--redirect-uri", "https://rp.example/cb", "--post-logout-redirect-uri", "https://rp.example/bye#x"},
		{"--backchannel-logout-uri", "http://rp.example/bc"},
		{"--grant", "authorization_code"},
	} {
		args := append([]string{"client", "create", "--name", "bad", "--data", data}, bad...)
		if _, err := cli(t, "", args...); err == nil {
			t.Errorf("client create %q succeeded; want refused", bad)
		}
	}
}

// TestClientCreateTokenExchange: --token-exchange is what allows a client
// the token exchange grant (RFC 8693): it gets the grant type, client show
// says so, and listing the grant type without the flag, or the flag for a
// public client, is refused.
func TestClientCreateTokenExchange(t *testing.T) {
	t.Parallel()
	data := migratedData(t)
	out, err := cli(t, "", "client", "create", "--name", "api", "--id", "api1", "--token-exchange", "--json", "--data", data)
	if err != nil {
		t.Fatal(err)
	}
	var c struct {
		GrantTypes    []string `json:"grant_types"`
		TokenExchange bool     `json:"ext_token_exchange"`
	}
	if err := json.Unmarshal([]byte(out), &c); err != nil {
		t.Fatal(err)
	}
	if !c.TokenExchange || !slices.Contains(c.GrantTypes, "urn:ietf:params:oauth:grant-type:token-exchange") {
		t.Errorf("client create --token-exchange printed %s; want ext_token_exchange and the grant type", out)
	}
	show, err := cli(t, "", "client", "show", "api1", "--data", data)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(show, "token exchange:  true") {
		t.Errorf("client show:\n%s\nwant a line saying token exchange is allowed", show)
	}
	for _, bad := range [][]string{
		{"--grant", "urn:ietf:params:oauth:grant-type:token-exchange"},
		{"--token-exchange", "--auth-method", "none"},
	} {
		args := append([]string{"client", "create", "--name", "bad", "--data", data}, bad...)
		if _, err := cli(t, "", args...); err == nil {
			t.Errorf("client create %q succeeded; want refused", bad)
		}
	}
}
