package store

import (
	"context"
	"embed"
	"fmt"
	"io/fs"
	"path"
	"sort"
	"strconv"
	"strings"
)

//go:embed migrations
var migrationFS embed.FS

// migration is one numbered schema change.
type migration struct {
	Version int
	Name    string
	SQL     string
}

// loadMigrations reads the numbered files of one engine's folder.
func loadMigrations(engine string) []migration {
	dir := path.Join("migrations", engine)
	entries, err := fs.ReadDir(migrationFS, dir)
	if err != nil {
		panic(fmt.Sprintf("store: migrations of %s: %v", engine, err))
	}
	var out []migration
	for _, e := range entries {
		name := e.Name()
		num, _, ok := strings.Cut(name, "_")
		v, err := strconv.Atoi(num)
		if !ok || err != nil || !strings.HasSuffix(name, ".sql") {
			panic(fmt.Sprintf("store: migration %s/%s is not named NNNN_name.sql", engine, name))
		}
		b, err := migrationFS.ReadFile(path.Join(dir, name))
		if err != nil {
			panic(err)
		}
		out = append(out, migration{Version: v, Name: strings.TrimSuffix(name, ".sql"), SQL: string(b)})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Version < out[j].Version })
	return out
}

// MigrationStatus is one migration and whether it is applied.
type MigrationStatus struct {
	Version int    `json:"version"`
	Name    string `json:"name"`
	Applied bool   `json:"applied"`
}

const createMigrationsTable = `CREATE TABLE IF NOT EXISTS schema_migrations (version BIGINT PRIMARY KEY, applied_at BIGINT NOT NULL)`

// appliedVersions returns the versions recorded in schema_migrations.
func appliedVersions(ctx context.Context, qr queryer) (map[int]bool, error) {
	rows, err := qr.QueryContext(ctx, `SELECT version FROM schema_migrations`)
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
// races one creating schema_migrations (on PostgreSQL two concurrent CREATE
// TABLE IF NOT EXISTS of the same table can fail with a unique violation).
func (db *DB) MigrationStatus(ctx context.Context) ([]MigrationStatus, error) {
	var got map[int]bool
	err := db.inTx(ctx, func(ctx context.Context, tx txn) error {
		if err := db.d.lock(ctx, tx, migrateLock); err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, createMigrationsTable); err != nil {
			return err
		}
		var err error
		got, err = appliedVersions(ctx, tx)
		return err
	})
	if err != nil {
		return nil, wrap("migration status", err)
	}
	var out []MigrationStatus
	for _, m := range db.d.migrations() {
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
// takes the engine's migration lock (on PostgreSQL a transaction-scoped
// advisory lock), so concurrent migrates — from several replicas at once, say
// — apply each migration exactly once: the others wait, then find nothing to
// do. schema_migrations is created under the lock too. A failing migration
// applies nothing. It returns the migrations it applied.
func (db *DB) Migrate(ctx context.Context) ([]MigrationStatus, error) {
	var applied []MigrationStatus
	err := db.inTx(ctx, func(ctx context.Context, tx txn) error {
		applied = nil
		if err := db.d.lock(ctx, tx, migrateLock); err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, createMigrationsTable); err != nil {
			return err
		}
		got, err := appliedVersions(ctx, tx)
		if err != nil {
			return err
		}
		for _, m := range db.d.migrations() {
			if got[m.Version] {
				continue
			}
			if _, err := tx.ExecContext(ctx, m.SQL); err != nil {
				return fmt.Errorf("migration %s: %w", m.Name, err)
			}
			if _, err := tx.ExecContext(ctx, db.q(`INSERT INTO schema_migrations (version, applied_at) VALUES (?, ?)`), m.Version, micros(db.now())); err != nil {
				return err
			}
			applied = append(applied, MigrationStatus{Version: m.Version, Name: m.Name, Applied: true})
		}
		return nil
	})
	if err != nil {
		return nil, wrap("migrate", err)
	}
	return applied, nil
}
