package cache

import (
	"context"
	"time"

	"github.com/tokend/tokend/internal/store"
)

// ExchangeDeviceCode caches the new grant's access tokens, as CreateGrant
// does, in the session that approved the request. A refused exchange
// writes nothing, so the cache keeps what it holds.
func (s *Store) ExchangeDeviceCode(ctx context.Context, h store.Hash, now time.Time, g store.Grant, toks []store.Token) (store.DeviceCode, error) {
	gen := s.tokens.generation()
	d, err := s.Store.ExchangeDeviceCode(ctx, h, now, g, toks)
	if err == nil {
		g.SessionID = d.SessionID
		s.putGrant(g, toks, gen)
	}
	return d, err
}

// CreateDeviceCode passes through: the cache holds no device codes.
func (s *Store) CreateDeviceCode(ctx context.Context, d store.DeviceCode) error {
	return s.Store.CreateDeviceCode(ctx, d)
}

// DecideDeviceCode passes through: a decision changes no token.
func (s *Store) DecideDeviceCode(ctx context.Context, h store.Hash, now time.Time, d store.DeviceDecision) (store.DeviceCode, error) {
	return s.Store.DecideDeviceCode(ctx, h, now, d)
}

// PollDeviceCode passes through: a poll changes no token.
func (s *Store) PollDeviceCode(ctx context.Context, h store.Hash, clientID string, now time.Time) (store.DeviceCode, bool, error) {
	return s.Store.PollDeviceCode(ctx, h, clientID, now)
}
