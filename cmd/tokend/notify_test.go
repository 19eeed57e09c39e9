package main

import (
	"context"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/tokend/tokend/internal/store"
	"github.com/tokend/tokend/internal/store/postgres"
)

// TestCLIRevocationNotifiesInstances: a revocation made with the CLI on
// PostgreSQL tells the running instances at once (NOTIFY), before the
// process exits, instead of leaving them to find it at their next poll.
func TestCLIRevocationNotifiesInstances(t *testing.T) {
	t.Parallel()
	dsn := freshDatabase(t)
	ctx := t.Context()
	pg, err := postgres.Open(ctx, dsn, postgres.Options{})
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	g := store.Grant{ID: "g1", ClientID: "web", Subject: "ann", CreatedAt: now, ExpiresAt: now.Add(time.Hour)}
	if err := pg.CreateGrant(ctx, g, []store.Token{{Hash: store.HashToken("g1a"), Kind: store.AccessToken, GrantID: "g1", IssuedAt: now, ExpiresAt: now.Add(time.Hour)}}); err != nil {
		t.Fatal(err)
	}
	pg.Close()
	if _, err := cli(t, "", "client", "create", "--name", "web", "--id", "web", "--dsn", dsn); err != nil {
		t.Fatal(err)
	}

	listener, err := pgx.Connect(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer listener.Close(context.Background())
	if _, err := listener.Exec(ctx, "LISTEN tokend_revocations"); err != nil {
		t.Fatal(err)
	}
	notified := func() bool {
		wctx, cancel := context.WithTimeout(ctx, 500*time.Millisecond)
		defer cancel()
		_, err := listener.WaitForNotification(wctx)
		return err == nil
	}

	if _, err := cli(t, "", "client", "list", "--dsn", dsn); err != nil {
		t.Fatal(err)
	}
	if notified() {
		t.Error("a command that revokes nothing sent a notification")
	}
	out, err := cli(t, "", "revoke", "--client", "web", "--dsn", dsn)
	if err != nil {
		t.Fatal(err)
	}
	if !notified() {
		t.Errorf("no notification after the CLI revoked (%q)", out)
	}
}
