package main

import (
	"bytes"
	"context"
	"fmt"
	"net"
	"net/http"
	"os"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// phase is one operation driven for a fixed time by every worker.
type phase struct {
	name string
	path string // e.g. oauth.PathToken
	auth string // Authorization header value
	// body returns worker w's next form body; false when its pool of
	// tokens is used up, which stops that worker.
	body func(w int) (string, bool)
	// check looks at a 2xx answer and reports whether it is right (e.g.
	// introspection of a revoked token said active:false). It may keep what
	// it needs from the body, which is only valid during the call. Nil
	// accepts every 2xx.
	check func(w int, body []byte) bool
}

// result is what a phase measured.
type result struct {
	name      string
	ok        uint64        // 2xx answers that passed the check
	errors    uint64        // non-2xx, failed checks and transport errors
	statuses  map[int]int   // non-2xx answers by status
	transport uint64        // transport errors
	elapsed   time.Duration // until the last worker stopped
	hist      histogram
	exhausted bool          // a worker ran out of tokens before the time was up
	serverCPU float64       // CPU seconds of the server per second of the phase
	perReq    time.Duration // server CPU time per successful request
	genCPU    float64       // CPU seconds of this load generator per second
	rssKiB    int64         // the server's resident memory at the end, KiB; 0: unknown
	note      string
}

// rate returns the successful requests per second.
func (r *result) rate() float64 {
	if r.elapsed <= 0 {
		return 0
	}
	return float64(r.ok) / r.elapsed.Seconds()
}

// loadClient is the load generator's HTTP client: keep-alive connections,
// one per worker, and nothing it does not need (no compression, no proxy).
func loadClient(workers int) *http.Client {
	return &http.Client{
		Transport: &http.Transport{
			Proxy:               nil,
			DialContext:         (&net.Dialer{Timeout: 5 * time.Second, KeepAlive: 30 * time.Second}).DialContext,
			MaxIdleConns:        workers,
			MaxIdleConnsPerHost: workers,
			MaxConnsPerHost:     workers,
			IdleConnTimeout:     90 * time.Second,
			DisableCompression:  true,
		},
		Timeout: 60 * time.Second,
	}
}

// post sends one form POST and returns the status and body.
func post(ctx context.Context, c *http.Client, url, auth, body string, buf *bytes.Buffer) (int, []byte, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, strings.NewReader(body))
	if err != nil {
		return 0, nil, err
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	if auth != "" {
		req.Header.Set("Authorization", auth)
	}
	resp, err := c.Do(req)
	if err != nil {
		return 0, nil, err
	}
	defer resp.Body.Close()
	buf.Reset()
	if _, err := buf.ReadFrom(resp.Body); err != nil {
		return resp.StatusCode, nil, err
	}
	return resp.StatusCode, buf.Bytes(), nil
}

// cpuMeter reads the CPU time of the server and of this process, to tell
// which side of the measurement was the bottleneck.
type cpuMeter struct {
	serverPID int // 0: not known (a --target server)
}

func (m cpuMeter) read() (server, self time.Duration) {
	if m.serverPID > 0 {
		server, _ = processCPU(m.serverPID)
	}
	self, _ = processCPU(0)
	return server, self
}

// run drives p with workers keep-alive workers for d, or until every
// worker has run out of tokens.
func (p phase) run(ctx context.Context, g generator, workers int, d time.Duration, cpu cpuMeter) *result {
	defer g.close()
	res := &result{name: p.name, statuses: map[int]int{}}
	var (
		mu        sync.Mutex
		exhausted atomic.Bool
		wg        sync.WaitGroup
	)
	srv0, self0 := cpu.read()
	start := time.Now()
	deadline := start.Add(d)
	var last atomic.Int64 // when the last worker stopped, ns after start
	for w := range workers {
		wg.Go(func() {
			t := p.work(ctx, g, w, deadline)
			stopped := time.Since(start).Nanoseconds()
			if t.exhausted {
				exhausted.Store(true)
			}
			mu.Lock()
			defer mu.Unlock()
			res.add(t)
			if stopped > last.Load() {
				last.Store(stopped)
			}
		})
	}
	wg.Wait()
	res.elapsed = time.Duration(last.Load())
	res.finish(cpu, srv0, self0, exhausted.Load())
	return res
}

// tally is what one worker of a phase counted.
type tally struct {
	hist               *histogram
	ok, bad, transport uint64
	statuses           map[int]int // non-2xx answers and failed checks, by status
	exhausted          bool        // the worker ran out of tokens
}

// work sends worker w's requests of p until the deadline, ctx's end or
// the end of w's tokens.
func (p phase) work(ctx context.Context, g generator, w int, deadline time.Time) tally {
	t := tally{hist: new(histogram), statuses: map[int]int{}}
	for time.Now().Before(deadline) && ctx.Err() == nil {
		body, more := p.body(w)
		if !more {
			t.exhausted = true
			break
		}
		t0 := time.Now()
		status, resp, err := g.do(w, p.path, p.auth, body)
		took := time.Since(t0)
		switch {
		case err != nil:
			t.transport++
			t.bad++
		case status < 200 || status > 299:
			t.statuses[status]++
			t.bad++
		case p.check != nil && !p.check(w, resp):
			t.statuses[status]++
			t.bad++
		default:
			// Latency is of the requests served: a quick 503
			// from an overloaded server must not flatter it.
			t.hist.record(took)
			t.ok++
		}
	}
	return t
}

// add adds a worker's tally to r.
func (r *result) add(t tally) {
	r.hist.merge(t.hist)
	r.ok += t.ok
	r.errors += t.bad
	r.transport += t.transport
	for s, n := range t.statuses {
		r.statuses[s] += n
	}
}

// finish works out r's CPU use and memory from the CPU times read at the
// start of the phase, once r.elapsed is known, and notes an early end.
func (r *result) finish(cpu cpuMeter, srv0, self0 time.Duration, exhausted bool) {
	srv1, self1 := cpu.read()
	if secs := r.elapsed.Seconds(); secs > 0 {
		r.serverCPU = (srv1 - srv0).Seconds() / secs
		r.genCPU = (self1 - self0).Seconds() / secs
	}
	if r.ok > 0 {
		r.perReq = (srv1 - srv0) / time.Duration(r.ok)
	}
	if cpu.serverPID > 0 {
		r.rssKiB = residentKiB(cpu.serverPID)
	}
	if exhausted {
		r.exhausted = true
		r.note = fmt.Sprintf("token pool ran out after %.1f s", r.elapsed.Seconds())
	}
}

// pool hands out each of its tokens once, to any worker.
type pool struct {
	tokens []string
	next   atomic.Int64
}

func (p *pool) take() (string, bool) {
	i := p.next.Add(1) - 1
	if i >= int64(len(p.tokens)) {
		return "", false
	}
	return p.tokens[i], true
}

// jsonString returns the value of the string field name in a flat JSON
// object without decoding the whole object: the generator must not spend
// its core on encoding/json. Token values hold no escapes.
func jsonString(body []byte, name string) (string, bool) {
	key := `"` + name + `":"`
	i := bytes.Index(body, []byte(key))
	if i < 0 {
		return "", false
	}
	rest := body[i+len(key):]
	j := bytes.IndexByte(rest, '"')
	if j < 0 {
		return "", false
	}
	return string(rest[:j]), true
}

// residentKiB returns the resident memory of process pid (VmRSS), or 0.
func residentKiB(pid int) int64 {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0
	}
	for line := range strings.Lines(string(b)) {
		if v, ok := strings.CutPrefix(line, "VmRSS:"); ok {
			kib, _ := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 10, 64)
			return kib
		}
	}
	return 0
}
