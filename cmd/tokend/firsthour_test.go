package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"maps"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"runtime/debug"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
)

// wantRefused fails t unless err is an error whose text holds every one
// of words.
func wantRefused(t *testing.T, what string, err error, words ...string) {
	t.Helper()
	if err == nil {
		t.Errorf("%s succeeded; want an error naming %q", what, words)
		return
	}
	for _, w := range words {
		if !strings.Contains(err.Error(), w) {
			t.Errorf("%s: error %q; want it to name %q", what, err, w)
		}
	}
}

// TestServeTLSFilesNamedMustExist: serve makes a self-signed pair only at
// the data folder's own paths; a certificate or key named by flag must
// exist, and one without the other is refused, naming the missing one.
func TestServeTLSFilesNamedMustExist(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	cert, key := filepath.Join(dir, "nonexistent", "cert.pem"), filepath.Join(dir, "nonexistent", "key.pem")
	cases := []struct {
		name  string
		args  []string
		words []string
	}{
		{"both missing", []string{"--tls-cert", cert, "--tls-key", key}, []string{"--tls-cert", cert, "must exist"}},
		{"only the certificate", []string{"--tls-cert", cert}, []string{"--tls-key is missing"}},
		{"only the key", []string{"--tls-key", key}, []string{"--tls-cert is missing"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			data := migratedData(t)
			args := append([]string{"--addr", "127.0.0.1:0", "--data", data, "--log-level", "error"}, c.args...)
			listened, stop := startServe(t, args...)
			if listened {
				t.Fatal("serve started")
			}
			wantRefused(t, "serve "+strings.Join(c.args, " "), stop(), c.words...)
		})
	}
	if _, err := os.Stat(filepath.Join(dir, "nonexistent")); err == nil {
		t.Error("serve created the folder of a certificate it was told to read")
	}

	// The data folder's own pair is made on first start, then reused.
	data := migratedData(t)
	listened, stop := startServe(t, "--addr", "127.0.0.1:0", "--data", data, "--log-level", "error")
	if err := stop(); !listened || err != nil {
		t.Fatalf("serve with the default certificate: %v (listened %t)", err, listened)
	}
	own := []string{"--tls-cert", filepath.Join(data, "tls", "cert.pem"), "--tls-key", filepath.Join(data, "tls", "key.pem")}
	listened, stop = startServe(t, append([]string{"--addr", "127.0.0.1:0", "--data", data, "--log-level", "error"}, own...)...)
	if err := stop(); !listened || err != nil {
		t.Fatalf("serve with an existing pair named by flag: %v (listened %t)", err, listened)
	}
}

// TestBadValuesRefused: a TOKEND_* variable that does not parse, a
// lifetime that is not positive, a negative count, an argument no command
// takes and a revocation of an unknown client are each refused with an
// error naming what was wrong, before anything starts.
func TestBadValuesRefused(t *testing.T) {
	serveArgs := []string{"--insecure-http", "--addr", "127.0.0.1:0", "--log-level", "error"}
	envCases := []struct{ name, value, want string }{
		{"TOKEND_TOKEN_CACHE", "abc", "whole number"},
		{"TOKEND_ACCESS_TOKEN_TTL", "15", "duration"},
		{"TOKEND_INSECURE_HTTP", "yes please", "true or false"},
		{"TOKEND_CLIENT_CACHE_TTL", "1 second", "duration"},
	}
	for _, c := range envCases {
		t.Run(c.name, func(t *testing.T) {
			t.Setenv(c.name, c.value)
			listened, stop := startServe(t, append(serveArgs, "--data", t.TempDir())...)
			if listened {
				t.Fatal("serve started")
			}
			wantRefused(t, "serve with "+c.name+"="+c.value, stop(), c.name, c.value, c.want)
		})
	}
	t.Run("gc TOKEND_AUDIT_RETENTION", func(t *testing.T) {
		t.Setenv("TOKEND_AUDIT_RETENTION", "90d")
		_, err := cli(t, "", "gc", "--data", t.TempDir())
		wantRefused(t, "gc with TOKEND_AUDIT_RETENTION=90d", err, "TOKEND_AUDIT_RETENTION", "duration")
	})

	flagCases := []struct {
		args  []string
		words []string
	}{
		{[]string{"--access-token-ttl", "-5m"}, []string{"--access-token-ttl", "positive"}},
		{[]string{"--access-token-ttl", "0s"}, []string{"--access-token-ttl", "positive"}},
		{[]string{"--refresh-token-ttl", "-1h"}, []string{"--refresh-token-ttl", "positive"}},
		{[]string{"--refresh-token-ttl", "0s"}, []string{"--refresh-token-ttl", "positive"}},
		{[]string{"--session-ttl", "0s"}, []string{"--session-ttl", "positive"}},
		{[]string{"--token-cache", "-1"}, []string{"--token-cache", "negative"}},
		{[]string{"extra-arg"}, []string{"unexpected argument", "extra-arg"}},
	}
	for _, c := range flagCases {
		listened, stop := startServe(t, append(append(serveArgs, "--data", t.TempDir()), c.args...)...)
		if listened {
			t.Errorf("serve %s started", strings.Join(c.args, " "))
			continue
		}
		wantRefused(t, "serve "+strings.Join(c.args, " "), stop(), c.words...)
	}

	data := migratedData(t)
	if _, err := cli(t, "", "client", "create", "--name", "app", "--id", "app", "--data", data); err != nil {
		t.Fatal(err)
	}
	cliCases := []struct {
		args  []string
		words []string
	}{
		{[]string{"gc", "--batch", "-1"}, []string{"--batch", "negative"}},
		{[]string{"revoke", "--client", "nosuch"}, []string{"no client", "nosuch"}},
		{[]string{"client", "list", "extra"}, []string{"unexpected argument", "extra"}},
		{[]string{"client", "create", "--name", "x", "extra"}, []string{"unexpected argument", "extra"}},
		{[]string{"user", "list", "extra"}, []string{"unexpected argument", "extra"}},
		{[]string{"issuer", "list", "extra"}, []string{"unexpected argument", "extra"}},
		{[]string{"issuer", "delete", "--iss", "https://a.example", "extra"}, []string{"unexpected argument", "extra"}},
		{[]string{"keys", "list", "extra"}, []string{"unexpected argument", "extra"}},
		{[]string{"audit", "extra"}, []string{"unexpected argument", "extra"}},
		{[]string{"version", "extra"}, []string{"unexpected argument", "extra"}},
	}
	for _, c := range cliCases {
		_, err := cli(t, "", append(c.args, "--data", data)...)
		wantRefused(t, strings.Join(c.args, " "), err, c.words...)
	}
	if out, err := cli(t, "", "revoke", "--client", "app", "--data", data); err != nil || !strings.HasPrefix(out, "revoked 0 grants") {
		t.Errorf("revoke --client app = %q, %v; want no grants revoked and no error", out, err)
	}
}

// TestReadOnlyCommandsNeedData: a command that only reads refuses a data
// folder that does not exist, naming it, and creates nothing; a command
// that writes still creates it.
func TestReadOnlyCommandsNeedData(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	typo := filepath.Join(dir, "typo-data")
	for _, args := range [][]string{
		{"client", "list"}, {"client", "show", "app"}, {"user", "list"}, {"issuer", "list"},
		{"audit"}, {"keys", "list"}, {"client", "lsit"},
	} {
		_, err := cli(t, "", append(args, "--data", typo)...)
		words := []string{"no tokend data folder", typo, "--data"}
		if args[len(args)-1] == "lsit" {
			words = []string{"unknown subcommand", "lsit"}
		}
		wantRefused(t, strings.Join(args, " ")+" --data typo-data", err, words...)
		if _, err := os.Stat(typo); err == nil {
			t.Fatalf("%s created the data folder", strings.Join(args, " "))
		}
	}
	// A folder without the database is not a data folder either.
	if err := os.Mkdir(typo, 0o700); err != nil {
		t.Fatal(err)
	}
	_, err := cli(t, "", "client", "list", "--data", typo)
	wantRefused(t, "client list in a folder without a database", err, "tokend.db", typo)
	if _, err := os.Stat(filepath.Join(typo, "tokend.db")); err == nil {
		t.Error("client list created a database")
	}

	data := filepath.Join(dir, "new-data")
	if _, err := cli(t, "", "client", "create", "--name", "app", "--data", data); err != nil {
		t.Fatalf("client create in a new data folder: %v", err)
	}
	if out, err := cli(t, "", "client", "list", "--data", data); err != nil || !strings.Contains(out, "app") {
		t.Errorf("client list = %q, %v; want the client created", out, err)
	}
}

// TestClientCreateSpeaksTheUsersWords: client create's refusals name the
// flag and what to give, and it reads --token-format in any case, as
// dynamic client registration reads JWT.
func TestClientCreateSpeaksTheUsersWords(t *testing.T) {
	t.Parallel()
	data := migratedData(t)
	if _, err := cli(t, "", "client", "create", "--name", "x", "--id", "X", "--data", data); err != nil {
		t.Fatal(err)
	}
	_, err := cli(t, "", "client", "create", "--name", "x", "--id", "X", "--data", data)
	wantRefused(t, "a second client create --id X", err, "a client with id X exists")
	if err != nil && strings.Contains(strings.ToLower(err.Error()), "constraint") {
		t.Errorf("client create --id X: error %q speaks SQL", err)
	}

	_, err = cli(t, "", "client", "create", "--name", "x", "--grant", "passwrd", "--data", data)
	wantRefused(t, "client create --grant passwrd", err, "passwrd", grantNames())

	_, err = cli(t, "", "client", "create", "--name", "x", "--token-format", "paseto", "--data", data)
	wantRefused(t, "client create --token-format paseto", err, "paseto", "opaque or jwt")

	for _, f := range []struct{ given, stored string }{{"JWT", "JWT"}, {"Jwt", "JWT"}, {"Opaque", "Default"}, {"Default", "Default"}} {
		out, err := cli(t, "", "client", "create", "--name", "x", "--token-format", f.given, "--json", "--data", data)
		if err != nil {
			t.Errorf("client create --token-format %s: %v", f.given, err)
			continue
		}
		var got struct {
			Format string `json:"ext_token_type"`
		}
		if err := json.Unmarshal([]byte(out), &got); err != nil {
			t.Fatal(err)
		}
		if got.Format != f.stored {
			t.Errorf("client create --token-format %s: ext_token_type %q; want %q", f.given, got.Format, f.stored)
		}
	}
}

// TestCommandHelp: `tokend COMMAND -h`, `--help` and `tokend help COMMAND`
// list a command's subcommands, each with what it does and an example,
// succeed, and create no data folder; a subcommand's -h shows only the
// flags it reads.
func TestCommandHelp(t *testing.T) {
	t.Chdir(t.TempDir()) // where the default ./tokend-data would be made
	data := filepath.Join(t.TempDir(), "no-data")
	t.Setenv("TOKEND_DATA", data)
	subs := map[string][]string{
		"client": slices.Collect(maps.Keys(clientSubcommands)),
		"user":   slices.Collect(maps.Keys(userSubcommands)),
		"issuer": slices.Collect(maps.Keys(issuerSubcommands)),
		"keys":   {"list", "rotate"},
	}
	for command, names := range subs {
		for _, args := range [][]string{{command, "-h"}, {command, "--help"}, {"help", command}} {
			out, err := cli(t, "", args...)
			if err != nil {
				t.Errorf("%s: %v; want the help and no error", strings.Join(args, " "), err)
				continue
			}
			for _, name := range names {
				if !strings.Contains(out, "\n  "+name+" ") || !strings.Contains(out, "tokend "+command+" "+name) {
					t.Errorf("%s does not describe %s with an example:\n%s", strings.Join(args, " "), name, out)
				}
			}
		}
	}
	if _, err := os.Stat(data); err == nil {
		t.Error("help created the data folder")
	}
	if _, err := os.Stat("tokend-data"); err == nil {
		t.Error("help created ./tokend-data")
	}
	if _, err := cli(t, "", "help", "serve"); !errors.Is(err, flag.ErrHelp) {
		t.Errorf("help serve: %v; want serve's flags (flag.ErrHelp)", err)
	}
	_, err := cli(t, "", "help", "clinet")
	wantRefused(t, "help clinet", err, "unknown command", "clinet")

	for _, c := range []struct {
		args           []string
		shown, notShow []string
	}{
		{[]string{"user", "list", "-h"}, []string{"-data"}, []string{"password-stdin", "-admin"}},
		{[]string{"user", "passwd", "-h"}, []string{"password-stdin"}, []string{"-admin"}},
		{[]string{"user", "add", "-h"}, []string{"password-stdin", "-admin"}, nil},
		{[]string{"issuer", "list", "-h"}, []string{"-data"}, []string{"-iss", "jwks", "subject-claim"}},
		{[]string{"issuer", "delete", "-h"}, []string{"-iss"}, []string{"jwks", "subject-claim"}},
	} {
		var out, errOut bytes.Buffer
		if err := run(t.Context(), c.args, strings.NewReader(""), &out, &errOut); !errors.Is(err, flag.ErrHelp) {
			t.Errorf("%s: %v; want flag.ErrHelp", strings.Join(c.args, " "), err)
		}
		for _, f := range c.shown {
			if !strings.Contains(errOut.String(), f) {
				t.Errorf("%s does not show %s:\n%s", strings.Join(c.args, " "), f, errOut.String())
			}
		}
		for _, f := range c.notShow {
			if strings.Contains(errOut.String(), f) {
				t.Errorf("%s shows %s, which it does not read:\n%s", strings.Join(c.args, " "), f, errOut.String())
			}
		}
	}
}

// TestVersion: `tokend version` and `tokend --version` print the version
// first, then what the build recorded: the module, the revision and its
// time when a git checkout was built, and nothing missing when it was not.
func TestVersion(t *testing.T) {
	for _, args := range [][]string{{"version"}, {"--version"}} {
		out, err := cli(t, "", args...)
		if err != nil || !strings.HasPrefix(out, "tokend "+version+"\n") {
			t.Errorf("%s = %q, %v; want it to start with tokend %s", args[0], out, err, version)
		}
	}
	bi := &debug.BuildInfo{
		GoVersion: "go1.99",
		Main:      debug.Module{Path: "github.com/tokend/tokend", Version: "v1.2.3"},
		Settings: []debug.BuildSetting{
			{Key: "vcs", Value: "git"},
			{Key: "vcs.revision", Value: "0123456789abcdef"},
			{Key: "vcs.time", Value: "2030-01-02T03:04:05Z"},
			{Key: "vcs.modified", Value: "true"},
		},
	}
	var out strings.Builder
	printVersion(&out, bi)
	for _, want := range []string{"github.com/tokend/tokend v1.2.3", "0123456789abcdef (modified)", "2030-01-02T03:04:05Z", "go1.99"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("version with a git build's information = %q; want %q in it", out.String(), want)
		}
	}
	out.Reset()
	bi.Settings = nil
	printVersion(&out, bi)
	if strings.Contains(out.String(), "revision") || strings.Contains(out.String(), "time") {
		t.Errorf("version without VCS information = %q; want no revision or time", out.String())
	}
	out.Reset()
	printVersion(&out, nil)
	if out.String() != "tokend "+version+"\n" {
		t.Errorf("version without build information = %q; want the version alone", out.String())
	}
}

// TestSecondServeRefused: a second serve on a SQLite data folder a server
// is using is refused, naming the folder and the first one's pid, while
// the CLI keeps working beside it; once the first stops, a server starts
// there again. Servers sharing a PostgreSQL database take no lock.
func TestSecondServeRefused(t *testing.T) {
	t.Parallel()
	data := migratedData(t)
	args := []string{"--insecure-http", "--addr", "127.0.0.1:0", "--data", data, "--log-level", "error"}
	listened, stop := startServe(t, args...)
	if !listened {
		t.Fatalf("first serve: %v", stop())
	}
	listened, stop2 := startServe(t, args...)
	if listened {
		t.Fatal("a second serve on the same data folder started")
	}
	wantRefused(t, "a second serve", stop2(), "another tokend serve", data, "pid "+strconv.Itoa(os.Getpid()))
	if _, err := cli(t, "", "client", "create", "--name", "beside", "--data", data); err != nil {
		t.Errorf("client create beside a running server: %v", err)
	}
	if out, err := cli(t, "", "client", "list", "--data", data); err != nil || !strings.Contains(out, "beside") {
		t.Errorf("client list beside a running server = %q, %v", out, err)
	}
	if err := stop(); err != nil {
		t.Fatal(err)
	}
	if listened, err := serveOnce(t, data); !listened || err != nil {
		t.Errorf("serve after the first stopped: %v (listened %t)", err, listened)
	}

	t.Run("postgres", func(t *testing.T) {
		dsn := freshDatabase(t)
		pgArgs := append(slices.Clone(args), "--dsn", dsn)
		for i := range 2 {
			if listened, stop := startServe(t, pgArgs...); !listened {
				t.Fatalf("serve %d on one PostgreSQL database and data folder: %v", i+1, stop())
			}
		}
	})
}

// syncBuffer is a buffer serve may write to while the test reads it;
// ready is closed once serve says it listens (its start lines come in one
// write).
type syncBuffer struct {
	mu    sync.Mutex
	b     strings.Builder
	once  sync.Once
	ready chan struct{}
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.b.Write(p)
	if strings.Contains(s.b.String(), "listening on") {
		s.once.Do(func() { close(s.ready) })
	}
	return len(p), nil
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// startLines runs serve with args until it says it listens, stops it, and
// returns what it printed and what it logged.
func startLines(t *testing.T, args ...string) (stdout, log string) {
	t.Helper()
	out, errOut := &syncBuffer{ready: make(chan struct{})}, &syncBuffer{ready: make(chan struct{})}
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	done := make(chan error, 1)
	go func() { done <- serve(ctx, args, out, errOut) }()
	select {
	case <-out.ready:
		cancel()
		if err := <-done; err != nil {
			t.Fatal(err)
		}
	case err := <-done:
		t.Fatalf("serve did not start: %v", err)
	}
	return out.String(), errOut.String()
}

// TestStartLineNamesStore: serve's start lines, printed and logged, name
// the store: SQLite's database by its absolute path, PostgreSQL's server
// and database, never the DSN's password.
func TestStartLineNamesStore(t *testing.T) {
	t.Chdir(t.TempDir())
	args := []string{"--insecure-http", "--addr", "127.0.0.1:0", "--log-level", "info"}
	out, log := startLines(t, append(args, "--data", "rel-data")...)
	abs, err := filepath.Abs(filepath.Join("rel-data", "tokend.db"))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out, "store: sqlite "+abs+"\n") {
		t.Errorf("serve printed %q; want the line store: sqlite %s", out, abs)
	}
	if !strings.Contains(log, "tokend listening") || !strings.Contains(log, `store="sqlite `+abs+`"`) {
		t.Errorf("serve logged %q; want store=\"sqlite %s\" in its listening line", log, abs)
	}

	t.Run("postgres", func(t *testing.T) {
		dsn := freshDatabase(t)
		u, err := url.Parse(dsn)
		if err != nil {
			t.Fatal(err)
		}
		u.User = url.UserPassword(u.User.Username(), "s3cret-pw") // trust auth ignores it
		out, log := startLines(t, append(args, "--data", t.TempDir(), "--dsn", u.String())...)
		want := "store: postgres " + u.Host + u.Path + "\n"
		if !strings.Contains(out, want) {
			t.Errorf("serve printed %q; want %q", out, want)
		}
		if strings.Contains(out+log, "s3cret-pw") || strings.Contains(out+log, u.RawQuery) {
			t.Errorf("serve's start lines show the DSN:\n%s\n%s", out, log)
		}
	})
}

// runCLI runs a command line as main does and returns what it printed on
// each stream, its error and the exit status main would give it.
func runCLI(t *testing.T, args ...string) (stdout, stderr string, err error, code int) {
	t.Helper()
	var out, errOut bytes.Buffer
	err = run(t.Context(), args, strings.NewReader(""), &out, &errOut)
	return out.String(), errOut.String(), err, exitCode(err)
}

// TestCommandGroupsWithoutSubcommand: a command that has subcommands,
// given none, prints its help, which lists them, and exits 2; an unknown
// subcommand is named with the list, exits 2, and creates nothing.
func TestCommandGroupsWithoutSubcommand(t *testing.T) {
	t.Chdir(t.TempDir())
	data := filepath.Join(t.TempDir(), "no-data")
	for command, h := range commandHelp {
		_, errOut, err, code := runCLI(t, command, "--data", data)
		if code != 2 {
			t.Errorf("%s with no subcommand: exit %d (%v); want 2", command, code, err)
		}
		if command == "dev" {
			// dev has no --data: the flag is taken for a subcommand.
			_, errOut, _, code = runCLI(t, command)
			if code != 2 {
				t.Errorf("dev: exit %d; want 2", code)
			}
		}
		for _, s := range h.subs {
			if !strings.Contains(errOut, "\n  "+s.name+" ") || !strings.Contains(errOut, s.example) {
				t.Errorf("%s with no subcommand does not list %s with its example:\n%s", command, s.name, errOut)
			}
		}
		_, _, err, code = runCLI(t, command, "lsit", "--data", data)
		wantRefused(t, command+" lsit", err, "unknown subcommand", "lsit", subNames(command))
		if code != 2 {
			t.Errorf("%s lsit: exit %d; want 2", command, code)
		}
	}
	for _, args := range [][]string{{}, {"nosuch"}, {"help", "nosuch"}, {"client", "list", "--jsn"}, {"version", "extra"}} {
		if _, _, err, code := runCLI(t, args...); code != 2 {
			t.Errorf("tokend %s: exit %d (%v); want 2", strings.Join(args, " "), code, err)
		}
	}
	if _, err := os.Stat(data); err == nil {
		t.Error("a command line without a subcommand created the data folder")
	}
}

// TestEverySubcommandHelp: `tokend COMMAND -h` and `tokend COMMAND SUB -h`
// say in a line what the command does, give an example and list the
// flags, exit 0, and create no data folder; a mistyped flag is said once,
// with where the flags are listed, rather than after the whole list.
func TestEverySubcommandHelp(t *testing.T) {
	t.Chdir(t.TempDir())
	var lines [][]string
	for command, h := range commandHelp {
		for _, s := range h.subs {
			lines = append(lines, []string{command, s.name})
		}
	}
	for command := range commandDocs {
		lines = append(lines, []string{command})
	}
	for _, args := range lines {
		name := strings.Join(args, " ")
		doc, _ := docOf(name)
		_, errOut, err, code := runCLI(t, append(args, "-h")...)
		if code != 0 || !errors.Is(err, flag.ErrHelp) {
			t.Errorf("%s -h: %v, exit %d; want the help and exit 0", name, err, code)
		}
		want := "tokend " + name + ": " + doc.what + ".\n\nExample:\n  " + doc.example + "\n\n"
		if doc.what == "" || !strings.HasPrefix(errOut, want) {
			t.Errorf("%s -h does not start with what it does and an example:\n%s", name, errOut)
		}
		if name != "version" && !strings.Contains(errOut, "Flags:\n  -") {
			t.Errorf("%s -h lists no flags:\n%s", name, errOut)
		}
	}
	if _, err := os.Stat("tokend-data"); err == nil {
		t.Error("help created ./tokend-data")
	}
	for _, c := range []struct{ args, shown, notShown []string }{
		{[]string{"keys", "list", "-h"}, []string{"-data"}, []string{"-alg"}},
		{[]string{"keys", "rotate", "-h"}, []string{"-alg"}, nil},
		{[]string{"dev", "assertion", "-h"}, []string{"-iss", "-sub", "-aud", "-key", "-jwks", "-ttl"}, []string{"-data"}},
	} {
		_, errOut, _, _ := runCLI(t, c.args...)
		for _, f := range c.shown {
			if !strings.Contains(errOut, "  "+f+" ") {
				t.Errorf("%s does not show %s:\n%s", strings.Join(c.args, " "), f, errOut)
			}
		}
		for _, f := range c.notShown {
			if strings.Contains(errOut, "  "+f+" ") {
				t.Errorf("%s shows %s, which it does not read:\n%s", strings.Join(c.args, " "), f, errOut)
			}
		}
	}
	_, errOut, err, code := runCLI(t, "client", "list", "--jsn")
	wantRefused(t, "client list --jsn", err, "-jsn", `tokend client list -h`)
	if code != 2 || errOut != "" {
		t.Errorf("client list --jsn: exit %d, printed %q; want exit 2 and only the error", code, errOut)
	}
}

// TestClientDisabledShown: client show and client list say that a client
// is disabled, in text and in JSON.
func TestClientDisabledShown(t *testing.T) {
	t.Parallel()
	data := migratedData(t)
	for _, args := range [][]string{{"client", "create", "--name", "app", "--id", "app"}, {"client", "create", "--name", "other", "--id", "other"}, {"client", "disable", "app"}} {
		if _, err := cli(t, "", append(args, "--data", data)...); err != nil {
			t.Fatal(err)
		}
	}
	show, err := cli(t, "", "client", "show", "app", "--data", data)
	if err != nil || !strings.Contains(show, "disabled:        true") {
		t.Errorf("client show of a disabled client = %q, %v; want a disabled: true line", show, err)
	}
	if show, _ := cli(t, "", "client", "show", "other", "--data", data); strings.Contains(show, "disabled") {
		t.Errorf("client show of an enabled client = %q; want no disabled line", show)
	}
	list, err := cli(t, "", "client", "list", "--data", data)
	if err != nil || !regexpMatch(`(?m)^app .* true$`, list) || !regexpMatch(`(?m)^other .* false$`, list) {
		t.Errorf("client list = %q, %v; want app disabled and other not", list, err)
	}
	var infos []struct {
		ClientID string `json:"client_id"`
		Disabled bool   `json:"disabled"`
	}
	out, err := cli(t, "", "client", "list", "--json", "--data", data)
	if err != nil || json.Unmarshal([]byte(out), &infos) != nil || len(infos) != 2 {
		t.Fatalf("client list --json = %q, %v", out, err)
	}
	for _, c := range infos {
		if c.Disabled != (c.ClientID == "app") {
			t.Errorf("client list --json: %s disabled %t", c.ClientID, c.Disabled)
		}
	}
}

func regexpMatch(pattern, s string) bool { return regexp.MustCompile(pattern).MatchString(s) }

// TestIssuerJWKSURIMustBeHTTPS: an issuer's JWK Set URL is https, or http
// to this machine only.
func TestIssuerJWKSURIMustBeHTTPS(t *testing.T) {
	t.Parallel()
	data := migratedData(t)
	_, err := cli(t, "", "issuer", "add", "--iss", "https://a.example", "--jwks-uri", "http://a.example/jwks", "--data", data)
	wantRefused(t, "issuer add --jwks-uri http://a.example/jwks", err, "want https", "http://a.example/jwks")
	for i, uri := range []string{"https://a.example/jwks", "http://127.0.0.1:8080/jwks", "http://localhost/jwks", "http://[::1]:9/jwks"} {
		iss := "https://ok" + strconv.Itoa(i) + ".example"
		if _, err := cli(t, "", "issuer", "add", "--iss", iss, "--jwks-uri", uri, "--data", data); err != nil {
			t.Errorf("issuer add --jwks-uri %s: %v", uri, err)
		}
	}
}

// TestCLINamesNewStore: a command that writes, given no --dsn and a data
// folder without a database, says it made a new SQLite store and where;
// in an existing data folder it says nothing.
func TestCLINamesNewStore(t *testing.T) {
	t.Parallel()
	data := filepath.Join(t.TempDir(), "typo-data")
	_, errOut, err, _ := runCLI(t, "client", "create", "--name", "a", "--data", data)
	abs, _ := filepath.Abs(filepath.Join(data, "tokend.db"))
	if err != nil || !strings.Contains(errOut, "made a new SQLite store, "+abs) || !strings.Contains(errOut, "--dsn") {
		t.Errorf("client create in a new data folder: %v, printed %q; want a note naming %s and --dsn", err, errOut, abs)
	}
	if _, errOut, err, _ := runCLI(t, "client", "create", "--name", "b", "--data", data); err != nil || errOut != "" {
		t.Errorf("client create in an existing data folder: %v, printed %q; want nothing on stderr", err, errOut)
	}
}
