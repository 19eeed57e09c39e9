package storetest

import (
	"errors"
	"testing"
	"time"

	"github.com/tokend/tokend/internal/store"
)

// testSubjectEntries checks the subject entries of the revocation log
// (store.SubjectEntries): a change to a user that revoked no grant is
// one entry, appended in the change's transaction, and one that revoked
// grants adds none.
func testSubjectEntries(t *testing.T, open opener) {
	t.Run("password change without grants", func(t *testing.T) {
		testSubjectEntry(t, open, passwordChanged(), setNewPassword, store.ReasonPasswordChange, nil)
	})
	t.Run("disable without grants", func(t *testing.T) {
		testSubjectEntry(t, open, userDisabled(), setDisabled(true), store.ReasonUserDisabled, nil)
	})
	t.Run("enable", func(t *testing.T) {
		testSubjectEntry(t, open, changedBy(), setDisabled(false), store.ReasonUserEnabled, nil)
	})
	t.Run("claims", func(t *testing.T) {
		testSubjectEntry(t, open, changedBy(), setProfile, store.ReasonClaimsChanged, []string{"name", "email", "email_verified"})
	})
	t.Run("nothing told", func(t *testing.T) { testSubjectNothingTold(t, open) })
	t.Run("delete without grants", func(t *testing.T) { testSubjectDelete(t, open) })
	t.Run("with grants", func(t *testing.T) { testSubjectWithGrants(t, open) })
	t.Run("rolled back", func(t *testing.T) { testSubjectRolledBack(t, open) })
}

func userDisabled() store.Revocation {
	return store.Revocation{Time: at(2 * time.Hour), Reason: store.ReasonUserDisabled, Actor: "admin"}
}

// changedBy is the Revocation of a change that revokes nothing: who and
// when alone.
func changedBy() store.Revocation { return store.Revocation{Time: at(2 * time.Hour), Actor: "admin"} }

func setDisabled(disabled bool) func(store.User) (store.User, error) {
	return func(u store.User) (store.User, error) {
		u.Disabled, u.UpdatedAt = disabled, at(time.Hour)
		return u, nil
	}
}

func setProfile(u store.User) (store.User, error) {
	u.Name, u.Email, u.EmailVerified, u.PasswordHash = "Alice B", "alice@b.example", false, "$argon2id$new"
	return u, nil
}

// grantless opens a store with alice (disabled, to be enabled) and bob,
// and a grant of bob alone.
func grantless(t *testing.T, open opener) store.Store {
	t.Helper()
	s := open(t)
	alice := sampleUser("u1", "alice")
	alice.Disabled = true
	for _, u := range []store.User{alice, sampleUser("u2", "bob")} {
		if err := s.CreateUser(t.Context(), u); err != nil {
			t.Fatalf("CreateUser: %v", err)
		}
	}
	createFamily(t, s, newFamily("b", "c1", "u2"))
	return s
}

// testSubjectEntry checks that updating alice, who holds no grant, with
// fn and rev appends one subject entry of reason naming claims, at rev's
// time, by rev's actor, which UserEvents and SearchEvents show too.
func testSubjectEntry(t *testing.T, open opener, rev store.Revocation, fn func(store.User) (store.User, error), reason string, claims []string) {
	s := grantless(t, open)
	res, err := s.UpdateUser(t.Context(), "alice", fn, &rev)
	if err != nil {
		t.Fatalf("UpdateUser: %v", err)
	}
	evs := events(t, s)
	want := store.Event{Time: rev.Time, Subject: "u1", Reason: reason, Actor: rev.Actor, Claims: claims}
	wantEvents(t, evs, []store.Event{want})
	wantResult(t, "UpdateUser", res, store.RevokeResult{Seq: lastSeq(evs)})
	if len(evs) == 1 && !evs[0].SubjectLevel() {
		t.Errorf("event %+v: SubjectLevel false; want true", evs[0])
	}
	mine, err := s.UserEvents(t.Context(), "u1", 10)
	if err != nil {
		t.Fatal(err)
	}
	wantEvents(t, mine, []store.Event{want})
	found, err := s.SearchEvents(t.Context(), store.EventFilter{Reason: reason}, 10)
	if err != nil {
		t.Fatal(err)
	}
	wantEvents(t, found, []store.Event{want})
}

// testSubjectNothingTold checks that a change that revokes nothing and
// changes neither Disabled nor a claim (a new password hash, nil or a
// Revocation without reason) logs nothing.
func testSubjectNothingTold(t *testing.T, open opener) {
	s := grantless(t, open)
	by := changedBy()
	for _, rev := range []*store.Revocation{nil, &by} {
		if _, err := s.UpdateUser(t.Context(), "bob", setNewPassword, rev); err != nil {
			t.Fatalf("UpdateUser: %v", err)
		}
	}
	if evs := events(t, s); len(evs) != 0 {
		t.Errorf("events = %+v; want none", evs)
	}
}

// testSubjectDelete checks that deleting a user who holds no grant is
// one user_deleted entry.
func testSubjectDelete(t *testing.T, open opener) {
	s := grantless(t, open)
	deleted := userDeleted()
	res, err := s.DeleteUser(t.Context(), "alice", deleted)
	if err != nil {
		t.Fatalf("DeleteUser: %v", err)
	}
	evs := events(t, s)
	wantEvents(t, evs, []store.Event{{Time: deleted.Time, Subject: "u1", Reason: store.ReasonUserDeleted, Actor: "admin"}})
	wantResult(t, "DeleteUser", res, store.RevokeResult{Seq: lastSeq(evs)})
}

// testSubjectWithGrants checks that a password change, a disable and a
// deletion that revoke a grant add no subject entry (the grant's event
// carries the reason), and that an enable does, whatever else is
// revoked with it.
func testSubjectWithGrants(t *testing.T, open opener) {
	for _, rev := range []store.Revocation{passwordChanged(), userDisabled(), userDeleted()} {
		s := grantless(t, open)
		var err error
		if rev.Reason == store.ReasonUserDeleted {
			_, err = s.DeleteUser(t.Context(), "bob", rev)
		} else {
			_, err = s.UpdateUser(t.Context(), "bob", setProfile, &rev)
		}
		if err != nil {
			t.Fatalf("%s: %v", rev.Reason, err)
		}
		for _, e := range events(t, s) {
			if e.SubjectLevel() {
				t.Errorf("%s: subject entry %+v beside the grant's event", rev.Reason, e)
			}
		}
	}
	s := grantless(t, open)
	pw := passwordChanged()
	enableWithPassword := func(u store.User) (store.User, error) {
		u.Disabled, u.PasswordHash = false, "$argon2id$new"
		return u, nil
	}
	if _, err := s.UpdateUser(t.Context(), "alice", enableWithPassword, &pw); err != nil {
		t.Fatal(err)
	}
	wantEvents(t, events(t, s), []store.Event{
		{Time: pw.Time, Subject: "u1", Reason: store.ReasonPasswordChange, Actor: pw.Actor},
		{Time: pw.Time, Subject: "u1", Reason: store.ReasonUserEnabled, Actor: pw.Actor},
	})
}

// testSubjectRolledBack checks that the entry is in the change's
// transaction: a change that fails (its fn, or a rename to a taken name)
// leaves no entry.
func testSubjectRolledBack(t *testing.T, open opener) {
	s := grantless(t, open)
	by := changedBy()
	enableAndFail := func(u store.User) (store.User, error) { u.Disabled = false; return u, errBoom }
	if _, err := s.UpdateUser(t.Context(), "alice", enableAndFail, &by); !errors.Is(err, errBoom) {
		t.Errorf("UpdateUser = %v; want %v", err, errBoom)
	}
	renameToBob := func(u store.User) (store.User, error) { u.Disabled, u.Username = false, "bob"; return u, nil }
	if _, err := s.UpdateUser(t.Context(), "alice", renameToBob, &by); !errors.Is(err, store.ErrAlreadyExists) {
		t.Errorf("UpdateUser renaming to bob = %v; want ErrAlreadyExists", err)
	}
	if evs := events(t, s); len(evs) != 0 {
		t.Errorf("events = %+v; want none", evs)
	}
	if u, err := s.GetUser(t.Context(), "alice"); err != nil || !u.Disabled {
		t.Errorf("alice = %+v, %v; want still disabled", u, err)
	}
}
