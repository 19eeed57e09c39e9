package rs

import (
	"bufio"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"strconv"
	"sync"
	"sync/atomic"
	"time"
)

// Feed timing.
const (
	// staleAfter is how long the feed may be silent before it is taken
	// for dead and reconnected: tokend sends a heartbeat every 15 s.
	staleAfter = 40 * time.Second
	// minBackoff and maxBackoff bound the pause between reconnections.
	minBackoff = 50 * time.Millisecond
	maxBackoff = 5 * time.Second
	// forgetAfter is how long a revocation whose expiry the server did not
	// say is remembered.
	forgetAfter = 24 * time.Hour
	// pruneEvery is how often expired revocations are forgotten.
	pruneEvery = time.Minute
	// maxEventBytes bounds one SSE event.
	maxEventBytes = 4 << 20
)

// follower reads the revocation feed (Server-Sent Events) for as long as
// the Guard lives: it reconnects after any failure, resuming with
// Last-Event-ID so that no revocation is missed, and applies each event to
// the revoked set and the introspection cache.
type follower struct {
	guard *Guard

	seq       atomic.Int64 // last event id received
	connected atomic.Bool
	ready     atomic.Bool  // caught up since the connection opened
	heard     atomic.Int64 // unix nanoseconds of the last bytes received

	mu     sync.Mutex
	change chan struct{} // closed and replaced when the state changes
}

func newFollower(r *Guard) *follower {
	return &follower{guard: r, change: make(chan struct{})}
}

func (f *follower) healthy() bool {
	return f.connected.Load() && f.ready.Load() && time.Since(time.Unix(0, f.heard.Load())) < staleAfter
}

func (f *follower) changed() <-chan struct{} {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.change
}

func (f *follower) notify() {
	f.mu.Lock()
	close(f.change)
	f.change = make(chan struct{})
	f.mu.Unlock()
}

func (f *follower) run(ctx context.Context) {
	log := f.guard.cfg.Logger
	backoff := minBackoff
	prune := time.NewTicker(pruneEvery)
	defer prune.Stop()
	go func() {
		for {
			select {
			case <-ctx.Done():
				return
			case <-prune.C:
				f.guard.revoked.prune(f.guard.now().Add(-f.guard.cfg.Leeway))
			}
		}
	}()
	for ctx.Err() == nil {
		start := time.Now()
		err := f.connect(ctx)
		f.connected.Store(false)
		f.ready.Store(false)
		f.notify()
		if ctx.Err() != nil {
			return
		}
		if time.Since(start) > 10*time.Second {
			backoff = minBackoff
		}
		log.Warn("rs: revocation feed interrupted; reconnecting",
			slog.String("cause", err.Error()), slog.Int64("last_event_id", f.seq.Load()), slog.Duration("after", backoff))
		// Jitter, so that many resource servers do not reconnect at once.
		pause := backoff/2 + rand.N(backoff/2+1)
		select {
		case <-ctx.Done():
			return
		case <-time.After(pause):
		}
		backoff = min(2*backoff, maxBackoff)
	}
}

// connect opens the stream and reads it until it fails.
func (f *follower) connect(ctx context.Context) error {
	r := f.guard
	u, err := r.endpoint(ctx, r.cfg.FeedURL, func(m *metadata) string { return m.RevocationFeed }, "revocation_feed_endpoint")
	if err != nil {
		return err
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return err
	}
	req.Header.Set("Accept", "text/event-stream")
	req.Header.Set("Cache-Control", "no-cache")
	req.Header.Set("Authorization", r.basicAuth())
	if seq := f.seq.Load(); seq > 0 {
		req.Header.Set("Last-Event-ID", strconv.FormatInt(seq, 10))
	}
	// A connection that goes silent (no event, no heartbeat) is dead.
	idle := time.AfterFunc(r.cfg.RequestTimeout, cancel)
	defer idle.Stop()
	resp, err := r.feedClient.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("feed %s: %s", u, statusText(resp.StatusCode))
	}
	idle.Reset(staleAfter)
	f.heard.Store(time.Now().UnixNano())
	f.connected.Store(true)
	r.cfg.Logger.Info("rs: revocation feed connected", slog.String("url", u), slog.Int64("last_event_id", f.seq.Load()))
	return f.read(resp.Body, func() {
		idle.Reset(staleAfter)
		f.heard.Store(time.Now().UnixNano())
	})
}

// read parses an event stream (WHATWG HTML §9.2.6) and dispatches its
// events. heard is called for every line, comments (heartbeats) included.
func (f *follower) read(body io.Reader, heard func()) error {
	br := bufio.NewReaderSize(body, 64<<10)
	var id, event string
	var data []byte
	hasID := false
	for {
		line, err := readLine(br)
		if err != nil {
			return err
		}
		heard()
		if len(line) == 0 {
			if len(data) > 0 || event != "" {
				if err := f.dispatch(event, id, hasID, data); err != nil {
					return err
				}
			}
			event, data, hasID = "", data[:0], false
			continue
		}
		if line[0] == ':' {
			continue
		}
		field, value, _ := bytes.Cut(line, []byte(":"))
		value = bytes.TrimPrefix(value, []byte(" "))
		switch string(field) {
		case "event":
			event = string(value)
		case "data":
			if len(data) > 0 {
				data = append(data, '\n')
			}
			data = append(data, value...)
			if len(data) > maxEventBytes {
				return errors.New("feed: event too large")
			}
		case "id":
			id, hasID = string(value), true
		}
	}
}

// readLine reads one line without its end (LF, or CRLF), at most
// maxEventBytes long.
func readLine(br *bufio.Reader) ([]byte, error) {
	var line []byte
	for {
		frag, err := br.ReadSlice('\n')
		line = append(line, frag...)
		if err == nil {
			break
		}
		if !errors.Is(err, bufio.ErrBufferFull) {
			return nil, err
		}
		if len(line) > maxEventBytes {
			return nil, errors.New("feed: line too long")
		}
	}
	line = bytes.TrimSuffix(line[:len(line)-1], []byte("\r"))
	return line, nil
}

// message is a revocation as the feed sends it.
type message struct {
	Seq         int64    `json:"seq"`
	JTIs        []string `json:"jti"`
	TokenHashes []string `json:"token_hashes"`
	ExpiresAt   int64    `json:"exp"`
}

func (f *follower) dispatch(event, id string, hasID bool, data []byte) error {
	r := f.guard
	switch event {
	case "revocation":
		var m message
		if err := json.Unmarshal(data, &m); err != nil {
			return fmt.Errorf("feed: revocation event: %w", err)
		}
		hashes := make([][sha256.Size]byte, 0, len(m.TokenHashes))
		for _, s := range m.TokenHashes {
			var h [sha256.Size]byte
			if b, err := base64.RawURLEncoding.DecodeString(s); err == nil && len(b) == sha256.Size {
				copy(h[:], b)
				hashes = append(hashes, h)
			}
		}
		until := time.Unix(m.ExpiresAt, 0)
		if m.ExpiresAt == 0 {
			until = r.now().Add(forgetAfter)
		}
		r.revoked.add(m.JTIs, hashes, until.Add(r.cfg.Leeway))
		r.intro.drop(hashes)
	case "ready":
		if !f.ready.Swap(true) {
			r.cfg.Logger.Info("rs: revocation feed caught up", slog.String("last_event_id", id), slog.Int("revoked", r.revoked.size()))
			f.notify()
		}
	}
	if hasID {
		if seq, err := strconv.ParseInt(id, 10, 64); err == nil {
			f.seq.Store(seq)
		}
	}
	return nil
}
