// Command tokend is an OAuth 2.0 authorization server whose centre is token
// revocation. Run `tokend serve` to start it, `tokend help` for the rest.
package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"
)

// version is set at build time with -ldflags "-X main.version=...".
var version = "dev"

const usage = `tokend: an OAuth 2.0 authorization server built around token revocation.

Usage:
  tokend serve [flags]                 run the server (https://localhost:9443)
  tokend client create --name N [...]  register a client ([--id ID] [--secret-stdin] to choose them)
  tokend client list|show ID|delete ID|rotate-secret ID|disable ID|enable ID
  tokend user add NAME --password-stdin [--admin]
  tokend user passwd NAME --password-stdin | disable NAME | enable NAME | delete NAME | list
  tokend keys list | rotate [--alg RS256|ES256|EdDSA]
  tokend issuer add --iss URL (--jwks-file F | --jwks-uri URL) [--subject-claim sub] | list | delete --iss URL
  tokend streams create --upstream URL --token-stdin   subscribe to an upstream's Shared Signals (push to /ssf/receive)
  tokend streams list|show ID|status ID [--set S]|verify ID|delete ID --upstream URL --token-stdin
  tokend revoke [--subject S | --user NAME] [--client C] [--reason R] [--json]
                                       revoke every grant of a subject, a client, or the pair
  tokend audit [--since SEQ] [--limit N] [--json]   read the revocation log
  tokend gc [--audit-retention 2160h]  delete expired grants and old log events now
  tokend version                       the version, and the revision it was built from
  tokend dev assertion --iss URL --sub S  a test issuer's signed assertion (JWT bearer grant), for trying it out

Every command but version, dev and streams takes --data DIR (TOKEND_DATA, default ./tokend-data), the SQLite
store's folder, or --dsn URL (TOKEND_DSN) for PostgreSQL: give the CLI the same as the server.
Run "tokend COMMAND -h" (or "tokend help COMMAND") for a command's subcommands or flags.
`

// commandNames are tokend's commands, for the error that names a wrong one.
const commandNames = "serve, client, user, keys, issuer, streams, revoke, audit, gc, version, dev, help"

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	err := run(ctx, os.Args[1:], os.Stdin, os.Stdout, os.Stderr)
	if code := exitCode(err); code != 0 {
		fmt.Fprintln(os.Stderr, "tokend:", err)
		stop()
		os.Exit(code)
	}
}

// run executes one command line; main only adds the process around it, so
// tests can call run directly.
func run(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return usagef("no command given")
	}
	if _, ok := commandHelp[args[0]]; ok && len(args) > 1 && isHelp(args[1]) {
		return help(ctx, args[:1], stdin, stdout, stderr)
	}
	switch args[0] {
	case "serve":
		return serve(ctx, args[1:], stdout, stderr)
	case "client":
		return clientCommand(ctx, args[1:], stdin, stdout, stderr)
	case "user":
		return userCommand(ctx, args[1:], stdin, stdout, stderr)
	case "keys":
		return keysCommand(ctx, args[1:], stdout, stderr)
	case "issuer":
		return issuerCommand(ctx, args[1:], stdout, stderr)
	case "streams":
		return streamsCommand(ctx, args[1:], stdin, stdout, stderr)
	case "revoke":
		return revokeCommand(ctx, args[1:], stdout, stderr)
	case "audit":
		return auditCommand(ctx, args[1:], stdout, stderr)
	case "gc":
		return gcCommand(ctx, args[1:], stdout, stderr)
	case "dev":
		return devCommand(args[1:], stdout, stderr)
	case "version", "--version", "-version":
		return versionCommand(args[1:], stdout, stderr)
	case "help":
		return help(ctx, args[1:], stdin, stdout, stderr)
	case "-h", "-help", "--help":
		fmt.Fprint(stdout, usage)
		return nil
	default:
		return usagef("unknown command %q: want one of %s (run \"tokend help\")", args[0], commandNames)
	}
}
