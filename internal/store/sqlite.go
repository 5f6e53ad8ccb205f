package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"

	"imagequota/internal/quota"
)

type sqliteDialect struct{}

func (sqliteDialect) name() string           { return "sqlite" }
func (sqliteDialect) rebind(q string) string { return q }

// lock is a no-op: every write transaction runs on the one writer connection
// and begins IMMEDIATE, which takes the database's write lock — so writers,
// in this process or another (imagequota admin), are already serialised.
func (sqliteDialect) lock(context.Context, txn, string) error { return nil }

func (sqliteDialect) interpret(err error) error {
	if err == nil {
		return nil
	}
	if _, ok := quota.AsError(err); ok {
		return err
	}
	var se *sqlite.Error
	if errors.As(err, &se) {
		switch se.Code() {
		case sqlite3.SQLITE_CONSTRAINT_UNIQUE, sqlite3.SQLITE_CONSTRAINT_PRIMARYKEY:
			return &quota.Error{Code: quota.CodeConflict, Message: "The resource already exists."}
		case sqlite3.SQLITE_BUSY, sqlite3.SQLITE_LOCKED, sqlite3.SQLITE_BUSY_SNAPSHOT:
			return &quota.Error{Code: quota.CodeUnavailable, Message: "The database is busy; retry shortly."}
		}
	}
	if errors.Is(err, context.DeadlineExceeded) {
		return &quota.Error{Code: quota.CodeUnavailable, Message: "The database did not answer in time; retry shortly."}
	}
	return err
}

var sqliteMigrations = loadMigrations("sqlite")

func (sqliteDialect) migrations() []migration { return sqliteMigrations }

// sqlitePragmas are set on every connection. synchronous=FULL makes every
// acknowledged commit durable.
const sqlitePragmas = "_pragma=busy_timeout(10000)&_pragma=journal_mode(WAL)&_pragma=foreign_keys(1)&_pragma=synchronous(FULL)"

func openSQLite(ctx context.Context, path string, opts Options) (*DB, error) {
	if strings.ContainsAny(path, "?#") {
		return nil, fmt.Errorf("store: sqlite path %q must not contain '?' or '#'", path)
	}
	// Absolute, so that the -shm file the read cache maps (cache.go) is the
	// one SQLite uses whatever the working directory becomes.
	if abs, err := filepath.Abs(path); err == nil {
		path = abs
	}
	if dir := filepath.Dir(path); dir != "" {
		if err := os.MkdirAll(dir, 0o700); err != nil {
			return nil, fmt.Errorf("store: %w", err)
		}
	}
	// Statements are prepared once per connection (see stmtcache.go).
	w := sql.OpenDB(&stmtCacheConnector{dsn: "file:" + path + "?" + sqlitePragmas + "&_txlock=immediate", drv: &sqlite.Driver{}})
	// One writer connection: writes queue in the pool rather than fighting over
	// the database lock.
	w.SetMaxOpenConns(1)
	w.SetMaxIdleConns(1)
	w.SetConnMaxLifetime(0)
	w.SetConnMaxIdleTime(0)
	n := opts.MaxConns
	if n <= 0 {
		n = 8
	}
	r := sql.OpenDB(&stmtCacheConnector{dsn: "file:" + path + "?" + sqlitePragmas + "&_pragma=query_only(1)", drv: &sqlite.Driver{}})
	r.SetMaxOpenConns(n)
	r.SetMaxIdleConns(n)
	r.SetConnMaxLifetime(0)
	r.SetConnMaxIdleTime(0)
	// The read cache's version source: one more read-only connection.
	v := sql.OpenDB(&stmtCacheConnector{dsn: "file:" + path + "?" + sqlitePragmas + "&_pragma=query_only(1)", drv: &sqlite.Driver{}})
	v.SetMaxOpenConns(1)
	v.SetMaxIdleConns(1)
	v.SetConnMaxLifetime(0)
	v.SetConnMaxIdleTime(0)
	sv := newSQLiteVersions(v, path)
	db := &DB{d: sqliteDialect{}, w: w, r: r, now: opts.Now, afterCheck: opts.AfterAdmissionCheck, box: opts.Secrets, queries: map[string]string{},
		cache: newReadCache(sv.fetch), sv: sv, batch: newBatcher(w, sv)}
	db.cache.watch.quick = sv.quick
	applied, err := db.Migrate(ctx)
	if err != nil {
		db.Close()
		return nil, err
	}
	db.openApplied = applied
	if err := os.Chmod(path, 0o600); err != nil {
		db.Close()
		return nil, fmt.Errorf("store: %w", err)
	}
	return db, nil
}
