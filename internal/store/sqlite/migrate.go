package sqlite

import (
	"context"
	"database/sql"
	"embed"
	"fmt"
	"log/slog"
	"time"

	"github.com/tokend/tokend/internal/store/migration"
)

// The schema, as numbered migrations: migrations/NNNN_name.sql, applied in
// order, each in one transaction, and recorded in schema_migrations. A
// migration, once released, is never edited: a change is a new file.
//
//go:embed migrations/*.sql
var migrationFiles embed.FS

// migrate applies the pending migrations through db, whose transactions
// begin IMMEDIATE: when two processes open a new file at once, the second
// waits for the first's transaction and then finds the version recorded.
func migrate(ctx context.Context, db *sql.DB, log *slog.Logger) error {
	ms, err := migration.Load(migrationFiles, "migrations")
	if err != nil {
		return err
	}
	if _, err := db.ExecContext(ctx, `CREATE TABLE IF NOT EXISTS schema_migrations (
		version    INTEGER PRIMARY KEY,
		applied_at INTEGER NOT NULL
	) STRICT`); err != nil {
		return fmt.Errorf("creating schema_migrations: %w", err)
	}
	var latest int
	if err := db.QueryRowContext(ctx, `SELECT coalesce(max(version), 0) FROM schema_migrations`).Scan(&latest); err != nil {
		return fmt.Errorf("reading schema_migrations: %w", err)
	}
	if latest > len(ms) {
		return fmt.Errorf("database schema version %d is newer than this tokend knows (%d): upgrade tokend", latest, len(ms))
	}
	for _, m := range ms[latest:] {
		// Said before as well as after: a migration that rebuilds an index
		// (0005) takes long on a large store, during which the server does
		// not answer yet.
		log.InfoContext(ctx, "applying schema migration", "version", m.Version, "name", m.Name)
		start := time.Now()
		if err := apply(ctx, db, m); err != nil {
			return fmt.Errorf("migration %s: %w", m.Name, err)
		}
		log.InfoContext(ctx, "applied schema migration", "version", m.Version, "name", m.Name, "took", time.Since(start).Round(time.Millisecond))
	}
	return nil
}

func apply(ctx context.Context, db *sql.DB, m migration.Migration) error {
	tx, err := db.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer tx.Rollback() //nolint:errcheck // a no-op after Commit
	var done bool
	if err := tx.QueryRowContext(ctx, `SELECT EXISTS (SELECT 1 FROM schema_migrations WHERE version = ?)`, m.Version).Scan(&done); err != nil {
		return err
	}
	if done { // another process applied it meanwhile
		return nil
	}
	if _, err := tx.ExecContext(ctx, m.SQL); err != nil {
		return err
	}
	if _, err := tx.ExecContext(ctx, `INSERT INTO schema_migrations (version, applied_at) VALUES (?, ?)`, m.Version, time.Now().UnixMilli()); err != nil {
		return err
	}
	return tx.Commit()
}
