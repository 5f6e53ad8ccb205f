package store

import (
	"context"
	"errors"
	"io/fs"
	"os"
)

// Exists reports whether the store u names was created: for SQLite, whether
// its file is there. It opens nothing, so it creates nothing. A PostgreSQL
// database is only known once opened: see HasSchema.
func Exists(u URL) (bool, error) {
	if u.Engine != EngineSQLite {
		return true, nil
	}
	info, err := os.Stat(u.Path)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return false, nil
	case err != nil:
		return false, err
	case info.IsDir():
		return false, &fs.PathError{Op: "open store", Path: u.Path, Err: errors.New("is a directory")}
	}
	return true, nil
}

// HasSchema reports whether the database was ever migrated: whether it has
// imagequota's migration table with at least one migration recorded. It
// only reads, unlike MigrationStatus, which creates the table.
func (db *DB) HasSchema(ctx context.Context) (bool, error) {
	var n int
	q := `SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name = 'schema_migrations'`
	if db.Engine() == EnginePostgres {
		q = `SELECT count(*) FROM pg_catalog.pg_class c JOIN pg_catalog.pg_namespace s ON s.oid = c.relnamespace
			WHERE c.relname = 'schema_migrations' AND s.nspname = current_schema()`
	}
	if err := db.r.QueryRowContext(ctx, q).Scan(&n); err != nil {
		return false, wrap("schema", db.e.Interpret(err))
	}
	if n == 0 {
		return false, nil
	}
	if err := db.r.QueryRowContext(ctx, `SELECT count(*) FROM (SELECT 1 FROM schema_migrations LIMIT 1) m`).Scan(&n); err != nil {
		return false, wrap("schema", db.e.Interpret(err))
	}
	return n > 0, nil
}
