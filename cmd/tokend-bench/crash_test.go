package main

import (
	"bytes"
	"fmt"
	"io"
	"net/http"
	"os"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/tokend/tokend/internal/oauth"
)

// tokendBin is the tokend binary the crash tests run: $TOKEND_BIN, or one
// built by TestMain.
var tokendBin string

func TestMain(m *testing.M) {
	tokendBin = os.Getenv("TOKEND_BIN")
	var tmp string
	if tokendBin == "" {
		var err error
		if tmp, err = os.MkdirTemp("", "tokend-bench-test-"); err != nil {
			panic(err)
		}
		// Built lazily by the first test that needs it: the table tests
		// need no binary.
		tokendBin = tmp
	}
	code := m.Run()
	if tmp != "" {
		os.RemoveAll(tmp)
	}
	os.Exit(code)
}

// binaryMu: the tests that run tokend run in parallel, and the first of
// them builds it.
var binaryMu sync.Mutex

// binary returns the tokend binary, building it on first use.
func binary(t *testing.T) string {
	t.Helper()
	binaryMu.Lock()
	defer binaryMu.Unlock()
	if fi, err := os.Stat(tokendBin); err == nil && !fi.IsDir() {
		return tokendBin
	}
	bin, err := buildTokend(t.Context(), tokendBin)
	if err != nil {
		t.Fatal(err)
	}
	tokendBin = bin
	return bin
}

func envInt(t *testing.T, name string, def int) int {
	v := os.Getenv(name)
	if v == "" {
		return def
	}
	n, err := strconv.Atoi(v)
	if err != nil {
		t.Fatalf("%s=%q: %v", name, v, err)
	}
	return n
}

// TestCrash kills tokend with SIGKILL at random moments under revocation
// and issuance load, 20 times, and checks after every restart that every
// acknowledged revocation and issuance is still in force. Run it larger
// with TOKEND_CRASH_ROUNDS and TOKEND_CRASH_CONCURRENCY, or with
// `tokend-bench crash`.
func TestCrash(t *testing.T) {
	t.Parallel() // its own tokend, data folder and port
	var out, log bytes.Buffer
	cfg := crashConfig{
		tokend:      binary(t),
		rounds:      envInt(t, "TOKEND_CRASH_ROUNDS", 20),
		concurrency: envInt(t, "TOKEND_CRASH_CONCURRENCY", 8),
		minDelay:    20 * time.Millisecond,
		maxDelay:    250 * time.Millisecond,
		stdout:      &out,
		stderr:      &log,
	}
	err := runCrash(t.Context(), cfg)
	t.Logf("\n%s%s", out.String(), log.String())
	if err != nil {
		t.Fatal(err)
	}
	// The test proves something only if the server acknowledged work
	// before the kills.
	var revoked, active int
	for line := range strings.Lines(out.String()) {
		if _, err := fmt.Sscanf(line, "acknowledged in all: %d revocations, %d tokens still active", &revoked, &active); err == nil {
			break
		}
	}
	if revoked == 0 || active == 0 {
		t.Fatalf("nothing acknowledged before the kills (%d revocations, %d active tokens): the test checked nothing", revoked, active)
	}
}

// lyingTransport answers every other revocation, the first one included,
// with a 200 without sending it: what a server that acknowledged before
// committing would do when killed between the two. The first is a lie so
// that a round on a busy machine, which may get only one revocation
// acknowledged before its kill, still has a lie to catch.
type lyingTransport struct {
	next http.RoundTripper
	n    atomic.Int64
}

func (l *lyingTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	if req.URL.Path == oauth.PathRevoke && l.n.Add(1)%2 == 1 {
		if req.Body != nil {
			req.Body.Close()
		}
		return &http.Response{
			StatusCode: http.StatusOK, Status: "200 OK", Proto: "HTTP/1.1", ProtoMajor: 1, ProtoMinor: 1,
			Header: http.Header{}, Body: io.NopCloser(strings.NewReader("")), Request: req,
		}, nil
	}
	return l.next.RoundTrip(req)
}

// TestCrashDetectsLostRevocation shows that the crash test fails when a
// revocation acknowledged with a 200 did not happen.
func TestCrashDetectsLostRevocation(t *testing.T) {
	t.Parallel() // its own tokend, data folder and port
	var out, log bytes.Buffer
	cfg := crashConfig{
		tokend:      binary(t),
		rounds:      2,
		concurrency: 4,
		minDelay:    300 * time.Millisecond,
		maxDelay:    300 * time.Millisecond,
		wrap:        func(next http.RoundTripper) http.RoundTripper { return &lyingTransport{next: next} },
		stdout:      &out,
		stderr:      &log,
	}
	err := runCrash(t.Context(), cfg)
	t.Logf("\n%s%s", out.String(), log.String())
	if err == nil {
		t.Fatal("runCrash passed although half of the revocations were never sent")
	}
	if !strings.Contains(err.Error(), "was revoked with a 200 and is active again") {
		t.Fatalf("runCrash: %v; want a lost revocation reported", err)
	}
}
