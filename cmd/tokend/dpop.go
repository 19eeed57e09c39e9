package main

import (
	"encoding/base64"
	"fmt"
	"path/filepath"

	"github.com/tokend/tokend/dpop"
	"github.com/tokend/tokend/internal/server"
)

// dpopNonces returns the DPoP nonces of --dpop-nonces, nil without it.
// Their key is <data>/dpop-nonce-key, 32 random bytes made on first start
// as the admin token is: instances that share a PostgreSQL share the data
// folder's keys already, and with them this one, so a nonce one instance
// gave is accepted by all.
func dpopNonces(c serveConfig) (*dpop.Nonces, error) {
	if !c.DPoPNonces {
		return nil, nil
	}
	path := filepath.Join(c.Data, "dpop-nonce-key")
	key, _, err := server.LoadOrCreateAdminToken(path)
	if err != nil {
		return nil, fmt.Errorf("DPoP nonce key: %w", err)
	}
	raw, err := base64.RawURLEncoding.DecodeString(key)
	if err != nil {
		return nil, fmt.Errorf("DPoP nonce key %s: %w", path, err)
	}
	return dpop.NewNonces(raw, dpop.DefaultNoncePeriod, nil), nil
}
