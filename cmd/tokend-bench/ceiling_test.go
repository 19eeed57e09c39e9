package main

import (
	"bytes"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"

	"github.com/tokend/tokend/internal/oauth"
)

// TestCeilingAnswersAsIntrospection checks that the ceiling's answer on
// pathAnswer is the one a real tokend gives an introspection of an active
// token: the same headers with the same values (but the request id's and
// the date's), and a body as long, give or take a few bytes of the ids.
func TestCeilingAnswersAsIntrospection(t *testing.T) {
	t.Parallel() // its own tokend, data folder and port
	var log bytes.Buffer
	b := smallBench(t, nil, &log, nil)
	srv, err := b.startServer(t.Context(), "")
	if err != nil {
		t.Fatalf("%v\n%s", err, log.String())
	}
	defer srv.stop()
	auth := b.opaque.basic()
	toks, err := issueMany(t.Context(), b.client, srv.url, auth, 1, 1)
	if err != nil {
		t.Fatal(err)
	}
	req, _ := http.NewRequest(http.MethodPost, srv.url+oauth.PathIntrospect, strings.NewReader("token="+toks[0]))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Authorization", auth)
	resp, err := b.client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	real, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || !bytes.Contains(real, []byte(`"active":true`)) {
		t.Fatalf("tokend's introspection: %d %s", resp.StatusCode, real)
	}

	rec := httptest.NewRecorder()
	creq := httptest.NewRequest(http.MethodPost, pathAnswer, strings.NewReader(ceilingBody))
	creq.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	ceilingHandler().ServeHTTP(rec, creq)
	ceil := rec.Result()

	var names []string
	for k := range resp.Header {
		if k != "Date" && k != "Content-Length" {
			names = append(names, k)
		}
	}
	slices.Sort(names)
	var cnames []string
	for k := range ceil.Header {
		cnames = append(cnames, k)
	}
	slices.Sort(cnames)
	if !slices.Equal(names, cnames) {
		t.Errorf("headers: tokend %v, the ceiling %v", names, cnames)
	}
	for _, k := range names {
		if k == "X-Request-Id" {
			continue
		}
		if got, want := ceil.Header.Values(k), resp.Header.Values(k); !slices.Equal(got, want) {
			t.Errorf("%s: the ceiling %q, tokend %q", k, got, want)
		}
	}
	if d := rec.Body.Len() - len(real); d < -16 || d > 16 {
		t.Errorf("body: the ceiling %d bytes, tokend %d (%s)", rec.Body.Len(), len(real), real)
	}
}
