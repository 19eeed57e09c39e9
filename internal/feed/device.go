package feed

import (
	"context"
	"time"

	"github.com/tokend/tokend/internal/store"
)

// The device authorization grant's writes append nothing to the log: no
// nudge; they pass through.

func (s Nudging) CreateDeviceCode(ctx context.Context, d store.DeviceCode) error {
	return s.Store.CreateDeviceCode(ctx, d)
}

func (s Nudging) DecideDeviceCode(ctx context.Context, h store.Hash, now time.Time, d store.DeviceDecision) (store.DeviceCode, error) {
	return s.Store.DecideDeviceCode(ctx, h, now, d)
}

func (s Nudging) PollDeviceCode(ctx context.Context, h store.Hash, clientID string, now time.Time) (store.DeviceCode, bool, error) {
	return s.Store.PollDeviceCode(ctx, h, clientID, now)
}

func (s Nudging) ExchangeDeviceCode(ctx context.Context, h store.Hash, now time.Time, g store.Grant, tokens []store.Token) (store.DeviceCode, error) {
	return s.Store.ExchangeDeviceCode(ctx, h, now, g, tokens)
}
