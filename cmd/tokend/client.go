package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"slices"
	"strings"
	"text/tabwriter"

	"github.com/tokend/tokend/internal/oauth"
	"github.com/tokend/tokend/internal/registry"
	"github.com/tokend/tokend/internal/store"
)

// clientCmd is a `tokend client` command line at work: the subcommand and
// its flags' values.
type clientCmd struct {
	subcommand
	asJSON      bool          // --json
	spec        registry.Spec // create's flags
	grants      stringList    // create's --grant
	redirects   stringList    // create's --redirect-uri
	postLogout  stringList    // create's --post-logout-redirect-uri
	secretStdin bool          // create's --secret-stdin
}

// clientSubcommands are the subcommands of `tokend client`, by name.
var clientSubcommands = map[string]func(context.Context, *clientCmd) error{
	"create":        clientCreate,
	"list":          clientList,
	"show":          clientShow,
	"delete":        clientDelete,
	"rotate-secret": clientRotateSecret,
	"disable":       clientSetDisabled,
	"enable":        clientSetDisabled,
}

func clientCommand(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) error {
	if err := needSubcommand("client", args, stderr); err != nil {
		return err
	}
	c := &clientCmd{subcommand: subcommand{command: "client", sub: args[0], stdin: stdin, stdout: stdout}}
	fs := storeFlags(c.name(), stderr)
	fs.BoolVar(&c.asJSON, "json", false, "print JSON with RFC 7591 field names")
	if c.sub == "create" {
		c.createFlags(fs)
	}
	check := func(pos []string) error {
		if _, ok := clientSubcommands[c.sub]; !ok {
			return c.unknown()
		}
		return c.takesNone(pos, "create", "list")
	}
	return c.run(ctx, fs, args[1:], check, func() error {
		do, ok := clientSubcommands[c.sub]
		if !ok {
			return c.unknown()
		}
		return do(ctx, c)
	})
}

// createFlags adds the flags of `client create` to fs.
func (c *clientCmd) createFlags(fs *flag.FlagSet) {
	fs.BoolVar(&c.secretStdin, "secret-stdin", false, "read the client secret from the first line of standard input (stored with argon2id) instead of generating one")
	fs.StringVar(&c.spec.Name, "name", "", "client name")
	fs.StringVar(&c.spec.ID, "id", "", "client_id to use (default: generated)")
	fs.Var(&c.grants, "grant", "grant type the client may use (repeatable): "+grantNames())
	fs.StringVar(&c.spec.AuthMethod, "auth-method", registry.AuthBasic, "client_secret_basic, client_secret_post or none (public client)")
	fs.StringVar(&c.spec.TokenFormat, "token-format", registry.FormatOpaque, "opaque or jwt")
	fs.BoolVar(&c.spec.CanIntrospect, "can-introspect", false, "may introspect any client's tokens and read the revocation feed (a resource server); not with --auth-method none")
	fs.BoolVar(&c.spec.SSFStreams, "ssf-streams", false, "may manage Shared Signals streams and poll them with its access tokens (a receiver); not with --auth-method none")
	fs.BoolVar(&c.spec.TokenExchange, "token-exchange", false, "may exchange tokens it was shown for tokens of its own (RFC 8693, the "+registry.GrantTokenExchange+" grant); not with --auth-method none")
	fs.DurationVar(&c.spec.AccessTokenTTL, "access-token-ttl", 0, "lifetime of user access tokens (default: server's)")
	fs.DurationVar(&c.spec.AppAccessTokenTTL, "app-token-ttl", 0, "lifetime of client_credentials tokens (default: server's)")
	fs.DurationVar(&c.spec.RefreshTokenTTL, "refresh-token-ttl", 0, "lifetime of refresh tokens (default: server's)")
	fs.Var(&c.redirects, "redirect-uri", "redirection URI of the authorization code grant (repeatable): https, http to a loopback host, or an app's private-use scheme (com.example.app:/cb)")
	fs.Var(&c.postLogout, "post-logout-redirect-uri", "where the user may be sent after logging out (repeatable); as --redirect-uri")
	fs.StringVar(&c.spec.BackchannelLogoutURI, "backchannel-logout-uri", "", "https URL that receives a Logout Token when a session the client had tokens in ends")
	fs.BoolVar(&c.spec.BackchannelLogoutSessionRequired, "backchannel-logout-session-required", false, "the client needs the sid claim in its Logout Tokens (tokend always sends it)")
	fs.BoolVar(&c.spec.DPoPBoundAccessTokens, "dpop-bound-access-tokens", false, "the client always sends DPoP proofs (RFC 9449 dpop_bound_access_tokens): a token request of it without one is refused, so it never holds a bearer token")
}

// clientCreate registers a client, with the secret read from standard
// input under --secret-stdin, else a generated one, printed once.
func clientCreate(ctx context.Context, c *clientCmd) error {
	spec := c.spec
	var err error
	if spec.Name == "" {
		return errors.New("client create: --name is required")
	}
	spec.GrantTypes = c.grants
	spec.RedirectURIs, spec.PostLogoutRedirectURIs = c.redirects, c.postLogout
	if err := knownGrants(c.grants); err != nil {
		return err
	}
	if spec.TokenFormat, err = tokenFormat(spec.TokenFormat); err != nil {
		return err
	}
	if c.secretStdin {
		if spec.Secret, err = firstLine(c.stdin); err != nil {
			return err
		}
		if spec.Secret == "" {
			return errors.New("client create: --secret-stdin read an empty secret")
		}
	}
	client, secret, err := oauth.Registration.New(spec, c.now)
	if err != nil {
		return err
	}
	if err := c.st.CreateClient(ctx, client); errors.Is(err, store.ErrAlreadyExists) {
		return fmt.Errorf("client create: a client with id %s exists already (choose another --id, or leave it out for a generated one)", client.ID)
	} else if err != nil {
		return err
	}
	return printClient(c.stdout, client, secret, c.asJSON)
}

func clientList(ctx context.Context, c *clientCmd) error {
	cs, err := c.st.ListClients(ctx)
	if err != nil {
		return err
	}
	infos := make([]cliClientInfo, len(cs))
	for i, client := range cs {
		infos[i] = cliClientInfo{oauth.ClientInformation(client, ""), client.Disabled}
	}
	return printResult(c.stdout, c.asJSON, infos, func() error {
		return printTable(c.stdout, "CLIENT_ID\tNAME\tAUTH\tFORMAT\tGRANTS\tDISABLED", cs, func(client store.Client) string {
			return fmt.Sprintf("%s\t%s\t%s\t%s\t%s\t%t", client.ID, client.Name, client.AuthMethod, client.TokenFormat, strings.Join(client.GrantTypes, ","), client.Disabled)
		})
	})
}

func clientShow(ctx context.Context, c *clientCmd) error {
	id, err := c.only("client ID")
	if err != nil {
		return err
	}
	client, err := c.st.GetClient(ctx, id)
	if err != nil {
		return clientErr(id, err)
	}
	return printClient(c.stdout, client, "", c.asJSON)
}

// clientDelete deletes a client and revokes its grants.
func clientDelete(ctx context.Context, c *clientCmd) error {
	id, err := c.only("client ID")
	if err != nil {
		return err
	}
	res, err := revoker(c.st, c.now).DeleteClient(ctx, id, "admin")
	if err != nil {
		return clientErr(id, err)
	}
	fmt.Fprintf(c.stdout, "deleted client %s; revoked %d grants (%d tokens)\n", id, res.Grants, res.Tokens)
	return nil
}

// clientRotateSecret gives a confidential client a new secret, printed
// once, and revokes the grants made with the old one.
func clientRotateSecret(ctx context.Context, c *clientCmd) error {
	id, err := c.only("client ID")
	if err != nil {
		return err
	}
	secret, stored, err := registry.NewSecret("")
	if err != nil {
		return err
	}
	var updated store.Client
	res, err := revoker(c.st, c.now).RotateSecret(ctx, id, "admin", func(client store.Client) (store.Client, error) {
		if client.Public() {
			return client, errors.New("a public client has no secret")
		}
		client.SecretHash, client.UpdatedAt = stored, c.now
		updated = client
		return client, nil
	})
	if err != nil {
		return clientErr(id, err)
	}
	if !c.asJSON {
		fmt.Fprintf(c.stdout, "revoked %d grants (%d tokens) of the old secret\n", res.Grants, res.Tokens)
	}
	return printClient(c.stdout, updated, secret, c.asJSON)
}

// clientSetDisabled is `client disable` and `client enable`. Disabling
// refuses the client at the token endpoint and its tokens at
// introspection, without revoking them: enabling it again brings them
// back. The client may still revoke its tokens.
func clientSetDisabled(ctx context.Context, c *clientCmd) error {
	id, err := c.only("client ID")
	if err != nil {
		return err
	}
	disabled := c.sub == "disable"
	if _, err := c.st.UpdateClient(ctx, id, func(client store.Client) (store.Client, error) {
		client.Disabled, client.UpdatedAt = disabled, c.now
		return client, nil
	}, nil); err != nil {
		return clientErr(id, err)
	}
	fmt.Fprintf(c.stdout, "client %s %sd\n", id, c.sub)
	return nil
}

func clientErr(id string, err error) error {
	if errors.Is(err, store.ErrNotFound) {
		return fmt.Errorf("no client %q", id)
	}
	return err
}

// cliClientInfo is a client as the CLI's --json prints it: its RFC 7591
// information, and whether it is disabled, which registration does not
// say but an admin reading the list must see.
type cliClientInfo struct {
	oauth.ClientInfo
	Disabled bool `json:"disabled,omitempty"`
}

func printClient(w io.Writer, c store.Client, secret string, asJSON bool) error {
	return printResult(w, asJSON, cliClientInfo{oauth.ClientInformation(c, secret), c.Disabled}, func() error {
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
		fmt.Fprintf(tw, "ssf streams:\t%t\n", c.SSFStreams)
		fmt.Fprintf(tw, "token exchange:\t%t\n", c.TokenExchange)
		if c.Disabled {
			fmt.Fprintf(tw, "disabled:\ttrue (refused at the token endpoint, its tokens inactive: tokend client enable %s)\n", c.ID)
		}
		printLogoutMetadata(tw, c)
		return tw.Flush()
	})
}

// printLogoutMetadata prints the redirection URIs, post-logout ones and
// back-channel logout URI of c, those it has: labels no wider than the
// others, so that a client without them prints as it always has.
func printLogoutMetadata(w io.Writer, c store.Client) {
	if len(c.RedirectURIs) > 0 {
		fmt.Fprintf(w, "redirect URIs:\t%s\n", strings.Join(c.RedirectURIs, " "))
	}
	if len(c.PostLogoutRedirectURIs) > 0 {
		fmt.Fprintf(w, "post-logout:\t%s\n", strings.Join(c.PostLogoutRedirectURIs, " "))
	}
	if c.BackchannelLogoutURI != "" {
		required := ""
		if c.BackchannelLogoutSessionRequired {
			required = " (session required)"
		}
		fmt.Fprintf(w, "back-channel:\t%s%s\n", c.BackchannelLogoutURI, required)
	}
	if c.DPoPBoundAccessTokens {
		fmt.Fprintf(w, "DPoP:\trequired (dpop_bound_access_tokens)\n")
	}
}

// knownGrants refuses a --grant that is not a grant type tokend knows,
// listing those it does.
func knownGrants(asked []string) error {
	for _, name := range asked {
		if !slices.ContainsFunc(oauth.GrantTypes(), func(g registry.GrantType) bool { return g.Name == name }) {
			return fmt.Errorf("client create: unknown --grant %q; give one of %s", name, grantNames())
		}
	}
	return nil
}

// tokenFormat reads --token-format as dynamic client registration reads
// its token type: JWT or jwt for JWT access tokens, opaque or Default for
// opaque ones, here in any case.
func tokenFormat(f string) (string, error) {
	switch strings.ToLower(f) {
	case registry.FormatJWT:
		return registry.FormatJWT, nil
	case "", registry.FormatOpaque, "default":
		return registry.FormatOpaque, nil
	}
	return "", fmt.Errorf("client create: unknown --token-format %q; give opaque or jwt", f)
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
