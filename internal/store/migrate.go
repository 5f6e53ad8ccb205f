package store

import (
	"context"
	"fmt"

	"github.com/imagequota/imagequota/internal/store/engine"
)

// MigrationStatus is one migration and whether it is applied.
type MigrationStatus struct {
	Version int    `json:"version"`
	Name    string `json:"name"`
	Applied bool   `json:"applied"`
}

const createMigrationsTable = `CREATE TABLE IF NOT EXISTS schema_migrations (version BIGINT PRIMARY KEY, applied_at BIGINT NOT NULL)`

// appliedVersions returns the versions recorded in schema_migrations.
func appliedVersions(ctx context.Context, tx *engine.Tx) (map[int]bool, error) {
	rows, err := tx.Query(ctx, `SELECT version FROM schema_migrations`)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	got := map[int]bool{}
	for rows.Next() {
		var v int
		if err := rows.Scan(&v); err != nil {
			return nil, err
		}
		got[v] = true
	}
	return got, rows.Err()
}

// migrateLock is the lock key that serialises everything that creates or
// reads schema_migrations.
const migrateLock = "imagequota/migrate"

// MigrationStatus lists the engine's migrations and which are applied. It
// takes the migration lock, so it waits for a migrate in progress and never
// races one creating schema_migrations (two concurrent CREATE TABLE IF NOT
// EXISTS of the same table can fail with a unique violation on some engines).
func (db *DB) MigrationStatus(ctx context.Context) ([]MigrationStatus, error) {
	got, err := write(ctx, db, func(ctx context.Context, tx *engine.Tx) (map[int]bool, error) {
		if err := tx.Lock(ctx, migrateLock); err != nil {
			return nil, err
		}
		if _, err := tx.Exec(ctx, createMigrationsTable); err != nil {
			return nil, err
		}
		return appliedVersions(ctx, tx)
	})
	if err != nil {
		return nil, wrap("migration status", err)
	}
	var out []MigrationStatus
	for _, m := range db.e.Migrations() {
		out = append(out, MigrationStatus{Version: m.Version, Name: m.Name, Applied: got[m.Version]})
	}
	return out, nil
}

// Pending returns the migrations not yet applied.
func (db *DB) Pending(ctx context.Context) ([]MigrationStatus, error) {
	all, err := db.MigrationStatus(ctx)
	var out []MigrationStatus
	for _, m := range all {
		if !m.Applied {
			out = append(out, m)
		}
	}
	return out, err
}

// Migrate applies every pending migration in one transaction that first
// takes the migration lock (Tx.Lock), so concurrent migrates — from several replicas at once, say
// — apply each migration exactly once: the others wait, then find nothing to
// do. schema_migrations is created under the lock too. A failing migration
// applies nothing. It returns the migrations it applied.
func (db *DB) Migrate(ctx context.Context) ([]MigrationStatus, error) {
	applied, err := write(ctx, db, func(ctx context.Context, tx *engine.Tx) ([]MigrationStatus, error) {
		if err := tx.Lock(ctx, migrateLock); err != nil {
			return nil, err
		}
		if _, err := tx.Exec(ctx, createMigrationsTable); err != nil {
			return nil, err
		}
		got, err := appliedVersions(ctx, tx)
		if err != nil {
			return nil, err
		}
		var applied []MigrationStatus
		for _, m := range db.e.Migrations() {
			if got[m.Version] {
				continue
			}
			if _, err := tx.Exec(ctx, m.SQL); err != nil {
				return nil, fmt.Errorf("migration %s: %w", m.Name, err)
			}
			if _, err := tx.Exec(ctx, db.q(`INSERT INTO schema_migrations (version, applied_at) VALUES (?, ?)`), m.Version, micros(db.now())); err != nil {
				return nil, err
			}
			applied = append(applied, MigrationStatus{Version: m.Version, Name: m.Name, Applied: true})
		}
		return applied, nil
	})
	if err != nil {
		return nil, wrap("migrate", err)
	}
	return applied, nil
}
