package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
)

// subHelp is one subcommand in its command's help: its name, what it does
// in a line, and a command line that runs it.
type subHelp struct {
	name, what, example string
}

// commandHelp is what `tokend COMMAND -h` prints for each command that has
// subcommands: a line on the command, then its subcommands in the order a
// new user meets them.
var commandHelp = map[string]struct {
	what string
	subs []subHelp
}{
	"client": {"register and manage OAuth clients", []subHelp{
		{"create", "register a client; prints its client_id and its secret, shown once", "tokend client create --name web --grant password --grant refresh_token"},
		{"list", "list the registered clients", "tokend client list --json"},
		{"show", "show one client", "tokend client show CLIENT_ID"},
		{"rotate-secret", "give a client a new secret, shown once, and revoke the grants made with the old one", "tokend client rotate-secret CLIENT_ID"},
		{"disable", "refuse a client's requests and its tokens, without revoking them", "tokend client disable CLIENT_ID"},
		{"enable", "accept a disabled client and its tokens again", "tokend client enable CLIENT_ID"},
		{"delete", "delete a client and revoke its grants", "tokend client delete CLIENT_ID"},
	}},
	"user": {"manage the users who sign in with a password", []subHelp{
		{"add", "add a user, the password read from standard input", "echo 'correct horse battery' | tokend user add alice --password-stdin [--admin]"},
		{"list", "list the users", "tokend user list"},
		{"passwd", "change a user's password and revoke the user's grants", "echo 'new password here' | tokend user passwd alice --password-stdin"},
		{"disable", "refuse a user's sign-ins and revoke the user's grants", "tokend user disable alice"},
		{"enable", "let a disabled user sign in again", "tokend user enable alice"},
		{"delete", "delete a user and revoke the user's grants", "tokend user delete alice"},
	}},
	"keys": {"list and rotate the keys JWT access tokens are signed with", []subHelp{
		{"list", "list the signing keys, the active one first", "tokend keys list"},
		{"rotate", "make a new active key; the old one stays published while its tokens live", "tokend keys rotate --alg ES256"},
	}},
	"issuer": {"trust the assertions of other issuers (the JWT bearer grant)", []subHelp{
		{"add", "trust an issuer, whose keys are a JWK Set in a file or at a URL", "tokend issuer add --iss https://idp.example --jwks-uri https://idp.example/jwks.json"},
		{"list", "list the trusted issuers", "tokend issuer list"},
		{"delete", "stop trusting an issuer", "tokend issuer delete --iss https://idp.example"},
	}},
	"streams": {"subscribe this tokend, as a Shared Signals receiver, to an upstream transmitter, and manage those streams there", []subHelp{
		{"create", "create a push stream at the upstream to this server's /ssf/receive, for its issuer; the upstream must be a trusted issuer (tokend issuer add)", "tokend streams create --upstream https://idp.example --token-stdin < upstream-token"},
		{"list", "list this client's streams at the upstream", "tokend streams list --upstream https://idp.example --token-stdin < upstream-token"},
		{"show", "show one stream at the upstream", "tokend streams show STREAM_ID --upstream https://idp.example --token-stdin < upstream-token"},
		{"status", "show a stream's status at the upstream, or set it (enabled, paused, disabled)", "tokend streams status STREAM_ID --set enabled --upstream https://idp.example --token-stdin < upstream-token"},
		{"verify", "ask the upstream to send a verification event on a stream", "tokend streams verify STREAM_ID --upstream https://idp.example --token-stdin < upstream-token"},
		{"delete", "delete a stream at the upstream: it sends nothing more", "tokend streams delete STREAM_ID --upstream https://idp.example --token-stdin < upstream-token"},
	}},
	"dev": {"tools for trying tokend out and for tests, never for production", []subHelp{
		{"assertion", "make a test issuer's key (the first time) and print an assertion it signed, for the JWT bearer grant", "tokend dev assertion --iss https://idp.example --sub alice"},
	}},
}

// commandDocs is what `tokend COMMAND -h` prints above the flags of each
// command that has no subcommands: what it does and an example.
var commandDocs = map[string]subHelp{
	"serve":   {"serve", "run the authorization server", "tokend serve --addr localhost:9443 --data ./tokend-data"},
	"revoke":  {"revoke", "revoke every grant of a subject, a client, or the pair, and log why", "tokend revoke --user alice --reason password_change"},
	"audit":   {"audit", "read the revocation log, oldest first", "tokend audit --since 40 --limit 20"},
	"gc":      {"gc", "delete expired grants and old log events now, as the server's sweep does every minute", "tokend gc --audit-retention 720h"},
	"version": {"version", "print the version, and the module, revision and Go version it was built from", "tokend version"},
}

// docOf returns the description and example of a command line's first
// words, e.g. "serve" or "client show", as its flag set is named.
func docOf(name string) (subHelp, bool) {
	if d, ok := commandDocs[name]; ok {
		return d, true
	}
	command, sub, _ := strings.Cut(name, " ")
	for _, s := range commandHelp[command].subs {
		if s.name == sub {
			return s, true
		}
	}
	return subHelp{}, false
}

// printFlagHelp is a command's or a subcommand's -h: what it does, an
// example, and its own flags, to w.
func printFlagHelp(w io.Writer, fs *flag.FlagSet) {
	if d, ok := docOf(fs.Name()); ok {
		fmt.Fprintf(w, "tokend %s: %s.\n\nExample:\n  %s\n\n", fs.Name(), d.what, d.example)
	}
	n := 0
	fs.VisitAll(func(*flag.Flag) { n++ })
	if n == 0 {
		fmt.Fprintln(w, "It takes no flags.")
		return
	}
	fmt.Fprintln(w, "Flags:")
	out := fs.Output()
	fs.SetOutput(w)
	fs.PrintDefaults()
	fs.SetOutput(out)
}

// usageError is a command line tokend cannot read (no or an unknown
// command or subcommand, an unknown flag, a missing or extra argument):
// main exits with status 2 for it, as the flag package does, and 1 for
// anything that went wrong while running.
type usageError struct{ error }

func (e usageError) Unwrap() error { return e.error }

// usagef returns a usageError with the message format makes.
func usagef(format string, args ...any) error {
	return usageError{fmt.Errorf(format, args...)}
}

// exitCode is the process's exit status for what run returned.
func exitCode(err error) int {
	var ue usageError
	switch {
	case err == nil, errors.Is(err, flag.ErrHelp):
		return 0
	case errors.As(err, &ue):
		return 2
	default:
		return 1
	}
}

// subNames lists the subcommands of command, as its help orders them.
func subNames(command string) string {
	var names []string
	for _, s := range commandHelp[command].subs {
		names = append(names, s.name)
	}
	return strings.Join(names, ", ")
}

// needSubcommand checks the first argument of a command that has
// subcommands. Without one (or with a flag first) it prints the
// command's help to stderr; an
// unknown one is named with the list of those there are. Both are usage
// errors, found before anything is opened or created.
func needSubcommand(command string, args []string, stderr io.Writer) error {
	if len(args) == 0 || strings.HasPrefix(args[0], "-") {
		printCommandHelp(stderr, command)
		return usagef("%s: name a subcommand, before any flag: %s", command, subNames(command))
	}
	if _, ok := docOf(command + " " + args[0]); !ok {
		return usagef("%s: unknown subcommand %q: want one of %s (run \"tokend %s -h\")", command, args[0], subNames(command), command)
	}
	return nil
}

// isHelp reports whether arg asks for help, as the flag package reads it.
func isHelp(arg string) bool {
	return arg == "-h" || arg == "-help" || arg == "--help" || arg == "help"
}

// printCommandHelp prints the subcommands of command, each with what it
// does and an example, to w.
func printCommandHelp(w io.Writer, command string) {
	h := commandHelp[command]
	fmt.Fprintf(w, "tokend %s: %s.\n\nSubcommands:\n", command, h.what)
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	for _, s := range h.subs {
		fmt.Fprintf(tw, "  %s\t%s\n", s.name, s.what)
		fmt.Fprintf(tw, "  \t  %s\n", s.example)
	}
	tw.Flush()
	fmt.Fprintln(w)
	switch command {
	case "dev":
	case "streams":
		fmt.Fprintf(w, "Every subcommand takes --upstream URL (TOKEND_UPSTREAM) and the upstream's bearer token, from\nstandard input with --token-stdin or from %s; create also --data DIR or --dsn URL.\n", upstreamTokenEnv)
	default:
		fmt.Fprintf(w, "Every subcommand takes --data DIR (TOKEND_DATA, default ./tokend-data) or --dsn URL (TOKEND_DSN).\n")
	}
	fmt.Fprintf(w, "Run \"tokend %s SUBCOMMAND -h\" for a subcommand's flags.\n", command)
}

// help is `tokend help [COMMAND]`: the usage, or one command's help. A
// command with subcommands lists them; the others print their flags, as
// `tokend COMMAND -h` does.
func help(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) error {
	switch {
	case len(args) == 0:
		fmt.Fprint(stdout, usage)
		return nil
	case len(args) > 1:
		return usagef("help: unexpected argument %q: name one command", args[1])
	}
	if _, ok := commandHelp[args[0]]; ok {
		printCommandHelp(stdout, args[0])
		return nil
	}
	if _, ok := commandDocs[args[0]]; ok {
		return run(ctx, []string{args[0], "-h"}, stdin, stdout, stderr)
	}
	return usagef("help: unknown command %q: want one of %s", args[0], commandNames)
}
