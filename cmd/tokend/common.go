package main

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"text/tabwriter"
	"time"

	"github.com/tokend/tokend/internal/feed"
	"github.com/tokend/tokend/internal/store"
	"github.com/tokend/tokend/internal/store/postgres"
	"github.com/tokend/tokend/internal/store/sqlite"
)

// envOr returns the environment variable name, or def when it is unset:
// every flag's default can come from the environment (TOKEND_*).
func envOr(name, def string) string {
	if v, ok := os.LookupEnv(name); ok {
		return v
	}
	return def
}

// envValues reads the TOKEND_* variables that give numeric, duration and
// boolean flags their defaults. A value it cannot parse does not fall back
// to the default, which would hide the typo: err keeps the first one, for
// the command to refuse before it does anything. A variable set but empty
// counts as unset.
type envValues struct{ err error }

func (e *envValues) Bool(name string, def bool) bool {
	v := os.Getenv(name)
	if v == "" {
		return def
	}
	b, err := strconv.ParseBool(v)
	if err != nil {
		e.bad(name, v, "true or false")
		return def
	}
	return b
}

func (e *envValues) Int(name string, def int) int {
	v := os.Getenv(name)
	if v == "" {
		return def
	}
	n, err := strconv.Atoi(v)
	if err != nil {
		e.bad(name, v, "a whole number, e.g. "+strconv.Itoa(def))
		return def
	}
	return n
}

func (e *envValues) Duration(name string, def time.Duration) time.Duration {
	v := os.Getenv(name)
	if v == "" {
		return def
	}
	d, err := time.ParseDuration(v)
	if err != nil {
		e.bad(name, v, "a duration with its unit, e.g. "+def.String()+", 90s, 15m or 24h")
		return def
	}
	return d
}

// bad records that variable name holds v, which is not the form want
// describes, unless an earlier variable was bad already.
func (e *envValues) bad(name, v, want string) {
	if e.err == nil {
		e.err = fmt.Errorf("environment variable %s=%q: want %s (fix or unset it)", name, v, want)
	}
}

// newFlagSet returns a flag set that reports to stderr and returns errors
// instead of exiting.
func newFlagSet(name string, stderr io.Writer) *flag.FlagSet {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	return fs
}

// storeFlags returns the flag set of a command named name that works on
// the store: it reports to stderr and has --data and --dsn.
func storeFlags(name string, stderr io.Writer) *flag.FlagSet {
	fs := newFlagSet(name, stderr)
	dataFlag(fs)
	return fs
}

// dataFlag adds --data and --dsn to fs; openStore reads both back.
func dataFlag(fs *flag.FlagSet) *string {
	fs.String("dsn", envOr("TOKEND_DSN", ""), "PostgreSQL DSN (postgres://...); empty uses the embedded SQLite in --data (env TOKEND_DSN)")
	return fs.String("data", envOr("TOKEND_DATA", "./tokend-data"), "data folder: SQLite database, keys, TLS certificate, admin token (env TOKEND_DATA)")
}

// dbFile is the SQLite database inside a data folder.
func dbFile(dataDir string) string { return filepath.Join(dataDir, "tokend.db") }

// storeOptions tune the backend a server opens; the CLI leaves them zero.
type storeOptions struct {
	Logger   *slog.Logger
	OnCommit func(batch int) // SQLite group commits (metrics)
}

// backend is an opened store and, for PostgreSQL, how the instances that
// share it tell each other of revocations at once (LISTEN/NOTIFY). With
// SQLite both are nil: one server per data folder, and the CLI's
// revocations reach it by polling.
type backend struct {
	store.Store
	notifier feed.Notifier // wakes this instance's feed
	notify   func()        // wakes the other instances' feeds
	// onEvents, for SQLite, hands the entries of the revocation log
	// this process appends to fn as each batch commits (sqlite.Store.OnEvents).
	onEvents func(fn func([]store.Event))
	// revoked, for the CLI on PostgreSQL, is set by the first revocation
	// the command commits; Close then tells the running instances at
	// once, instead of at their next poll of the log.
	revoked   *atomic.Bool
	notifyNow func(context.Context) error
}

// Close closes the store, first telling the instances sharing it of the
// revocations this process made, if any.
func (b backend) Close() error {
	if b.revoked != nil && b.revoked.Load() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		// Not fatal: the instances still see the revocations at their
		// next poll of the log.
		_ = b.notifyNow(ctx)
	}
	return b.Store.Close()
}

// openStore opens the store named by the --dsn and --data flags of fs, for
// a CLI command. A command that only reads creates nothing: on SQLite the
// data folder and its database must exist, so that a mistyped --data is
// an error rather than an empty answer.
func openStore(ctx context.Context, fs *flag.FlagSet, readOnly bool) (backend, error) {
	dataDir, dsn := fs.Lookup("data").Value.String(), fs.Lookup("dsn").Value.String()
	if !readOnly {
		_, err := os.Stat(dbFile(dataDir))
		fresh := dsn == "" && errors.Is(err, os.ErrNotExist)
		b, err := openBackend(ctx, dataDir, dsn)
		if err == nil && fresh {
			// The trap this names: a command without --dsn beside a server
			// on PostgreSQL, or with a mistyped --data, writes where no
			// server reads.
			abs, _ := filepath.Abs(dbFile(dataDir))
			fmt.Fprintf(fs.Output(), "note: made a new SQLite store, %s (no --dsn, and no database in --data %s): a server on PostgreSQL (--dsn) or on another data folder does not see what this command writes\n", abs, dataDir)
		}
		return b, err
	}
	if dsn == "" {
		if err := existingData(dataDir, dbFile(dataDir)); err != nil {
			return backend{}, err
		}
	}
	return openExisting(ctx, dataDir, dsn)
}

// existingData refuses a data folder that does not exist, or, when file is
// not empty, one without file, the database a command only reads.
func existingData(dataDir, file string) error {
	const hint = "create one with `tokend serve`, or check --data and TOKEND_DATA"
	if _, err := os.Stat(dataDir); errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("no tokend data folder at %s (%s)", dataDir, hint)
	}
	if _, err := os.Stat(file); file != "" && errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("no tokend database in %s: %s is missing (%s)", dataDir, filepath.Base(file), hint)
	}
	return nil
}

// openBackend opens PostgreSQL when a DSN is given, else the embedded
// SQLite of the data folder (created, mode 0700, when missing: it also
// holds keys and the admin token). A server passes its options; the CLI
// passes none.
func openBackend(ctx context.Context, dataDir, dsn string, opts ...storeOptions) (backend, error) {
	if err := os.MkdirAll(dataDir, 0o700); err != nil {
		return backend{}, fmt.Errorf("create data folder: %w", err)
	}
	return openExisting(ctx, dataDir, dsn, opts...)
}

// openExisting is openBackend once the data folder exists, or, for a
// command that only reads, without creating it.
func openExisting(ctx context.Context, dataDir, dsn string, opts ...storeOptions) (backend, error) {
	var o storeOptions
	if len(opts) > 0 {
		o = opts[0]
	}
	if dsn != "" {
		pg, err := postgres.Open(ctx, dsn, postgres.Options{Logger: o.Logger})
		if err != nil {
			return backend{}, err
		}
		if len(opts) == 0 { // the CLI: a short-lived process
			revoked := new(atomic.Bool)
			return backend{
				Store:     feed.Nudging{Store: pg, Nudge: func() { revoked.Store(true) }},
				revoked:   revoked,
				notifyNow: pg.NotifyNow,
			}, nil
		}
		return backend{Store: pg, notifier: pg, notify: pg.Notify}, nil
	}
	db, err := sqlite.Open(dbFile(dataDir), sqlite.Options{Logger: o.Logger, OnCommit: o.OnCommit})
	if err != nil {
		return backend{}, err
	}
	return backend{Store: db, onEvents: db.OnEvents}, nil
}

// onStore runs a command line that works on the store: it parses args
// with fs (made by storeFlags), lets check, when not nil, refuse the
// positional arguments or the flags before anything is opened, opens the
// store the flags name (see openStore for readOnly), runs do with it, and
// closes it.
func onStore(ctx context.Context, fs *flag.FlagSet, args []string, readOnly bool, check func(pos []string) error, do func(st backend, pos []string) error) error {
	pos, err := parseArgs(fs, args)
	if err != nil {
		return err
	}
	if check != nil {
		if err := check(pos); err != nil {
			return err
		}
	}
	st, err := openStore(ctx, fs, readOnly)
	if err != nil {
		return err
	}
	defer st.Close()
	return do(st, pos)
}

// noArgs refuses the positional arguments of a command that takes none.
func noArgs(command string, pos []string) error {
	if len(pos) > 0 {
		return usagef("%s: unexpected argument %q: it takes none (run \"tokend %s -h\" for its flags)", command, pos[0], command)
	}
	return nil
}

// subcommand is a subcommand of client, user or issuer at work: its
// name, its streams and, once its flags are parsed, the store they name
// and its positional arguments.
type subcommand struct {
	command string // e.g. "client"
	sub     string // e.g. "show"
	stdin   io.Reader
	stdout  io.Writer

	st  backend
	pos []string
	now time.Time // when the store was opened: the time of what the subcommand changes
}

// name is the command line's first two words, e.g. "client show", as the
// subcommand's flag set and errors name it.
func (s *subcommand) name() string { return s.command + " " + s.sub }

// run parses args with fs, made by storeFlags(s.name(), …) and holding the
// subcommand's flags, lets check refuse them and the positional arguments
// (see onStore), opens the store they name, runs do, and closes it. The
// subcommands list and show only read: they create no data folder.
func (s *subcommand) run(ctx context.Context, fs *flag.FlagSet, args []string, check func(pos []string) error, do func() error) error {
	readOnly := s.sub == "list" || s.sub == "show"
	return onStore(ctx, fs, args, readOnly, check, func(st backend, pos []string) error {
		s.st, s.pos, s.now = st, pos, time.Now()
		return do()
	})
}

// unknown is the error for a subcommand the command does not have.
func (s *subcommand) unknown() error {
	return usagef("%s: unknown subcommand %q: want one of %s", s.command, s.sub, subNames(s.command))
}

// takesNone refuses positional arguments when the subcommand is one of
// subs, which take none.
func (s *subcommand) takesNone(pos []string, subs ...string) error {
	if slices.Contains(subs, s.sub) {
		return noArgs(s.name(), pos)
	}
	return nil
}

// only returns the one positional argument the subcommand takes, what.
func (s *subcommand) only(what string) (string, error) {
	if len(s.pos) != 1 {
		return "", usagef("%s: want exactly one %s (run \"tokend %s -h\")", s.name(), what, s.name())
	}
	return s.pos[0], nil
}

// printResult prints v as indented JSON when asJSON is set (--json), else
// runs text.
func printResult(w io.Writer, asJSON bool, v any, text func() error) error {
	if asJSON {
		return printJSON(w, v)
	}
	return text()
}

func printJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}

// printTable prints header, then row's line for each item, in columns two
// spaces apart: the CLI's lists.
func printTable[T any](w io.Writer, header string, items []T, row func(T) string) error {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, header)
	for _, item := range items {
		fmt.Fprintln(tw, row(item))
	}
	return tw.Flush()
}

// parseArgs parses flags that may come before or after positional
// arguments ("client show ID --json" and "client show --json ID" alike).
// -h prints what the command does, an example and its flags to the flag
// set's output and returns flag.ErrHelp; a flag it does not know, or a
// value that does not parse, is a usage error that says where the flags
// are listed, rather than the whole list before the error.
func parseArgs(fs *flag.FlagSet, args []string) ([]string, error) {
	out := fs.Output()
	fs.SetOutput(io.Discard) // the flag package's own messages: the error says it once
	fs.Usage = func() {}
	defer fs.SetOutput(out)
	var positional []string
	for {
		if err := fs.Parse(args); errors.Is(err, flag.ErrHelp) {
			printFlagHelp(out, fs)
			return nil, err
		} else if err != nil {
			return nil, usagef("%s: %v (run \"tokend %s -h\" for its flags)", fs.Name(), err, fs.Name())
		}
		args = fs.Args()
		if len(args) == 0 {
			return positional, nil
		}
		positional = append(positional, args[0])
		args = args[1:]
	}
}

// stringList is a repeatable string flag.
type stringList []string

func (s *stringList) String() string     { return fmt.Sprint(*s) }
func (s *stringList) Set(v string) error { *s = append(*s, v); return nil }

// firstLine reads a secret from the first line of r: passwords and secrets
// come on standard input, never on the command line, where ps and the
// shell's history would show them.
func firstLine(r io.Reader) (string, error) {
	line, err := bufio.NewReader(r).ReadString('\n')
	if err != nil && !errors.Is(err, io.EOF) {
		return "", err
	}
	return strings.TrimRight(line, "\r\n"), nil
}
