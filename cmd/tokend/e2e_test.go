package main

import (
	"bufio"
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"

	"github.com/tokend/tokend/internal/identity"
)

// tokendBin is the real binary, built once for the end-to-end tests.
var tokendBin string

// TestMain builds the binary the tests run. Password hashes the CLI makes
// in the test process are cheap (identity.UseTestHashCost): the cost of
// argon2id is tested in internal/identity, and here it would only slow
// every user added under the race detector. Tests that neither set the
// environment nor change directory run in parallel (t.Parallel): each has
// its own data folders and addresses, and most of their time is spent
// waiting for processes and disks.
func TestMain(m *testing.M) {
	identity.UseTestHashCost()
	dir, err := os.MkdirTemp("", "tokend-bin-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	tokendBin = filepath.Join(dir, "tokend")
	build := exec.Command("go", "build", "-o", tokendBin, ".")
	build.Stdout, build.Stderr = os.Stderr, os.Stderr
	if err := build.Run(); err != nil {
		fmt.Fprintln(os.Stderr, "build tokend:", err)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// instance is a running `tokend serve` on its own data folder.
type instance struct {
	t    *testing.T
	data string
	addr string // host:port
	base string // https://host:port
	cmd  *exec.Cmd
	env  []string
	out  *bytes.Buffer
}

// tokend runs a CLI command against the instance's data folder.
func (in *instance) tokend(stdin string, args ...string) string {
	in.t.Helper()
	cmd := exec.CommandContext(in.t.Context(), tokendBin, args...)
	cmd.Env = in.env
	cmd.Stdin = strings.NewReader(stdin)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		in.t.Fatalf("tokend %s: %v\n%s", strings.Join(args, " "), err, stderr.String())
	}
	return string(out)
}

// startTokend starts `tokend serve` with no flags on a fresh data folder.
// The seed calls https://localhost:9443, so that is where it listens when
// the port is free; otherwise TOKEND_ADDR moves it (and the curl URLs).
func startTokend(t *testing.T) *instance {
	t.Helper()
	data := t.TempDir()
	addr := "localhost:9443"
	if ln, err := net.Listen("tcp", addr); err != nil {
		ln2, err := net.Listen("tcp", "localhost:0")
		if err != nil {
			t.Fatal(err)
		}
		addr = ln2.Addr().String()
		ln2.Close()
		t.Logf("port 9443 is taken; serving on %s", addr)
	} else {
		ln.Close()
	}
	return startTokendAt(t, data, addr)
}

// startTokendAt starts `tokend serve` with no flags on the data folder,
// listening on addr: TLS with the folder's self-signed certificate, and
// the issuer https://addr; extraEnv adds settings (with
// TOKEND_INSECURE_HTTP=true it serves plain HTTP, issuer http://addr).
func startTokendAt(t *testing.T, data, addr string, extraEnv ...string) *instance {
	t.Helper()
	env := append(append(os.Environ(), "TOKEND_DATA="+data, "TOKEND_ADDR="+addr), extraEnv...)
	base := "https://" + addr
	if slices.Contains(extraEnv, "TOKEND_INSECURE_HTTP=true") {
		base = "http://" + addr
	}
	in := &instance{t: t, data: data, addr: addr, base: base, env: env, out: &bytes.Buffer{}}
	in.cmd = exec.Command(tokendBin, "serve")
	in.cmd.Env = env
	stdout, err := in.cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	in.cmd.Stderr = in.out
	if err := in.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if in.cmd.ProcessState == nil {
			_ = in.cmd.Process.Kill()
			_ = in.cmd.Wait()
		}
	})
	ready := make(chan string, 1)
	exited := make(chan struct{}) // stdout ended: the process is gone
	go func() {
		defer close(exited)
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			if strings.Contains(sc.Text(), "listening on") {
				ready <- sc.Text()
			}
		}
	}()
	// The log is read only once Wait has returned: until then the process
	// may still be writing it.
	select {
	case <-ready:
	case <-exited:
		_ = in.cmd.Wait()
		t.Fatalf("tokend exited before it listened; log:\n%s", in.out)
	case <-time.After(30 * time.Second):
		_ = in.cmd.Process.Kill()
		<-exited
		_ = in.cmd.Wait()
		t.Fatalf("tokend did not start within 30 s; log:\n%s", in.out)
	}
	return in
}

// stop sends SIGTERM and expects a clean exit.
func (in *instance) stop() {
	in.t.Helper()
	_ = in.cmd.Process.Signal(syscall.SIGTERM)
	done := make(chan error, 1)
	go func() { done <- in.cmd.Wait() }()
	select {
	case err := <-done:
		if err != nil {
			in.t.Errorf("tokend exited with %v; log:\n%s", err, in.out)
		}
	case <-time.After(20 * time.Second):
		in.t.Errorf("tokend did not stop on SIGTERM")
	}
}

// httpClient trusts the instance's self-signed certificate, as curl -k does.
func insecureClient() *http.Client {
	return &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{InsecureSkipVerify: true}}}
}

func (in *instance) postForm(path, form string, header ...string) (int, map[string]any) {
	in.t.Helper()
	req, _ := http.NewRequestWithContext(in.t.Context(), http.MethodPost, in.base+path, strings.NewReader(form))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	resp, err := insecureClient().Do(req)
	if err != nil {
		in.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	var m map[string]any
	_ = json.Unmarshal(b, &m)
	return resp.StatusCode, m
}

func (in *instance) adminToken() string {
	in.t.Helper()
	b, err := os.ReadFile(filepath.Join(in.data, "admin-token"))
	if err != nil {
		in.t.Fatal(err)
	}
	return strings.TrimSpace(string(b))
}

func (in *instance) active(tok string) bool {
	in.t.Helper()
	status, m := in.postForm("/oauth2/introspect", "token="+tok, "Authorization", "Bearer "+in.adminToken())
	if status != http.StatusOK {
		in.t.Fatalf("introspect: %d %v", status, m)
	}
	return m["active"] == true
}

// curlResult is what `curl -v` showed of a response.
type curlResult struct {
	status  int
	headers http.Header
	raw     []string // header lines as sent, names spelt as the server spelt them
	body    string
}

// curl runs a command line from the seed through sh, with the instance's
// URL in place of https://localhost:9443 when it had to move.
func (in *instance) curl(line string, env ...string) curlResult {
	in.t.Helper()
	line = strings.ReplaceAll(line, "https://localhost:9443", in.base)
	cmd := exec.CommandContext(in.t.Context(), "sh", "-c", line)
	cmd.Env = append(os.Environ(), env...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		in.t.Fatalf("%s: %v\n%s", line, err, stderr.String())
	}
	res := curlResult{headers: http.Header{}, body: stdout.String()}
	for _, l := range strings.Split(stderr.String(), "\n") {
		l = strings.TrimRight(l, "\r")
		if !strings.HasPrefix(l, "< ") {
			continue
		}
		l = l[2:]
		if strings.HasPrefix(l, "HTTP/") {
			fmt.Sscanf(strings.SplitN(l, " ", 2)[1], "%d", &res.status)
			continue
		}
		if k, v, ok := strings.Cut(l, ":"); ok {
			res.raw = append(res.raw, l)
			res.headers.Add(k, strings.TrimSpace(v))
		}
	}
	return res
}

// seedHeaders are what the seed shows on every answer of /oauth2/revoke.
var seedHeaders = map[string]string{
	"Cache-Control":                "no-store",
	"Pragma":                       "no-cache",
	"X-Content-Type-Options":       "nosniff",
	"X-XSS-Protection":             "1; mode=block",
	"Access-Control-Allow-Methods": "POST",
	"Access-Control-Allow-Headers": "authorization,Access-Control-Allow-Origin,Content-Type,SOAPAction,Authorization",
	"Content-Type":                 "text/html",
}

func checkSeedAnswer(t *testing.T, r curlResult, revoked map[string]string) {
	t.Helper()
	if r.status != http.StatusOK || r.body != "" {
		t.Fatalf("status %d body %q; want 200 and an empty body", r.status, r.body)
	}
	for k, want := range seedHeaders {
		if got := r.headers.Get(k); got != want {
			t.Errorf("%s: %q; want %q", k, got, want)
		}
	}
	for _, k := range []string{"RevokedAccessToken", "RevokedRefreshToken", "AuthorizedUser"} {
		if got := r.headers.Get(k); got != revoked[k] {
			t.Errorf("%s: %q; want %q", k, got, revoked[k])
		}
		// The seed's spelling, exactly: scripts grep for it.
		if want, ok := revoked[k]; ok && !slices.Contains(r.raw, k+": "+want) {
			t.Errorf("no header line %q in %q", k+": "+want, r.raw)
		}
	}
}

// TestSeedCurlCommands runs the seed's curl commands verbatim (values
// substituted where the seed has placeholders) against the real binary.
func TestSeedCurlCommands(t *testing.T) {
	t.Parallel()
	if _, err := exec.LookPath("curl"); err != nil {
		t.Fatal("curl is needed for this test (.ci/run installs it)")
	}
	in := startTokend(t)

	var client struct {
		ID     string `json:"client_id"`
		Secret string `json:"client_secret"`
	}
	if err := json.Unmarshal([]byte(in.tokend("", "client", "create", "--name", "seed-app", "--json")), &client); err != nil {
		t.Fatal(err)
	}
	in.tokend("correct horse battery\n", "user", "add", "admin@carbon.super", "--password-stdin")
	auth := base64.StdEncoding.EncodeToString([]byte(client.ID + ":" + client.Secret))

	// The seed's own client, registered over DCR with its id and secret.
	status, m := in.postJSON("/api/identity/oauth2/dcr/v1.1/register",
		`{"client_name":"seed","ext_param_client_id":"9TQ5RKeaaTfFyJQJDsjoZfjxRHca","ext_param_client_secret":"Cfrwetnj_Y97RK1SeiVAluiwUVka"}`)
	if status != http.StatusCreated {
		t.Fatalf("DCR: %d %v", status, m)
	}

	// A client whose id and secret an admin chose on the command line
	// (the secret read from standard input) authenticates with them.
	in.tokend("a chosen secret, long enough\n", "client", "create", "--name", "chosen", "--id", "chosen-app", "--secret-stdin")
	chosen := "Basic " + base64.StdEncoding.EncodeToString([]byte("chosen-app:a chosen secret, long enough"))
	if status, m := in.postForm("/oauth2/token", "grant_type=client_credentials", "Authorization", chosen); status != http.StatusOK {
		t.Fatalf("client_credentials with the chosen secret: %d %v", status, m)
	}
	wrong := "Basic " + base64.StdEncoding.EncodeToString([]byte("chosen-app:another secret, long enough"))
	if status, m := in.postForm("/oauth2/token", "grant_type=client_credentials", "Authorization", wrong); status != http.StatusUnauthorized {
		t.Fatalf("client_credentials with a wrong secret: %d %v; want 401", status, m)
	}

	password := func() (access, refresh string) {
		status, m := in.postForm("/oauth2/token", "grant_type=password&username=admin%40carbon.super&password=correct+horse+battery", "Authorization", "Basic "+auth)
		if status != http.StatusOK {
			t.Fatalf("token: %d %v", status, m)
		}
		return m["access_token"].(string), m["refresh_token"].(string)
	}

	t.Run("revoke access token", func(t *testing.T) {
		access, refresh := password()
		r := in.curl(`curl -k -v -d "token=` + access + `" -H "Authorization: Basic ` + auth + `" -H "Content-Type: application/x-www-form-urlencoded" https://localhost:9443/oauth2/revoke`)
		checkSeedAnswer(t, r, map[string]string{"RevokedAccessToken": access, "AuthorizedUser": "admin@carbon.super"})
		if in.active(access) || in.active(refresh) {
			t.Error("the grant is still active")
		}
		// The same token again: 200, no Revoked headers.
		r = in.curl(`curl -k -v -d "token=` + access + `" -H "Authorization: Basic ` + auth + `" -H "Content-Type: application/x-www-form-urlencoded" https://localhost:9443/oauth2/revoke`)
		checkSeedAnswer(t, r, nil)
	})
	t.Run("revoke with hint", func(t *testing.T) {
		for _, hint := range []string{"access_token", "refresh_token"} {
			access, refresh := password()
			r := in.curl(`curl -k -v -d "token=` + refresh + `&token_type_hint=` + hint + `" -H "Authorization: Basic ` + auth + `" -H "Content-Type: application/x-www-form-urlencoded" https://localhost:9443/oauth2/revoke`)
			checkSeedAnswer(t, r, map[string]string{"RevokedRefreshToken": refresh, "AuthorizedUser": "admin@carbon.super"})
			if in.active(access) || in.active(refresh) {
				t.Error("the grant is still active")
			}
		}
	})
	// The seed's literal commands: their tokens were never issued here, so
	// the answer is an empty 200 with none of the Revoked headers.
	for name, line := range map[string]string{
		"seed opaque token": `curl -k -v -d "token=a0d210c7a3de7d548e03f1986e9a5c39" -H "Authorization: Basic OVRRNVJLZWFhVGZGeUpRSkRzam9aZmp4UkhjYTpDZnJ3ZXRual9ZOTdSSzFTZWlWQWx1aXdVVmth" -H "Content-Type: application/x-www-form-urlencoded" https://localhost:9443/oauth2/revoke`,
		"seed uuid token":   `curl -k -v -d "token=1d18ec65-6151-3499-9352-68afe64299c3&token_type_hint=access_token" -H "Authorization: Basic OVRRNVJLZWFhVGZGeUpRSkRzam9aZmp4UkhjYTpDZnJ3ZXRual9ZOTdSSzFTZWlWQWx1aXdVVmth" -H "Content-Type: application/x-www-form-urlencoded" https://localhost:9443/oauth2/revoke`,
		"seed jwt":          seedJWTCurl,
	} {
		t.Run(name, func(t *testing.T) {
			checkSeedAnswer(t, in.curl(line), nil)
		})
	}

	t.Run("public client without secret", func(t *testing.T) {
		var pub struct {
			ID string `json:"client_id"`
		}
		if err := json.Unmarshal([]byte(in.tokend("", "client", "create", "--name", "spa", "--auth-method", "none", "--json")), &pub); err != nil {
			t.Fatal(err)
		}
		status, m := in.postForm("/oauth2/token", "grant_type=password&username=admin%40carbon.super&password=correct+horse+battery&client_id="+pub.ID)
		if status != http.StatusOK {
			t.Fatalf("token: %d %v", status, m)
		}
		access := m["access_token"].(string)
		// The seed's last command has no -k: trust the self-signed
		// certificate through CURL_CA_BUNDLE instead.
		line := `curl -v -X POST -H "Content-Type: application/x-www-form-urlencoded;charset=UTF-8" -d "token=` + access + `&token_type_hint=access_token&client_id=` + pub.ID + `" https://localhost:9443/oauth2/revoke`
		r := in.curl(line, "CURL_CA_BUNDLE="+filepath.Join(in.data, "tls", "cert.pem"))
		checkSeedAnswer(t, r, map[string]string{"RevokedAccessToken": access, "AuthorizedUser": "admin@carbon.super"})
		if in.active(access) {
			t.Error("token still active")
		}
	})

	t.Run("JWT bearer grant, then the seed's JWT-grant revocation", func(t *testing.T) {
		var pub struct {
			ID string `json:"client_id"`
		}
		out := in.tokend("", "client", "create", "--name", "mobile", "--auth-method", "none", "--token-format", "jwt",
			"--grant", "urn:ietf:params:oauth:grant-type:jwt-bearer", "--json")
		if err := json.Unmarshal([]byte(out), &pub); err != nil {
			t.Fatal(err)
		}
		idpKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		if err != nil {
			t.Fatal(err)
		}
		set, _ := json.Marshal(jose.JSONWebKeySet{Keys: []jose.JSONWebKey{{Key: &idpKey.PublicKey, KeyID: "idp", Algorithm: "ES256", Use: "sig"}}})
		jwksFile := filepath.Join(t.TempDir(), "idp-jwks.json")
		if err := os.WriteFile(jwksFile, set, 0o600); err != nil {
			t.Fatal(err)
		}
		in.tokend("", "issuer", "add", "--iss", "https://idp.example", "--jwks-file", jwksFile)

		signer, _ := jose.NewSigner(jose.SigningKey{Algorithm: jose.ES256, Key: jose.JSONWebKey{Key: idpKey, KeyID: "idp"}}, nil)
		now := time.Now()
		claims, _ := json.Marshal(map[string]any{"iss": "https://idp.example", "sub": "admin@carbon.super",
			"aud": in.base + "/oauth2/token", "exp": now.Add(5 * time.Minute).Unix(), "iat": now.Unix(), "jti": "e2e-1"})
		jws, _ := signer.Sign(claims)
		assertion, _ := jws.CompactSerialize()
		status, m := in.postForm("/oauth2/token", "grant_type=urn%3Aietf%3Aparams%3Aoauth%3Agrant-type%3Ajwt-bearer&client_id="+pub.ID+"&assertion="+assertion)
		if status != http.StatusOK {
			t.Fatalf("jwt bearer grant: %d %v", status, m)
		}
		access := m["access_token"].(string)
		if strings.Count(access, ".") != 2 {
			t.Fatalf("access token %q is not a JWT", access)
		}
		// The seed's last command, with -v to read the headers and the
		// certificate trusted through CURL_CA_BUNDLE instead of -k. The
		// grant's user is the assertion's subject qualified by its issuer,
		// not the local user of the same name.
		line := `curl -v -X POST -H "Content-Type: application/x-www-form-urlencoded;charset=UTF-8" -d "token=` + access + `&token_type_hint=access_token&client_id=` + pub.ID + `" https://localhost:9443/oauth2/revoke`
		r := in.curl(line, "CURL_CA_BUNDLE="+filepath.Join(in.data, "tls", "cert.pem"))
		checkSeedAnswer(t, r, map[string]string{"RevokedAccessToken": access, "AuthorizedUser": "admin@carbon.super@https://idp.example"})
		if in.active(access) {
			t.Error("JWT still active after revocation")
		}
	})

	// What the first start made in the data folder: the admin token, the
	// TLS key and the database (secret and password hashes) readable by
	// their owner only, and a certificate for every name the default
	// address answers on.
	for _, f := range []string{"admin-token", "tls/key.pem", "tokend.db"} {
		if st, err := os.Stat(filepath.Join(in.data, f)); err != nil || st.Mode().Perm() != 0o600 {
			t.Errorf("%s: %v, %v; want mode 0600", f, st, err)
		}
	}
	pemBytes, err := os.ReadFile(filepath.Join(in.data, "tls", "cert.pem"))
	if err != nil {
		t.Fatal(err)
	}
	block, _ := pem.Decode(pemBytes)
	if block == nil {
		t.Fatal("tls/cert.pem holds no PEM block")
	}
	cert, err := x509.ParseCertificate(block.Bytes)
	if err != nil {
		t.Fatal(err)
	}
	for _, host := range []string{"localhost", "127.0.0.1", "::1"} {
		if err := cert.VerifyHostname(host); err != nil {
			t.Errorf("the self-signed certificate does not name %s: %v", host, err)
		}
	}

	in.stop()

	// Nothing secret reached the server's log: no token of either kind,
	// no JWT, no client secret, no password.
	log := in.out.String()
	if !strings.Contains(log, "request") {
		t.Fatalf("the server logged no request lines:\n%s", log)
	}
	if m := regexp.MustCompile(`tk[ar]_[0-9A-Za-z]{20,}|eyJ[0-9A-Za-z_-]{10,}\.`).FindString(log); m != "" {
		t.Errorf("a token in the server's log: %q", m)
	}
	for _, secret := range []string{client.Secret, "correct horse battery", "correct+horse+battery", "Cfrwetnj_Y97RK1SeiVAluiwUVka", "a chosen secret"} {
		if strings.Contains(log, secret) {
			t.Errorf("the server's log holds the secret %q", secret)
		}
	}
}

func (in *instance) postJSON(path, body string) (int, map[string]any) {
	in.t.Helper()
	req, _ := http.NewRequestWithContext(in.t.Context(), http.MethodPost, in.base+path, strings.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", "Bearer "+in.adminToken())
	resp, err := insecureClient().Do(req)
	if err != nil {
		in.t.Fatal(err)
	}
	defer resp.Body.Close()
	var m map[string]any
	_ = json.NewDecoder(resp.Body).Decode(&m)
	return resp.StatusCode, m
}

// TestRevocationSurvivesRestart: a 200 from /oauth2/revoke is on disk, so a
// restarted server (even after kill -9) still refuses the token.
func TestRevocationSurvivesRestart(t *testing.T) {
	t.Parallel()
	in := startTokend(t)
	var client struct {
		ID     string `json:"client_id"`
		Secret string `json:"client_secret"`
	}
	if err := json.Unmarshal([]byte(in.tokend("", "client", "create", "--name", "app", "--json")), &client); err != nil {
		t.Fatal(err)
	}
	auth := "Basic " + base64.StdEncoding.EncodeToString([]byte(client.ID+":"+client.Secret))
	issue := func() string {
		status, m := in.postForm("/oauth2/token", "grant_type=client_credentials", "Authorization", auth)
		if status != http.StatusOK {
			t.Fatalf("token: %d %v", status, m)
		}
		return m["access_token"].(string)
	}
	revoked, kept := issue(), issue()
	if status, _ := in.postForm("/oauth2/revoke", "token="+revoked, "Authorization", auth); status != http.StatusOK {
		t.Fatalf("revoke: %d", status)
	}
	// kill -9: no graceful shutdown, no chance to flush anything.
	_ = in.cmd.Process.Kill()
	_ = in.cmd.Wait()

	again := restart(t, in)
	if again.active(revoked) {
		t.Error("a revocation acknowledged with 200 was lost by a crash")
	}
	if !again.active(kept) {
		t.Error("a token issued with 200 was lost by a crash")
	}
	again.stop()
}

// restart starts a new server on the data folder and address of in.
func restart(t *testing.T, in *instance) *instance {
	t.Helper()
	next := *in
	next.out = &bytes.Buffer{}
	next.cmd = exec.Command(tokendBin, "serve")
	next.cmd.Env = in.env
	next.cmd.Stderr = next.out
	if err := next.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if next.cmd.ProcessState == nil {
			_ = next.cmd.Process.Kill()
			_ = next.cmd.Wait()
		}
	})
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	for {
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, next.base+"/readyz", nil)
		if resp, err := insecureClient().Do(req); err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return &next
			}
		}
		select {
		case <-ctx.Done():
			t.Fatalf("restarted tokend not ready; log:\n%s", next.out)
		case <-time.After(50 * time.Millisecond):
		}
	}
}

const seedJWTCurl = `curl -k -v -d "token=eyJ0eXAiOiJKV1QiLCJhbGciOiJSUzI1NiIsIng1dCI6IlpqUm1ZVE13TlRKak9XVTVNbUl6TWpnek5ESTNZMkl5TW1JeVkyRXpNamRoWmpWaU1qYzBaZz09In0.eyJhdWQiOiJodHRwOlwvXC9vcmcud3NvMi5hcGltZ3RcL2dhdGV3YXkiLCJzdWIiOiJhZG1pbkBjYXJib24uc3VwZXIiLCJhcHBsaWNhdGlvbiI6eyJvd25lciI6ImFkbWluIiwidGllciI6IjEwUGVyTWluIiwibmFtZSI6Imp3dCIsImlkIjo5OCwidXVpZCI6bnVsbH0sInNjb3BlIjoiYW1fYXBwbGljYXRpb25fc2NvcGUgZGVmYXVsdCIsImlzcyI6Imh0dHBzOlwvXC9sb2NhbGhvc3Q6OTQ0M1wvb2F1dGgyXC90b2tlbiIsInRpZXJJbmZvIjp7IlVubGltaXRlZCI6eyJzdG9wT25RdW90YVJlYWNoIjp0cnVlLCJzcGlrZUFycmVzdExpbWl0IjowLCJzcGlrZUFycmVzdFVuaXQiOm51bGx9fSwia2V5dHlwZSI6IlBST0RVQ1RJT04iLCJzdWJzY3JpYmVkQVBJcyI6W3sic3Vic2NyaWJlclRlbmFudERvbWFpbiI6ImNhcmJvbi5zdXBlciIsIm5hbWUiOiJQaXp6YVNoYWNrQVBJIiwiY29udGV4dCI6IlwvcGl6emFzaGFja1wvMS4wLjAiLCJwdWJsaXNoZXIiOiJhZG1pbiIsInZlcnNpb24iOiIxLjAuMCIsInN1YnNjcmlwdGlvblRpZXIiOiJVbmxpbWl0ZWQifV0sImNvbnN1bWVyS2V5IjoiRTI3cDVWT1hVcWk5RW5JU3lwUjhRckFHc2ZBYSIsImV4cCI6MTU3MzExMzIxOCwiaWF0IjoxNTczMTA5NjE4LCJqdGkiOiI2ZTcwZmNkZS0wNGNlLTRlNTgtYTMyYy04ZTlhYWQ5YmYwMDMifQ.VD23nViK6Np1U8SQxulxrEVFZpnPT7dpr3UN0xm--PSLBRXucWgrdse9qig922o9CWGj4lYxdsdHnwzz3Vh-i1-114jGnf_o6K-ITmO2m0SyCOrzo5PWMYbeZpkKM9slWahrGJm18XqGu7aRZiEnN8cLCke-DsnQVJJcCaS_jTniAD_-DCk5VBUTdQP1yiekq-A5QjKp_dKAjMF-8PQPXpMU526fXMMauFTz65EEZ-BpwAvfSBwLnSGI1GQp7xF9VWytCBAWt4ZvK6e7Y6hrwH1p7KT4Nli6PZv6RxbalW0mI9vqknSJRhWtn0GQcw1FSymMi-QOo0M7LgwIp7ypuw" -H "Authorization: Basic OVRRNVJLZWFhVGZGeUpRSkRzam9aZmp4UkhjYTpDZnJ3ZXRual9ZOTdSSzFTZWlWQWx1aXdVVmth" -H "Content-Type: application/x-www-form-urlencoded" https://localhost:9443/oauth2/revoke`
