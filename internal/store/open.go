package store

import (
	"context"

	"github.com/imagequota/imagequota/internal/store/engine"
	"github.com/imagequota/imagequota/internal/store/postgres"
	"github.com/imagequota/imagequota/internal/store/sqlite"
)

// Open opens the store at url (see ParseURL). SQLite is created when absent
// and migrated on open; PostgreSQL must be migrated with Migrate, and
// commands refuse to serve it while its schema is behind.
func Open(ctx context.Context, url string, opts Options) (*DB, error) {
	u, err := ParseURL(url)
	if err != nil {
		return nil, err
	}
	var e engine.Engine
	if u.Engine == EnginePostgres {
		pg, err := postgres.Open(ctx, u.DSN, postgres.Options{MaxConns: opts.MaxConns})
		if err != nil {
			return nil, err
		}
		e = pg
	} else {
		lite, err := sqlite.Open(ctx, u.Path, sqlite.Options{MaxConns: opts.MaxConns, NoWALHeader: opts.NoWALHeader})
		if err != nil {
			return nil, err
		}
		e = lite
	}
	db := New(e, opts)
	if u.Engine == EngineSQLite {
		if db.openApplied, err = db.Migrate(ctx); err != nil {
			db.Close()
			return nil, err
		}
	}
	return db, nil
}

// Exists reports whether the store u names was created: for SQLite, whether
// its file is there. It opens nothing, so it creates nothing. A PostgreSQL
// database is only known once opened: see HasSchema.
func Exists(u URL) (bool, error) {
	if u.Engine != EngineSQLite {
		return true, nil
	}
	return sqlite.Exists(u.Path)
}
