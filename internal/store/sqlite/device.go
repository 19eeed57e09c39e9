package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/tokend/tokend/internal/store"
)

const (
	deviceColumns = `device_hash, user_hash, client_id, scope, status, interval_s, last_polled_at,
		user_id, username, session_id, auth_time, grant_id, created_at, expires_at`
	qInsertDeviceCode = `INSERT INTO device_codes (device_hash, user_hash, client_id, scope, status, interval_s,
		created_at, expires_at) VALUES (?, ?, ?, ?, 'pending', ?, ?, ?)`
	qGetDeviceByUser = `SELECT ` + deviceColumns + ` FROM device_codes
		WHERE user_hash = ?1 AND status = 'pending' AND expires_at > ?2`
	qDecideDevice = `UPDATE device_codes SET status = ?3, user_id = ?4, username = ?5, session_id = ?6, auth_time = ?7
		WHERE user_hash = ?1 AND status = 'pending' AND expires_at > ?2 RETURNING ` + deviceColumns
	// qPollDevice records a poll that keeps to the interval (or of a
	// request no longer pending); when it touches no row, qPollTooFast
	// records the poll that did not, lengthening the interval. The writer
	// runs one op at a time, so nothing comes between the two.
	qPollDevice = `UPDATE device_codes SET last_polled_at = ?3
		WHERE device_hash = ?1 AND client_id = ?2
		AND (status <> 'pending' OR last_polled_at IS NULL OR last_polled_at + interval_s * 1000 <= ?3)
		RETURNING ` + deviceColumns
	qPollTooFast = `UPDATE device_codes SET last_polled_at = ?3, interval_s = interval_s + 5
		WHERE device_hash = ?1 AND client_id = ?2 RETURNING ` + deviceColumns
	qUseDevice = `UPDATE device_codes SET status = 'used', grant_id = ?5
		WHERE device_hash = ?1 AND status = 'approved' AND expires_at > ?2 AND client_id = ?3 AND user_id = ?4
		RETURNING ` + deviceColumns
	qDeleteExpiredDevice = `DELETE FROM device_codes WHERE device_hash IN
		(SELECT device_hash FROM device_codes WHERE expires_at <= ?1 LIMIT ?2)`
)

// deviceStmts are the device authorization grant's statements.
type deviceStmts struct {
	getByUser                                   *stmt
	insert, decide, poll, pollTooFast, use, del *stmt
}

// prepareDevice prepares the device codes' statements, read ones with r
// and write ones with w.
func (s *Store) prepareDevice(r, w *preparer) {
	s.dev = deviceStmts{
		getByUser: r.prep(qGetDeviceByUser),
		insert:    w.prep(qInsertDeviceCode), decide: w.prep(qDecideDevice),
		poll: w.prep(qPollDevice), pollTooFast: w.prep(qPollTooFast),
		use: w.prep(qUseDevice), del: w.prep(qDeleteExpiredDevice),
	}
}

func scanDevice(sc scanner) (store.DeviceCode, error) {
	var d store.DeviceCode
	var dh, uh []byte
	var interval, authTime, created, expires int64
	var polled sql.NullInt64
	err := sc.Scan(&dh, &uh, &d.ClientID, &d.Scope, &d.Status, &interval, &polled,
		&d.UserID, &d.Username, &d.SessionID, &authTime, &d.GrantID, &created, &expires)
	if err != nil {
		return store.DeviceCode{}, err
	}
	if len(dh) != len(d.DeviceHash) || len(uh) != len(d.UserHash) {
		return store.DeviceCode{}, fmt.Errorf("sqlite: device code hashes of %d and %d bytes", len(dh), len(uh))
	}
	d.DeviceHash, d.UserHash = store.Hash(dh), store.Hash(uh)
	d.Interval = time.Duration(interval) * time.Second
	d.LastPolledAt, d.CreatedAt, d.ExpiresAt = nullMS(polled), fromMS(created), fromMS(expires)
	if authTime != 0 {
		d.AuthTime = fromMS(authTime)
	}
	return d, nil
}

// CreateDeviceCode stores a new pending request, or fails with
// store.ErrAlreadyExists.
func (s *Store) CreateDeviceCode(ctx context.Context, d store.DeviceCode) error {
	args := []any{d.DeviceHash[:], d.UserHash[:], d.ClientID, d.Scope, int64(d.Interval / time.Second),
		ms(d.CreatedAt), ms(d.ExpiresAt)}
	return s.write(ctx, func(t *tx) error {
		_, err := t.exec(s.dev.insert, args...)
		return err
	})
}

// GetDeviceCodeByUser returns the pending request whose user code has
// hash h, unexpired at now, or store.ErrNotFound.
func (s *Store) GetDeviceCodeByUser(ctx context.Context, h store.Hash, now time.Time) (store.DeviceCode, error) {
	d, err := scanDevice(s.dev.getByUser.QueryRowContext(ctx, h[:], ms(now)))
	if err != nil {
		return store.DeviceCode{}, notFound(err, "device code")
	}
	return d, nil
}

// DecideDeviceCode records the decision on the pending request whose user
// code has hash h.
func (s *Store) DecideDeviceCode(ctx context.Context, h store.Hash, now time.Time, dec store.DeviceDecision) (store.DeviceCode, error) {
	status := store.DeviceDenied
	if dec.Approve {
		status = store.DeviceApproved
	}
	var d store.DeviceCode
	err := s.write(ctx, func(t *tx) (err error) {
		d, err = scanDevice(t.queryRow(s.dev.decide, h[:], ms(now), status, dec.UserID, dec.Username,
			dec.SessionID, ms(dec.AuthTime)))
		if err != nil {
			return &unwritten{notFound(err, "pending device code")}
		}
		return nil
	})
	return d, err
}

// PollDeviceCode records a poll of the request with device code hash h.
func (s *Store) PollDeviceCode(ctx context.Context, h store.Hash, clientID string, now time.Time) (store.DeviceCode, bool, error) {
	var d store.DeviceCode
	var tooFast bool
	err := s.write(ctx, func(t *tx) (err error) {
		d, err = scanDevice(t.queryRow(s.dev.poll, h[:], clientID, ms(now)))
		if !errors.Is(err, sql.ErrNoRows) {
			return err
		}
		tooFast = true
		if d, err = scanDevice(t.queryRow(s.dev.pollTooFast, h[:], clientID, ms(now))); err != nil {
			return &unwritten{notFound(err, "device code")}
		}
		return nil
	})
	return d, tooFast, err
}

// ExchangeDeviceCode marks the approved request used by g and creates g in
// the request's session, in one op.
func (s *Store) ExchangeDeviceCode(ctx context.Context, h store.Hash, now time.Time, g store.Grant, tokens []store.Token) (store.DeviceCode, error) {
	if g.ID == "" {
		return store.DeviceCode{}, fmt.Errorf("sqlite: ExchangeDeviceCode: empty grant ID")
	}
	exp, err := checkTokens(g.ID, tokens)
	if err != nil {
		return store.DeviceCode{}, err
	}
	exp = max(exp, ms(g.ExpiresAt))
	var d store.DeviceCode
	err = s.write(ctx, func(t *tx) (err error) {
		d, err = scanDevice(t.queryRow(s.dev.use, h[:], ms(now), g.ClientID, g.Subject, g.ID))
		if err != nil {
			return &unwritten{notFound(err, "approved device code")}
		}
		g.SessionID = d.SessionID
		return s.insertGrant(t, g, exp, tokens)
	})
	if err != nil {
		return store.DeviceCode{}, err
	}
	return d, nil
}

// deleteExpiredDevice deletes up to limit requests expired at now: the
// sweep's share for the device codes.
func (s *Store) deleteExpiredDevice(t *tx, now int64, limit int) (int, error) {
	return affected(t.exec(s.dev.del, now, limit))
}
