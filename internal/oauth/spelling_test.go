package oauth_test

import (
	"encoding/base64"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/tokend/tokend/internal/oauth"
	"github.com/tokend/tokend/internal/registry"
	"github.com/tokend/tokend/internal/token"
	"github.com/tokend/tokend/rs"
)

// otherSpellings returns spellings of the JWT tok that a lenient base64url
// decoder (base64.RawURLEncoding, which go-jose uses) reads as the same
// bytes, so the signature still verifies: the last character of a segment
// with a bit set that encodes no byte. Only the signature is sure to have
// such bits (ES256: 64 bytes in 86 characters).
func otherSpellings(t *testing.T, tok string) map[string]string {
	t.Helper()
	const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
	parts := strings.Split(tok, ".")
	out := map[string]string{}
	for i, name := range []string{"header", "payload", "signature"} {
		seg := parts[i]
		last := strings.IndexByte(alphabet, seg[len(seg)-1])
		switch len(seg) % 4 {
		case 2:
			last |= 0x08
		case 3:
			last |= 0x02
		default:
			continue
		}
		p := append([]string(nil), parts...)
		p[i] = seg[:len(seg)-1] + string(alphabet[last])
		a, _ := base64.RawURLEncoding.DecodeString(seg)
		b, err := base64.RawURLEncoding.DecodeString(p[i])
		if err != nil || string(a) != string(b) {
			t.Fatalf("respelt %s %q does not decode to the same bytes", name, p[i])
		}
		out["unused bit set in the "+name] = strings.Join(p, ".")
	}
	if _, ok := out["unused bit set in the signature"]; !ok {
		t.Fatalf("the signature of %q has no unused bits", tok)
	}
	return out
}

// TestOtherSpellingOfAJWTIsNotOurs: a JWT of ours spelt otherwise than
// issued is answered as a token that is not ours, without a store read:
// introspection is inactive, revocation a no-op 200, and the token as
// issued is untouched.
func TestOtherSpellingOfAJWTIsNotOurs(t *testing.T) {
	counter := &countingStore{}
	h := newHarness(t, withJWT(t, token.ES256), func(c *oauth.Config) {
		counter.Store = c.Store
		c.Store = counter
	})
	id, secret := h.client(jwtClient("svc"))
	tok := h.token(id, secret, "grant_type=client_credentials").Access
	for name, other := range otherSpellings(t, tok) {
		t.Run(name, func(t *testing.T) {
			lookups, revocations := counter.lookups.Load(), counter.revocations.Load()
			if h.active(other) {
				t.Error("introspection of the other spelling: active; want inactive")
			}
			r := h.post(oauth.PathRevoke, "token="+url.QueryEscape(other), basic(id, secret))
			checkRevokedOK(t, r)
			checkNoRevokedHeaders(t, r)
			if n, m := counter.lookups.Load()-lookups, counter.revocations.Load()-revocations; n != 0 || m != 0 {
				t.Errorf("%d token lookups, %d revocations; a spelling never issued must not reach the store", n, m)
			}
		})
	}
	if !h.active(tok) {
		t.Error("the token as issued is inactive")
	}
}

// TestRevokingAJWTStopsEverySpelling: a resource server using package rs
// refuses every other spelling of a live JWT, and once the token as issued
// is revoked, tokend and the resource server refuse it in every spelling.
func TestRevokingAJWTStopsEverySpelling(t *testing.T) {
	f := newFeedHarness(t)
	rsID, rsSecret := f.client(registry.Spec{Name: "api", CanIntrospect: true})
	id, secret := f.client(jwtClient("svc"))
	guard, err := rs.New(rs.Config{Issuer: f.srv.URL, Audience: id, ClientID: rsID, ClientSecret: rsSecret})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { guard.Close() })
	api := httptest.NewServer(guard.Middleware(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {})))
	t.Cleanup(api.Close)
	call := func(tok string) int {
		t.Helper()
		req, err := http.NewRequestWithContext(t.Context(), http.MethodGet, api.URL, nil)
		if err != nil {
			t.Fatal(err)
		}
		req.Header.Set("Authorization", "Bearer "+tok)
		resp, err := api.Client().Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}

	tok := f.token(id, secret, "grant_type=client_credentials").Access
	others := otherSpellings(t, tok)
	if got := call(tok); got != http.StatusOK {
		t.Fatalf("resource server, the token as issued: %d; want 200", got)
	}
	for name, other := range others {
		if got := call(other); got != http.StatusUnauthorized {
			t.Errorf("resource server, %s: %d; want 401", name, got)
		}
	}

	checkRevokedOK(t, f.post(oauth.PathRevoke, "token="+url.QueryEscape(tok), basic(id, secret)))
	deadline := time.Now().Add(2 * time.Second)
	for call(tok) != http.StatusUnauthorized {
		if time.Now().After(deadline) {
			t.Fatal("resource server: the revoked token is accepted 2 s after its revocation")
		}
		time.Sleep(5 * time.Millisecond)
	}
	for name, s := range others {
		if got := call(s); got != http.StatusUnauthorized {
			t.Errorf("resource server, revoked token, %s: %d; want 401", name, got)
		}
		if f.active(s) {
			t.Errorf("introspection of the revoked token, %s: active", name)
		}
	}
	if f.active(tok) {
		t.Error("introspection of the revoked token: active")
	}
}
