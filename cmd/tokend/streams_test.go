package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"os/exec"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// tokendFails runs a CLI command that must fail, and returns what it
// printed and its exit status.
func (in *instance) tokendFails(stdin string, args ...string) (output string, code int) {
	in.t.Helper()
	cmd := exec.CommandContext(in.t.Context(), tokendBin, args...)
	cmd.Env = in.env
	cmd.Stdin = strings.NewReader(stdin)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	err := cmd.Run()
	var exit *exec.ExitError
	if !errors.As(err, &exit) {
		in.t.Fatalf("tokend %s: %v; want it to fail\n%s", strings.Join(args, " "), err, out.String())
	}
	return out.String(), exit.ExitCode()
}

// kill ends the instance with SIGKILL: no clean shutdown.
func (in *instance) kill() {
	in.t.Helper()
	_ = in.cmd.Process.Signal(syscall.SIGKILL)
	_ = in.cmd.Wait()
}

// token gets a token from the instance's token endpoint with form, as the
// client id:secret, and returns the access token.
func (in *instance) token(form, id, secret string) string {
	in.t.Helper()
	status, m := in.postForm("/oauth2/token", form, "Authorization", "Basic "+basicAuth(id, secret))
	tok, _ := m["access_token"].(string)
	if status != http.StatusOK || tok == "" {
		in.t.Fatalf("token (%s): %d %v", strings.SplitN(form, "&", 2)[0], status, m)
	}
	return tok
}

// createClient runs `tokend client create … --json` and returns the
// client's id and secret.
func (in *instance) createClient(args ...string) (id, secret string) {
	in.t.Helper()
	var c struct {
		ID     string `json:"client_id"`
		Secret string `json:"client_secret"`
	}
	if err := json.Unmarshal([]byte(in.tokend("", append(append([]string{"client", "create"}, args...), "--json")...)), &c); err != nil {
		in.t.Fatal(err)
	}
	return c.ID, c.Secret
}

// eventually waits up to 60 s for cond, failing with what and both logs.
func eventually(t *testing.T, what string, cond func() bool, logs ...*instance) {
	t.Helper()
	for deadline := time.Now().Add(60 * time.Second); !cond(); time.Sleep(50 * time.Millisecond) {
		if time.Now().After(deadline) {
			var b strings.Builder
			for _, in := range logs {
				in.kill() // its log is read once it has exited
				b.WriteString("\n--- log of " + in.base + ":\n" + in.out.String())
			}
			t.Fatalf("%s: not within 60 s%s", what, b.String())
		}
	}
}

// TestSubscribedWithStreamsCLI: two tokend processes; the second, the
// receiver, subscribes to the first with `tokend streams create` and the
// access token of a client the first allows to manage streams, naming no
// stream ID, aud or endpoint: the CLI finds them. Users of the first get
// tokens on the second with the JWT bearer grant, the assertion a JWT
// access token of the first (aud the second). A password change on the
// first revokes that user's token on the second and no other's. The
// receiver killed (SIGKILL) while a password change and a user disabled
// happen on the first gets both once restarted. The CLI refuses to
// subscribe to an upstream not trusted, and never prints the token;
// status, verify, list and delete work against the upstream.
func TestSubscribedWithStreamsCLI(t *testing.T) {
	t.Parallel() // its own data folders and free ports; it sets no environment
	upAddr, rxAddr := freeAddr(t), freeAddr(t)
	up := startTokendAt(t, t.TempDir(), upAddr, "TOKEND_INSECURE_HTTP=true", "TOKEND_JWT_AUDIENCE=http://"+rxAddr)
	rx := startTokendAt(t, t.TempDir(), rxAddr, "TOKEND_INSECURE_HTTP=true")

	rxID, rxSecret := up.createClient("--name", "receiver", "--grant", "client_credentials", "--ssf-streams")
	bearer := up.token("grant_type=client_credentials", rxID, rxSecret)
	streams := func(args ...string) string {
		return rx.tokend(bearer+"\n", append(append([]string{"streams"}, args...), "--upstream", up.base, "--token-stdin")...)
	}
	out, code := rx.tokendFails(bearer+"\n", "streams", "create", "--upstream", up.base, "--token-stdin")
	if code != 1 || !strings.Contains(out, "tokend issuer add --iss "+up.base+" --jwks-uri "+up.base+"/oauth2/jwks") {
		t.Errorf("create before trusting the upstream: exit %d\n%s\nwant 1 and the command that trusts it", code, out)
	}
	if out, code := rx.tokendFails("", "streams", "list", "--upstream", up.base); code != 2 || !strings.Contains(out, "--token-stdin") {
		t.Errorf("list without a token: exit %d\n%s\nwant 2, saying how to give one", code, out)
	}
	rx.tokend("", "issuer", "add", "--iss", up.base, "--jwks-uri", up.base+"/oauth2/jwks")
	created := streams("create", "--json")
	var stream struct {
		ID  string `json:"stream_id"`
		Aud string `json:"aud"`
	}
	if err := json.Unmarshal([]byte(created), &stream); err != nil || stream.ID == "" || stream.Aud != rx.base {
		t.Fatalf("streams create --json: %v\n%s\nwant a stream for aud %s", err, created, rx.base)
	}
	if out := streams("status", stream.ID); !strings.Contains(out, "enabled") {
		t.Errorf("streams status: %q; want enabled", out)
	}
	streams("verify", stream.ID)
	waitMetric(t, up, `tokend_ssf_pushes_total{outcome="delivered"} 1`) // the verification, taken by the receiver

	appID, appSecret := up.createClient("--name", "app", "--grant", "password", "--token-format", "jwt")
	apiID, apiSecret := rx.createClient("--name", "api", "--grant", "urn:ietf:params:oauth:grant-type:jwt-bearer")
	onReceiver := map[string]string{}
	for _, user := range []string{"alice", "bob", "carol"} {
		up.tokend("a good password\n", "user", "add", user, "--password-stdin")
		assertion := up.token("grant_type=password&username="+user+"&password=a+good+password", appID, appSecret)
		onReceiver[user] = rx.token("grant_type=urn%3Aietf%3Aparams%3Aoauth%3Agrant-type%3Ajwt-bearer&assertion="+assertion, apiID, apiSecret)
	}

	up.tokend("a new password\n", "user", "passwd", "alice", "--password-stdin")
	eventually(t, "alice's token on the receiver revoked", func() bool { return !rx.active(onReceiver["alice"]) }, up, rx)
	if !rx.active(onReceiver["bob"]) || !rx.active(onReceiver["carol"]) {
		t.Error("alice's password change revoked another user's token on the receiver")
	}

	rx.kill()
	up.tokend("a new password\n", "user", "passwd", "bob", "--password-stdin")
	up.tokend("", "user", "disable", "carol")
	waitMetric(t, up, `tokend_ssf_pushes_total{outcome="retried"}`)
	rx = startTokendAt(t, rx.data, rx.addr, "TOKEND_INSECURE_HTTP=true")
	eventually(t, "bob's and carol's tokens on the receiver revoked", func() bool {
		return !rx.active(onReceiver["bob"]) && !rx.active(onReceiver["carol"])
	}, up, rx)
	if audit := rx.tokend("", "audit"); strings.Count(audit, "upstream_signal") != 3 {
		t.Errorf("the receiver's log has not one upstream_signal revocation per user:\n%s", audit)
	}

	if out := streams("list"); !strings.Contains(out, stream.ID) || !strings.Contains(out, rx.base+"/ssf/receive") {
		t.Errorf("streams list:\n%s\nwant the stream, pushing to the receiver", out)
	}
	streams("delete", stream.ID)
	if out := streams("list"); strings.Contains(out, stream.ID) {
		t.Errorf("streams list after delete:\n%s", out)
	}
	if out, code := rx.tokendFails(bearer+"\n", "streams", "show", stream.ID, "--upstream", up.base, "--token-stdin"); code != 1 || !strings.Contains(out, "no such stream") {
		t.Errorf("show a deleted stream: exit %d\n%s", code, out)
	}
	up.stop()
	rx.stop() // its log is read once it has exited
	if strings.Contains(rx.out.String(), bearer) || strings.Contains(created, bearer) {
		t.Error("the upstream's bearer token was printed or logged")
	}
}

// foreignTransmitter is an SSF transmitter that is not tokend: it gives
// every stream its own aud (the client's, as many do), whatever the
// request names, and notes the requests it took.
type foreignTransmitter struct {
	mu       sync.Mutex
	url      string
	auth     []string // the Authorization headers it was sent
	deleted  []string
	statuses map[string]int // answers to POST /stream by their status, when set
}

func (f *foreignTransmitter) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	f.mu.Lock()
	defer f.mu.Unlock()
	w.Header().Set("Content-Type", "application/json")
	switch r.Method + " " + r.URL.Path {
	case "GET /.well-known/ssf-configuration/tenant":
		_ = json.NewEncoder(w).Encode(map[string]any{"issuer": f.url + "/tenant", "jwks_uri": f.url + "/jwks",
			"delivery_methods_supported": []string{"urn:ietf:rfc:8935"}, "configuration_endpoint": f.url + "/stream"})
	case "POST /stream":
		f.auth = append(f.auth, r.Header.Get("Authorization"))
		if status := f.statuses["create"]; status != 0 {
			w.WriteHeader(status)
			_, _ = w.Write([]byte(`{"error":"invalid_request","error_description":"events_requested names an event not supported"}`))
			return
		}
		w.WriteHeader(http.StatusCreated)
		_, _ = w.Write([]byte(`{"stream_id":"st-1","aud":"client-123","delivery":{"method":"urn:ietf:rfc:8935","endpoint_url":"https://rx.example/ssf/receive"}}`))
	case "DELETE /stream":
		f.deleted = append(f.deleted, r.URL.Query().Get("stream_id"))
		w.WriteHeader(http.StatusNoContent)
	default:
		w.WriteHeader(http.StatusUnauthorized)
	}
}

// TestStreamsCLIWithAForeignTransmitter: against a transmitter that is not
// tokend, at an issuer with a path (its configuration at the well-known
// URL SSF 1.0 §7.2 makes), `streams create` sends the token from the
// environment and, when the stream comes back for another aud than this
// server's issuer, deletes it again and says why; the upstream's errors
// are said in the user's words; the URL and the token are checked first.
func TestStreamsCLIWithAForeignTransmitter(t *testing.T) {
	f := &foreignTransmitter{statuses: map[string]int{}}
	srv := httptest.NewServer(f)
	defer srv.Close()
	f.url = srv.URL
	data := migratedData(t)
	if _, err := cli(t, "", "issuer", "add", "--iss", srv.URL+"/tenant", "--jwks-uri", srv.URL+"/jwks", "--data", data); err != nil {
		t.Fatal(err)
	}
	t.Setenv(upstreamTokenEnv, "tok-secret")
	create := []string{"streams", "create", "--upstream", srv.URL + "/tenant", "--issuer", "https://rx.example", "--data", data}
	out, err := cli(t, "", create...)
	wantRefused(t, "create for another aud", err, "client-123", "https://rx.example", "deleted again")
	if strings.Contains(out, "tok-secret") || (err != nil && strings.Contains(err.Error(), "tok-secret")) {
		t.Error("the token was printed")
	}
	if len(f.auth) != 1 || f.auth[0] != "Bearer tok-secret" || len(f.deleted) != 1 || f.deleted[0] != "st-1" {
		t.Errorf("the transmitter was sent %v and deleted %v; want the token once, and st-1 deleted", f.auth, f.deleted)
	}
	f.statuses["create"] = http.StatusBadRequest
	_, err = cli(t, "", create...)
	wantRefused(t, "create refused", err, "refused the request (400)", "events_requested names an event not supported")
	_, err = cli(t, "", "streams", "list", "--upstream", srv.URL+"/tenant")
	wantRefused(t, "list answered 401", err, "refused the token (401)")
	for _, args := range [][]string{
		{"streams", "list", "--upstream", "http://idp.example"},
		{"streams", "list"},
		{"streams", "show", "--upstream", srv.URL + "/tenant"},
		{"streams", "status", "st-1", "--set", "asleep", "--upstream", srv.URL + "/tenant"},
	} {
		if _, err := cli(t, "", args...); exitCode(err) != 2 {
			t.Errorf("%s: %v, exit %d; want a usage error, exit 2", strings.Join(args, " "), err, exitCode(err))
		}
	}
	t.Setenv(upstreamTokenEnv, "")
	if _, err := cli(t, "", "streams", "list", "--upstream", srv.URL+"/tenant"); exitCode(err) != 2 || !strings.Contains(err.Error(), "--token-stdin") {
		t.Errorf("list without a token: %v; want a usage error saying how to give one", err)
	}
}

// pollAt polls stream id of the instance as the bearer (RFC 8936) and
// returns the SETs by jti.
func (in *instance) pollAt(id, bearer, body string) map[string]string {
	in.t.Helper()
	req, _ := http.NewRequestWithContext(in.t.Context(), http.MethodPost, in.base+"/ssf/poll/"+id, strings.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", "Bearer "+bearer)
	resp, err := insecureClient().Do(req)
	if err != nil {
		in.t.Fatal(err)
	}
	defer resp.Body.Close()
	var got struct {
		Sets map[string]string `json:"sets"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&got); err != nil || resp.StatusCode != http.StatusOK {
		in.t.Fatalf("poll: %d %v", resp.StatusCode, err)
	}
	return got.Sets
}

// TestPollStreamAcrossCrash: a poll stream's acknowledgement, once
// answered, holds across a crash (SIGKILL) of the transmitter: the SET
// acknowledged never comes again, the one not acknowledged still comes,
// until it is acknowledged too, and nothing after a clean restart.
func TestPollStreamAcrossCrash(t *testing.T) {
	t.Parallel() // its own data folder and free port; it sets no environment
	in := startTokendAt(t, t.TempDir(), freeAddr(t), "TOKEND_INSECURE_HTTP=true")
	rxID, rxSecret := in.createClient("--name", "receiver", "--grant", "client_credentials", "--ssf-streams")
	bearer := in.token("grant_type=client_credentials", rxID, rxSecret)
	appID, appSecret := in.createClient("--name", "app", "--grant", "password")
	in.tokend("a good password\n", "user", "add", "alice", "--password-stdin")
	req, _ := http.NewRequestWithContext(t.Context(), http.MethodPost, in.base+"/ssf/stream", strings.NewReader(`{}`))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", "Bearer "+bearer)
	resp, err := insecureClient().Do(req)
	var stream struct {
		ID string `json:"stream_id"`
	}
	if err == nil {
		err = json.NewDecoder(resp.Body).Decode(&stream)
		resp.Body.Close()
	}
	if err != nil || resp.StatusCode != http.StatusCreated {
		t.Fatalf("create a poll stream: %v", err)
	}
	in.token("grant_type=password&username=alice&password=a+good+password", appID, appSecret)
	in.tokend("a new password\n", "user", "passwd", "alice", "--password-stdin")
	var sets map[string]string
	eventually(t, "two SETs for the password change", func() bool {
		sets = in.pollAt(stream.ID, bearer, `{"returnImmediately":true}`)
		return len(sets) == 2 // credential-change and grant-revoked
	}, in)
	var acked, kept string
	for jti := range sets {
		if acked == "" {
			acked = jti
		} else {
			kept = jti
		}
	}
	in.pollAt(stream.ID, bearer, `{"ack":["`+acked+`"],"maxEvents":0}`)
	in.kill()
	in = startTokendAt(t, in.data, in.addr, "TOKEND_INSECURE_HTTP=true")
	if got := in.pollAt(stream.ID, bearer, `{"returnImmediately":true}`); len(got) != 1 || got[kept] == "" {
		t.Errorf("after the crash the poll got %d SETs (%v); want the one not acknowledged, %s", len(got), keys(got), kept)
	}
	in.pollAt(stream.ID, bearer, `{"ack":["`+kept+`"],"maxEvents":0}`)
	in.stop()
	in = startTokendAt(t, in.data, in.addr, "TOKEND_INSECURE_HTTP=true")
	if got := in.pollAt(stream.ID, bearer, `{"returnImmediately":true}`); len(got) != 0 {
		t.Errorf("after both were acknowledged the poll got %v; want none", keys(got))
	}
	in.stop()
}

func keys(m map[string]string) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	return out
}
