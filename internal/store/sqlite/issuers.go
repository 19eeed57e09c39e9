package sqlite

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/tokend/tokend/internal/store"
)

const (
	issuerColumns = `issuer, jwks, jwks_uri, subject_claim, created_at`
	qGetIssuer    = `SELECT ` + issuerColumns + ` FROM issuers WHERE issuer = ?`
	qListIssuers  = `SELECT ` + issuerColumns + ` FROM issuers ORDER BY issuer`
	qInsertIssuer = `INSERT INTO issuers (` + issuerColumns + `) VALUES (?, ?, ?, ?, ?)`
	qDeleteIssuer = `DELETE FROM issuers WHERE issuer = ?`
	// qUseJTI records a jti, or replaces a record of it that has expired at
	// ?4; it changes no row when an unexpired record stands (a replay).
	qUseJTI = `INSERT INTO used_jtis (issuer, jti, expires_at) VALUES (?1, ?2, ?3)
		ON CONFLICT (issuer, jti) DO UPDATE SET expires_at = excluded.expires_at
		WHERE used_jtis.expires_at <= ?4`
)

func scanIssuer(sc scanner) (store.Issuer, error) {
	var iss store.Issuer
	var created int64
	err := sc.Scan(&iss.Issuer, &iss.JWKS, &iss.JWKSURI, &iss.SubjectClaim, &created)
	if len(iss.JWKS) == 0 {
		iss.JWKS = nil
	}
	iss.CreatedAt = fromMS(created)
	return iss, err
}

// CreateIssuer stores a trusted issuer, or fails with
// store.ErrAlreadyExists. It does not check that exactly one of JWKS and
// JWKSURI is set: the caller validates the configuration.
func (s *Store) CreateIssuer(ctx context.Context, iss store.Issuer) error {
	if iss.Issuer == "" {
		return errors.New("sqlite: CreateIssuer: empty issuer")
	}
	jwks := iss.JWKS
	if jwks == nil {
		jwks = []byte{} // the column is NOT NULL
	}
	return s.write(ctx, func(t *tx) error {
		_, err := t.exec(s.w.insertIssuer, iss.Issuer, jwks, iss.JWKSURI, iss.SubjectClaim, ms(iss.CreatedAt))
		return err
	})
}

// GetIssuer returns the issuer whose "iss" is iss, or store.ErrNotFound.
func (s *Store) GetIssuer(ctx context.Context, iss string) (store.Issuer, error) {
	i, err := scanIssuer(s.r.getIssuer.QueryRowContext(ctx, iss))
	if err != nil {
		return store.Issuer{}, notFound(err, fmt.Sprintf("issuer %q", iss))
	}
	return i, nil
}

// ListIssuers returns every trusted issuer, by "iss".
func (s *Store) ListIssuers(ctx context.Context) ([]store.Issuer, error) {
	return list(ctx, s.r.listIssuers, scanIssuer)
}

// DeleteIssuer removes the issuer, or fails with store.ErrNotFound. The
// jtis used with it stay until they expire, so that adding the issuer
// again does not reopen them to replay.
func (s *Store) DeleteIssuer(ctx context.Context, iss string) error {
	return s.write(ctx, func(t *tx) error {
		r, err := t.exec(s.w.deleteIssuer, iss)
		if err != nil {
			return err
		}
		n, err := r.RowsAffected()
		if err != nil {
			return err
		}
		if n == 0 {
			return fmt.Errorf("issuer %q: %w", iss, store.ErrNotFound)
		}
		return nil
	})
}

// UseJTI records that issuer's assertion jti was used, until expiresAt,
// and fails with store.ErrAlreadyExists when a record of it is unexpired at
// now (expiresAt after now): a replay, which changes nothing. An expired
// record is replaced. The issuer need not be stored. One write; callers
// racing with one jti see exactly one nil.
func (s *Store) UseJTI(ctx context.Context, issuer, jti string, expiresAt, now time.Time) error {
	return s.write(ctx, func(t *tx) error {
		r, err := t.exec(s.w.useJTI, issuer, jti, ms(expiresAt), ms(now))
		if err != nil {
			return err
		}
		n, err := r.RowsAffected()
		if err != nil {
			return err
		}
		if n == 0 {
			return fmt.Errorf("jti %q of issuer %q used before: %w", jti, issuer, store.ErrAlreadyExists)
		}
		return nil
	})
}
