package feed

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/tokend/tokend/internal/store"
)

// revokingStore answers every revoking call with err.
type revokingStore struct {
	store.Store
	err error
}

func (s revokingStore) UpdateClient(context.Context, string, func(store.Client) (store.Client, error), *store.Revocation) (store.RevokeResult, error) {
	return store.RevokeResult{}, s.err
}
func (s revokingStore) DeleteClient(context.Context, string, store.Revocation) (store.RevokeResult, error) {
	return store.RevokeResult{}, s.err
}
func (s revokingStore) UpdateUser(context.Context, string, func(store.User) (store.User, error), *store.Revocation) (store.RevokeResult, error) {
	return store.RevokeResult{}, s.err
}
func (s revokingStore) DeleteUser(context.Context, string, store.Revocation) (store.RevokeResult, error) {
	return store.RevokeResult{}, s.err
}
func (s revokingStore) RevokeGrant(context.Context, string, store.Revocation) (store.RevokeResult, error) {
	return store.RevokeResult{}, s.err
}
func (s revokingStore) RevokeMatching(context.Context, store.Filter, store.Revocation) (store.RevokeResult, error) {
	return store.RevokeResult{}, s.err
}
func (s revokingStore) RotateRefresh(context.Context, store.Hash, time.Time, []store.Token, store.Revocation) (store.TokenRecord, error) {
	return store.TokenRecord{}, s.err
}

func TestNudgingStore(t *testing.T) {
	ctx := t.Context()
	rev := store.Revocation{Reason: store.ReasonAdmin}
	calls := map[string]func(store.Store) error{
		"RevokeGrant": func(s store.Store) error { _, err := s.RevokeGrant(ctx, "g", rev); return err },
		"RevokeMatching": func(s store.Store) error {
			_, err := s.RevokeMatching(ctx, store.Filter{Subject: "u"}, rev)
			return err
		},
		"UpdateClient with revoke": func(s store.Store) error { _, err := s.UpdateClient(ctx, "c", nil, &rev); return err },
		"UpdateUser with revoke":   func(s store.Store) error { _, err := s.UpdateUser(ctx, "u", nil, &rev); return err },
		"DeleteClient":             func(s store.Store) error { _, err := s.DeleteClient(ctx, "c", rev); return err },
		"DeleteUser":               func(s store.Store) error { _, err := s.DeleteUser(ctx, "u", rev); return err },
	}
	for name, call := range calls {
		t.Run(name, func(t *testing.T) {
			n := 0
			_ = call(Nudging{Store: revokingStore{}, Nudge: func() { n++ }})
			if n != 1 {
				t.Errorf("%d nudges after a commit; want 1", n)
			}
			n = 0
			_ = call(Nudging{Store: revokingStore{err: store.ErrUnavailable}, Nudge: func() { n++ }})
			if n != 0 {
				t.Errorf("%d nudges after a failure; want 0", n)
			}
		})
	}
	t.Run("updates without a revocation", func(t *testing.T) {
		n := 0
		s := Nudging{Store: revokingStore{}, Nudge: func() { n++ }}
		_, _ = s.UpdateClient(ctx, "c", nil, nil)
		_, _ = s.UpdateUser(ctx, "u", nil, nil)
		if n != 0 {
			t.Errorf("%d nudges; want 0", n)
		}
	})
	t.Run("RotateRefresh", func(t *testing.T) {
		for _, c := range []struct {
			err  error
			want int
		}{{nil, 0}, {store.ErrRefreshReused, 1}, {store.ErrNotFound, 0}, {errors.Join(store.ErrRefreshReused), 1}} {
			n := 0
			s := Nudging{Store: revokingStore{err: c.err}, Nudge: func() { n++ }}
			_, _ = s.RotateRefresh(ctx, store.Hash{}, time.Now(), nil, store.Revocation{})
			if n != c.want {
				t.Errorf("RotateRefresh returning %v: %d nudges; want %d", c.err, n, c.want)
			}
		}
	})
}
