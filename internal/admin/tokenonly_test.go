package admin_test

import (
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/tokend/tokend/internal/admin"
	"github.com/tokend/tokend/internal/adminauth"
)

// TestTokenOnly: a handler guarded by TokenOnly answers only the admin token as a Bearer
// token; anything else is a 401 JSON error with a Bearer challenge.
func TestTokenOnly(t *testing.T) {
	const token = "metrics-test-admin-token-0123456789"
	inner := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { _, _ = io.WriteString(w, "tokend_guarded 1\n") })
	guarded := httptest.NewServer(admin.TokenOnly(adminauth.New(adminauth.Config{Token: token}), inner, nil))
	defer guarded.Close()
	unset := httptest.NewServer(admin.TokenOnly(adminauth.New(adminauth.Config{}), inner, nil))
	defer unset.Close()
	cases := []struct {
		name          string
		srv           *httptest.Server
		authorization string
		ok            bool
	}{
		{"no credentials", guarded, "", false},
		{"wrong token", guarded, "Bearer not-the-admin-token-0123456789", false},
		{"token as Basic", guarded, "Basic " + token, false},
		{"token with a suffix", guarded, "Bearer " + token + "x", false},
		{"token", guarded, "Bearer " + token, true},
		{"token, scheme in lower case", guarded, "bearer " + token, true},
		{"no token configured", unset, "Bearer ", false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			req, err := http.NewRequestWithContext(t.Context(), http.MethodGet, c.srv.URL+"/metrics", nil)
			if err != nil {
				t.Fatal(err)
			}
			if c.authorization != "" {
				req.Header.Set("Authorization", c.authorization)
			}
			resp, err := c.srv.Client().Do(req)
			if err != nil {
				t.Fatal(err)
			}
			b, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			body := string(b)
			if c.ok {
				if resp.StatusCode != http.StatusOK || !strings.Contains(body, "tokend_guarded 1") {
					t.Errorf("got %d %.200q; want 200 and the guarded answer", resp.StatusCode, body)
				}
				return
			}
			if resp.StatusCode != http.StatusUnauthorized || strings.Contains(body, "tokend_") || !strings.Contains(body, `"error":"invalid_token"`) {
				t.Errorf("got %d %.200q; want 401 invalid_token without the guarded answer", resp.StatusCode, body)
			}
			if got, want := resp.Header.Get("WWW-Authenticate"), `Bearer realm="tokend"`; got != want {
				t.Errorf("WWW-Authenticate %q; want %q", got, want)
			}
		})
	}
}
