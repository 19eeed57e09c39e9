package outbound

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

func TestBackoffDoublesUpToMostWithJitter(t *testing.T) {
	for n, want := range map[int]time.Duration{1: time.Second, 2: 2 * time.Second, 3: 4 * time.Second, 10: 30 * time.Second} {
		for range 100 {
			d := Backoff(time.Second, 30*time.Second, n)
			if d < want/2 || d > want {
				t.Fatalf("Backoff(1s, 30s, %d) = %v; want within [%v, %v]", n, d, want/2, want)
			}
		}
	}
}

func TestNewHTTPClientFollowsNoRedirect(t *testing.T) {
	srv := httptest.NewServer(http.RedirectHandler("/elsewhere", http.StatusFound))
	defer srv.Close()
	resp, err := NewHTTPClient(time.Second).Get(srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusFound {
		t.Fatalf("status %d; want the 302 itself", resp.StatusCode)
	}
}

func TestOutageLogsOnceAndRecovery(t *testing.T) {
	var buf bytes.Buffer
	log := slog.New(slog.NewTextHandler(&buf, nil))
	ctx := context.Background()
	failing := false
	for range 3 {
		Outage(ctx, log, "x", "read the queue", errors.New("down"), &failing)
	}
	Outage(ctx, log, "x", "read the queue", nil, &failing)
	Outage(ctx, log, "x", "read the queue", nil, &failing)
	if got := strings.Count(buf.String(), "x: cannot read the queue"); got != 1 {
		t.Errorf("%d outage lines; want 1:\n%s", got, buf.String())
	}
	if got := strings.Count(buf.String(), "x: can read the queue again"); got != 1 {
		t.Errorf("%d recovery lines; want 1:\n%s", got, buf.String())
	}
	stopped, cancel := context.WithCancel(ctx)
	cancel()
	Outage(stopped, log, "x", "stop", errors.New("context canceled"), &failing)
	if failing {
		t.Error("an error while stopping counted as an outage")
	}
}

func TestSignalNeverBlocks(t *testing.T) {
	c := make(chan struct{}, 1)
	Signal(c)
	Signal(c) // full: dropped, not blocked
	if len(c) != 1 {
		t.Fatalf("len %d; want 1", len(c))
	}
}
