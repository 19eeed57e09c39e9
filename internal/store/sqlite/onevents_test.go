package sqlite

import (
	"errors"
	"reflect"
	"sync"
	"testing"
	"time"

	"github.com/tokend/tokend/internal/store"
)

// publishedEvents has OnEvents collect what s publishes; the returned func
// checks that it is the log as the store holds it, every entry once, in
// order.
func publishedEvents(t *testing.T, s *Store) (check func()) {
	var mu sync.Mutex
	var got []store.Event
	batches := 0
	s.OnEvents(func(evs []store.Event) {
		mu.Lock()
		defer mu.Unlock()
		got = append(got, evs...)
		batches++
	})
	return func() {
		t.Helper()
		logged, err := s.Events(t.Context(), 0, 0)
		if err != nil {
			t.Fatal(err)
		}
		mu.Lock()
		defer mu.Unlock()
		if !reflect.DeepEqual(got, logged) {
			t.Errorf("published in %d batches:\n%+v\nthe log:\n%+v", batches, got, logged)
		}
	}
}

// TestOnEventsIsTheLog: what the writer publishes after each commit is the
// revocation log exactly, whichever statement appended it: grouped and
// lone revocations, a cascade to exchanged grants (which makes a group run
// again op by op), a bulk revocation, subject entries, a refresh token's
// reuse, and not the entries of an op undone under its savepoint.
func TestOnEventsIsTheLog(t *testing.T) {
	s := openMigrated(t, Options{})
	check := publishedEvents(t, s)
	ctx := t.Context()
	for _, id := range []string{"g1", "g2", "g3", "g4", "g5", "g6", "g7"} {
		g, toks := grant(id)
		if id == "g6" || id == "g7" {
			g.Subject = "u2"
		}
		if err := s.CreateGrant(ctx, g, toks); err != nil {
			t.Fatal(err)
		}
	}
	child, childToks := grant("x1")
	child.ParentID = "g1"
	grandchild, grandchildToks := grant("x2")
	grandchild.ParentID = "x1"
	for _, g := range []struct {
		g    store.Grant
		toks []store.Token
	}{{child, childToks}, {grandchild, grandchildToks}} {
		if err := s.CreateGrant(ctx, g.g, g.toks); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.CreateUser(ctx, store.User{ID: "u3", Username: "carol", PasswordHash: "x", CreatedAt: epoch, UpdatedAt: epoch}); err != nil {
		t.Fatal(err)
	}
	at := func(i int) store.Revocation {
		return store.Revocation{Time: epoch.Add(time.Duration(i+2) * time.Minute), Reason: store.ReasonClientRequest, Actor: "c1"}
	}
	errUndo := errors.New("undone after it revoked")
	queued(t, s,
		func() { _, _, _ = s.RevokeToken(ctx, store.HashToken("g2/a"), store.AccessToken, "c1", at(0)) },
		func() { _, _, _ = s.RevokeToken(ctx, store.HashToken("g3/r"), store.RefreshToken, "c1", at(1)) },
		func() { _, _ = s.RevokeGrant(ctx, "g1", at(2)) }, // cascades to x1, x2: the group runs again op by op
		func() {
			// Revokes g4, then fails: its savepoint undoes the revocation,
			// whose event must not be published.
			err := s.write(ctx, func(t *tx) error {
				if _, err := s.revoke(t, byGrant, at(3), "g4"); err != nil {
					return err
				}
				return errUndo
			})
			if !errors.Is(err, errUndo) {
				t.Errorf("the failing op: %v", err)
			}
		},
		func() { _, _ = s.RevokeMatching(ctx, store.Filter{Subject: "u2"}, at(4)) },
	)
	// A refresh token's reuse revokes its grant.
	now := epoch.Add(time.Minute)
	fresh := func(n string) []store.Token {
		return []store.Token{
			{Hash: store.HashToken(n + "/a"), Kind: store.AccessToken, IssuedAt: now, ExpiresAt: now.Add(time.Hour)},
			{Hash: store.HashToken(n + "/r"), Kind: store.RefreshToken, IssuedAt: now, ExpiresAt: now.Add(48 * time.Hour)},
		}
	}
	reuse := store.Revocation{Time: now, Reason: store.ReasonRefreshReuse, Actor: "c1"}
	if _, err := s.RotateRefresh(ctx, store.HashToken("g5/r"), now, fresh("n1"), reuse); err != nil {
		t.Fatal(err)
	}
	if _, err := s.RotateRefresh(ctx, store.HashToken("g5/r"), now, fresh("n2"), reuse); !errors.Is(err, store.ErrRefreshReused) {
		t.Fatalf("reuse: %v", err)
	}
	// Subject entries: a user with no grant disabled, enabled, deleted.
	for _, disabled := range []bool{true, false} {
		var revoke *store.Revocation
		if disabled {
			r := at(5)
			r.Reason = store.ReasonUserDisabled
			revoke = &r
		}
		_, err := s.UpdateUser(ctx, "carol", func(u store.User) (store.User, error) {
			u.Disabled = disabled
			return u, nil
		}, revoke)
		if err != nil {
			t.Fatal(err)
		}
	}
	if _, err := s.DeleteUser(ctx, "carol", at(6)); err != nil {
		t.Fatal(err)
	}
	check()
	logged, err := s.Events(ctx, 0, 0)
	if err != nil {
		t.Fatal(err)
	}
	grants := map[string]bool{}
	for _, e := range logged {
		if e.GrantID == "g4" {
			t.Errorf("the undone revocation of g4 was logged: %+v", e)
		}
		grants[e.GrantID] = true
	}
	for _, id := range []string{"g1", "g2", "g3", "g5", "g6", "g7", "x1", "x2", ""} {
		if !grants[id] {
			t.Errorf("no event of grant %q in the log %+v", id, logged)
		}
	}
}
