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
	deviceColumns = `device_hash, user_hash, client_id, scope, status, interval_s, last_polled_at,
		user_id, username, session_id, auth_time, grant_id, created_at, expires_at`
	qInsertDeviceCode = `INSERT INTO device_codes (device_hash, user_hash, client_id, scope, status, interval_s,
		created_at, expires_at) VALUES ($1, $2, $3, $4, 'pending', $5, $6, $7)`
	qGetDeviceByUser = `SELECT ` + deviceColumns + ` FROM device_codes
		WHERE user_hash = $1 AND status = 'pending' AND expires_at > $2`
	qDecideDevice = `UPDATE device_codes SET status = $3, user_id = $4, username = $5, session_id = $6, auth_time = $7
		WHERE user_hash = $1 AND status = 'pending' AND expires_at > $2 RETURNING ` + deviceColumns
	// qPollDevice records a poll that keeps to the interval (or of a
	// request no longer pending); when it touches no row, qPollTooFast
	// records the poll that did not, lengthening the interval. Under READ
	// COMMITTED a concurrent poll waits for the row lock and then checks
	// the condition against the row as the first poll left it, so of two
	// polls at once one at most passes.
	qPollDevice = `UPDATE device_codes SET last_polled_at = $3
		WHERE device_hash = $1 AND client_id = $2
		AND (status <> 'pending' OR last_polled_at IS NULL OR last_polled_at + make_interval(secs => interval_s) <= $3)
		RETURNING ` + deviceColumns
	qPollTooFast = `UPDATE device_codes SET last_polled_at = $3, interval_s = interval_s + 5
		WHERE device_hash = $1 AND client_id = $2 RETURNING ` + deviceColumns
	// qUseDevice takes the row lock with the update: of two concurrent
	// exchanges the second finds the request used.
	qUseDevice = `UPDATE device_codes SET status = 'used', grant_id = $5
		WHERE device_hash = $1 AND status = 'approved' AND expires_at > $2 AND client_id = $3 AND user_id = $4
		RETURNING ` + deviceColumns
	qDeleteExpiredDevice = `DELETE FROM device_codes WHERE device_hash IN (
			SELECT device_hash FROM device_codes WHERE expires_at <= $1 LIMIT $2 FOR UPDATE SKIP LOCKED)`
)

func scanDevice(row pgx.Row) (store.DeviceCode, error) {
	var d store.DeviceCode
	var dh, uh []byte
	var interval int64
	var polled, authTime *time.Time
	err := row.Scan(&dh, &uh, &d.ClientID, &d.Scope, &d.Status, &interval, &polled,
		&d.UserID, &d.Username, &d.SessionID, &authTime, &d.GrantID, &d.CreatedAt, &d.ExpiresAt)
	if err != nil {
		return store.DeviceCode{}, err
	}
	if len(dh) != len(d.DeviceHash) || len(uh) != len(d.UserHash) {
		return store.DeviceCode{}, fmt.Errorf("postgres: device code hashes of %d and %d bytes", len(dh), len(uh))
	}
	d.DeviceHash, d.UserHash = store.Hash(dh), store.Hash(uh)
	d.Interval = time.Duration(interval) * time.Second
	if polled != nil {
		d.LastPolledAt = polled.UTC()
	}
	if authTime != nil {
		d.AuthTime = authTime.UTC()
	}
	d.CreatedAt, d.ExpiresAt = d.CreatedAt.UTC(), d.ExpiresAt.UTC()
	return d, nil
}

// CreateDeviceCode stores a new pending request, or fails with
// store.ErrAlreadyExists.
func (s *Store) CreateDeviceCode(ctx context.Context, d store.DeviceCode) error {
	b := &pgx.Batch{}
	b.Queue(qInsertDeviceCode, d.DeviceHash[:], d.UserHash[:], d.ClientID, d.Scope, int64(d.Interval/time.Second),
		d.CreatedAt, d.ExpiresAt)
	return s.batch(ctx, b)
}

// queryDevice runs one statement that returns a request; ErrNotFound,
// naming what, when it returns none.
func (s *Store) queryDevice(ctx context.Context, what, q string, args ...any) (store.DeviceCode, error) {
	if err := s.usable(ctx); err != nil {
		return store.DeviceCode{}, err
	}
	d, err := scanDevice(s.pool.QueryRow(ctx, q, args...))
	if err != nil {
		return store.DeviceCode{}, s.notFound(ctx, err, what)
	}
	return d, nil
}

// GetDeviceCodeByUser returns the pending request whose user code has
// hash h, unexpired at now, or store.ErrNotFound.
func (s *Store) GetDeviceCodeByUser(ctx context.Context, h store.Hash, now time.Time) (store.DeviceCode, error) {
	return s.queryDevice(ctx, "device code", qGetDeviceByUser, h[:], now)
}

// DecideDeviceCode records the decision on the pending request whose user
// code has hash h: one statement, which is its own transaction.
func (s *Store) DecideDeviceCode(ctx context.Context, h store.Hash, now time.Time, dec store.DeviceDecision) (store.DeviceCode, error) {
	status := store.DeviceDenied
	if dec.Approve {
		status = store.DeviceApproved
	}
	return s.queryDevice(ctx, "pending device code", qDecideDevice, h[:], now, status,
		dec.UserID, dec.Username, dec.SessionID, dec.AuthTime)
}

// PollDeviceCode records a poll of the request with device code hash h.
func (s *Store) PollDeviceCode(ctx context.Context, h store.Hash, clientID string, now time.Time) (store.DeviceCode, bool, error) {
	d, err := s.queryDevice(ctx, "device code", qPollDevice, h[:], clientID, now)
	if !errors.Is(err, store.ErrNotFound) {
		return d, false, err
	}
	d, err = s.queryDevice(ctx, "device code", qPollTooFast, h[:], clientID, now)
	return d, err == nil, err
}

// ExchangeDeviceCode marks the approved request used by g and creates g in
// the request's session. Two round trips: the first begins the
// transaction and marks the request under its row lock, the second
// creates the grant and commits.
func (s *Store) ExchangeDeviceCode(ctx context.Context, h store.Hash, now time.Time, g store.Grant, tokens []store.Token) (store.DeviceCode, error) {
	if g.ID == "" {
		return store.DeviceCode{}, errors.New("postgres: ExchangeDeviceCode: empty grant ID")
	}
	latest, err := checkTokens(g.ID, tokens)
	if err != nil {
		return store.DeviceCode{}, err
	}
	if latest.After(g.ExpiresAt) {
		g.ExpiresAt = latest
	}
	var d store.DeviceCode
	err = s.inTx(ctx, func(t *tx) error {
		b := &pgx.Batch{}
		queueRow(b, qUseDevice, func(row pgx.Row) (err error) { d, err = scanDevice(row); return err },
			h[:], now, g.ClientID, g.Subject, g.ID)
		if err := t.send(b, false); err != nil {
			return s.notFound(ctx, err, "approved device code")
		}
		g.SessionID = d.SessionID
		b = &pgx.Batch{}
		queueGrant(b, g, tokens)
		return t.send(b, true)
	})
	if err != nil {
		return store.DeviceCode{}, err
	}
	return d, nil
}

// queueDeleteExpiredDevice queues the sweep's share for the device codes.
func queueDeleteExpiredDevice(b *pgx.Batch, now time.Time, limit int, res *store.SweepResult) {
	b.Queue(qDeleteExpiredDevice, now, limit).Exec(func(ct pgconn.CommandTag) error {
		res.Codes += int(ct.RowsAffected())
		return nil
	})
}
