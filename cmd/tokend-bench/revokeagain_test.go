package main

import (
	"bytes"
	"fmt"
	"io"
	"path/filepath"
	"testing"
	"time"
)

// TestRevokeAgain runs the phase that revokes tokens revoked already, at a
// small size: the tokens are revoked untimed first (no revocation phase
// ran), then each is revoked again and answered 200.
func TestRevokeAgain(t *testing.T) {
	t.Parallel() // its own tokend, data folder and port
	var log bytes.Buffer
	cfg := benchConfig{
		tokend: binary(t), backend: "sqlite", ops: map[string]bool{opRevokeAgain: true},
		duration: time.Second, workers: 4, raw: true, serverCPU: -1, logLevel: "warn", active: 50, preissue: 50,
		stdout: io.Discard, stderr: &log,
	}
	tmp := t.TempDir()
	cfg.data = filepath.Join(tmp, "data")
	b := &bench{cfg: cfg, bin: cfg.tokend, tmp: tmp, client: loadClient(cfg.workers)}
	b.logf = func(format string, args ...any) { fmt.Fprintf(&log, format+"\n", args...) }
	err := b.setup(t.Context())
	if err == nil {
		err = b.measureServer(t.Context())
	}
	t.Logf("\n%s", log.String())
	if err != nil {
		t.Fatal(err)
	}
	if len(b.rows) != 1 || b.rows[0].name != opRevokeAgain {
		t.Fatalf("rows %+v; want the revoke-again phase's only", b.rows)
	}
	if r := b.rows[0]; r.ok < 50 || r.errors != 0 {
		t.Errorf("%d revocations, %d errors (%s); want each of the 50 tokens at least once and no error", r.ok, r.errors, errorBreakdown(r))
	}
}
