package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/url"
	"os"

	"github.com/tokend/tokend/internal/assertion"
	"github.com/tokend/tokend/internal/store"
)

// issuerCmd is a `tokend issuer` command line at work: the subcommand and
// its flags' values.
type issuerCmd struct {
	subcommand
	iss          string // --iss
	jwksFile     string // --jwks-file
	jwksURI      string // --jwks-uri
	subjectClaim string // --subject-claim
}

// issuerSubcommands are the subcommands of `tokend issuer`, by name.
var issuerSubcommands = map[string]func(context.Context, *issuerCmd) error{
	"add":    issuerAdd,
	"list":   issuerList,
	"delete": issuerDelete,
}

// issuerCommand manages the trusted issuers of the JWT bearer grant.
func issuerCommand(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if err := needSubcommand("issuer", args, stderr); err != nil {
		return err
	}
	c := &issuerCmd{subcommand: subcommand{command: "issuer", sub: args[0], stdout: stdout}}
	fs := storeFlags(c.name(), stderr)
	// Each subcommand has only the flags it reads, and -h shows only them.
	if c.sub == "add" || c.sub == "delete" {
		fs.StringVar(&c.iss, "iss", "", "the issuer identifier its assertions carry in iss")
	}
	if c.sub == "add" {
		fs.StringVar(&c.jwksFile, "jwks-file", "", "a JWK Set document holding the issuer's public keys")
		fs.StringVar(&c.jwksURI, "jwks-uri", "", "the https URL of the issuer's JWK Set (http only to 127.0.0.1, [::1] or localhost, for tests)")
		fs.StringVar(&c.subjectClaim, "subject-claim", "sub", "the claim whose value becomes the tokens' subject")
	}
	check := func(pos []string) error {
		if _, ok := issuerSubcommands[c.sub]; !ok {
			return c.unknown()
		}
		if c.sub == "delete" && (len(pos) > 1 || len(pos) == 1 && c.iss != "") {
			return fmt.Errorf("issuer delete: unexpected argument %q: name one issuer, with --iss or as the argument", pos[len(pos)-1])
		}
		return c.takesNone(pos, "add", "list")
	}
	return c.run(ctx, fs, args[1:], check, func() error {
		do, ok := issuerSubcommands[c.sub]
		if !ok {
			return c.unknown()
		}
		return do(ctx, c)
	})
}

// issuerAdd trusts the assertions of an issuer, whose keys are a JWK Set
// given in a file (kept in the store) or at a URL.
func issuerAdd(ctx context.Context, c *issuerCmd) error {
	rec := store.Issuer{Issuer: c.iss, SubjectClaim: c.subjectClaim, CreatedAt: c.now}
	if rec.Issuer == "" {
		return errors.New("issuer add: --iss is required")
	}
	switch {
	case (c.jwksFile == "") == (c.jwksURI == ""):
		return errors.New("issuer add: give exactly one of --jwks-file and --jwks-uri")
	case c.jwksFile != "":
		b, err := os.ReadFile(c.jwksFile)
		if err != nil {
			return err
		}
		if _, err := assertion.ParseJWKS(b); err != nil {
			return err
		}
		rec.JWKS = b
	default:
		if err := checkJWKSURI(c.jwksURI); err != nil {
			return err
		}
		rec.JWKSURI = c.jwksURI
	}
	if err := c.st.CreateIssuer(ctx, rec); errors.Is(err, store.ErrAlreadyExists) {
		return fmt.Errorf("issuer %q is trusted already", rec.Issuer)
	} else if err != nil {
		return err
	}
	fmt.Fprintf(c.stdout, "trusting assertions from %s\n", rec.Issuer)
	return nil
}

func issuerList(ctx context.Context, c *issuerCmd) error {
	list, err := c.st.ListIssuers(ctx)
	if err != nil {
		return err
	}
	return printTable(c.stdout, "ISSUER\tKEYS\tSUBJECT CLAIM", list, func(i store.Issuer) string {
		keys := "jwks-file"
		if i.JWKSURI != "" {
			keys = i.JWKSURI
		}
		return fmt.Sprintf("%s\t%s\t%s", i.Issuer, keys, i.SubjectClaim)
	})
}

// issuerDelete stops trusting an issuer, named by --iss or as the one
// positional argument.
func issuerDelete(ctx context.Context, c *issuerCmd) error {
	name := c.iss
	if name == "" && len(c.pos) == 1 {
		name = c.pos[0]
	}
	if name == "" {
		return errors.New("issuer delete: name the issuer (--iss URL)")
	}
	if err := c.st.DeleteIssuer(ctx, name); errors.Is(err, store.ErrNotFound) {
		return fmt.Errorf("no trusted issuer %q", name)
	} else if err != nil {
		return err
	}
	fmt.Fprintf(c.stdout, "no longer trusting %s\n", name)
	return nil
}

// checkJWKSURI accepts an https URL for an issuer's JWK Set, or an http one
// to a loopback host (a test issuer on this machine): keys fetched over
// plain HTTP from elsewhere could be swapped on the way, and whoever swaps
// them signs assertions for any subject.
func checkJWKSURI(raw string) error {
	u, err := url.Parse(raw)
	if err != nil || u.Host == "" || (u.Scheme != "https" && u.Scheme != "http") {
		return fmt.Errorf("issuer add: --jwks-uri %q is not an https URL", raw)
	}
	if u.Scheme == "http" {
		switch u.Hostname() {
		case "127.0.0.1", "::1", "localhost":
		default:
			return fmt.Errorf("issuer add: --jwks-uri %q: want https (http only to 127.0.0.1, [::1] or localhost, for tests): keys fetched over plain HTTP could be swapped on the way", raw)
		}
	}
	return nil
}
