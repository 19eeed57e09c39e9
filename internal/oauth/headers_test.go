package oauth

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/tokend/tokend/internal/token"
)

// The hand-written introspection body must be byte for byte what
// encoding/json makes of the struct, whatever the strings hold.
func FuzzIntrospectionJSON(f *testing.F) {
	f.Add(true, "openid profile", "app", "alice", "sub-1", "Bearer", int64(1700003600), int64(1700000000), "https://localhost:9443", "jti-1", "")
	f.Add(true, "api", "app", "", "sub-1", "DPoP", int64(1700003600), int64(1700000000), "https://localhost:9443", "", "0ZcOCORZNYy-DWpqq30jZyJGHTN0d2HglBV3uiguA4I")
	f.Add(false, "", "", "", "", "", int64(0), int64(0), "", "", "")
	f.Add(true, "a\"b\\c", "<script>&", "ü\u2028\x00", "\xff\xfe", "refresh_token", int64(-1), int64(1<<62), "iss\n", "\u2029", "<\u2028>")
	f.Fuzz(func(t *testing.T, active bool, scope, clientID, username, sub, typ string, exp, iat int64, iss, jti, jkt string) {
		in := introspection{Active: active, Scope: scope, ClientID: clientID, Username: username, Subject: sub,
			TokenType: typ, ExpiresAt: exp, IssuedAt: iat, NotBefore: iat, Issuer: iss, JTI: jti}
		if jkt != "" {
			in.Confirmation = &token.Confirmation{JKT: jkt}
		}
		want, err := json.Marshal(in)
		if err != nil {
			t.Fatal(err)
		}
		if got := in.appendJSON(nil); string(got) != string(want) {
			t.Errorf("appendJSON = %s\nencoding/json = %s", got, want)
		}
	})
}

// An exchanged token's members (RFC 8693) come out as encoding/json
// writes them too.
func TestIntrospectionJSONOfExchangedToken(t *testing.T) {
	for _, in := range []introspection{
		{Active: true, Scope: "read", Audience: token.Audience{"https://a.example/<x>"}, Act: json.RawMessage(`{"sub":"api","act":{"sub":"<gw>"}}`),
			ExchangedFrom: []string{"p", "root"}},
		{Active: true, Audience: token.Audience{"a", "b"}},
		{Active: true, ExchangedFrom: []string{"root"}, Confirmation: &token.Confirmation{JKT: "k"}},
	} {
		want, err := json.Marshal(in)
		if err != nil {
			t.Fatal(err)
		}
		if got := in.appendJSON(nil); string(got) != string(want) {
			t.Errorf("appendJSON = %s\nencoding/json = %s", got, want)
		}
	}
}

// Grant identifiers sort by their time of issuance, so that new grants
// append to the tables' indexes; two issued in the same millisecond differ.
func TestGrantIDsSortByTime(t *testing.T) {
	base := time.Date(2026, 12, 2, 8, 0, 0, 0, time.UTC)
	prev := ""
	for i := range 2000 {
		id, err := newGrantID(base.Add(time.Duration(i/2) * time.Millisecond))
		if err != nil {
			t.Fatal(err)
		}
		if len(id) != 22 || strings.ContainsAny(id, "+/=") {
			t.Fatalf("id %q: want 22 URL-safe characters", id)
		}
		if i%2 == 1 && id == prev {
			t.Fatalf("two ids in one millisecond are equal: %q", id)
		}
		if i%2 == 0 && id <= prev {
			t.Fatalf("id %q of a later millisecond sorts before %q", id, prev)
		}
		prev = id
	}
}
