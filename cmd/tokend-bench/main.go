// Command tokend-bench measures tokend: a load program that starts the real
// tokend binary, measures each operation against the ceiling of a bare
// net/http handler on the same core, and prints a Markdown table; and a
// crash test that kills the server with SIGKILL under load and checks
// that nothing it acknowledged was lost.
//
//	tokend-bench [--duration 10s] [--workers 64] [--ops issue,revoke,...]
//	tokend-bench crash [--rounds 20] [--concurrency 16]
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"os/signal"
	"runtime"
	"slices"
	"strings"
	"syscall"
	"time"
)

// pinnedEnv marks the process that has re-executed itself under taskset.
const pinnedEnv = "TOKEND_BENCH_PINNED"

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Args[1:], os.Stdout, os.Stderr); err != nil && !errors.Is(err, flag.ErrHelp) {
		fmt.Fprintln(os.Stderr, "tokend-bench:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) > 0 {
		switch args[0] {
		case "crash":
			return crashCommand(ctx, args[1:], stdout, stderr)
		case "ceiling": // hidden: the ceiling's child process
			return ceiling(ctx, args[1:], stdout, stderr)
		}
	}
	return benchCommand(ctx, args, stdout, stderr)
}

func benchCommand(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	cfg := benchConfig{stdout: stdout, stderr: stderr}
	var f benchFlags
	fs := newBenchFlagSet(&cfg, &f)
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("unexpected argument %q", fs.Arg(0))
	}
	if err := cfg.apply(f); err != nil {
		return err
	}
	if err := cfg.check(); err != nil {
		return err
	}
	if err := cfg.pinCPUs(f.pin); err != nil {
		return err
	}
	return runBench(ctx, cfg)
}

// benchFlags are the flags of a load run that benchConfig does not hold as
// they are given.
type benchFlags struct {
	ops    string // --ops, comma-separated keys of opKeys
	client string // --client: raw or net/http
	pin    bool
}

// opKeyNames returns the keys --ops takes, in order.
func opKeyNames() []string {
	var keys []string
	for _, k := range opKeys {
		keys = append(keys, k.key)
	}
	return keys
}

// newBenchFlagSet defines the flags of a load run, into cfg and f.
func newBenchFlagSet(cfg *benchConfig, f *benchFlags) *flag.FlagSet {
	fs := flag.NewFlagSet("tokend-bench", flag.ContinueOnError)
	fs.SetOutput(cfg.stderr)
	keys := opKeyNames()
	fs.StringVar(&cfg.tokend, "tokend", "", "tokend binary (default: go build ./cmd/tokend into a temporary folder)")
	fs.StringVar(&cfg.target, "target", "", "URL of a running tokend to measure instead of starting one (needs --data)")
	fs.StringVar(&cfg.data, "data", "", "data folder of the --target, where the CLI creates the clients (default: a fresh temporary one)")
	fs.StringVar(&cfg.backend, "backend", "sqlite", "sqlite or postgres")
	fs.StringVar(&cfg.dsn, "dsn", "", "PostgreSQL connection string, passed to tokend as --dsn (with --backend postgres)")
	fs.StringVar(&f.ops, "ops", strings.Join(keys, ","), "operations to measure, comma-separated: "+strings.Join(keys, ", ")+"; the ceiling always runs")
	fs.DurationVar(&cfg.duration, "duration", 10*time.Second, "how long each operation is measured")
	fs.IntVar(&cfg.workers, "workers", 64, "concurrent workers, one keep-alive connection each")
	fs.IntVar(&cfg.preissue, "preissue", 0, "tokens pre-issued (untimed) for the revocation phase, each revoked once (default: 3× what the issuance phase issued, at least 20000)")
	fs.IntVar(&cfg.active, "introspect-tokens", 2000, "active tokens the introspection phase asks about in turn, and revoked ones the revoke-again phase revokes again")
	fs.StringVar(&f.client, "client", "raw", "load generator's HTTP client: raw (a minimal HTTP/1.1 client, cheap enough not to be the bottleneck) or net/http")
	fs.BoolVar(&f.pin, "pin", true, "pin the server to CPU 0 and the load generator to CPU 1 with taskset")
	fs.StringVar(&cfg.logLevel, "server-log-level", "", "--log-level for tokend serve (default: tokend's own, info, which logs every request)")
	fs.StringVar(&cfg.profileDir, "server-profile", "", "folder that receives a CPU profile of the server (serve --debug-addr) for each issue, introspect, revoke, refresh and JWT phase, named after the phase, for go tool pprof")
	fs.BoolVar(&cfg.keep, "keep", false, "keep the temporary folder (data, logs)")
	fs.IntVar(&cfg.gomaxprocs, "server-gomaxprocs", 0, "GOMAXPROCS of tokend serve (default: tokend's own, at least 2)")
	fs.IntVar(&cfg.fill, "fill", 0, "live tokens written into the store before the server starts, to measure a large store")
	fs.IntVar(&cfg.overload, "overload", 0, "when > 1, measure each issue, introspect and revoke phase again with this many times --workers")
	return fs
}

// apply sets the client and the operations of cfg from --client and --ops.
func (cfg *benchConfig) apply(f benchFlags) error {
	switch f.client {
	case "raw":
		cfg.raw = true
	case "net/http":
	default:
		return fmt.Errorf("--client must be raw or net/http, not %q", f.client)
	}
	cfg.ops = map[string]bool{}
	for k := range strings.SplitSeq(f.ops, ",") {
		k = strings.TrimSpace(k)
		if k == "" {
			continue
		}
		i := slices.IndexFunc(opKeys, func(o struct{ key, name string }) bool { return o.key == k })
		if i < 0 {
			return fmt.Errorf("--ops: unknown operation %q (want %s)", k, strings.Join(opKeyNames(), ", "))
		}
		cfg.ops[opKeys[i].name] = true
	}
	return nil
}

// check reports the first flag of cfg that is out of range or conflicts
// with another.
func (cfg *benchConfig) check() error {
	switch {
	case cfg.backend != "sqlite" && cfg.backend != "postgres":
		return fmt.Errorf("--backend must be sqlite or postgres, not %q", cfg.backend)
	case cfg.backend == "postgres" && cfg.dsn == "":
		return errors.New("--backend postgres needs --dsn")
	case cfg.target != "" && cfg.data == "":
		return errors.New("--target needs --data: the clients are created with the CLI on the target's data folder")
	case cfg.workers < 1 || cfg.duration <= 0:
		return errors.New("--workers and --duration must be positive")
	case cfg.fill < 0:
		return errors.New("--fill must not be negative")
	case cfg.fill > 0 && cfg.target != "":
		return errors.New("--fill writes to the store before the server starts: not with --target")
	}
	return nil
}

// pinCPUs sets cfg.serverCPU. With pin, on a machine of two CPUs or more,
// the first call re-executes the program on CPU 1 and does not return
// unless that fails; in the re-executed program the server goes on CPU 0.
func (cfg *benchConfig) pinCPUs(pin bool) error {
	cfg.serverCPU = -1
	if !pin {
		return nil
	}
	switch {
	case os.Getenv(pinnedEnv) != "":
		cfg.serverCPU = 0
	case runtime.NumCPU() < 2:
		fmt.Fprintln(cfg.stderr, "tokend-bench: one CPU: not pinning")
	default:
		// Re-run this program on CPU 1. The Go runtime sizes
		// GOMAXPROCS by the CPUs it may use, so the generator gets one.
		if err := execPinned(1); err != nil {
			return fmt.Errorf("--pin: %w (use --pin=false to run unpinned)", err)
		}
	}
	return nil
}

// execPinned replaces this process by itself run under taskset on cpu.
// It returns only on failure.
func execPinned(cpu int) error {
	taskset, err := exec.LookPath("taskset")
	if err != nil {
		return err
	}
	self, err := os.Executable()
	if err != nil {
		return err
	}
	argv := append(pinned(cpu, self), os.Args[1:]...)
	env := append(os.Environ(), pinnedEnv+"=1")
	return syscall.Exec(taskset, argv, env)
}

func crashCommand(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("tokend-bench crash", flag.ContinueOnError)
	fs.SetOutput(stderr)
	cfg := crashConfig{stdout: stdout, stderr: stderr}
	fs.StringVar(&cfg.tokend, "tokend", "", "tokend binary (default: go build ./cmd/tokend into a temporary folder)")
	fs.IntVar(&cfg.rounds, "rounds", 20, "kill-and-restart rounds")
	fs.IntVar(&cfg.concurrency, "concurrency", 16, "workers issuing and revoking tokens")
	fs.DurationVar(&cfg.minDelay, "min-delay", 50*time.Millisecond, "earliest kill after a round starts")
	fs.DurationVar(&cfg.maxDelay, "max-delay", 500*time.Millisecond, "latest kill after a round starts")
	fs.Uint64Var(&cfg.seed, "seed", 0, "random seed, to repeat a run (default: from the clock)")
	fs.BoolVar(&cfg.keep, "keep", false, "keep the data folder and the server's log")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if cfg.rounds < 1 || cfg.concurrency < 1 || cfg.minDelay < 0 || cfg.maxDelay < cfg.minDelay {
		return errors.New("want --rounds ≥ 1, --concurrency ≥ 1 and 0 ≤ --min-delay ≤ --max-delay")
	}
	return runCrash(ctx, cfg)
}
