package main

import (
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/tokend/tokend/internal/stack"
)

// TestDPoPWithANodeClientLibrary drives the real server, with server
// nonces on, from a DPoP client that nobody here wrote: panva's dpop
// package from npm (testdata/dpop-client/client.mjs, the README's
// example). Its tokens are bound to its key (token_type DPoP; cnf.jkt at
// introspection is the key's thumbprint as the library computes it), its
// refresh passes, and UserInfo answers its bound token with its proof.
// Without node and npm the test is skipped, unless TOKEND_REQUIRE_NODE=1.
func TestDPoPWithANodeClientLibrary(t *testing.T) {
	t.Parallel() // its own data folders and free ports; it sets no environment
	node, npm := lookNode(t)
	dir := t.TempDir()
	script, err := os.ReadFile(filepath.Join("testdata", "dpop-client", "client.mjs"))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "client.mjs"), script, 0o600); err != nil {
		t.Fatal(err)
	}
	install := exec.CommandContext(t.Context(), npm, "install", "--no-audit", "--no-fund", "--prefix", dir, "dpop@2")
	if out, err := install.CombinedOutput(); err != nil {
		// No registry (offline): the library cannot be had, which says
		// nothing of tokend.
		if os.Getenv("TOKEND_REQUIRE_NODE") == "1" {
			t.Fatalf("npm install dpop: %v\n%s", err, out)
		}
		t.Skipf("npm install dpop failed (TOKEND_REQUIRE_NODE=1 makes this a failure): %v\n%s", err, out)
	}
	data := t.TempDir()
	srv, err := stack.StartTokend(t.Context(), tokendBin, data, "", "--dpop-nonces")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = srv.Stop() })
	id, _, err := srv.CreateClient(t.Context(), "--name", "spa", "--auth-method", "none",
		"--grant", "password", "--grant", "refresh_token", "--dpop-bound-access-tokens")
	if err != nil {
		t.Fatal(err)
	}
	add := exec.CommandContext(t.Context(), tokendBin, "user", "add", "alice", "--password-stdin", "--data", data)
	add.Stdin = strings.NewReader("correct horse battery staple\n")
	if out, err := add.CombinedOutput(); err != nil {
		t.Fatalf("user add: %v\n%s", err, out)
	}
	run := exec.CommandContext(t.Context(), node, filepath.Join(dir, "client.mjs"))
	run.Env = append(os.Environ(), "TOKEND_URL="+srv.URL, "CLIENT_ID="+id, "USERNAME=alice", "PASSWORD=correct horse battery staple")
	out, err := run.Output()
	if err != nil {
		t.Fatalf("node client.mjs: %v\n%s", err, stderrOf(err))
	}
	var got struct {
		TokenType      string         `json:"token_type"`
		AccessToken    string         `json:"access_token"`
		JKT            string         `json:"jkt"`
		UserinfoStatus int            `json:"userinfo_status"`
		Userinfo       map[string]any `json:"userinfo"`
	}
	if err := json.Unmarshal(out, &got); err != nil {
		t.Fatalf("the client printed %q: %v", out, err)
	}
	if got.TokenType != "DPoP" || got.UserinfoStatus != 200 || got.Userinfo["sub"] == nil {
		t.Fatalf("the client saw %+v; want DPoP tokens and userinfo 200", got)
	}
	if jkt := introspectJKT(t, srv, got.AccessToken); jkt != got.JKT {
		t.Fatalf("the token is bound to %q; the library's key is %q", jkt, got.JKT)
	}
}

func lookNode(t *testing.T) (node, npm string) {
	t.Helper()
	node, err1 := exec.LookPath("node")
	npm, err2 := exec.LookPath("npm")
	if err1 != nil || err2 != nil {
		if os.Getenv("TOKEND_REQUIRE_NODE") == "1" {
			t.Fatalf("node or npm not found: %v %v", err1, err2)
		}
		t.Skip("node and npm are needed (TOKEND_REQUIRE_NODE=1 makes this a failure)")
	}
	return node, npm
}

func stderrOf(err error) string {
	if ee, ok := err.(*exec.ExitError); ok {
		return string(ee.Stderr)
	}
	return ""
}
