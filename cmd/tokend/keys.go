package main

import (
	"cmp"
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"time"

	"github.com/tokend/tokend/internal/token"
)

// keysDir is where a data folder keeps its JWT signing keys.
func keysDir(dataDir string) string { return filepath.Join(dataDir, "keys") }

// jwtAlgDefault is the default of serve's --jwt-alg.
func jwtAlgDefault() string { return envOr("TOKEND_JWT_ALG", token.RS256) }

func keysCommand(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if err := needSubcommand("keys", args, stderr); err != nil {
		return err
	}
	fs := newFlagSet("keys "+args[0], stderr)
	data := dataFlag(fs)
	// rotate's --alg; in a data folder without keys, list makes the first
	// one as a server's start would, with TOKEND_JWT_ALG's algorithm.
	alg := new(string)
	*alg = os.Getenv("TOKEND_JWT_ALG")
	if args[0] == "rotate" {
		fs.StringVar(alg, "alg", os.Getenv("TOKEND_JWT_ALG"), "algorithm of the new key: RS256, ES256 or EdDSA; default the active key's, so a rotation never changes what a server signs with (env TOKEND_JWT_ALG)")
	}
	pos, err := parseArgs(fs, args[1:])
	if err != nil {
		return err
	}
	if err := noArgs(fs.Name(), pos); err != nil {
		return err
	}
	if args[0] == "list" {
		// Listing creates no mistyped data folder; in an existing one it
		// makes the first key, as a server's start would.
		if err := existingData(*data, ""); err != nil {
			return err
		}
	}
	ring, err := token.OpenKeyring(keysDir(*data), cmp.Or(*alg, token.RS256), nil)
	if err != nil {
		return err
	}
	switch args[0] {
	case "list":
	case "rotate":
		key, err := ring.Rotate(cmp.Or(*alg, ring.Active().Alg))
		if err != nil {
			return err
		}
		fmt.Fprintf(stdout, "new signing key %s (%s); a running server signs with it within a second\n", key.ID, key.Alg)
	default:
		return fmt.Errorf("keys: unknown subcommand %q", args[0])
	}
	now := time.Now()
	keys := ring.Keys() // the active key first
	return printTable(stdout, "KID\tALG\tCREATED\tSTATE", keys, func(k *token.Key) string {
		state := "active"
		switch {
		case k != keys[0] && now.Before(k.LastExpiry):
			state = "retired, published until " + k.LastExpiry.Format(time.RFC3339)
		case k != keys[0]:
			state = "retired, unpublished"
		}
		return fmt.Sprintf("%s\t%s\t%s\t%s", k.ID, k.Alg, k.CreatedAt.Format(time.RFC3339), state)
	})
}
