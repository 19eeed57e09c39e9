package main

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"
)

// readmeBuildLine is the Quick start's build command. The test copies the
// binary TestMain built instead: the fresh working directory holds no
// source to build from.
const readmeBuildLine = "go build -o tokend ./cmd/tokend"

// quickStartVars are the shell variables the Quick start sets and the
// test reads back to check the answers against.
var quickStartVars = []string{"CLIENT_ID", "ACCESS", "REFRESH", "PUBLIC_ID", "PUBLIC_ACCESS", "TOKEN"}

// moduleRoot is the directory holding go.mod, above the test's directory.
func moduleRoot(t *testing.T) string {
	t.Helper()
	dir, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			t.Fatal("no go.mod above the test's directory")
		}
		dir = parent
	}
}

// quickStartBlocks returns the ```sh blocks of README.md's Quick start
// section (from "## Quick start" to the next "## " heading), in order.
func quickStartBlocks(t *testing.T) []string {
	t.Helper()
	readme, err := os.ReadFile(filepath.Join(moduleRoot(t), "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	var blocks []string
	var block *strings.Builder
	inSection := false
	sc := bufio.NewScanner(bytes.NewReader(readme))
	for sc.Scan() {
		line := sc.Text()
		switch {
		case block == nil && strings.HasPrefix(line, "## "):
			if inSection {
				return blocks
			}
			inSection = line == "## Quick start"
		case !inSection:
		case block == nil && line == "```sh":
			block = &strings.Builder{}
		case block != nil && line == "```":
			blocks = append(blocks, block.String())
			block = nil
		case block != nil:
			block.WriteString(line + "\n")
		}
	}
	if !inSection {
		t.Fatal(`README.md has no "## Quick start" section`)
	}
	return blocks
}

// quickStartScript joins the blocks into one script: each block follows a
// "::block N" marker line (stdout and stderr are one stream), the README's build line becomes a copy of the built
// binary, and the end prints the variables the README set. The EXIT trap
// stops the `tokend serve &` of the first block and waits for it.
func quickStartScript(t *testing.T, blocks []string) string {
	t.Helper()
	var s strings.Builder
	s.WriteString("trap 'kill $(jobs -p) 2>/dev/null; wait' EXIT\n")
	for i, b := range blocks {
		if i == 0 {
			if strings.Count(b, readmeBuildLine+"\n") != 1 {
				t.Fatalf("the Quick start's first block does not build with %q:\n%s", readmeBuildLine, b)
			}
			b = strings.Replace(b, readmeBuildLine+"\n", `cp "$QUICKSTART_TOKEND" ./tokend`+"\n", 1)
		}
		fmt.Fprintf(&s, "echo '::block %d'\n", i)
		s.WriteString(b)
	}
	s.WriteString("echo '::vars'\n")
	s.WriteString("for v in " + strings.Join(quickStartVars, " ") + "; do echo \"$v=${!v-}\"; done\n")
	return s.String()
}

// quickStartEnv is the environment of the script: none of the caller's
// TOKEND_* settings (the README uses the defaults), a curl configuration
// of the test's own, and, when port 9443 is taken, TOKEND_ADDR moving
// the server and a curl connect-to sending the README's
// https://localhost:9443 there, so the commands run as printed.
func quickStartEnv(t *testing.T) []string {
	t.Helper()
	var env []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "TOKEND_") && !strings.HasPrefix(kv, "CURL_HOME=") {
			env = append(env, kv)
		}
	}
	curlHome := t.TempDir()
	curlrc := ""
	if ln, err := net.Listen("tcp", "localhost:9443"); err != nil {
		addr := freeAddr(t)
		t.Logf("port 9443 is taken; serving on %s (TOKEND_ADDR) and pointing curl there", addr)
		env = append(env, "TOKEND_ADDR="+addr)
		curlrc = "connect-to = localhost:9443:" + addr + "\n"
	} else {
		ln.Close()
	}
	if err := os.WriteFile(filepath.Join(curlHome, ".curlrc"), []byte(curlrc), 0o600); err != nil {
		t.Fatal(err)
	}
	return append(env, "CURL_HOME="+curlHome, "QUICKSTART_TOKEND="+tokendBin)
}

// runQuickStart runs the script in one `bash -euo pipefail` in a fresh
// directory and returns its output, split at the block markers, and the
// variables it printed at the end.
func runQuickStart(t *testing.T, script string) (blocks []string, vars map[string]string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, "bash", "-euo", "pipefail", "-c", script)
	cmd.Dir = t.TempDir()
	cmd.Env = quickStartEnv(t)
	// Its own process group, so that a timeout or a failed test stops the
	// background server too.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.Cancel = func() error { return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) }
	cmd.WaitDelay = 5 * time.Second
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	err := cmd.Run()
	_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
	if err != nil {
		t.Fatalf("the Quick start failed: %v\n%s", err, out.String())
	}
	t.Logf("the Quick start's output:\n%s", out.String())
	text, varText, ok := strings.Cut(out.String(), "::vars\n")
	if !ok {
		t.Fatalf("no variables printed at the end:\n%s", out.String())
	}
	vars = map[string]string{}
	for _, line := range strings.Split(varText, "\n") {
		if k, v, ok := strings.Cut(line, "="); ok {
			vars[k] = v
		}
	}
	marker := regexp.MustCompile(`(?m)^::block \d+\n`)
	parts := marker.Split(text, -1)
	return parts[1:], vars
}

// wantLines fails t unless output holds each line, whole, at least once.
func wantLines(t *testing.T, what, output string, lines ...string) {
	t.Helper()
	have := strings.Split(strings.ReplaceAll(output, "\r", ""), "\n")
	for _, want := range lines {
		found := false
		for _, l := range have {
			found = found || l == want
		}
		if !found {
			t.Errorf("%s: no line %q in:\n%s", what, want, output)
		}
	}
}

// TestQuickStartAsPrinted runs the README's Quick start as printed, top
// to bottom in one shell, and checks the answers it says the reader gets.
func TestQuickStartAsPrinted(t *testing.T) {
	for _, tool := range []string{"bash", "curl", "jq"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Skipf("%s is not installed; the Quick start needs it (.ci/run installs curl and jq)", tool)
		}
	}
	blocks := quickStartBlocks(t)
	if len(blocks) != 7 {
		t.Fatalf("the Quick start has %d sh blocks; this test checks 7 (serve, client and user, tokens, revoke, WSO2 client, public client, introspect)", len(blocks))
	}
	out, v := runQuickStart(t, quickStartScript(t, blocks))
	if len(out) != len(blocks) {
		t.Fatalf("%d of %d blocks ran", len(out), len(blocks))
	}
	for _, name := range quickStartVars {
		if v[name] == "" || v[name] == "null" {
			t.Fatalf("the Quick start left %s = %q", name, v[name])
		}
	}
	// Revoking the client_credentials access token names the client; the
	// refresh token of alice's password grant names alice.
	wantLines(t, "revoke", out[3],
		"< HTTP/1.1 200 OK",
		"< RevokedAccessToken: "+v["ACCESS"], "< AuthorizedUser: "+v["CLIENT_ID"],
		"< RevokedRefreshToken: "+v["REFRESH"], "< AuthorizedUser: alice")
	if n := strings.Count(out[3], "< HTTP/1.1 200 OK"); n != 2 {
		t.Errorf("revoke: %d answers 200; want 2", n)
	}
	wantLines(t, "the WSO2 example client", out[4], "client_id:       9TQ5RKeaaTfFyJQJDsjoZfjxRHca")
	wantLines(t, "public client revoke", out[5],
		"HTTP/1.1 200 OK", "RevokedAccessToken: "+v["PUBLIC_ACCESS"], "AuthorizedUser: alice")
	if strings.Contains(out[5], "RevokedRefreshToken") {
		t.Errorf("a public client was sent RevokedRefreshToken:\n%s", out[5])
	}
	// The fresh token is active to its client and to the admin token; the
	// revoked one is not.
	if n := strings.Count(out[6], `{"active":true,`); n != 2 {
		t.Errorf("introspect: %d active answers; want 2:\n%s", n, out[6])
	}
	wantLines(t, "introspect", out[6], `{"active":false}`)
}
