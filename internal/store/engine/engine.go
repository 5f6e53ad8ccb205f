// Package engine is the contract between package store, which holds
// imagequota's SQL filed by entity, and the SQL engines that run it
// (internal/store/sqlite, internal/store/postgres). An engine owns opening
// its database and its pool settings, its migrations, the interpretation of
// its driver's errors, the change versions the read cache observes, and
// whatever makes it fast; package store owns what the statements mean.
package engine

import (
	"context"
	"database/sql"
	"time"
)

// Engine is one database as package store uses it.
type Engine interface {
	// Name is "sqlite" or "postgres".
	Name() string
	// Rebind turns the '?' placeholders of a statement into the engine's.
	Rebind(query string) string
	// Reader is the pool that read-only statements run on.
	Reader() *sql.DB
	// Write runs fn in a write transaction and commits when fn returns nil;
	// see Tx for what fn may and may not do. It returns fn's error, or the
	// error that kept the transaction from committing, interpreted.
	Write(ctx context.Context, fn func(ctx context.Context, tx *Tx) error) error
	// Interpret turns a driver error into a *quota.Error where it means one
	// (a unique violation, a busy or unreachable database), and returns
	// any other error as it is.
	Interpret(err error) error
	// Migrations are the engine's numbered schema changes, in order.
	Migrations() []Migration
	// HasTable reports whether the database has a table of that name where
	// the store's statements find their tables (on PostgreSQL, the
	// session's current schema). It only reads.
	HasTable(ctx context.Context, name string) (bool, error)
	// Versions is where the read cache observes change versions.
	Versions() Versions
	// Bulk runs fn on the writer's connection, outside any transaction, set
	// up for loading much data at once (benchmarks and tests).
	Bulk(ctx context.Context, fn func(ctx context.Context, conn *sql.Conn) error) error
	// Pools are the engine's connection pools by name, for metrics.
	Pools() map[string]*sql.DB
	Close() error
}

// KeyedWriter is an Engine that can commit a write together with others
// when the write names the one lock it takes (Tx.Lock): PostgreSQL's group
// commit. WriteKeyed is Write for such a write; fn may take no other lock
// (one that does runs again alone), and writes of one key never share a
// transaction.
type KeyedWriter interface {
	WriteKeyed(ctx context.Context, key string, fn func(ctx context.Context, tx *Tx) error) error
}

// Versions is an engine's source of the change versions of cache scopes
// (see store's cache.go): table cache_versions, bumped by triggers in the
// transaction of every change.
type Versions interface {
	// Fetch returns the current version of each scope (0 for a scope never
	// changed), observed after the call began.
	Fetch(ctx context.Context, scopes []string) (map[string]int64, error)
	// Quick returns the versions of scopes without a query when the engine
	// can tell that they are current; false when it cannot.
	Quick(scopes []string) (map[string]int64, bool)
}

// Spaced is a Versions whose observations each cost a round trip to the
// database: the read cache starts them at most once every Spacing, so that
// more reads share each one (a read still waits for an observation that
// began after it did).
type Spaced interface {
	Spacing() time.Duration
}

// Conn is what a transaction's statements run on: a *sql.Tx, or a
// *sql.Conn inside a transaction begun with statements.
type Conn interface {
	ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error)
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
}
