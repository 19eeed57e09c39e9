package clientauth

import (
	"encoding/base64"
	"errors"
	"net/http/httptest"
	"net/url"
	"testing"

	"github.com/tokend/tokend/internal/store"
)

func TestParse(t *testing.T) {
	b64 := func(s string) string { return "Basic " + base64.StdEncoding.EncodeToString([]byte(s)) }
	cases := []struct {
		name   string
		header string
		form   string
		want   Credentials
		fail   bool
		none   bool
	}{
		{name: "basic", header: b64("app:s3cret"), want: Credentials{"app", "s3cret", MethodBasic}},
		{name: "basic form-encoded (RFC 6749 §2.3.1)", header: b64("my%3Aapp:a%2Bb"), want: Credentials{"my:app", "a+b", MethodBasic}},
		{name: "basic secret with colon", header: b64("app:a:b"), want: Credentials{"app", "a:b", MethodBasic}},
		{name: "basic lowercase scheme", header: "basic " + base64.StdEncoding.EncodeToString([]byte("app:x")), want: Credentials{"app", "x", MethodBasic}},
		{name: "basic and same client_id in body", header: b64("app:x"), form: "client_id=app", want: Credentials{"app", "x", MethodBasic}},
		{name: "post", form: "client_id=app&client_secret=x", want: Credentials{"app", "x", MethodPost}},
		{name: "public", form: "client_id=app", want: Credentials{"app", "", MethodNone}},
		{name: "nothing", none: true},
		{name: "basic and body secret", header: b64("app:x"), form: "client_secret=x", fail: true},
		{name: "basic and other client_id", header: b64("app:x"), form: "client_id=other", fail: true},
		{name: "not base64", header: "Basic !!!", fail: true},
		{name: "no colon", header: b64("app"), fail: true},
		{name: "empty id", header: b64(":x"), fail: true},
		{name: "bearer", header: "Bearer abc", fail: true},
		{name: "secret without id", form: "client_secret=x", fail: true},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			r := httptest.NewRequest("POST", "/", nil)
			if c.header != "" {
				r.Header.Set("Authorization", c.header)
			}
			form, _ := url.ParseQuery(c.form)
			got, err := Parse(r, form)
			var f *Failure
			switch {
			case c.none:
				if !errors.Is(err, ErrNoCredentials) {
					t.Errorf("err %v; want ErrNoCredentials", err)
				}
			case c.fail:
				if !errors.As(err, &f) {
					t.Errorf("err %v; want a *Failure", err)
				}
			case err != nil:
				t.Errorf("err %v", err)
			case got != c.want:
				t.Errorf("got %+v; want %+v", got, c.want)
			}
		})
	}
}

// TestMethodMismatch: the method used must be the registered one; a
// client stored with no method is taken as client_secret_basic, or none
// when it has no secret.
func TestMethodMismatch(t *testing.T) {
	const secret = "sha256$x"
	for _, tc := range []struct {
		name           string
		stored, method string // the registered method, the one used
		secretHash     string
		ok             bool
	}{
		{"basic as basic", MethodBasic, MethodBasic, secret, true},
		{"basic as post", MethodBasic, MethodPost, secret, false},
		{"basic with client_id alone", MethodBasic, MethodNone, secret, false},
		{"post as post", MethodPost, MethodPost, secret, true},
		{"post as basic", MethodPost, MethodBasic, secret, false},
		{"none as none", MethodNone, MethodNone, "", true},
		{"none with a secret in Basic", MethodNone, MethodBasic, "", false},
		{"none with a secret in the body", MethodNone, MethodPost, "", false},
		{"no method, with a secret, as basic", "", MethodBasic, secret, true},
		{"no method, with a secret, as post", "", MethodPost, secret, false},
		{"no method, no secret, as none", "", MethodNone, "", true},
		{"none but a secret stored, as basic", MethodNone, MethodBasic, secret, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := store.Client{ID: "app", AuthMethod: tc.stored, SecretHash: tc.secretHash}
			if reason := methodMismatch(c, tc.method); (reason == "") != tc.ok {
				t.Errorf("methodMismatch(%q client, %q) = %q; want ok = %v", tc.stored, tc.method, reason, tc.ok)
			}
		})
	}
}
