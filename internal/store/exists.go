package store

import (
	"context"
)

// HasSchema reports whether the database was ever migrated: whether it has
// imagequota's migration table with at least one migration recorded. It
// only reads, unlike MigrationStatus, which creates the table.
func (db *DB) HasSchema(ctx context.Context) (bool, error) {
	ok, err := db.e.HasTable(ctx, "schema_migrations")
	if err != nil {
		return false, wrap("schema", err)
	}
	if !ok {
		return false, nil
	}
	var n int
	if err := db.r.QueryRowContext(ctx, `SELECT count(*) FROM (SELECT 1 FROM schema_migrations LIMIT 1) m`).Scan(&n); err != nil {
		return false, wrap("schema", db.e.Interpret(err))
	}
	return n > 0, nil
}
