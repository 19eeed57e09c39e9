package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/tokend/tokend/internal/oauth"
	"github.com/tokend/tokend/internal/registry"
	"github.com/tokend/tokend/internal/store"
)

func clientCommand(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		return errors.New("client: want create, list, show, delete, rotate-secret, disable or enable")
	}
	fs := newFlagSet("client "+args[0], stderr)
	dataFlag(fs)
	asJSON := fs.Bool("json", false, "print JSON with RFC 7591 field names")
	var spec registry.Spec
	var grants stringList
	secretStdin := false
	if args[0] == "create" {
		fs.BoolVar(&secretStdin, "secret-stdin", false, "read the client secret from the first line of standard input (stored with argon2id) instead of generating one")
		fs.StringVar(&spec.Name, "name", "", "client name")
		fs.StringVar(&spec.ID, "id", "", "client_id to use (default: generated)")
		fs.Var(&grants, "grant", "grant type the client may use (repeatable): "+grantNames())
		fs.StringVar(&spec.AuthMethod, "auth-method", registry.AuthBasic, "client_secret_basic, client_secret_post or none (public client)")
		fs.StringVar(&spec.TokenFormat, "token-format", registry.FormatOpaque, "opaque or jwt")
		fs.BoolVar(&spec.CanIntrospect, "can-introspect", false, "may introspect any client's tokens and read the revocation feed (a resource server); not with --auth-method none")
		fs.DurationVar(&spec.AccessTokenTTL, "access-token-ttl", 0, "lifetime of user access tokens (default: server's)")
		fs.DurationVar(&spec.AppAccessTokenTTL, "app-token-ttl", 0, "lifetime of client_credentials tokens (default: server's)")
		fs.DurationVar(&spec.RefreshTokenTTL, "refresh-token-ttl", 0, "lifetime of refresh tokens (default: server's)")
	}
	pos, err := parseArgs(fs, args[1:])
	if err != nil {
		return err
	}
	st, err := openStore(ctx, fs)
	if err != nil {
		return err
	}
	defer st.Close()
	now := time.Now()

	needID := func() (string, error) {
		if len(pos) != 1 {
			return "", fmt.Errorf("client %s: want exactly one client ID", args[0])
		}
		return pos[0], nil
	}
	switch args[0] {
	case "create":
		if spec.Name == "" {
			return errors.New("client create: --name is required")
		}
		spec.GrantTypes = grants
		if secretStdin {
			if spec.Secret, err = firstLine(stdin); err != nil {
				return err
			}
			if spec.Secret == "" {
				return errors.New("client create: --secret-stdin read an empty secret")
			}
		}
		c, secret, err := oauth.Registration.New(spec, now)
		if err != nil {
			return err
		}
		if err := st.CreateClient(ctx, c); err != nil {
			return err
		}
		return printClient(stdout, c, secret, *asJSON)
	case "list":
		cs, err := st.ListClients(ctx)
		if err != nil {
			return err
		}
		if *asJSON {
			infos := make([]oauth.ClientInfo, len(cs))
			for i, c := range cs {
				infos[i] = oauth.ClientInformation(c, "")
			}
			return printJSON(stdout, infos)
		}
		tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "CLIENT_ID\tNAME\tAUTH\tFORMAT\tGRANTS")
		for _, c := range cs {
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", c.ID, c.Name, c.AuthMethod, c.TokenFormat, strings.Join(c.GrantTypes, ","))
		}
		return tw.Flush()
	case "show":
		id, err := needID()
		if err != nil {
			return err
		}
		c, err := st.GetClient(ctx, id)
		if err != nil {
			return clientErr(id, err)
		}
		return printClient(stdout, c, "", *asJSON)
	case "delete":
		id, err := needID()
		if err != nil {
			return err
		}
		res, err := revoker(st, now).DeleteClient(ctx, id, "admin")
		if err != nil {
			return clientErr(id, err)
		}
		fmt.Fprintf(stdout, "deleted client %s; revoked %d grants (%d tokens)\n", id, res.Grants, res.Tokens)
		return nil
	case "rotate-secret":
		id, err := needID()
		if err != nil {
			return err
		}
		secret, stored, err := registry.NewSecret("")
		if err != nil {
			return err
		}
		var updated store.Client
		res, err := revoker(st, now).RotateSecret(ctx, id, "admin", func(c store.Client) (store.Client, error) {
			if c.Public() {
				return c, errors.New("a public client has no secret")
			}
			c.SecretHash, c.UpdatedAt = stored, now
			updated = c
			return c, nil
		})
		if err != nil {
			return clientErr(id, err)
		}
		if !*asJSON {
			fmt.Fprintf(stdout, "revoked %d grants (%d tokens) of the old secret\n", res.Grants, res.Tokens)
		}
		return printClient(stdout, updated, secret, *asJSON)
	case "disable", "enable":
		// Disabling refuses the client at the token endpoint and its
		// tokens at introspection, without revoking them: enabling it
		// again brings them back. The client may still revoke its tokens.
		id, err := needID()
		if err != nil {
			return err
		}
		disabled := args[0] == "disable"
		if _, err := st.UpdateClient(ctx, id, func(c store.Client) (store.Client, error) {
			c.Disabled, c.UpdatedAt = disabled, now
			return c, nil
		}, nil); err != nil {
			return clientErr(id, err)
		}
		fmt.Fprintf(stdout, "client %s %sd\n", id, args[0])
		return nil
	default:
		return fmt.Errorf("client: unknown subcommand %q", args[0])
	}
}

func clientErr(id string, err error) error {
	if errors.Is(err, store.ErrNotFound) {
		return fmt.Errorf("no client %q", id)
	}
	return err
}

func printClient(w io.Writer, c store.Client, secret string, asJSON bool) error {
	info := oauth.ClientInformation(c, secret)
	if asJSON {
		return printJSON(w, info)
	}
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintf(tw, "client_id:\t%s\n", c.ID)
	if secret != "" {
		fmt.Fprintf(tw, "client_secret:\t%s\t(shown once: only its hash is kept)\n", secret)
	}
	fmt.Fprintf(tw, "name:\t%s\n", c.Name)
	fmt.Fprintf(tw, "auth method:\t%s\n", c.AuthMethod)
	fmt.Fprintf(tw, "grant types:\t%s\n", strings.Join(c.GrantTypes, " "))
	fmt.Fprintf(tw, "token format:\t%s\n", c.TokenFormat)
	fmt.Fprintf(tw, "can introspect:\t%t\n", c.CanIntrospect)
	return tw.Flush()
}

func printJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}

// grantNames lists the grant types a client may be registered for, as the
// token endpoint knows them.
func grantNames() string {
	var names []string
	for _, g := range oauth.GrantTypes() {
		names = append(names, g.Name)
	}
	return strings.Join(names, ", ")
}
