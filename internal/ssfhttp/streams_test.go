package ssfhttp_test

import (
	"net/http"
	"slices"
	"testing"
	"time"

	"github.com/tokend/tokend/internal/oauth"
	"github.com/tokend/tokend/internal/ssf"
	"github.com/tokend/tokend/internal/ssfhttp"
	ts "github.com/tokend/tokend/internal/testserver"
)

// TestConfiguration: the transmitter configuration has the members of SSF
// 1.0 §7.1 that tokend serves, each endpoint under the issuer.
func TestConfiguration(t *testing.T) {
	s := ts.New(t, ts.WithSSF(nil))
	r := s.Do(http.MethodGet, ssfhttp.PathConfiguration, "")
	if r.Status != http.StatusOK {
		t.Fatalf("%d %s", r.Status, r.Body)
	}
	got := r.Map(t)
	want := map[string]any{
		"spec_version":               "1_0",
		"issuer":                     s.URL,
		"jwks_uri":                   s.URL + "/oauth2/jwks",
		"delivery_methods_supported": []any{"urn:ietf:rfc:8935", "urn:ietf:rfc:8936"},
		"configuration_endpoint":     s.URL + "/ssf/stream",
		"status_endpoint":            s.URL + "/ssf/status",
		"verification_endpoint":      s.URL + "/ssf/verify",
		"add_subject_endpoint":       s.URL + "/ssf/subjects/add",
		"remove_subject_endpoint":    s.URL + "/ssf/subjects/remove",
		"authorization_schemes":      []any{map[string]any{"spec_urn": "urn:ietf:rfc:6749"}},
		"default_subjects":           "ALL",
	}
	if !jsonEqual(got, want) {
		t.Errorf("configuration\n%v\nwant\n%v", got, want)
	}
}

// TestManagementRefusals: without credentials, with a token that is no
// access token of ours, with a client an admin did not allow, the
// management API refuses; a client allowed sees its own streams alone.
func TestManagementRefusals(t *testing.T) {
	s := ts.New(t, ts.WithSSF(nil))
	_, plain := receiverClient(t, s, "plain", false)
	_, rx := receiverClient(t, s, "rx", true)
	_, other := receiverClient(t, s, "other", true)
	for _, tc := range []struct {
		name, auth string
		status     int
	}{
		{"no credentials", "", http.StatusUnauthorized},
		{"unknown bearer", "Authorization: Bearer not-a-token", http.StatusUnauthorized},
		{"client not allowed", plain, http.StatusForbidden},
		{"admin user's wrong password", ts.Basic("nobody", "x"), http.StatusUnauthorized},
	} {
		if r := s.Do(http.MethodPost, ssfhttp.PathStream, `{}`, tc.auth); r.Status != tc.status {
			t.Errorf("%s: create %d %s; want %d", tc.name, r.Status, r.Body, tc.status)
		}
		if r := s.Do(http.MethodGet, ssfhttp.PathStream, "", tc.auth); r.Status != tc.status {
			t.Errorf("%s: read %d; want %d", tc.name, r.Status, tc.status)
		}
	}
	mine := create(t, s, `{}`, rx)
	for _, path := range []string{ssfhttp.PathStream + "?stream_id=" + mine.StreamID, ssfhttp.PathStatus + "?stream_id=" + mine.StreamID} {
		if r := s.Do(http.MethodGet, path, "", other); r.Status != http.StatusNotFound {
			t.Errorf("another client's GET %s: %d; want 404", path, r.Status)
		}
	}
	if r := s.Do(http.MethodDelete, ssfhttp.PathStream+"?stream_id="+mine.StreamID, "", other); r.Status != http.StatusNotFound {
		t.Errorf("another client's delete: %d; want 404", r.Status)
	}
	var list []ssf.StreamConfig
	s.Do(http.MethodGet, ssfhttp.PathStream, "", other).JSON(t, &list)
	if len(list) != 0 {
		t.Errorf("another client lists %d streams; want none", len(list))
	}
	s.Do(http.MethodGet, ssfhttp.PathStream, "", ts.AdminBearer).JSON(t, &list)
	if len(list) != 1 || list[0].StreamID != mine.StreamID {
		t.Errorf("the admin lists %v; want the one stream", list)
	}
	for _, b := range []string{`{"delivery":{"method":"urn:example:carrier-pigeon"}}`,
		`{"delivery":{"method":"urn:ietf:rfc:8935","endpoint_url":"ftp://x"}}`, `{"aud":"someone-else"}`, `[`} {
		if r := s.Do(http.MethodPost, ssfhttp.PathStream, b, rx); r.Status != http.StatusBadRequest || r.Map(t)["error"] != "invalid_request" {
			t.Errorf("create %s: %d %s; want 400 invalid_request", b, r.Status, r.Body)
		}
	}
}

// TestStreamLifecycle: create (201, poll by default), read, update,
// replace, status, subjects and delete, as SSF 1.0 §8 has them.
func TestStreamLifecycle(t *testing.T) {
	s := ts.New(t, ts.WithSSF(nil))
	rxID, rx := receiverClient(t, s, "rx", true)
	cfg := create(t, s, body(`"description":"first"`), rx)
	if cfg.Delivery.Method != ssf.MethodPoll || cfg.Delivery.EndpointURL != s.URL+ssfhttp.PathPoll+cfg.StreamID ||
		cfg.Aud != rxID || cfg.Iss != s.URL || !slices.Equal(cfg.EventsDelivered, ssf.EventsSupported) || cfg.Description != "first" {
		t.Errorf("created %+v; want a poll stream at its poll endpoint, for the client, with every event", cfg)
	}
	id := cfg.StreamID
	var got ssf.StreamConfig
	s.Do(http.MethodGet, ssfhttp.PathStream+"?stream_id="+id, "", rx).JSON(t, &got)
	if !jsonEqual(got, cfg) {
		t.Errorf("read %+v; want %+v", got, cfg)
	}
	r := s.Do(http.MethodPatch, ssfhttp.PathStream, body(`"stream_id":`+quote(id), `"events_requested":["`+ssf.EventCredentialChange+`","urn:example:unknown"]`), rx)
	r.JSON(t, &got)
	if r.Status != http.StatusOK || got.Description != "first" || !slices.Equal(got.EventsDelivered, []string{ssf.EventCredentialChange}) {
		t.Errorf("PATCH: %d %+v; want the description kept, credential-change alone delivered", r.Status, got)
	}
	r = s.Do(http.MethodPut, ssfhttp.PathStream, body(`"stream_id":`+quote(id), `"delivery":{"method":"urn:ietf:rfc:8936"}`), rx)
	got = ssf.StreamConfig{}
	r.JSON(t, &got)
	if r.Status != http.StatusOK || got.Description != "" || len(got.EventsRequested) != 0 {
		t.Errorf("PUT: %d %+v; want what it left out cleared", r.Status, got)
	}
	r = s.Do(http.MethodPost, ssfhttp.PathStatus, body(`"stream_id":`+quote(id), `"status":"paused"`, `"reason":"maintenance"`), rx)
	if m := r.Map(t); r.Status != http.StatusOK || m["status"] != "paused" || m["reason"] != "maintenance" {
		t.Errorf("status update: %d %v", r.Status, m)
	}
	if m := s.Do(http.MethodGet, ssfhttp.PathStatus+"?stream_id="+id, "", rx).Map(t); m["status"] != "paused" {
		t.Errorf("status read %v; want paused", m)
	}
	if r := s.Do(http.MethodPost, ssfhttp.PathStatus, body(`"stream_id":`+quote(id), `"status":"asleep"`), rx); r.Status != http.StatusBadRequest {
		t.Errorf("status asleep: %d; want 400", r.Status)
	}
	subject := `"subject":{"format":"email","email":"alice@example.com"}`
	if r := s.Do(http.MethodPost, ssfhttp.PathRemoveSubject, body(`"stream_id":`+quote(id), subject), rx); r.Status != http.StatusNoContent {
		t.Errorf("remove subject: %d %s; want 204", r.Status, r.Body)
	}
	if r := s.Do(http.MethodPost, ssfhttp.PathAddSubject, body(`"stream_id":`+quote(id), subject), rx); r.Status != http.StatusOK {
		t.Errorf("add subject: %d %s; want 200", r.Status, r.Body)
	}
	if r := s.Do(http.MethodPost, ssfhttp.PathAddSubject, body(`"stream_id":`+quote(id), `"subject":{"format":"nope"}`), rx); r.Status != http.StatusBadRequest {
		t.Errorf("add an unknown subject format: %d; want 400", r.Status)
	}
	if r := s.Do(http.MethodDelete, ssfhttp.PathStream+"?stream_id="+id, "", rx); r.Status != http.StatusNoContent {
		t.Errorf("delete: %d; want 204", r.Status)
	}
	if r := s.Do(http.MethodGet, ssfhttp.PathStream+"?stream_id="+id, "", rx); r.Status != http.StatusNotFound {
		t.Errorf("read after delete: %d; want 404", r.Status)
	}
}

// TestVerification: a verification request (204) puts a verification
// event, with the state echoed and the stream as its subject, in the
// next poll; acknowledged, it is not handed out again. Another request
// sooner than the stream's min_verification_interval is a 429 with
// Retry-After, and queues nothing.
func TestVerification(t *testing.T) {
	s := ts.New(t, ts.WithSSF(nil))
	rxID, rx := receiverClient(t, s, "rx", true)
	cfg := create(t, s, `{}`, rx)
	id := cfg.StreamID
	if cfg.MinVerificationInterval != int(ssf.DefaultMinVerification.Seconds()) {
		t.Errorf("min_verification_interval %d; want %v", cfg.MinVerificationInterval, ssf.DefaultMinVerification)
	}
	if r := s.Do(http.MethodPost, ssfhttp.PathVerify, body(`"stream_id":`+quote(id), `"state":"s-123"`), rx); r.Status != http.StatusNoContent {
		t.Fatalf("verify: %d %s; want 204", r.Status, r.Body)
	}
	s.Clock.Advance(ssf.DefaultMinVerification - time.Second)
	if r := s.Do(http.MethodPost, ssfhttp.PathVerify, body(`"stream_id":`+quote(id), `"state":"s-124"`), rx); r.Status != http.StatusTooManyRequests || r.Header.Get("Retry-After") == "" {
		t.Errorf("verify again within min_verification_interval: %d, Retry-After %q; want 429 with Retry-After", r.Status, r.Header.Get("Retry-After"))
	}
	got := poll(t, s, id, `{"returnImmediately":true}`, rx)
	if len(got.Sets) != 1 || got.MoreAvailable {
		t.Fatalf("poll: %d SETs, moreAvailable %t; want the verification alone", len(got.Sets), got.MoreAvailable)
	}
	for jti, raw := range got.Sets {
		c := verifySET(t, s, raw, rxID)
		if c["jti"] != jti || event(t, c, ssf.EventVerification)["state"] != "s-123" ||
			!jsonEqual(c["sub_id"], map[string]any{"format": "opaque", "id": id}) {
			t.Errorf("verification SET %v; want state s-123, the stream as sub_id, the jti it is keyed by", c)
		}
		if again := poll(t, s, id, body(`"ack":[`+quote(jti)+`]`, `"returnImmediately":true`), rx); len(again.Sets) != 0 {
			t.Errorf("the poll that acknowledged it got %d SETs; want none", len(again.Sets))
		}
	}
	if again := poll(t, s, id, `{"returnImmediately":true}`, rx); len(again.Sets) != 0 {
		t.Errorf("after the ack a poll got %d SETs; want none", len(again.Sets))
	}
	s.Clock.Advance(time.Second)
	if r := s.Do(http.MethodPost, ssfhttp.PathVerify, body(`"stream_id":`+quote(id)), rx); r.Status != http.StatusNoContent {
		t.Errorf("verify once min_verification_interval has passed: %d %s; want 204", r.Status, r.Body)
	}
}

// TestDCRMember: a client registered over DCR with ext_ssf_streams may
// manage streams with its access token; the member is shown back, and
// an update that leaves it out keeps it.
func TestDCRMember(t *testing.T) {
	s := ts.New(t, ts.WithSSF(nil))
	r := s.Do(http.MethodPost, oauth.PathRegister, `{"client_name":"rx","grant_types":["client_credentials"],"ext_ssf_streams":true}`, ts.AdminBearer)
	info := r.Map(t)
	if r.Status != http.StatusCreated || info["ext_ssf_streams"] != true {
		t.Fatalf("register: %d %v; want 201 with ext_ssf_streams", r.Status, info)
	}
	id, secret := info["client_id"].(string), info["client_secret"].(string)
	r = s.Do(http.MethodPut, oauth.PathRegister+"/"+id, `{"client_name":"rx 2","grant_types":["client_credentials"]}`, ts.AdminBearer)
	if r.Status != http.StatusOK || r.Map(t)["ext_ssf_streams"] != true {
		t.Errorf("update without the member: %d %s; want it kept", r.Status, r.Body)
	}
	create(t, s, `{}`, "Authorization: Bearer "+s.ClientTokens(id, secret).Access)
	if r := s.Do(http.MethodPost, oauth.PathRegister, `{"client_name":"pub","grant_types":["authorization_code"],"redirect_uris":["https://a.example/cb"],"ext_public_client":true,"ext_ssf_streams":true}`, ts.AdminBearer); r.Status != http.StatusBadRequest {
		t.Errorf("a public client with ext_ssf_streams: %d; want 400", r.Status)
	}
}

// TestClientNamesItsReceiverAud: a client may name as its stream's aud
// the receiver's own URL at its push endpoint (scheme and host of
// delivery.endpoint_url), as a receiver that accepts only SETs for its
// issuer needs, and nothing else: not another host's, not for a poll
// stream; an update that moves the delivery away from that host, or to
// poll, is refused and changes nothing.
func TestClientNamesItsReceiverAud(t *testing.T) {
	s := ts.New(t, ts.WithSSF(nil))
	_, rx := receiverClient(t, s, "rx", true)
	push := func(url string) string {
		return `"delivery":{"method":"urn:ietf:rfc:8935","endpoint_url":` + quote(url) + `}`
	}
	cfg := create(t, s, body(`"aud":"https://rx.example"`, push("https://rx.example/ssf/receive")), rx)
	if cfg.Aud != "https://rx.example" {
		t.Errorf("aud %v; want the one named", cfg.Aud)
	}
	create(t, s, body(`"aud":["https://RX.example/tenant"]`, push("https://rx.example/ssf/receive")), rx)
	for _, b := range []string{
		body(`"aud":"https://other.example"`, push("https://rx.example/ssf/receive")),
		body(`"aud":"http://rx.example"`, push("https://rx.example/ssf/receive")),
		body(`"aud":["https://rx.example","https://other.example"]`, push("https://rx.example/ssf/receive")),
		body(`"aud":"https://rx.example"`),
	} {
		if r := s.Do(http.MethodPost, ssfhttp.PathStream, b, rx); r.Status != http.StatusBadRequest || r.Map(t)["error"] != "invalid_request" {
			t.Errorf("create %s: %d %s; want 400 invalid_request", b, r.Status, r.Body)
		}
	}
	id := quote(cfg.StreamID)
	for _, b := range []string{body(`"stream_id":`+id, push("https://other.example/ssf/receive")),
		body(`"stream_id":`+id, `"delivery":{"method":"urn:ietf:rfc:8936"}`)} {
		if r := s.Do(http.MethodPatch, ssfhttp.PathStream, b, rx); r.Status != http.StatusBadRequest {
			t.Errorf("update %s: %d %s; want 400", b, r.Status, r.Body)
		}
	}
	var got ssf.StreamConfig
	s.Do(http.MethodGet, ssfhttp.PathStream+"?stream_id="+cfg.StreamID, "", rx).JSON(t, &got)
	if !jsonEqual(got, cfg) {
		t.Errorf("after the refused updates %+v; want %+v", got, cfg)
	}
	if r := s.Do(http.MethodPatch, ssfhttp.PathStream, body(`"stream_id":`+id, push("https://rx.example/ssf/v2/receive")), rx); r.Status != http.StatusOK {
		t.Errorf("update to another path on the same host: %d %s; want 200", r.Status, r.Body)
	}
}
