package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/tokend/tokend/internal/oauth"
)

// crashConfig is what the flags of the crash test say.
type crashConfig struct {
	tokend      string // tokend binary; built when empty
	rounds      int
	concurrency int
	minDelay    time.Duration // the kill comes between minDelay and maxDelay into a round
	maxDelay    time.Duration
	seed        uint64
	keep        bool // keep the data folder and logs
	// wrap, when set, wraps the transport of the load (not of the checks).
	// Tests use it to fake a server that acknowledges what it never did.
	wrap   func(http.RoundTripper) http.RoundTripper
	stdout io.Writer
	stderr io.Writer
}

// crashRound is what one round did and found.
type crashRound struct {
	delay          time.Duration
	issued         int // access tokens issued with a 200
	revoked        int // revocations answered 200
	unknownIssue   int // issuances in flight at the kill
	unknownRevoke  int // revocations in flight at the kill
	errors         int // answers other than 200 before the kill
	checkedRevoked int // after the restart: revocations found still revoked
	checkedActive  int // tokens found still active
	lost           []string
}

// ledger is what the server acknowledged, across rounds.
type ledger struct {
	mu        sync.Mutex
	active    map[string]bool // issued with a 200, not revoked
	revoked   map[string]bool // revocation answered 200
	uncertain map[string]bool // a revocation in flight at the kill, or answered other than 200
}

// runCrash runs the crash test: load, kill -9 at a random moment, restart
// on the same data folder, check that nothing acknowledged was lost;
// cfg.rounds times. It returns an error that lists every loss.
func runCrash(ctx context.Context, cfg crashConfig) error {
	logf := func(format string, args ...any) { fmt.Fprintf(cfg.stderr, "tokend-bench crash: "+format+"\n", args...) }
	tmp, err := os.MkdirTemp("", "tokend-crash-")
	if err != nil {
		return err
	}
	if cfg.keep {
		logf("keeping %s", tmp)
	} else {
		defer os.RemoveAll(tmp)
	}
	bin := cfg.tokend
	if bin == "" {
		if bin, err = buildTokend(ctx, tmp); err != nil {
			return err
		}
	}
	data := filepath.Join(tmp, "data")
	c, err := createClient(ctx, bin, data, "crash")
	if err != nil {
		return err
	}
	seed := cfg.seed
	if seed == 0 {
		seed = uint64(time.Now().UnixNano())
	}
	rng := rand.New(rand.NewPCG(seed, 0))
	fmt.Fprintf(cfg.stdout, "crash test: %d rounds, %d workers, kill -9 %s–%s into each round, seed %d\n\n",
		cfg.rounds, cfg.concurrency, cfg.minDelay, cfg.maxDelay, seed)
	fmt.Fprintln(cfg.stdout, "| round | kill at | issued | revoked | in flight at kill (revocations) | errors | still revoked | still active | lost |")
	fmt.Fprintln(cfg.stdout, "|--:|--:|--:|--:|--:|--:|--:|--:|--:|")

	led := &ledger{active: map[string]bool{}, revoked: map[string]bool{}, uncertain: map[string]bool{}}
	start := func() (*proc, string, error) {
		p, err := startProc(ctx, []string{bin, "serve", "--insecure-http", "--addr", "127.0.0.1:0", "--data", data, "--log-level", "warn"},
			nil, filepath.Join(tmp, "tokend.log"))
		if err != nil {
			return nil, "", err
		}
		admin, err := os.ReadFile(filepath.Join(data, "admin-token"))
		if err != nil {
			p.kill()
			return nil, "", err
		}
		return p, strings.TrimSpace(string(admin)), nil
	}
	var lost []string
	seen := map[string]bool{} // a loss found again after a later restart is listed once
	var prev *crashRound
	for round := 1; round <= cfg.rounds+1; round++ {
		p, admin, err := start()
		if err != nil {
			return fmt.Errorf("round %d: restart: %w", round, err)
		}
		if prev != nil {
			// The check of the previous round, after its restart.
			if err := led.check(ctx, p.url, admin, cfg.concurrency, prev); err != nil {
				p.kill()
				return fmt.Errorf("round %d: check after restart: %w", round-1, err)
			}
			for _, l := range prev.lost {
				if !seen[l] {
					seen[l] = true
					lost = append(lost, l)
				}
			}
			fmt.Fprintf(cfg.stdout, "| %d | %d ms | %d | %d | %d (%d) | %d | %d | %d | %d |\n", round-1,
				prev.delay.Milliseconds(), prev.issued, prev.revoked, prev.unknownIssue+prev.unknownRevoke,
				prev.unknownRevoke, prev.errors, prev.checkedRevoked, prev.checkedActive, len(prev.lost))
		}
		if round > cfg.rounds {
			p.stop()
			break
		}
		delay := cfg.minDelay + time.Duration(rng.Int64N(int64(cfg.maxDelay-cfg.minDelay)+1))
		r := &crashRound{delay: delay}
		led.load(ctx, p, c, cfg, rng.Uint64(), r)
		prev = r
	}
	fmt.Fprintf(cfg.stdout, "\nacknowledged in all: %d revocations, %d tokens still active; %d outcomes unknown (in flight at a kill)\n",
		len(led.revoked), len(led.active), len(led.uncertain))
	if len(lost) > 0 {
		return fmt.Errorf("%d acknowledged operations lost:\n%s", len(lost), strings.Join(lost, "\n"))
	}
	fmt.Fprintln(cfg.stdout, "zero lost")
	return nil
}

// load runs issuances and revocations on p with cfg.concurrency workers
// and kills p with SIGKILL r.delay after the start. A worker stops at its
// first transport error: the kill.
func (led *ledger) load(ctx context.Context, p *proc, c client, cfg crashConfig, seed uint64, r *crashRound) {
	tr := http.RoundTripper(&http.Transport{MaxIdleConnsPerHost: cfg.concurrency, DisableCompression: true})
	if cfg.wrap != nil {
		tr = cfg.wrap(tr)
	}
	hc := &http.Client{Transport: tr, Timeout: 30 * time.Second}
	defer hc.CloseIdleConnections()

	// Each worker may also revoke tokens of earlier rounds, acknowledged
	// before an earlier kill: hand each a few.
	led.mu.Lock()
	old := make([][]string, cfg.concurrency)
	i := 0
	for t := range led.active {
		if i >= 8*cfg.concurrency {
			break
		}
		old[i%cfg.concurrency] = append(old[i%cfg.concurrency], t)
		i++
	}
	led.mu.Unlock()

	auth := c.basic()
	var wg sync.WaitGroup
	var mu sync.Mutex // guards r
	for w := range cfg.concurrency {
		rng := rand.New(rand.NewPCG(seed, uint64(w)))
		wg.Go(func() {
			var buf bytes.Buffer
			var mine []string
			var issued, revoked, unknownIssue, unknownRevoke, errs int
			defer func() {
				mu.Lock()
				r.issued += issued
				r.revoked += revoked
				r.unknownIssue += unknownIssue
				r.unknownRevoke += unknownRevoke
				r.errors += errs
				mu.Unlock()
			}()
			for ctx.Err() == nil {
				status, body, err := post(ctx, hc, p.url+oauth.PathToken, auth, "grant_type=client_credentials", &buf)
				if err != nil {
					unknownIssue++
					return
				}
				t, ok := jsonString(body, "access_token")
				if status != http.StatusOK || !ok {
					errs++
					continue
				}
				issued++
				led.set(t, "active")
				mine = append(mine, t)
				if rng.IntN(2) == 0 {
					continue
				}
				// Revoke one of this round's tokens or of an earlier round's.
				var victim string
				if o := old[w]; len(o) > 0 && rng.IntN(2) == 0 {
					victim, old[w] = o[len(o)-1], o[:len(o)-1]
				} else {
					i := rng.IntN(len(mine))
					victim = mine[i]
					mine[i] = mine[len(mine)-1]
					mine = mine[:len(mine)-1]
				}
				led.set(victim, "uncertain") // until the answer comes
				status, _, err = post(ctx, hc, p.url+oauth.PathRevoke, auth, "token="+victim+"&token_type_hint=access_token", &buf)
				switch {
				case err != nil:
					unknownRevoke++
					return
				case status == http.StatusOK:
					revoked++
					led.set(victim, "revoked")
				default:
					errs++ // stays uncertain
				}
			}
		})
	}
	time.Sleep(r.delay)
	p.kill()
	wg.Wait()
}

// set moves a token to one of the ledger's three sets.
func (led *ledger) set(t, state string) {
	led.mu.Lock()
	defer led.mu.Unlock()
	delete(led.active, t)
	delete(led.revoked, t)
	delete(led.uncertain, t)
	switch state {
	case "active":
		led.active[t] = true
	case "revoked":
		led.revoked[t] = true
	case "uncertain":
		led.uncertain[t] = true
	}
}

// check introspects, with the admin token, every token whose revocation
// was acknowledged (it must be inactive) and every acknowledged token not
// revoked (it must be active), and records the losses in r.
func (led *ledger) check(ctx context.Context, base, admin string, workers int, r *crashRound) error {
	type want struct {
		token  string
		active bool
	}
	led.mu.Lock()
	var all []want
	for t := range led.revoked {
		all = append(all, want{t, false})
	}
	for t := range led.active {
		all = append(all, want{t, true})
	}
	led.mu.Unlock()
	hc := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: workers}, Timeout: 30 * time.Second}
	defer hc.CloseIdleConnections()
	auth := "Bearer " + admin
	var mu sync.Mutex
	err := parallel(ctx, len(all), workers, func(i int, buf *bytes.Buffer) error {
		wt := all[i]
		status, body, err := post(ctx, hc, base+oauth.PathIntrospect, auth, "token="+wt.token, buf)
		if err != nil {
			return err
		}
		if status != http.StatusOK {
			return fmt.Errorf("introspection answered %d %.200s", status, body)
		}
		active := bytes.Contains(body, []byte(`"active":true`))
		if !active && !bytes.Contains(body, []byte(`"active":false`)) {
			return fmt.Errorf("introspection answered %.200s", body)
		}
		mu.Lock()
		defer mu.Unlock()
		switch {
		case active == wt.active && active:
			r.checkedActive++
		case active == wt.active:
			r.checkedRevoked++
		case wt.active:
			r.lost = append(r.lost, fmt.Sprintf("token %.16s… was issued with a 200 and is no longer active", wt.token))
		default:
			r.lost = append(r.lost, fmt.Sprintf("token %.16s… was revoked with a 200 and is active again", wt.token))
		}
		return nil
	})
	return err
}
