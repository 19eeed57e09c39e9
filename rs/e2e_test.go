package rs_test

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/tokend/tokend/internal/stack"
)

// TestSeparateProcesses runs the real tokend and the example API, which
// uses package rs, as two processes, and checks that a token revoked at
// tokend is refused by the API: a JWT, an opaque token, a bulk revocation
// by the CLI (a third process), and after a restart of tokend.
func TestSeparateProcesses(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs tokend and the example API")
	}
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	dir := t.TempDir()
	tokendBin, apiBin, err := stack.Build(ctx, dir)
	if err != nil {
		t.Fatal(err)
	}
	const aud = "https://api.example"
	tokend, err := stack.StartTokend(ctx, tokendBin, dir+"/data", "", "--jwt-audience", aud)
	if err != nil {
		t.Fatal(err)
	}
	defer func() {
		if t.Failed() {
			t.Logf("tokend log:\n%s", tokend.Log())
		}
	}()
	rsID, rsSecret, err := tokend.CreateClient(ctx, "--name", "example-api", "--can-introspect")
	if err != nil {
		t.Fatal(err)
	}
	jwtID, jwtSecret, err := tokend.CreateClient(ctx, "--name", "jwt-app", "--token-format", "jwt", "--grant", "client_credentials")
	if err != nil {
		t.Fatal(err)
	}
	opaqueID, opaqueSecret, err := tokend.CreateClient(ctx, "--name", "opaque-app", "--grant", "client_credentials")
	if err != nil {
		t.Fatal(err)
	}
	api, err := stack.StartAPI(ctx, apiBin, tokend.URL, rsID, rsSecret, aud)
	if err != nil {
		t.Fatal(err)
	}
	defer func() {
		if t.Failed() {
			t.Logf("API log:\n%s", api.Log())
		}
		_ = api.Stop()
	}()
	waitReady(t, api.URL)

	issue := func(id, secret string) string {
		t.Helper()
		status, body := post(t, tokend.URL+"/oauth2/token", id, secret, url.Values{"grant_type": {"client_credentials"}, "scope": {"read"}})
		if status != http.StatusOK {
			t.Fatalf("token: %d %s", status, body)
		}
		var r struct {
			AccessToken string `json:"access_token"`
		}
		_ = json.Unmarshal(body, &r)
		return r.AccessToken
	}
	revoke := func(id, secret, tok string) {
		t.Helper()
		if status, body := post(t, tokend.URL+"/oauth2/revoke", id, secret, url.Values{"token": {tok}}); status != http.StatusOK {
			t.Fatalf("revoke: %d %s", status, body)
		}
	}

	t.Run("JWT", func(t *testing.T) {
		tok := issue(jwtID, jwtSecret)
		if strings.Count(tok, ".") != 2 {
			t.Fatalf("not a JWT: %q", tok)
		}
		if status, _, body := hello(t, api.URL, tok); status != http.StatusOK || !strings.Contains(body, `"hello":"`+jwtID+`"`) {
			t.Fatalf("fresh JWT: %d %s", status, body)
		}
		revoke(jwtID, jwtSecret, tok)
		refusedWithin(t, api.URL, tok, 2*time.Second)
	})
	t.Run("opaque", func(t *testing.T) {
		tok := issue(opaqueID, opaqueSecret)
		if status, _, body := hello(t, api.URL, tok); status != http.StatusOK {
			t.Fatalf("fresh opaque token: %d %s", status, body)
		}
		revoke(opaqueID, opaqueSecret, tok)
		refusedWithin(t, api.URL, tok, 2*time.Second)
	})
	t.Run("bulk revocation by the CLI", func(t *testing.T) {
		a, b := issue(jwtID, jwtSecret), issue(jwtID, jwtSecret)
		for _, tok := range []string{a, b} {
			if status, _, _ := hello(t, api.URL, tok); status != http.StatusOK {
				t.Fatalf("fresh JWT: %d", status)
			}
		}
		if _, err := tokend.CLI(ctx, "revoke", "--client", jwtID); err != nil {
			t.Fatal(err)
		}
		refusedWithin(t, api.URL, a, 2*time.Second)
		refusedWithin(t, api.URL, b, 2*time.Second)
	})
	t.Run("after a restart of tokend", func(t *testing.T) {
		tok := issue(jwtID, jwtSecret)
		if err := tokend.Stop(); err != nil {
			t.Fatalf("stop tokend: %v", err)
		}
		tokend, err = stack.StartTokend(ctx, tokendBin, dir+"/data", tokend.Addr, "--jwt-audience", aud)
		if err != nil {
			t.Fatal(err)
		}
		revoke(jwtID, jwtSecret, tok)
		refusedWithin(t, api.URL, tok, 2*time.Second)
		waitReady(t, api.URL) // the feed reconnected
		live := issue(jwtID, jwtSecret)
		if status, _, body := hello(t, api.URL, live); status != http.StatusOK {
			t.Errorf("a live JWT after the restart: %d %s", status, body)
		}
	})
	_ = tokend.Stop()
}

func post(t *testing.T, u, id, secret string, form url.Values) (int, []byte) {
	t.Helper()
	req, _ := http.NewRequestWithContext(t.Context(), http.MethodPost, u, strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.SetBasicAuth(url.QueryEscape(id), url.QueryEscape(secret))
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, b
}

func hello(t *testing.T, api, tok string) (int, string, string) {
	t.Helper()
	req, _ := http.NewRequestWithContext(t.Context(), http.MethodGet, api+"/hello", nil)
	req.Header.Set("Authorization", "Bearer "+tok)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, resp.Header.Get("WWW-Authenticate"), string(b)
}

// refusedWithin polls the API until it refuses tok as revoked.
func refusedWithin(t *testing.T, api, tok string, limit time.Duration) {
	t.Helper()
	start := time.Now()
	for {
		status, challenge, body := hello(t, api, tok)
		if status == http.StatusUnauthorized {
			want := `Bearer error="invalid_token", error_description="the token has been revoked"`
			if !strings.Contains(tok, ".") {
				want = `Bearer error="invalid_token", error_description="the token is not active"`
			}
			if challenge != want && challenge != `Bearer error="invalid_token", error_description="the token has been revoked"` {
				t.Errorf("refused with %q; want %q", challenge, want)
			}
			t.Logf("refused %v after the revocation", time.Since(start).Round(time.Microsecond))
			return
		}
		if status != http.StatusOK && status != http.StatusServiceUnavailable {
			t.Fatalf("API answered %d %s", status, body)
		}
		if time.Since(start) > limit {
			t.Fatalf("the revoked token is still accepted %v after the revocation (last %d %s)", limit, status, body)
		}
		time.Sleep(time.Millisecond)
	}
}

func waitReady(t *testing.T, api string) {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for {
		resp, err := http.Get(api + "/readyz")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return
			}
		}
		if time.Now().After(deadline) {
			t.Fatal("the API's revocation feed did not catch up in 15 s")
		}
		time.Sleep(20 * time.Millisecond)
	}
}
