package postgres

import (
	"context"
	"embed"
	"errors"
	"fmt"

	"github.com/jackc/pgx/v5"
	"github.com/tokend/tokend/internal/store/migration"
)

// The schema, as numbered migrations: migrations/NNNN_name.sql, applied in
// order, each in one transaction, and recorded in schema_migrations. A
// migration, once released, is never edited: a change is a new file.
//
//go:embed migrations/*.sql
var migrationFiles embed.FS

// migrate creates schema (unless it is empty) and applies the pending
// migrations in it. It returns the name of the schema that holds the
// tables.
//
// Every step is a transaction that first takes a transaction-scoped
// advisory lock on the schema, so when several processes open one new
// database at once, one applies each migration and the others wait for it
// and then find the migration recorded. A process that dies mid-way holds
// no lock: its transaction rolls back and the lock goes with it.
func (s *Store) migrate(ctx context.Context, schema string) (string, error) {
	ms, err := migration.Load(migrationFiles, "migrations")
	if err != nil {
		return "", err
	}
	conn, err := s.pool.Acquire(ctx)
	if err != nil {
		return "", err
	}
	defer conn.Release()

	if schema == "" {
		var cur *string
		if err := conn.QueryRow(ctx, `SELECT current_schema()`).Scan(&cur); err != nil {
			return "", err
		}
		if cur == nil {
			return "", errors.New("no schema in the search_path exists; set one, or Options.Schema")
		}
		schema = *cur
	}
	key := newLockKey(lockMigrate, schema)
	migrationsTable := pgx.Identifier{schema, "schema_migrations"}.Sanitize()

	var latest int
	err = pgx.BeginFunc(ctx, conn, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock($1, $2)`, key.class, key.schema); err != nil {
			return err
		}
		// The lock makes these checks and creations run one process at a
		// time (IF NOT EXISTS alone races with another process doing the
		// same). Nothing is created that exists: a role that owns its tables
		// but may not create schemas opens its database all the same.
		var haveSchema, haveTable bool
		if err := tx.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM pg_namespace WHERE nspname = $1),
			to_regclass($2) IS NOT NULL`, schema, migrationsTable).Scan(&haveSchema, &haveTable); err != nil {
			return err
		}
		if !haveSchema {
			if _, err := tx.Exec(ctx, `CREATE SCHEMA `+pgx.Identifier{schema}.Sanitize()); err != nil {
				return err
			}
		}
		if !haveTable {
			if _, err := tx.Exec(ctx, `CREATE TABLE `+migrationsTable+` (
				version    integer PRIMARY KEY,
				name       text NOT NULL,
				applied_at timestamptz NOT NULL DEFAULT now()
			)`); err != nil {
				return err
			}
		}
		return tx.QueryRow(ctx, `SELECT coalesce(max(version), 0) FROM `+migrationsTable).Scan(&latest)
	})
	if err != nil {
		return "", fmt.Errorf("creating schema_migrations: %w", err)
	}
	if latest > len(ms) {
		return "", fmt.Errorf("database schema version %d is newer than this tokend knows (%d): upgrade tokend", latest, len(ms))
	}
	for _, m := range ms[latest:] {
		applied, err := s.apply(ctx, conn.Conn(), schema, key, m)
		if err != nil {
			return "", fmt.Errorf("migration %s: %w", m.Name, err)
		}
		if applied {
			s.log.InfoContext(ctx, "applied schema migration", "schema", schema, "version", m.Version, "name", m.Name)
		}
	}
	return schema, nil
}

// apply applies m in one transaction, unless another process has applied
// it meanwhile. The statements run with search_path set to schema alone.
func (s *Store) apply(ctx context.Context, conn *pgx.Conn, schema string, key lockKey, m migration.Migration) (applied bool, err error) {
	err = pgx.BeginFunc(ctx, conn, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock($1, $2)`, key.class, key.schema); err != nil {
			return err
		}
		var done bool
		if err := tx.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM `+pgx.Identifier{schema, "schema_migrations"}.Sanitize()+` WHERE version = $1)`, m.Version).Scan(&done); err != nil {
			return err
		}
		if done {
			return nil
		}
		if _, err := tx.Exec(ctx, `SET LOCAL search_path TO `+pgx.Identifier{schema}.Sanitize()); err != nil {
			return err
		}
		// No arguments: pgx sends the file with the simple protocol, which
		// runs its several statements in order.
		if _, err := tx.Exec(ctx, m.SQL); err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, `INSERT INTO schema_migrations (version, name) VALUES ($1, $2)`, m.Version, m.Name); err != nil {
			return err
		}
		applied = true
		return nil
	})
	return applied, err
}
