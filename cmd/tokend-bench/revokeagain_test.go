package main

import (
	"bytes"
	"testing"
)

// TestRevokeAgain runs the phase that revokes tokens revoked already, at a
// small size: the tokens are revoked untimed first (no revocation phase
// ran), then each is revoked again and answered 200.
func TestRevokeAgain(t *testing.T) {
	t.Parallel() // its own tokend, data folder and port
	var log bytes.Buffer
	b := smallBench(t, map[string]bool{opRevokeAgain: true}, &log, func(c *benchConfig) { c.active, c.preissue = 50, 50 })
	measured(t, b, &log)
	if len(b.rows) != 1 || b.rows[0].name != opRevokeAgain {
		t.Fatalf("rows %+v; want the revoke-again phase's only", b.rows)
	}
	if r := b.rows[0]; r.ok < 50 || r.errors != 0 {
		t.Errorf("%d revocations, %d errors (%s); want each of the 50 tokens at least once and no error", r.ok, r.errors, errorBreakdown(r))
	}
}
