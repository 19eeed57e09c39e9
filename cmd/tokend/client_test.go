package main

import (
	"encoding/json"
	"path/filepath"
	"testing"

	"github.com/tokend/tokend/internal/store/sqlite"
)

// TestClientDisableEnable: the CLI disables and enables a client in the
// store a running server reads, and refuses an unknown client.
func TestClientDisableEnable(t *testing.T) {
	data := t.TempDir()
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
