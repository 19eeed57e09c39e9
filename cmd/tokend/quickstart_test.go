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
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// readmeBuildLine is the Quick start's build command. The test copies the
// binary TestMain built instead: the fresh working directory holds no
// source to build from.
const readmeBuildLine = "go build -o tokend ./cmd/tokend"

// readmeAPILine starts the example API in the resource servers' section;
// the test runs the binary it built from the same package instead.
const readmeAPILine = "go run ./examples/api "

// readmeSection is a section of README.md whose sh blocks the test runs,
// in the order of the README, and how many blocks it checks.
type readmeSection struct {
	heading string
	blocks  int
}

// readmeSections are the sections that run one after the other in one
// shell, as a reader follows them: the Quick start, then the JWT bearer
// grant and the resource servers, each said to run after it.
var readmeSections = []readmeSection{
	{"## Quick start", 7},                     // serve, client and user, tokens, revoke, WSO2 client, public client, introspect
	{"## JWT access tokens", 2},               // an assertion exchanged and replayed, the token revoked
	{"## Revocations at resource servers", 1}, // restart, the example API, a token refused once revoked
}

// readmeVars are the shell variables the sections set and the test reads
// back to check the answers against.
var readmeVars = []string{"CLIENT_ID", "ACCESS", "REFRESH", "PUBLIC_ID", "PUBLIC_ACCESS", "TOKEN",
	"MOBILE_ID", "MOBILE_ACCESS", "API_TOKEN", "API_REFUSES"}

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

// sectionBlocks returns the ```sh blocks of README.md's section under
// heading (up to the next "## " heading), in order.
func sectionBlocks(t *testing.T, heading string) []string {
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
			inSection = line == heading
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
		t.Fatalf("README.md has no %q section", heading)
	}
	return blocks
}

// readmeScript joins the blocks into one script: each block follows a
// "::block N" marker line (stdout and stderr are one stream), the README's
// build line becomes a copy of the built binary and its `go run` of the
// example API the API's built binary, and the end prints the variables the
// README set, after tail, the test's own commands. The EXIT trap stops the servers the blocks start in the
// background and waits for them.
func readmeScript(t *testing.T, blocks []string, tail string) string {
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
		b = strings.ReplaceAll(b, readmeAPILine, `"$QUICKSTART_API" `)
		fmt.Fprintf(&s, "echo '::block %d'\n", i)
		s.WriteString(b)
	}
	s.WriteString(tail)
	s.WriteString("echo '::vars'\n")
	s.WriteString("for v in " + strings.Join(readmeVars, " ") + "; do echo \"$v=${!v-}\"; done\n")
	return s.String()
}

// readmeNet is where the script's servers listen. In a network namespace
// of its own (`unshare -rn`, its loopback brought up with ip), the
// README's ports, localhost:9443 and :8081, are free whatever else runs on
// the machine. Without one the script uses the machine's: when 9443 is
// taken, TOKEND_ADDR moves the server and a curl connect-to sends the
// README's https://localhost:9443 there, so the commands run as printed;
// the example API, which is told to trust https://localhost:9443, then
// cannot run, nor when 8081 is taken, and its section is left out.
type readmeNet struct {
	wrap   []string // the command line the script's bash runs under
	env    []string
	curlrc string
	api    bool // the resource servers' section can run
}

// machinePorts is held by a README test that runs on the machine's
// network, not in a namespace of its own, until it ends.
var machinePorts sync.Mutex

func chooseReadmeNet(t *testing.T) readmeNet {
	t.Helper()
	if exec.Command("unshare", "-rn", "ip", "link", "set", "lo", "up").Run() == nil {
		return readmeNet{wrap: []string{"unshare", "-rn", "sh", "-c", `ip link set lo up && exec "$@"`, "sh"}, api: true}
	}
	// Without a namespace the README tests, which run in parallel, would
	// each find 9443 free and start a server on it: one at a time.
	machinePorts.Lock()
	t.Cleanup(machinePorts.Unlock)
	free := func(addr string) bool {
		ln, err := net.Listen("tcp", addr)
		if err == nil {
			ln.Close()
		}
		return err == nil
	}
	if free("localhost:9443") {
		return readmeNet{api: free("localhost:8081")}
	}
	addr := freeAddr(t)
	t.Logf("no network namespace, and port 9443 is taken; serving on %s (TOKEND_ADDR) and pointing curl there", addr)
	return readmeNet{env: []string{"TOKEND_ADDR=" + addr}, curlrc: "connect-to = localhost:9443:" + addr + "\n"}
}

// readmeEnv is the environment of the script: none of the caller's
// TOKEND_* settings (the README uses the defaults), a curl configuration
// of the test's own, and what n adds.
func readmeEnv(t *testing.T, n readmeNet, apiBin string) []string {
	t.Helper()
	var env []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "TOKEND_") && !strings.HasPrefix(kv, "CURL_HOME=") {
			env = append(env, kv)
		}
	}
	curlHome := t.TempDir()
	if err := os.WriteFile(filepath.Join(curlHome, ".curlrc"), []byte(n.curlrc), 0o600); err != nil {
		t.Fatal(err)
	}
	return append(append(env, n.env...), "CURL_HOME="+curlHome, "QUICKSTART_TOKEND="+tokendBin, "QUICKSTART_API="+apiBin)
}

// buildExampleAPI builds examples/api, which the resource servers' section
// runs with `go run`, into a temporary folder.
func buildExampleAPI(t *testing.T) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "api")
	cmd := exec.CommandContext(t.Context(), "go", "build", "-o", bin, "./examples/api")
	cmd.Dir = moduleRoot(t)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build ./examples/api: %v\n%s", err, out)
	}
	return bin
}

// runReadme runs the script in one `bash -euo pipefail` in a fresh
// directory, with n's network and environment, and returns its output,
// split at the block markers, and the variables it printed at the end.
func runReadme(t *testing.T, script string, n readmeNet, apiBin string) (blocks []string, vars map[string]string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 3*time.Minute)
	defer cancel()
	args := append(slices.Clone(n.wrap), "bash", "-euo", "pipefail", "-c", script)
	cmd := exec.CommandContext(ctx, args[0], args[1:]...)
	cmd.Dir = t.TempDir()
	cmd.Env = readmeEnv(t, n, apiBin)
	// Its own process group, so that a timeout or a failed test stops the
	// background servers too.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.Cancel = func() error { return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) }
	cmd.WaitDelay = 5 * time.Second
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	err := cmd.Run()
	_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
	if err != nil {
		t.Fatalf("the README's commands failed: %v\n%s", err, out.String())
	}
	t.Logf("the README's commands' output:\n%s", out.String())
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
// to bottom in one shell, then, in the same shell, its JWT bearer grant
// and its resource server sections, which say they follow it, and checks
// the answers the README says the reader gets.
func TestQuickStartAsPrinted(t *testing.T) {
	t.Parallel()
	for _, tool := range []string{"bash", "curl", "jq"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Skipf("%s is not installed; the Quick start needs it (.ci/run installs curl and jq)", tool)
		}
	}
	n := chooseReadmeNet(t)
	var blocks []string
	for _, sec := range readmeSections {
		b := sectionBlocks(t, sec.heading)
		if len(b) != sec.blocks {
			t.Fatalf("README.md's %q has %d sh blocks; this test checks %d", sec.heading, len(b), sec.blocks)
		}
		if sec.heading == "## Revocations at resource servers" && !n.api {
			t.Logf("leaving out %q: the example API cannot have localhost:9443 and :8081", sec.heading)
			continue
		}
		blocks = append(blocks, b...)
	}
	apiBin := ""
	if n.api {
		apiBin = buildExampleAPI(t)
	}
	tail := ""
	if n.api {
		tail = apiRefusesLine
	}
	out, v := runReadme(t, readmeScript(t, blocks, tail), n, apiBin)
	if len(out) != len(blocks) {
		t.Fatalf("%d of %d blocks ran", len(out), len(blocks))
	}
	for _, name := range readmeVars {
		if (v[name] == "" || v[name] == "null") && (!strings.HasPrefix(name, "API_") || n.api) {
			t.Fatalf("the README left %s = %q", name, v[name])
		}
	}
	checkQuickStart(t, out, v)
	checkJWTBearer(t, out[7:9], v)
	if n.api {
		checkResourceServer(t, out[9], v["API_REFUSES"])
	}
}

// apiRefusesLine, run after the README's blocks, asks the example API
// about the revoked token until it refuses it, for at most 10 s, and
// keeps its last answer in API_REFUSES. The README's own request follows
// the revocation's 200 at once and is refused "within milliseconds": that
// is a time, which a test on a busy machine does not assert; that the
// token is refused is asserted here.
const apiRefusesLine = `for _ in $(seq 100); do
  API_REFUSES=$(curl -s -o /dev/null -w '%{http_code}' -H "Authorization: Bearer $API_TOKEN" http://localhost:8081/hello)
  [ "$API_REFUSES" = 401 ] && break; sleep 0.1
done
`

// checkQuickStart checks the answers of the Quick start's blocks.
func checkQuickStart(t *testing.T, out []string, v map[string]string) {
	t.Helper()
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

// checkJWTBearer checks the JWT bearer grant's blocks: `tokend dev
// assertion` made the issuer's key and said how to trust it, the assertion
// got a JWT access token once and was refused the second time, and the
// token's revocation names the qualified subject.
func checkJWTBearer(t *testing.T, out []string, v map[string]string) {
	t.Helper()
	wantLines(t, "dev assertion", out[0], "  tokend issuer add --iss https://idp.example --jwks-file idp-jwks.json")
	if !strings.Contains(out[0], `"token_type":"Bearer"`) || strings.Count(out[0], `"access_token":"ey`) != 1 {
		t.Errorf("the assertion got no JWT access token:\n%s", out[0])
	}
	wantLines(t, "the assertion replayed", out[0],
		`{"error":"invalid_grant","error_description":"assertion has been used already (jti replay)"}`)
	wantLines(t, "the JWT bearer token revoked", out[1],
		"HTTP/1.1 200 OK", "RevokedAccessToken: "+v["MOBILE_ACCESS"], "AuthorizedUser: alice@https://idp.example")
}

// checkResourceServer checks the example API's answers: the token is
// accepted, then, once revoked, refused as invalid_token (refusedLater is
// the API's answer after apiRefusesLine's wait).
func checkResourceServer(t *testing.T, out, refusedLater string) {
	t.Helper()
	ok, refused := strings.Index(out, "HTTP/1.1 200 OK"), strings.Index(out, "HTTP/1.1 401 Unauthorized")
	switch {
	case ok < 0:
		t.Errorf("the example API did not accept the token:\n%s", out)
	case refused < ok:
		t.Logf("the README's request right after the revocation came before the API heard of it:\n%s", out)
	case !strings.Contains(out[refused:], `error="invalid_token"`):
		t.Errorf("the example API refused the revoked token, but not as invalid_token:\n%s", out)
	}
	if refusedLater != "401" {
		t.Errorf("the example API answers the revoked token %s; want 401", refusedLater)
	}
}
