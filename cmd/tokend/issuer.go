package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/url"
	"os"
	"text/tabwriter"
	"time"

	"github.com/tokend/tokend/internal/assertion"
	"github.com/tokend/tokend/internal/store"
)

// issuerCommand manages the trusted issuers of the JWT bearer grant.
func issuerCommand(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		return errors.New("issuer: want add, list or delete")
	}
	fs := newFlagSet("issuer "+args[0], stderr)
	dataFlag(fs)
	iss := fs.String("iss", "", "the issuer identifier its assertions carry in iss")
	jwksFile := fs.String("jwks-file", "", "a JWK Set document holding the issuer's public keys")
	jwksURI := fs.String("jwks-uri", "", "the https URL of the issuer's JWK Set")
	subjectClaim := fs.String("subject-claim", "sub", "the claim whose value becomes the tokens' subject")
	pos, err := parseArgs(fs, args[1:])
	if err != nil {
		return err
	}
	st, err := openStore(ctx, fs)
	if err != nil {
		return err
	}
	defer st.Close()

	switch args[0] {
	case "add":
		rec := store.Issuer{Issuer: *iss, SubjectClaim: *subjectClaim, CreatedAt: time.Now()}
		if rec.Issuer == "" {
			return errors.New("issuer add: --iss is required")
		}
		switch {
		case (*jwksFile == "") == (*jwksURI == ""):
			return errors.New("issuer add: give exactly one of --jwks-file and --jwks-uri")
		case *jwksFile != "":
			b, err := os.ReadFile(*jwksFile)
			if err != nil {
				return err
			}
			if _, err := assertion.ParseJWKS(b); err != nil {
				return err
			}
			rec.JWKS = b
		default:
			u, err := url.Parse(*jwksURI)
			if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
				return fmt.Errorf("issuer add: --jwks-uri %q is not an http(s) URL", *jwksURI)
			}
			rec.JWKSURI = *jwksURI
		}
		if err := st.CreateIssuer(ctx, rec); errors.Is(err, store.ErrAlreadyExists) {
			return fmt.Errorf("issuer %q is trusted already", rec.Issuer)
		} else if err != nil {
			return err
		}
		fmt.Fprintf(stdout, "trusting assertions from %s\n", rec.Issuer)
		return nil
	case "list":
		list, err := st.ListIssuers(ctx)
		if err != nil {
			return err
		}
		tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "ISSUER\tKEYS\tSUBJECT CLAIM")
		for _, i := range list {
			keys := "jwks-file"
			if i.JWKSURI != "" {
				keys = i.JWKSURI
			}
			fmt.Fprintf(tw, "%s\t%s\t%s\n", i.Issuer, keys, i.SubjectClaim)
		}
		return tw.Flush()
	case "delete":
		name := *iss
		if name == "" && len(pos) == 1 {
			name = pos[0]
		}
		if name == "" {
			return errors.New("issuer delete: name the issuer (--iss URL)")
		}
		if err := st.DeleteIssuer(ctx, name); errors.Is(err, store.ErrNotFound) {
			return fmt.Errorf("no trusted issuer %q", name)
		} else if err != nil {
			return err
		}
		fmt.Fprintf(stdout, "no longer trusting %s\n", name)
		return nil
	default:
		return fmt.Errorf("issuer: unknown subcommand %q", args[0])
	}
}
