package main

import (
	"context"
	"errors"
	"fmt"
	"io"

	"github.com/tokend/tokend/internal/identity"
	"github.com/tokend/tokend/internal/store"
)

// userCmd is a `tokend user` command line at work: the subcommand, its
// flags' values and the user it acts on.
type userCmd struct {
	subcommand
	pwStdin bool   // --password-stdin
	admin   bool   // --admin
	email   string // add's --email
	display string // add's --name
	user    string // the username, for every subcommand but list
}

// userSubcommands are the subcommands of `tokend user`, by name.
var userSubcommands = map[string]func(context.Context, *userCmd) error{
	"add":     userAdd,
	"passwd":  userPasswd,
	"disable": userSetDisabled,
	"enable":  userSetDisabled,
	"delete":  userDelete,
	"list":    userList,
}

func userCommand(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) error {
	if err := needSubcommand("user", args, stderr); err != nil {
		return err
	}
	c := &userCmd{subcommand: subcommand{command: "user", sub: args[0], stdin: stdin, stdout: stdout}}
	fs := storeFlags(c.name(), stderr)
	// Each subcommand has only the flags it reads, and -h shows only them.
	if c.sub == "add" || c.sub == "passwd" {
		fs.BoolVar(&c.pwStdin, "password-stdin", false, "read the password from the first line of standard input")
	}
	if c.sub == "add" {
		fs.BoolVar(&c.admin, "admin", false, "the user administers tokend: client registration, SCIM, bulk revocation and the audit log, with HTTP Basic")
		fs.StringVar(&c.email, "email", "", "the user's email address (the email claim of OpenID Connect userinfo; not marked verified)")
		fs.StringVar(&c.display, "name", "", "the user's display name (the name claim of OpenID Connect userinfo)")
	}
	check := func(pos []string) error {
		if _, ok := userSubcommands[c.sub]; !ok {
			return c.unknown()
		}
		return c.takesNone(pos, "list")
	}
	return c.run(ctx, fs, args[1:], check, func() error {
		if c.sub != "list" {
			var err error
			if c.user, err = c.only("username"); err != nil {
				return err
			}
		}
		do, ok := userSubcommands[c.sub]
		if !ok {
			return c.unknown()
		}
		return do(ctx, c)
	})
}

func userList(ctx context.Context, c *userCmd) error {
	us, err := c.st.ListUsers(ctx)
	if err != nil {
		return err
	}
	return printTable(c.stdout, "USERNAME\tID\tADMIN\tDISABLED", us, func(u store.User) string {
		return fmt.Sprintf("%s\t%s\t%t\t%t", u.Username, u.ID, u.Admin, u.Disabled)
	})
}

func userAdd(ctx context.Context, c *userCmd) error {
	pw, err := c.readPassword()
	if err != nil {
		return err
	}
	u, err := identity.NewUser(c.user, pw, c.admin, c.now)
	if err != nil {
		return err
	}
	u.Email, u.Name = c.email, c.display
	if err := c.st.CreateUser(ctx, u); errors.Is(err, store.ErrAlreadyExists) {
		return fmt.Errorf("user %q exists already", c.user)
	} else if err != nil {
		return err
	}
	fmt.Fprintf(c.stdout, "added user %s (id %s)\n", u.Username, u.ID)
	return nil
}

// userPasswd changes a user's password and revokes the user's grants.
func userPasswd(ctx context.Context, c *userCmd) error {
	pw, err := c.readPassword()
	if err != nil {
		return err
	}
	hash, err := identity.HashNewPassword(pw)
	if err != nil {
		return err
	}
	res, err := revoker(c.st, c.now).ChangePassword(ctx, c.user, "admin", func(u store.User) (store.User, error) {
		u.PasswordHash, u.UpdatedAt = hash, c.now
		return u, nil
	})
	if err != nil {
		return userErr(c.user, err)
	}
	c.revoked(res)
	return nil
}

// userSetDisabled is `user disable`, which revokes the user's grants, and
// `user enable`, which revokes nothing and logs user_enabled.
func userSetDisabled(ctx context.Context, c *userCmd) error {
	disable := c.sub == "disable"
	apply := func(u store.User) (store.User, error) {
		u.Disabled, u.UpdatedAt = disable, c.now
		return u, nil
	}
	if !disable {
		if _, err := revoker(c.st, c.now).ChangeUser(ctx, c.user, "admin", apply); err != nil {
			return userErr(c.user, err)
		}
		return nil
	}
	res, err := revoker(c.st, c.now).DisableUser(ctx, c.user, "admin", apply)
	if err != nil {
		return userErr(c.user, err)
	}
	c.revoked(res)
	return nil
}

// userDelete deletes a user and revokes the user's grants.
func userDelete(ctx context.Context, c *userCmd) error {
	res, err := revoker(c.st, c.now).DeleteUser(ctx, c.user, "admin")
	if err != nil {
		return userErr(c.user, err)
	}
	c.revoked(res)
	return nil
}

// readPassword reads the password from standard input, which
// --password-stdin must allow.
func (c *userCmd) readPassword() (string, error) {
	if !c.pwStdin {
		return "", errors.New("--password-stdin is required (a password on the command line would show in ps and shell history)")
	}
	return firstLine(c.stdin)
}

// revoked says what a subcommand revoked of the user's.
func (c *userCmd) revoked(res store.RevokeResult) {
	fmt.Fprintf(c.stdout, "revoked %d grants (%d tokens) of %s\n", res.Grants, res.Tokens, c.user)
}

func userErr(name string, err error) error {
	if errors.Is(err, store.ErrNotFound) {
		return fmt.Errorf("no user %q", name)
	}
	return err
}
