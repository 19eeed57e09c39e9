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

// TestLoop: the step runs at once and at every wake until the context
// ends; of three failures in a row one warning is logged, and one line
// when the step works again.
func TestLoop(t *testing.T) {
	var logs bytes.Buffer
	log := slog.New(slog.NewTextHandler(&logs, nil))
	ctx, cancel := context.WithCancel(t.Context())
	wake := make(chan struct{})
	ran := make(chan int)
	done := make(chan struct{})
	n := 0
	go func() {
		defer close(done)
		Loop(ctx, log, "test", "reach the store", time.Hour, wake, func(context.Context) error {
			n++
			ran <- n
			if n <= 3 {
				return errors.New("store down")
			}
			return nil
		})
	}()
	for i := 1; i <= 5; i++ {
		if got := <-ran; got != i {
			t.Fatalf("step run %d; want %d", got, i)
		}
		if i < 5 {
			wake <- struct{}{}
		}
	}
	cancel()
	<-done
	if c := strings.Count(logs.String(), "cannot reach the store"); c != 1 {
		t.Errorf("%d warnings for three failures in a row; want 1:\n%s", c, logs.String())
	}
	if c := strings.Count(logs.String(), "can reach the store again"); c != 1 {
		t.Errorf("%d lines for the step working again; want 1:\n%s", c, logs.String())
	}
}
