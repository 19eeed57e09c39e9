package main

import (
	"bytes"
	"testing"
	"time"
)

// TestExchangeCode runs the code exchange phase at a small size on a
// server the program starts: the client registered with the CLI, the
// sign-in and the remembered consent through the pages, the codes obtained
// with the session, and each exchange answered with an access token and an
// ID Token signed with the server's default algorithm.
func TestExchangeCode(t *testing.T) {
	t.Parallel() // its own tokend, data folder and port
	var log bytes.Buffer
	b := smallBench(t, map[string]bool{opExchangeCode: true}, &log, nil)
	measured(t, b, &log)
	if len(b.rows) != 1 {
		t.Fatalf("%d rows; want the exchange's only", len(b.rows))
	}
	r := b.rows[0]
	if want := "exchange code (authorization_code, ID Token RS256)"; r.name != want {
		t.Errorf("row %q; want %q", r.name, want)
	}
	if r.ok == 0 || r.errors != 0 {
		t.Errorf("%d codes exchanged, %d errors (%s); want some and none", r.ok, r.errors, errorBreakdown(r))
	}
}

// TestCodePhaseDuration: the phase ends codeLife after the first code was
// asked for, or sooner when the run's duration says so.
func TestCodePhaseDuration(t *testing.T) {
	first := time.Date(2026, 12, 1, 12, 0, 0, 0, time.UTC)
	for _, tc := range []struct {
		d, after, want time.Duration
	}{
		{10 * time.Second, 10 * time.Second, 10 * time.Second},
		{30 * time.Second, maxObtain, codeLife - maxObtain},
		{time.Minute, 5 * time.Second, codeLife - 5*time.Second},
	} {
		if got := codePhaseDuration(tc.d, first, first.Add(tc.after)); got != tc.want {
			t.Errorf("codePhaseDuration(%s, codes obtained for %s) = %s; want %s", tc.d, tc.after, got, tc.want)
		}
	}
}
