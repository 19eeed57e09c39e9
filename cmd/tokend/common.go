package main

import (
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"time"

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

func envBool(name string, def bool) bool {
	if v, ok := os.LookupEnv(name); ok {
		b, err := strconv.ParseBool(v)
		if err == nil {
			return b
		}
	}
	return def
}

func envDuration(name string, def time.Duration) time.Duration {
	if v, ok := os.LookupEnv(name); ok {
		if d, err := time.ParseDuration(v); err == nil {
			return d
		}
	}
	return def
}

// newFlagSet returns a flag set that reports to stderr and returns errors
// instead of exiting.
func newFlagSet(name string, stderr io.Writer) *flag.FlagSet {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	return fs
}

// dataFlag adds --data to fs.
func dataFlag(fs *flag.FlagSet) *string {
	return fs.String("data", envOr("TOKEND_DATA", "./tokend-data"), "data folder (env TOKEND_DATA)")
}

// dbFile is the SQLite database inside a data folder.
func dbFile(dataDir string) string { return filepath.Join(dataDir, "tokend.db") }

// openStore opens the embedded store of a data folder, creating the folder
// (mode 0700: it holds keys and the admin token) when missing.
func openStore(dataDir string, opts ...sqlite.Options) (*sqlite.Store, error) {
	if err := os.MkdirAll(dataDir, 0o700); err != nil {
		return nil, fmt.Errorf("create data folder: %w", err)
	}
	var o sqlite.Options
	if len(opts) > 0 {
		o = opts[0]
	}
	return sqlite.Open(dbFile(dataDir), o)
}

// parseArgs parses flags that may come before or after positional
// arguments ("client show ID --json" and "client show --json ID" alike).
func parseArgs(fs *flag.FlagSet, args []string) ([]string, error) {
	var positional []string
	for {
		if err := fs.Parse(args); err != nil {
			return nil, err
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
