package postgres

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/tokend/tokend/internal/store"
)

const (
	issuerColumns = `issuer, jwks, jwks_uri, subject_claim, created_at`
	qInsertIssuer = `INSERT INTO issuers (` + issuerColumns + `) VALUES ($1, $2, $3, $4, $5)`
	qGetIssuer    = `SELECT ` + issuerColumns + ` FROM issuers WHERE issuer = $1`
	qListIssuers  = `SELECT ` + issuerColumns + ` FROM issuers ORDER BY issuer`
	qDeleteIssuer = `DELETE FROM issuers WHERE issuer = $1`
	// qUseJTI records a jti, or takes over the record of the same jti if
	// that has expired at $4. It touches no row when the jti is recorded
	// and live: a replay. The unique index settles concurrent uses of one
	// jti: one inserts, the others wait for it and then find it live.
	qUseJTI = `INSERT INTO used_jtis (issuer, jti, expires_at) VALUES ($1, $2, $3)
		ON CONFLICT (issuer, jti) DO UPDATE SET expires_at = excluded.expires_at
		WHERE used_jtis.expires_at <= $4`
)

func scanIssuer(row pgx.Row) (store.Issuer, error) {
	var iss store.Issuer
	err := row.Scan(&iss.Issuer, &iss.JWKS, &iss.JWKSURI, &iss.SubjectClaim, &iss.CreatedAt)
	if len(iss.JWKS) == 0 {
		iss.JWKS = nil
	}
	iss.CreatedAt = iss.CreatedAt.UTC()
	return iss, err
}

// CreateIssuer stores a trusted issuer, or fails with
// store.ErrAlreadyExists.
func (s *Store) CreateIssuer(ctx context.Context, iss store.Issuer) error {
	if iss.Issuer == "" {
		return errors.New("postgres: CreateIssuer: empty issuer")
	}
	var jwks []byte // NULL when empty
	if len(iss.JWKS) > 0 {
		jwks = iss.JWKS
	}
	b := &pgx.Batch{}
	b.Queue(qInsertIssuer, iss.Issuer, jwks, iss.JWKSURI, iss.SubjectClaim, iss.CreatedAt)
	return s.batch(ctx, b)
}

// GetIssuer returns the issuer whose "iss" is iss, or store.ErrNotFound.
func (s *Store) GetIssuer(ctx context.Context, iss string) (store.Issuer, error) {
	if err := s.usable(ctx); err != nil {
		return store.Issuer{}, err
	}
	i, err := scanIssuer(s.pool.QueryRow(ctx, qGetIssuer, iss))
	if err != nil {
		return store.Issuer{}, s.notFound(ctx, err, fmt.Sprintf("issuer %q", iss))
	}
	return i, nil
}

// ListIssuers returns every trusted issuer, by "iss".
func (s *Store) ListIssuers(ctx context.Context) ([]store.Issuer, error) {
	return query(ctx, s, qListIssuers, scanIssuer)
}

// DeleteIssuer removes a trusted issuer, or fails with store.ErrNotFound.
// The jtis already used with it stay recorded until they expire, so that
// adding the issuer again does not let its assertions be replayed.
func (s *Store) DeleteIssuer(ctx context.Context, iss string) error {
	var n int64
	b := &pgx.Batch{}
	b.Queue(qDeleteIssuer, iss).Exec(func(ct pgconn.CommandTag) error { n = ct.RowsAffected(); return nil })
	if err := s.batch(ctx, b); err != nil {
		return err
	}
	if n == 0 {
		return fmt.Errorf("issuer %q: %w", iss, store.ErrNotFound)
	}
	return nil
}

// UseJTI records the jti of an assertion from issuer until expiresAt, in
// one statement. It returns store.ErrAlreadyExists when the jti is
// recorded and has not expired at now: a replay (RFC 7523 §3, item 7).
func (s *Store) UseJTI(ctx context.Context, issuer, jti string, expiresAt, now time.Time) error {
	var n int64
	b := &pgx.Batch{}
	b.Queue(qUseJTI, issuer, jti, expiresAt, now).Exec(func(ct pgconn.CommandTag) error { n = ct.RowsAffected(); return nil })
	if err := s.batch(ctx, b); err != nil {
		return err
	}
	if n == 0 {
		return fmt.Errorf("jti %q of issuer %q used before: %w", jti, issuer, store.ErrAlreadyExists)
	}
	return nil
}
