package oauth

import (
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/tokend/tokend/internal/oautherr"
)

// FuzzParseForm: the strict form parser never panics, and every refusal is
// an OAuth error with a 4xx status (nothing a client sends can cause a 500).
func FuzzParseForm(f *testing.F) {
	f.Add("application/x-www-form-urlencoded", "token=abc&token_type_hint=access_token", "")
	f.Add("application/x-www-form-urlencoded;charset=UTF-8", "token=a&token=b", "")
	f.Add("application/json", `{"token":"x"}`, "")
	f.Add("application/x-www-form-urlencoded", "token=%zz", "token=x")
	f.Add("", "", "a=%")
	f.Add("application/x-www-form-urlencoded", "client_id=a%00b&token=x", "")
	f.Fuzz(func(t *testing.T, contentType, body, query string) {
		r := httptest.NewRequest(http.MethodPost, "/oauth2/revoke", strings.NewReader(body))
		r.URL.RawQuery = query
		r.Header.Set("Content-Type", contentType)
		form, err := parseForm(httptest.NewRecorder(), r)
		if err != nil {
			var oe *oautherr.Error
			if !errors.As(err, &oe) || oe.Status < 400 || oe.Status >= 500 {
				t.Fatalf("refusal %v is not a 4xx OAuth error", err)
			}
			return
		}
		for name, vs := range form {
			if len(vs) != 1 {
				t.Fatalf("parameter %q accepted %d times", name, len(vs))
			}
			if name != "token" && !text(name, vs[0]) {
				t.Fatalf("parameter %q accepted with NUL or invalid UTF-8", name)
			}
		}
	})
}
