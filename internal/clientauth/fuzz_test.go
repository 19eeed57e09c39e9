package clientauth

import (
	"errors"
	"net/http/httptest"
	"net/url"
	"testing"
)

// FuzzParse feeds arbitrary Authorization headers and form bodies to the
// credential parser: it must never panic, and whatever it accepts must be
// one well-formed set of credentials.
func FuzzParse(f *testing.F) {
	f.Add("Basic YXBwOnMzY3JldA==", "token=x")
	f.Add("Basic OVRRNVJLZWFhVGZGeUpRSkRzam9aZmp4UkhjYTpDZnJ3ZXRual9ZOTdSSzFTZWlWQWx1aXdVVmth", "client_id=9TQ5RKeaaTfFyJQJDsjoZfjxRHca")
	f.Add("", "client_id=app&client_secret=x")
	f.Add("", "client_id=app")
	f.Add("basic %%%", "client_secret=x")
	f.Add("Bearer abc", "")
	f.Fuzz(func(t *testing.T, header, body string) {
		r := httptest.NewRequest("POST", "/", nil)
		r.Header.Set("Authorization", header)
		form, err := url.ParseQuery(body)
		if err != nil {
			return
		}
		c, err := Parse(r, form)
		if err != nil {
			var f *Failure
			if !errors.Is(err, ErrNoCredentials) && !errors.As(err, &f) {
				t.Fatalf("unexpected error type %T: %v", err, err)
			}
			return
		}
		if c.ClientID == "" {
			t.Fatalf("accepted credentials without a client id: %+v", c)
		}
		switch c.Method {
		case MethodBasic, MethodPost:
		case MethodNone:
			if c.Secret != "" {
				t.Fatalf("public credentials with a secret: %+v", c)
			}
		default:
			t.Fatalf("unknown method %q", c.Method)
		}
	})
}
