package main

import (
	"context"
	"fmt"
	"io"
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
	fmt.Fprintf(w, "\nEvery subcommand takes --data DIR (TOKEND_DATA, default ./tokend-data) or --dsn URL (TOKEND_DSN).\n")
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
		return fmt.Errorf("help: unexpected argument %q: name one command", args[1])
	}
	if _, ok := commandHelp[args[0]]; ok {
		printCommandHelp(stdout, args[0])
		return nil
	}
	switch args[0] {
	case "serve", "revoke", "audit", "gc", "version":
		return run(ctx, []string{args[0], "-h"}, stdin, stdout, stderr)
	}
	fmt.Fprint(stderr, usage)
	return fmt.Errorf("help: unknown command %q", args[0])
}
