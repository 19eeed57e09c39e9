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

// crashRun is the state of a crash test across its rounds.
type crashRun struct {
	cfg  crashConfig
	logf func(format string, args ...any)
	tmp  string // temporary folder: the data folder and the server's log
	bin  string // tokend binary
	data string // the server's data folder, kept across restarts
	c    client // the client the load issues and revokes with
	led  *ledger
	lost []string        // losses found, each once
	seen map[string]bool // a loss found again after a later restart is listed once
}

// runCrash runs the crash test: load, kill -9 at a random moment, restart
// on the same data folder, check that nothing acknowledged was lost;
// cfg.rounds times. It returns an error that lists every loss.
func runCrash(ctx context.Context, cfg crashConfig) error {
	cr := &crashRun{
		cfg:  cfg,
		logf: func(format string, args ...any) { fmt.Fprintf(cfg.stderr, "tokend-bench crash: "+format+"\n", args...) },
		led:  &ledger{active: map[string]bool{}, revoked: map[string]bool{}, uncertain: map[string]bool{}},
		seen: map[string]bool{},
	}
	tmp, err := os.MkdirTemp("", "tokend-crash-")
	if err != nil {
		return err
	}
	if cfg.keep {
		cr.logf("keeping %s", tmp)
	} else {
		defer os.RemoveAll(tmp)
	}
	if err := cr.prepare(ctx, tmp); err != nil {
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
	if err := cr.runRounds(ctx, rng); err != nil {
		return err
	}
	led := cr.led
	fmt.Fprintf(cfg.stdout, "\nacknowledged in all: %d revocations, %d tokens still active; %d outcomes unknown (in flight at a kill)\n",
		len(led.revoked), len(led.active), len(led.uncertain))
	if len(cr.lost) > 0 {
		return fmt.Errorf("%d acknowledged operations lost:\n%s", len(cr.lost), strings.Join(cr.lost, "\n"))
	}
	fmt.Fprintln(cfg.stdout, "zero lost")
	return nil
}

// prepare builds tokend into tmp unless --tokend names it, and creates the
// client of the load on a data folder in tmp.
func (cr *crashRun) prepare(ctx context.Context, tmp string) error {
	var err error
	cr.tmp = tmp
	cr.bin = cr.cfg.tokend
	if cr.bin == "" {
		if cr.bin, err = buildTokend(ctx, tmp); err != nil {
			return err
		}
	}
	cr.data = filepath.Join(tmp, "data")
	cr.c, err = createClient(ctx, cr.bin, cr.data, "crash")
	return err
}

// runRounds runs the rounds: each starts the server, checks the round before
// (the first round has none before it) and loads and kills the server;
// one more start checks the last round.
func (cr *crashRun) runRounds(ctx context.Context, rng *rand.Rand) error {
	cfg := cr.cfg
	var prev *crashRound
	for round := 1; round <= cfg.rounds+1; round++ {
		p, admin, err := cr.start(ctx)
		if err != nil {
			return fmt.Errorf("round %d: restart: %w", round, err)
		}
		if prev != nil {
			if err := cr.checkRound(ctx, p, admin, round-1, prev); err != nil {
				return err
			}
		}
		if round > cfg.rounds {
			p.stop()
			break
		}
		delay := cfg.minDelay + time.Duration(rng.Int64N(int64(cfg.maxDelay-cfg.minDelay)+1))
		r := &crashRound{delay: delay}
		cr.led.load(ctx, p, cr.c, cfg, rng.Uint64(), r)
		prev = r
	}
	return nil
}

// start starts tokend serve on the run's data folder and returns it with
// its admin token.
func (cr *crashRun) start(ctx context.Context) (*proc, string, error) {
	p, err := startProc(ctx, []string{cr.bin, "serve", "--insecure-http", "--addr", "127.0.0.1:0", "--data", cr.data, "--log-level", "warn"},
		nil, filepath.Join(cr.tmp, "tokend.log"))
	if err != nil {
		return nil, "", err
	}
	admin, err := os.ReadFile(filepath.Join(cr.data, "admin-token"))
	if err != nil {
		p.kill()
		return nil, "", err
	}
	return p, strings.TrimSpace(string(admin)), nil
}

// checkRound checks round r, numbered n, on the restarted server p, adds
// its new losses to the run's and prints its row.
func (cr *crashRun) checkRound(ctx context.Context, p *proc, admin string, n int, r *crashRound) error {
	if err := cr.led.check(ctx, p.url, admin, cr.cfg.concurrency, r); err != nil {
		p.kill()
		return fmt.Errorf("round %d: check after restart: %w", n, err)
	}
	for _, l := range r.lost {
		if !cr.seen[l] {
			cr.seen[l] = true
			cr.lost = append(cr.lost, l)
		}
	}
	fmt.Fprintf(cr.cfg.stdout, "| %d | %d ms | %d | %d | %d (%d) | %d | %d | %d | %d |\n", n,
		r.delay.Milliseconds(), r.issued, r.revoked, r.unknownIssue+r.unknownRevoke,
		r.unknownRevoke, r.errors, r.checkedRevoked, r.checkedActive, len(r.lost))
	return nil
}

// crashLoad is one round's load: what its workers share.
type crashLoad struct {
	led  *ledger
	hc   *http.Client
	base string // the server's URL
	auth string
	mu   sync.Mutex // guards r
	r    *crashRound
}

// crashTally is what one worker of a round counted.
type crashTally struct {
	issued, revoked, unknownIssue, unknownRevoke, errors int
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

	old := led.earlier(cfg.concurrency)
	l := &crashLoad{led: led, hc: hc, base: p.url, auth: c.basic(), r: r}
	var wg sync.WaitGroup
	for w := range cfg.concurrency {
		rng := rand.New(rand.NewPCG(seed, uint64(w)))
		wg.Go(func() { l.work(ctx, rng, old[w]) })
	}
	time.Sleep(r.delay)
	p.kill()
	wg.Wait()
}

// earlier hands each of workers a few active tokens of earlier rounds,
// acknowledged before an earlier kill, for it to revoke too.
func (led *ledger) earlier(workers int) [][]string {
	led.mu.Lock()
	defer led.mu.Unlock()
	old := make([][]string, workers)
	i := 0
	for t := range led.active {
		if i >= 8*workers {
			break
		}
		old[i%workers] = append(old[i%workers], t)
		i++
	}
	return old
}

// work issues tokens and revokes half of them, at random, or instead
// tokens of old, until ctx ends or the first transport error.
func (l *crashLoad) work(ctx context.Context, rng *rand.Rand, old []string) {
	var buf bytes.Buffer
	var mine []string
	var n crashTally
	defer l.add(&n)
	for ctx.Err() == nil {
		status, body, err := post(ctx, l.hc, l.base+oauth.PathToken, l.auth, "grant_type=client_credentials", &buf)
		if err != nil {
			n.unknownIssue++
			return
		}
		t, ok := jsonString(body, "access_token")
		if status != http.StatusOK || !ok {
			n.errors++
			continue
		}
		n.issued++
		l.led.set(t, "active")
		mine = append(mine, t)
		if rng.IntN(2) == 0 {
			continue
		}
		// Revoke one of this round's tokens or of an earlier round's.
		var victim string
		if len(old) > 0 && rng.IntN(2) == 0 {
			victim, old = old[len(old)-1], old[:len(old)-1]
		} else {
			i := rng.IntN(len(mine))
			victim = mine[i]
			mine[i] = mine[len(mine)-1]
			mine = mine[:len(mine)-1]
		}
		if !l.revoke(ctx, victim, &buf, &n) {
			return
		}
	}
}

// revoke revokes t and records the answer; it reports false on a
// transport error, the kill.
func (l *crashLoad) revoke(ctx context.Context, t string, buf *bytes.Buffer, n *crashTally) bool {
	l.led.set(t, "uncertain") // until the answer comes
	status, _, err := post(ctx, l.hc, l.base+oauth.PathRevoke, l.auth, "token="+t+"&token_type_hint=access_token", buf)
	switch {
	case err != nil:
		n.unknownRevoke++
		return false
	case status == http.StatusOK:
		n.revoked++
		l.led.set(t, "revoked")
	default:
		n.errors++ // stays uncertain
	}
	return true
}

// add adds a worker's counts to the round's.
func (l *crashLoad) add(n *crashTally) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.r.issued += n.issued
	l.r.revoked += n.revoked
	l.r.unknownIssue += n.unknownIssue
	l.r.unknownRevoke += n.unknownRevoke
	l.r.errors += n.errors
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
