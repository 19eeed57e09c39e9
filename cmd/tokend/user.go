package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"text/tabwriter"
	"time"

	"github.com/tokend/tokend/internal/identity"
	"github.com/tokend/tokend/internal/store"
)

func userCommand(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		return errors.New("user: want add, passwd, disable, enable, delete or list")
	}
	fs := newFlagSet("user "+args[0], stderr)
	dataFlag(fs)
	pwStdin := fs.Bool("password-stdin", false, "read the password from the first line of standard input")
	admin := fs.Bool("admin", false, "the user administers tokend: client registration, SCIM, bulk revocation and the audit log, with HTTP Basic")
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
	engine := revoker(st, now)

	if args[0] == "list" {
		us, err := st.ListUsers(ctx)
		if err != nil {
			return err
		}
		tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "USERNAME\tID\tADMIN\tDISABLED")
		for _, u := range us {
			fmt.Fprintf(tw, "%s\t%s\t%t\t%t\n", u.Username, u.ID, u.Admin, u.Disabled)
		}
		return tw.Flush()
	}
	if len(pos) != 1 {
		return fmt.Errorf("user %s: want exactly one username", args[0])
	}
	name := pos[0]
	readPassword := func() (string, error) {
		if !*pwStdin {
			return "", errors.New("--password-stdin is required (a password on the command line would show in ps and shell history)")
		}
		return firstLine(stdin)
	}
	revoked := func(res store.RevokeResult) {
		fmt.Fprintf(stdout, "revoked %d grants (%d tokens) of %s\n", res.Grants, res.Tokens, name)
	}

	switch args[0] {
	case "add":
		pw, err := readPassword()
		if err != nil {
			return err
		}
		u, err := identity.NewUser(name, pw, *admin, now)
		if err != nil {
			return err
		}
		if err := st.CreateUser(ctx, u); errors.Is(err, store.ErrAlreadyExists) {
			return fmt.Errorf("user %q exists already", name)
		} else if err != nil {
			return err
		}
		fmt.Fprintf(stdout, "added user %s (id %s)\n", u.Username, u.ID)
		return nil
	case "passwd":
		pw, err := readPassword()
		if err != nil {
			return err
		}
		hash, err := identity.HashNewPassword(pw)
		if err != nil {
			return err
		}
		res, err := engine.ChangePassword(ctx, name, "admin", func(u store.User) (store.User, error) {
			u.PasswordHash, u.UpdatedAt = hash, now
			return u, nil
		})
		if err != nil {
			return userErr(name, err)
		}
		revoked(res)
		return nil
	case "disable", "enable":
		disable := args[0] == "disable"
		apply := func(u store.User) (store.User, error) {
			u.Disabled, u.UpdatedAt = disable, now
			return u, nil
		}
		var res store.RevokeResult
		if disable {
			res, err = engine.DisableUser(ctx, name, "admin", apply)
		} else {
			_, err = st.UpdateUser(ctx, name, apply, nil) // enabling revokes nothing
		}
		if err != nil {
			return userErr(name, err)
		}
		if disable {
			revoked(res)
		}
		return nil
	case "delete":
		res, err := engine.DeleteUser(ctx, name, "admin")
		if err != nil {
			return userErr(name, err)
		}
		revoked(res)
		return nil
	default:
		return fmt.Errorf("user: unknown subcommand %q", args[0])
	}
}

func userErr(name string, err error) error {
	if errors.Is(err, store.ErrNotFound) {
		return fmt.Errorf("no user %q", name)
	}
	return err
}
