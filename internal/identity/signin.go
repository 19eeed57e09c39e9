package identity

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/tokend/tokend/internal/ratelimit"
	"github.com/tokend/tokend/internal/store"
)

// ErrWrongPassword: the username is unknown, the user is disabled or the
// password is wrong. The three are one error, so an answer never tells
// which usernames exist.
var ErrWrongPassword = errors.New("identity: invalid username or password")

// TooManyGuesses: the user or the address guessed too often; nothing was
// checked. RetryAfter says when to try again.
type TooManyGuesses struct{ RetryAfter time.Duration }

func (e *TooManyGuesses) Error() string {
	return fmt.Sprintf("identity: too many password guesses; retry in %s", e.RetryAfter)
}

// UserGetter is the part of the store a password check reads.
type UserGetter interface {
	GetUser(ctx context.Context, username string) (store.User, error)
}

// Passwords checks the password a user signs in with: the one check behind
// every sign-in by password (the password grant, admin HTTP Basic).
type Passwords struct {
	Users UserGetter
	// Limiter, when not nil, counts guesses per user and per address
	// (ratelimit.UserKey, ratelimit.LoginAddressKey) before argon2id runs,
	// so that guesses sent at once are checked no more often than the limit
	// allows, whichever endpoint they were sent to.
	Limiter *ratelimit.Limiter
}

// Check returns the user whose username and password these are. It fails
// with ErrWrongPassword (unknown, disabled or wrong alike), *TooManyGuesses,
// or a store failure (wrapped). An unknown username costs the same argon2id
// run as a wrong password, so timing does not tell which usernames exist.
func (p *Passwords) Check(ctx context.Context, username, password, remoteAddr string) (store.User, error) {
	res, wait, allowed := p.Limiter.Reserve(ctx, ratelimit.UserKey(username), ratelimit.LoginAddressKey(remoteAddr))
	if !allowed {
		return store.User{}, &TooManyGuesses{RetryAfter: wait}
	}
	u, ok, err := p.verify(ctx, username, password)
	switch {
	case err != nil:
		res.Refund() // not a guess checked: the store or the stored hash failed
		return store.User{}, err
	case !ok:
		res.Fail()
		return store.User{}, ErrWrongPassword
	}
	res.Refund()
	return u, nil
}

func (p *Passwords) verify(ctx context.Context, username, password string) (store.User, bool, error) {
	u, err := p.Users.GetUser(ctx, username)
	if errors.Is(err, store.ErrNotFound) {
		_, _ = VerifyPassword(dummyPasswordHash(), password)
		return store.User{}, false, nil
	}
	if err != nil {
		return store.User{}, false, fmt.Errorf("identity: look up user: %w", err)
	}
	ok, err := VerifyPassword(u.PasswordHash, password)
	if err != nil {
		return store.User{}, false, fmt.Errorf("identity: verify password: %w", err)
	}
	return u, ok && !u.Disabled, nil
}

// dummyPasswordHash is verified against when a username is unknown.
var dummyPasswordHash = sync.OnceValue(func() string {
	h, err := HashPassword("tokend dummy password")
	if err != nil {
		panic("identity: hash the dummy password: " + err.Error())
	}
	return h
})
