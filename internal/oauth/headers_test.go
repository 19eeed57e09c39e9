package oauth

import (
	"encoding/json"
	"testing"
)

// The hand-written introspection body must be byte for byte what
// encoding/json makes of the struct, whatever the strings hold.
func FuzzIntrospectionJSON(f *testing.F) {
	f.Add(true, "openid profile", "app", "alice", "sub-1", "Bearer", int64(1700003600), int64(1700000000), "https://localhost:9443", "jti-1")
	f.Add(false, "", "", "", "", "", int64(0), int64(0), "", "")
	f.Add(true, "a\"b\\c", "<script>&", "ü\u2028\x00", "\xff\xfe", "refresh_token", int64(-1), int64(1<<62), "iss\n", "\u2029")
	f.Fuzz(func(t *testing.T, active bool, scope, clientID, username, sub, typ string, exp, iat int64, iss, jti string) {
		in := introspection{Active: active, Scope: scope, ClientID: clientID, Username: username, Subject: sub,
			TokenType: typ, ExpiresAt: exp, IssuedAt: iat, NotBefore: iat, Issuer: iss, JTI: jti}
		want, err := json.Marshal(in)
		if err != nil {
			t.Fatal(err)
		}
		if got := in.appendJSON(nil); string(got) != string(want) {
			t.Errorf("appendJSON = %s\nencoding/json = %s", got, want)
		}
	})
}
