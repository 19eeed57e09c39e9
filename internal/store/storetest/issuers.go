package storetest

import (
	"context"
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/tokend/tokend/internal/store"
)

func sampleIssuers() []store.Issuer {
	return []store.Issuer{
		{
			Issuer:       "https://idp.example",
			JWKS:         []byte(`{"keys":[{"kty":"OKP","crv":"Ed25519","x":"11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo"}]}`),
			SubjectClaim: "email",
			CreatedAt:    epoch,
		},
		{Issuer: "ci-runner", JWKSURI: "https://ci.example/.well-known/jwks.json", CreatedAt: at(time.Minute)},
	}
}

// testIssuers checks the trusted issuers of the JWT bearer grant: every
// field round-trips (a nil and an empty JWKS are alike); CreateIssuer of a
// taken "iss" is ErrAlreadyExists and leaves the stored one; GetIssuer and
// DeleteIssuer of an unknown "iss" are ErrNotFound; ListIssuers' order is
// not fixed.
func testIssuers(t *testing.T, open opener) {
	t.Run("create get list", func(t *testing.T) { testIssuerCreateGetList(t, open) })
	t.Run("duplicate", func(t *testing.T) { testIssuerDuplicate(t, open) })
	t.Run("unknown", func(t *testing.T) { testIssuerUnknown(t, open) })
	t.Run("delete", func(t *testing.T) { testIssuerDelete(t, open) })
	t.Run("cancelled context", func(t *testing.T) { testIssuerCancelled(t, open) })
}

func createIssuers(t *testing.T, s store.Store, issuers ...store.Issuer) {
	t.Helper()
	for _, iss := range issuers {
		if err := s.CreateIssuer(t.Context(), iss); err != nil {
			t.Fatalf("CreateIssuer(%s): %v", iss.Issuer, err)
		}
	}
}

// wantIssuers checks that ListIssuers returns want, in any order.
func wantIssuers(t *testing.T, s store.Store, want []store.Issuer) {
	t.Helper()
	byIssuer := func(a, b store.Issuer) int { return strings.Compare(a.Issuer, b.Issuer) }
	got, err := s.ListIssuers(t.Context())
	if err != nil {
		t.Fatalf("ListIssuers: %v", err)
	}
	slices.SortFunc(got, byIssuer)
	want = slices.SortedFunc(slices.Values(want), byIssuer)
	if diff := cmp.Diff(got, want, cmpOpts...); diff != "" {
		t.Errorf("ListIssuers (-got +want):\n%s", diff)
	}
}

func testIssuerCreateGetList(t *testing.T, open opener) {
	s := open(t)
	wantIssuers(t, s, nil)
	want := sampleIssuers()
	createIssuers(t, s, want...)
	for _, iss := range want {
		got, err := s.GetIssuer(t.Context(), iss.Issuer)
		if err != nil {
			t.Fatalf("GetIssuer(%s): %v", iss.Issuer, err)
		}
		if diff := cmp.Diff(got, iss, cmpOpts...); diff != "" {
			t.Errorf("GetIssuer(%s) (-got +want):\n%s", iss.Issuer, diff)
		}
	}
	wantIssuers(t, s, want)
}

func testIssuerDuplicate(t *testing.T, open opener) {
	s := open(t)
	iss := sampleIssuers()[0]
	createIssuers(t, s, iss)
	other := iss
	other.JWKS, other.JWKSURI, other.SubjectClaim = nil, "https://evil.example/jwks", ""
	if err := s.CreateIssuer(t.Context(), other); !errors.Is(err, store.ErrAlreadyExists) {
		t.Errorf("second CreateIssuer = %v; want ErrAlreadyExists", err)
	}
	if got, err := s.GetIssuer(t.Context(), iss.Issuer); err != nil || !cmp.Equal(got, iss, cmpOpts...) {
		t.Errorf("GetIssuer = %+v, %v; want the first one unchanged", got, err)
	}
}

func testIssuerUnknown(t *testing.T, open opener) {
	s := open(t)
	createIssuers(t, s, sampleIssuers()[1])
	if got, err := s.GetIssuer(t.Context(), "https://idp.example"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("GetIssuer = %+v, %v; want ErrNotFound", got, err)
	}
	if err := s.DeleteIssuer(t.Context(), "https://idp.example"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("DeleteIssuer = %v; want ErrNotFound", err)
	}
	wantIssuers(t, s, sampleIssuers()[1:])
}

// testIssuerDelete checks that DeleteIssuer removes the issuer, once, and
// frees its "iss".
func testIssuerDelete(t *testing.T, open opener) {
	s := open(t)
	issuers := sampleIssuers()
	createIssuers(t, s, issuers...)
	if err := s.DeleteIssuer(t.Context(), issuers[0].Issuer); err != nil {
		t.Fatalf("DeleteIssuer: %v", err)
	}
	if _, err := s.GetIssuer(t.Context(), issuers[0].Issuer); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("GetIssuer after delete = %v; want ErrNotFound", err)
	}
	wantIssuers(t, s, issuers[1:])
	if err := s.DeleteIssuer(t.Context(), issuers[0].Issuer); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("second DeleteIssuer = %v; want ErrNotFound", err)
	}
	createIssuers(t, s, issuers[0]) // the "iss" is free again
	wantIssuers(t, s, issuers)
}

// testIssuerCancelled checks that CreateIssuer and DeleteIssuer with a
// cancelled context fail and change nothing.
func testIssuerCancelled(t *testing.T, open opener) {
	s := open(t)
	issuers := sampleIssuers()
	createIssuers(t, s, issuers[0])
	if err := s.CreateIssuer(cancelled(t), issuers[1]); !errors.Is(err, context.Canceled) {
		t.Errorf("CreateIssuer with a cancelled context = %v; want context.Canceled", err)
	}
	if err := s.DeleteIssuer(cancelled(t), issuers[0].Issuer); !errors.Is(err, context.Canceled) {
		t.Errorf("DeleteIssuer with a cancelled context = %v; want context.Canceled", err)
	}
	wantIssuers(t, s, issuers[:1])
}

// testUseJTI checks the replay protection of the JWT bearer grant: a jti is
// recorded per issuer until its expiry; UseJTI of a jti whose record is
// unexpired at now (expiry after now) is ErrAlreadyExists and changes
// nothing; a record expired at now (expiry at or before now) is replaced
// by the new one. Records do not depend on the issuers table: a jti may be
// used for an issuer that is not stored, and DeleteIssuer does not forget
// the jtis used with it.
func testUseJTI(t *testing.T, open opener) {
	const iss, other = "https://idp.example", "https://other.example"
	use := func(t *testing.T, s store.Store, issuer, jti string, expiresAt, now time.Time, want error) {
		t.Helper()
		err := s.UseJTI(t.Context(), issuer, jti, expiresAt, now)
		if !errors.Is(err, want) || (want == nil && err != nil) {
			t.Errorf("UseJTI(%s, %s, expires %v, now %v) = %v; want %v", issuer, jti, expiresAt.Sub(epoch), now.Sub(epoch), err, want)
		}
	}

	t.Run("replay and expiry", func(t *testing.T) {
		s := open(t)
		use(t, s, iss, "j1", at(5*time.Minute), epoch, nil)
		use(t, s, iss, "j1", at(5*time.Minute), at(time.Minute), store.ErrAlreadyExists)
		// A replay with a later expiry is refused and does not extend the record.
		use(t, s, iss, "j1", at(time.Hour), at(5*time.Minute-time.Millisecond), store.ErrAlreadyExists)
		use(t, s, other, "j1", at(5*time.Minute), at(time.Minute), nil) // jtis are per issuer
		use(t, s, iss, "j2", at(5*time.Minute), at(time.Minute), nil)
		// At 5m the record has expired: j1 may be used again, until 10m.
		use(t, s, iss, "j1", at(10*time.Minute), at(5*time.Minute), nil)
		use(t, s, iss, "j1", at(20*time.Minute), at(9*time.Minute), store.ErrAlreadyExists)
		use(t, s, iss, "j1", at(20*time.Minute), at(10*time.Minute), nil)
		use(t, s, other, "j1", at(20*time.Minute), at(4*time.Minute), store.ErrAlreadyExists)
	})

	t.Run("independent of issuers", func(t *testing.T) {
		s := open(t)
		use(t, s, "never-stored", "j1", at(time.Hour), epoch, nil)
		i := sampleIssuers()[0]
		if err := s.CreateIssuer(t.Context(), i); err != nil {
			t.Fatalf("CreateIssuer: %v", err)
		}
		use(t, s, i.Issuer, "j1", at(time.Hour), epoch, nil)
		if err := s.DeleteIssuer(t.Context(), i.Issuer); err != nil {
			t.Fatalf("DeleteIssuer: %v", err)
		}
		if err := s.CreateIssuer(t.Context(), i); err != nil {
			t.Fatalf("CreateIssuer again: %v", err)
		}
		use(t, s, i.Issuer, "j1", at(time.Hour), at(time.Minute), store.ErrAlreadyExists)
	})

	t.Run("in parallel", func(t *testing.T) {
		s := open(t)
		const n = 20
		errs := make([]error, n)
		parallel(n, func(i int) { errs[i] = s.UseJTI(t.Context(), iss, "j1", at(time.Hour), epoch) })
		ok := 0
		for i, err := range errs {
			switch {
			case err == nil:
				ok++
			case !errors.Is(err, store.ErrAlreadyExists):
				t.Errorf("UseJTI %d = %v; want nil or ErrAlreadyExists", i, err)
			}
		}
		if ok != 1 {
			t.Errorf("%d of %d UseJTI calls succeeded; want exactly 1", ok, n)
		}
	})

	t.Run("cancelled context", func(t *testing.T) {
		s := open(t)
		if err := s.UseJTI(cancelled(t), iss, "j1", at(time.Hour), epoch); !errors.Is(err, context.Canceled) {
			t.Errorf("UseJTI with a cancelled context = %v; want context.Canceled", err)
		}
		use(t, s, iss, "j1", at(time.Hour), epoch, nil) // nothing was recorded
	})
}
