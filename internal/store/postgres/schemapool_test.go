package postgres

import (
	"context"
	"crypto/rand"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
)

// schemaPool hands the conformance suite's tests migrated schemas: each
// new store used to migrate a fresh schema, thirteen transactions of DDL
// that were nearly all of the package's time (the server's work, not the
// test's: 1.8 s an Open against 0.2 s on a migrated schema, on a busy
// machine). A schema whose test has ended is reset, in one transaction,
// to what the migrations left (the template's rows, every sequence at its
// start) and handed to the next test. The migrations themselves are still
// applied from scratch by the tests that call freshSchema or openTest
// with "".
type schemaPool struct {
	template string // migrated once, never opened by a test
	mu       sync.Mutex
	free     []string
}

// newSchemaPool migrates the template schema; owner's end drops it and
// every schema the pool made, after all of owner's subtests have ended.
func newSchemaPool(owner *testing.T) *schemaPool {
	owner.Helper()
	p := &schemaPool{template: freshSchema(owner)}
	s, err := Open(context.Background(), testDSN(), Options{Schema: p.template, MaxConns: 2})
	if err != nil {
		owner.Fatalf("migrating the template schema: %v", err)
	}
	s.Close()
	return p
}

// take returns a migrated schema for t, as a fresh one would be after
// Open. It is reset and handed back when t ends: take it before opening
// the store, so that the store is closed first.
func (p *schemaPool) take(t *testing.T, owner *testing.T) string {
	t.Helper()
	p.mu.Lock()
	var name string
	if n := len(p.free); n > 0 {
		name, p.free = p.free[n-1], p.free[:n-1]
	}
	p.mu.Unlock()
	if name == "" {
		name = "tokend_test_" + strings.ToLower(rand.Text()[:12])
		owner.Cleanup(func() { dropSchema(owner, name) })
	}
	t.Cleanup(func() {
		if err := p.reset(name); err != nil {
			t.Errorf("resetting schema %s: %v", name, err)
			return
		}
		p.mu.Lock()
		p.free = append(p.free, name)
		p.mu.Unlock()
	})
	return name
}

// reset empties every table of schema but schema_migrations, puts back
// the rows the migrations inserted (copied from the template) and starts
// every sequence again, in one transaction.
func (p *schemaPool) reset(schema string) error {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, testDSN())
	if err != nil {
		return err
	}
	defer conn.Close(ctx)
	rows, err := conn.Query(ctx, `SELECT tablename FROM pg_tables WHERE schemaname = $1 AND tablename <> 'schema_migrations'`, p.template)
	if err != nil {
		return err
	}
	tables, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		return err
	}
	return pgx.BeginFunc(ctx, conn, func(tx pgx.Tx) error {
		var names []string
		for _, tb := range tables {
			names = append(names, pgx.Identifier{schema, tb}.Sanitize())
		}
		if _, err := tx.Exec(ctx, `TRUNCATE `+strings.Join(names, ", ")+` RESTART IDENTITY CASCADE`); err != nil {
			return err
		}
		for _, tb := range tables {
			if _, err := tx.Exec(ctx, `INSERT INTO `+pgx.Identifier{schema, tb}.Sanitize()+` OVERRIDING SYSTEM VALUE SELECT * FROM `+
				pgx.Identifier{p.template, tb}.Sanitize()); err != nil {
				return fmt.Errorf("%s: %w", tb, err)
			}
		}
		// Every sequence where the template's is (TRUNCATE restarts only
		// those of identity and serial columns).
		_, err := tx.Exec(ctx, `SELECT setval(format('%I.%I', $1::text, sequencename), coalesce(last_value, start_value),
			last_value IS NOT NULL) FROM pg_sequences WHERE schemaname = $2`, schema, p.template)
		return err
	})
}

// dropSchema drops schema, whatever it holds.
func dropSchema(t *testing.T, schema string) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, testDSN())
	if err != nil {
		t.Errorf("dropping schema %s: %v", schema, err)
		return
	}
	defer conn.Close(ctx)
	if _, err := conn.Exec(ctx, `DROP SCHEMA IF EXISTS `+pgx.Identifier{schema}.Sanitize()+` CASCADE`); err != nil {
		t.Errorf("dropping schema %s: %v", schema, err)
	}
}
