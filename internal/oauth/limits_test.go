package oauth_test

import (
	"io"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/tokend/tokend/internal/identity"
	"github.com/tokend/tokend/internal/oauth"
	"github.com/tokend/tokend/internal/registry"
)

// The harness allows 5 failures a minute per key (newHarness).
const harnessLimit = 5

// from is an HTTP client whose connections come from the loopback address
// ip, so that a test can play several remote addresses (all of 127.0.0.0/8
// is loopback on Linux).
func from(ip string) *http.Client {
	d := &net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(ip)}}
	return &http.Client{Transport: &http.Transport{DialContext: d.DialContext, MaxIdleConnsPerHost: 16}}
}

// send posts a form with c and returns the status and body; headers are
// "Name: value" strings, empty ones skipped. Safe to call from any
// goroutine (it reports errors with t.Error).
func send(t *testing.T, c *http.Client, rawURL, form string, headers ...string) (int, string) {
	req, err := http.NewRequestWithContext(t.Context(), http.MethodPost, rawURL, strings.NewReader(form))
	if err != nil {
		t.Error(err)
		return 0, ""
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	for _, hv := range headers {
		if hv == "" {
			continue
		}
		k, v, _ := strings.Cut(hv, ":")
		req.Header.Set(k, strings.TrimSpace(v))
	}
	resp, err := c.Do(req)
	if err != nil {
		t.Error(err)
		return 0, ""
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// burst sends n forms at once from one address and counts the answers by
// status. form(i) is the i-th request's form and Authorization header.
func burst(t *testing.T, c *http.Client, rawURL string, n int, form func(i int) (body, auth string)) map[int]int {
	t.Helper()
	var mu sync.Mutex
	statuses := map[int]int{}
	start := make(chan struct{})
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			body, auth := form(i)
			<-start
			status, _ := send(t, c, rawURL, body, auth)
			mu.Lock()
			statuses[status]++
			mu.Unlock()
		})
	}
	close(start)
	wg.Wait()
	return statuses
}

// checkChecked fails the test unless the burst's answers are refusals
// (429) but for at most the limit, each of which is want: the answers
// other than 429 are the guesses that were checked.
func checkChecked(t *testing.T, statuses map[int]int, n, want int) {
	t.Helper()
	if statuses[want] < 1 || statuses[want] > harnessLimit || statuses[want]+statuses[http.StatusTooManyRequests] != n {
		t.Errorf("answers to %d guesses at once: %v; want at most %d of %d (guesses checked), the rest 429", n, statuses, harnessLimit, want)
	}
}

// TestConcurrentChosenSecretGuessesAreLimited: hundreds of guesses at
// once of a client secret an admin chose (argon2id); no more than the
// limit are checked. The client itself, elsewhere, is not held up.
func TestConcurrentChosenSecretGuessesAreLimited(t *testing.T) {
	// Checks as slow as in production, so that guesses sent at once
	// overlap as they would against a real server.
	defer identity.UseProductionHashCost()()
	h := newHarness(t)
	id, secret := h.client(registry.Spec{Name: "chosen", Secret: "an admin's choice"})
	const n = 250
	statuses := burst(t, from("127.0.0.2"), h.srv.URL+oauth.PathRevoke, n, func(i int) (string, string) {
		return "token=x", basic(id, "guess-"+strconv.Itoa(i))
	})
	checkChecked(t, statuses, n, http.StatusUnauthorized)

	if status, body := send(t, from("127.0.0.3"), h.srv.URL+oauth.PathRevoke, "token=x", basic(id, secret)); status != http.StatusOK {
		t.Errorf("the client from its own address: %d %s; want 200", status, body)
	}
}

// TestAnotherAddressCannotLockAClientOut: someone who knows a client_id
// sprays wrong secrets naming it from another address; the client keeps
// revoking (and getting tokens) with its right credentials, and never gets
// 429, while the sprayer does.
func TestAnotherAddressCannotLockAClientOut(t *testing.T) {
	for _, tc := range []struct {
		name string
		spec registry.Spec
	}{
		{"generated secret", confidential("generated")},
		{"chosen secret", registry.Spec{Name: "chosen", Secret: "an admin's choice"}},
		{"public client", registry.Spec{Name: "spa", AuthMethod: registry.AuthNone}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := newHarness(t)
			id, secret := h.client(tc.spec)
			auth, form := basic(id, secret), "token=x"
			if secret == "" {
				auth, form = "", "token=x&client_id="+id
			}

			var wg sync.WaitGroup
			sprayed := map[int]int{}
			wg.Go(func() {
				c := from("127.0.0.2")
				for i := range 6 * harnessLimit {
					bad := []string{"", basic(id, "guess-"+strconv.Itoa(i))}[i%2]
					body := "token=x&client_id=" + id + "&client_secret=guess-" + strconv.Itoa(i)
					if bad != "" {
						body = "token=x"
					}
					status, _ := send(t, c, h.srv.URL+oauth.PathRevoke, body, bad)
					sprayed[status]++
				}
			})
			done := make(chan struct{})
			go func() { wg.Wait(); close(done) }()

			victim := from("127.0.0.3")
			sent, refused, first := 0, 0, ""
			revoke := func() {
				sent++
				if status, body := send(t, victim, h.srv.URL+oauth.PathRevoke, form, auth); status != http.StatusOK {
					if refused++; first == "" {
						first = strconv.Itoa(status) + " " + body
					}
				}
			}
			for spraying := true; spraying; {
				select {
				case <-done:
					spraying = false
				default:
					revoke()
				}
			}
			for range 3 {
				revoke()
			}
			if refused > 0 {
				t.Errorf("%d of the client's %d revocations refused, the first with %s; want all 200", refused, sent, first)
			}
			if sprayed[http.StatusTooManyRequests] == 0 {
				t.Errorf("the sprayer's answers: %v; want it refused with 429 after %d failures", sprayed, harnessLimit)
			}
			if secret != "" {
				if status, body := send(t, victim, h.srv.URL+oauth.PathToken, "grant_type=client_credentials", auth); status != http.StatusOK {
					t.Errorf("the client's token request after the spray: %d %s; want 200", status, body)
				}
			}
		})
	}
}

// TestRightCredentialsFromABlockedAddress: an address that failed too
// often (a NAT, or a proxy that is not trusted) is refused what could be
// guessed there, but not what cannot: a generated secret (256 bits), a
// public client (no secret), or a chosen secret the server just verified.
// Only a chosen secret it has not verified recently waits for the window.
func TestRightCredentialsFromABlockedAddress(t *testing.T) {
	h := newHarness(t)
	generated, generatedSecret := h.client(confidential("generated"))
	public, _ := h.client(registry.Spec{Name: "spa", AuthMethod: registry.AuthNone})
	remembered, rememberedSecret := h.client(registry.Spec{Name: "busy", Secret: "an admin's choice"})
	cold, coldSecret := h.client(registry.Spec{Name: "idle", Secret: "another admin's choice"})

	shared := from("127.0.0.4")
	revoke := h.srv.URL + oauth.PathRevoke
	if status, body := send(t, shared, revoke, "token=x", basic(remembered, rememberedSecret)); status != http.StatusOK {
		t.Fatalf("chosen secret before the junk: %d %s", status, body)
	}
	for i := range harnessLimit {
		send(t, shared, revoke, "token=x", basic("junk-"+strconv.Itoa(i), "junk"))
	}
	if status, _ := send(t, shared, revoke, "token=x", basic("junk", "junk")); status != http.StatusTooManyRequests {
		t.Fatalf("junk after %d failures: %d; want 429", harnessLimit, status)
	}
	for _, tc := range []struct {
		name, form, auth string
		want             int
	}{
		{"generated secret", "token=x", basic(generated, generatedSecret), http.StatusOK},
		{"public client", "token=x&client_id=" + public, "", http.StatusOK},
		{"chosen secret verified a moment ago", "token=x", basic(remembered, rememberedSecret), http.StatusOK},
		{"chosen secret not verified recently", "token=x", basic(cold, coldSecret), http.StatusTooManyRequests},
		{"wrong generated secret", "token=x", basic(generated, "guess"), http.StatusTooManyRequests},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if status, body := send(t, shared, revoke, tc.form, tc.auth); status != tc.want {
				t.Errorf("status %d (%s); want %d", status, body, tc.want)
			}
		})
	}
}

// TestRegisteredAuthMethodIsEnforced: a client authenticates with the
// token_endpoint_auth_method it is registered for, and no other.
func TestRegisteredAuthMethodIsEnforced(t *testing.T) {
	h := newHarness(t)
	basicID, basicSecret := h.client(registry.Spec{Name: "basic", AuthMethod: registry.AuthBasic})
	defaultID, defaultSecret := h.client(registry.Spec{Name: "default"})
	postID, postSecret := h.client(registry.Spec{Name: "post", AuthMethod: registry.AuthPost})
	publicID, _ := h.client(registry.Spec{Name: "spa", AuthMethod: registry.AuthNone})
	inBody := func(id, secret string) string {
		return "token=x&client_id=" + id + "&client_secret=" + url.QueryEscape(secret)
	}
	for i, tc := range []struct {
		name, form, auth string
		want             int
	}{
		{"basic as basic", "token=x", basic(basicID, basicSecret), http.StatusOK},
		{"basic as post", inBody(basicID, basicSecret), "", http.StatusUnauthorized},
		{"basic by default, as basic", "token=x", basic(defaultID, defaultSecret), http.StatusOK},
		{"basic by default, as post", inBody(defaultID, defaultSecret), "", http.StatusUnauthorized},
		{"basic without its secret", "token=x&client_id=" + basicID, "", http.StatusUnauthorized},
		{"post as post", inBody(postID, postSecret), "", http.StatusOK},
		{"post as basic", "token=x", basic(postID, postSecret), http.StatusUnauthorized},
		{"public with client_id", "token=x&client_id=" + publicID, "", http.StatusOK},
		{"public with a secret", "token=x", basic(publicID, "anything"), http.StatusUnauthorized},
	} {
		t.Run(tc.name, func(t *testing.T) {
			// A fresh address each time, so the refusals do not add up to
			// the limit.
			status, body := send(t, from("127.0.1."+strconv.Itoa(i+1)), h.srv.URL+oauth.PathRevoke, tc.form, tc.auth)
			if status != tc.want {
				t.Fatalf("status %d (%s); want %d", status, body, tc.want)
			}
			if tc.want == http.StatusUnauthorized && !strings.Contains(body, `"invalid_client"`) {
				t.Errorf("body %s; want invalid_client", body)
			}
		})
	}
}
