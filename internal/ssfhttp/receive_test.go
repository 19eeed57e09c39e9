package ssfhttp_test

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"encoding/json"
	"net/http"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"

	"github.com/tokend/tokend/internal/oauth"
	"github.com/tokend/tokend/internal/scim"
	"github.com/tokend/tokend/internal/ssf"
	"github.com/tokend/tokend/internal/ssfhttp"
	"github.com/tokend/tokend/internal/store"
	ts "github.com/tokend/tokend/internal/testserver"
)

// upstreamGrant trusts up as an issuer of rx, through its JWKS URI (as
// `tokend issuer add --jwks-uri` does), and gives rx a grant for the
// upstream's subject sub, as the JWT bearer grant makes them. It returns
// the grant's access token.
func upstreamGrant(t *testing.T, up, rx *ts.Server, sub string) string {
	t.Helper()
	ctx := t.Context()
	if err := rx.Store.CreateIssuer(ctx, store.Issuer{Issuer: up.URL, JWKSURI: up.URL + oauth.PathJWKS, CreatedAt: rx.Clock.Now()}); err != nil {
		t.Fatal(err)
	}
	client, _ := rx.Client("api")
	now := rx.Clock.Now()
	tok := "upstream-access-token-" + sub
	g := store.Grant{ID: "g-" + sub, ClientID: client, Subject: sub + "@" + up.URL, CreatedAt: now, ExpiresAt: now.Add(time.Hour)}
	if err := rx.Store.CreateGrant(ctx, g, []store.Token{{Hash: store.HashToken(tok), Kind: store.AccessToken,
		IssuedAt: now, ExpiresAt: now.Add(time.Hour)}}); err != nil {
		t.Fatal(err)
	}
	if !live(t, rx, tok) {
		t.Fatal("the upstream grant's token is not active")
	}
	return tok
}

// live reports whether the store holds tok active. (A token made up this
// way is not one introspection recognises.)
func live(t *testing.T, s *ts.Server, tok string) bool {
	t.Helper()
	rec, err := s.Store.LookupToken(t.Context(), store.HashToken(tok))
	if err != nil {
		t.Fatal(err)
	}
	return rec.Active(s.Clock.Now())
}

// TestReceiverRevokesUpstreamGrants: two tokends, the first a transmitter
// pushing to the second's receiver, which trusts it. A password change on
// the first revokes, on the second, the grants of that subject that came
// from the first, for upstream_signal, the first as the actor; whether an
// admin of the first made the stream, or the second as a client of the
// first allowed to manage streams, naming its own URL as the aud.
func TestReceiverRevokesUpstreamGrants(t *testing.T) {
	for _, by := range []string{"admin", "client"} {
		t.Run(by, func(t *testing.T) {
			up := ts.New(t, ts.WithSSF(fastPush))
			rx := ts.New(t, ts.WithSSF(nil))
			alice := up.User("alice", false)
			c, secret := up.Client("app")
			up.PasswordTokens(c, secret, "alice")
			tok := upstreamGrant(t, up, rx, alice.ID)
			auth := ts.AdminBearer
			if by == "client" {
				_, auth = receiverClient(t, up, "rx", true)
			}
			create(t, up, body(`"aud":`+quote(rx.URL), `"events_requested":["`+ssf.EventCredentialChange+`"]`,
				`"delivery":{"method":"urn:ietf:rfc:8935","endpoint_url":`+quote(rx.URL+ssfhttp.PathReceive)+`}`), auth)
			up.Clock.Advance(time.Minute)
			r := up.Do(http.MethodPatch, scim.PathUsers+"/"+alice.ID, patchOp+`[{"op":"replace","path":"password","value":"a brand new password"}]}`, ts.AdminBearer)
			if r.Status != http.StatusOK {
				t.Fatalf("password change: %d %s", r.Status, r.Body)
			}
			eventually(t, "the upstream grant revoked", func() bool { return !live(t, rx, tok) })
			evs := rx.Events()
			if len(evs) != 1 || evs[0].Reason != store.ReasonUpstreamSignal || evs[0].Actor != up.URL || evs[0].Subject != alice.ID+"@"+up.URL {
				t.Errorf("receiver's log %+v; want one upstream_signal event by %s for alice's grant", evs, up.URL)
			}
		})
	}
}

// TestReceiverRefusals: every kind of bad SET gets its RFC 8935 400.
func TestReceiverRefusals(t *testing.T) {
	up := ts.New(t, ts.WithSSF(nil))
	rx := ts.New(t, ts.WithSSF(nil))
	upstreamGrant(t, up, rx, "bob")
	claims := func(iss, aud, jti string) json.RawMessage {
		b, _ := json.Marshal(map[string]any{"iss": iss, "aud": aud, "jti": jti, "iat": time.Now().Unix(),
			"sub_id": map[string]any{"format": "iss_sub", "iss": iss, "sub": "bob"},
			"events": map[string]any{ssf.EventAccountDisabled: map[string]any{}}})
		return b
	}
	mint := func(c json.RawMessage) string {
		raw, err := up.JWT.MintSET(c)
		if err != nil {
			t.Fatal(err)
		}
		return raw
	}
	otherKey, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	signer, _ := jose.NewSigner(jose.SigningKey{Algorithm: jose.ES256, Key: otherKey},
		(&jose.SignerOptions{}).WithType("secevent+jwt").WithHeader("kid", up.JWT.Keys.Active().ID))
	forged, _ := signer.Sign(claims(up.URL, rx.URL, "forged"))
	forgedRaw, _ := forged.CompactSerialize()
	good := mint(claims(up.URL, rx.URL, "good"))
	for _, tc := range []struct {
		name, contentType, body, err string
	}{
		{"wrong content type", "application/json", good, "invalid_request"},
		{"not a JWS", "application/secevent+jwt", "hello", "invalid_request"},
		{"unknown issuer", "application/secevent+jwt", mint(claims("https://unknown.example", rx.URL, "u")), "invalid_issuer"},
		{"badly signed", "application/secevent+jwt", forgedRaw, "invalid_key"},
		{"another audience", "application/secevent+jwt", mint(claims(up.URL, "https://elsewhere.example", "a")), "invalid_audience"},
		{"no jti", "application/secevent+jwt", mint(claims(up.URL, rx.URL, "")), "invalid_request"},
	} {
		status, got := push(t, rx, tc.contentType, tc.body)
		if status != http.StatusBadRequest || got.Err != tc.err || got.Description == "" {
			t.Errorf("%s: %d %+v; want 400 %s", tc.name, status, got, tc.err)
		}
	}
	if status, _ := push(t, rx, "application/secevent+jwt", good); status != http.StatusAccepted {
		t.Fatalf("a good SET: %d; want 202", status)
	}
	if status, got := push(t, rx, "application/secevent+jwt", good); status != http.StatusBadRequest || got.Err != "invalid_request" {
		t.Errorf("the same SET again: %d %+v; want 400 invalid_request (replayed)", status, got)
	}
	if evs := rx.Events(); len(evs) != 1 || evs[0].Reason != store.ReasonUpstreamSignal {
		t.Errorf("receiver's log %+v; want the one revocation of the good SET", evs)
	}
}

// push POSTs body to rx's receiver and returns the status and the RFC
// 8935 error.
func push(t *testing.T, rx *ts.Server, contentType, body string) (int, ssf.ReceiveError) {
	t.Helper()
	req, err := http.NewRequestWithContext(t.Context(), http.MethodPost, rx.URL+ssfhttp.PathReceive, bytes.NewReader([]byte(body)))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", contentType)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var e ssf.ReceiveError
	_ = json.NewDecoder(resp.Body).Decode(&e)
	return resp.StatusCode, e
}
