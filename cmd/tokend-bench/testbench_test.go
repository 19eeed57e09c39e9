package main

import (
	"bytes"
	"fmt"
	"io"
	"path/filepath"
	"testing"
	"time"
)

// smallBench returns a bench of the given ops at a small size (1 s a
// phase, 4 workers, the server unpinned and logging warnings only) with
// its clients registered on a fresh data folder; what it says goes to log.
// tweak, if not nil, changes the configuration first.
func smallBench(t *testing.T, ops map[string]bool, log *bytes.Buffer, tweak func(*benchConfig)) *bench {
	t.Helper()
	cfg := benchConfig{
		tokend: binary(t), backend: "sqlite", ops: ops,
		duration: time.Second, workers: 4, raw: true, serverCPU: -1, logLevel: "warn",
		stdout: io.Discard, stderr: log,
	}
	if tweak != nil {
		tweak(&cfg)
	}
	tmp := t.TempDir()
	cfg.data = filepath.Join(tmp, "data")
	b := &bench{cfg: cfg, bin: cfg.tokend, tmp: tmp, client: loadClient(cfg.workers)}
	b.logf = func(format string, args ...any) { fmt.Fprintf(log, format+"\n", args...) }
	if err := b.setup(t.Context()); err != nil {
		t.Fatalf("%v\n%s", err, log.String())
	}
	return b
}

// measured runs b's operations on servers it starts, and fails t if they
// could not be run.
func measured(t *testing.T, b *bench, log *bytes.Buffer) {
	t.Helper()
	err := b.measureServer(t.Context())
	t.Logf("\n%s", log.String())
	if err != nil {
		t.Fatal(err)
	}
}
