// Package sqlite is imagequota's embedded SQL engine: one SQLite file in WAL
// mode, one writer connection whose concurrent writes are committed together
// (batch.go), statements prepared once per connection (stmtcache.go), and
// change versions observed from the WAL-index header when it can be read
// (versions.go, shm_linux.go).
package sqlite

import (
	"context"
	"database/sql"
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"time"

	"modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"

	"github.com/imagequota/imagequota/internal/quota"
	"github.com/imagequota/imagequota/internal/store/engine"
)

//go:embed migrations
var migrationFS embed.FS

var migrations = engine.LoadMigrations(migrationFS, "migrations")

// Options tune the engine.
type Options struct {
	// MaxConns bounds the read pool; 0 means 8.
	MaxConns int
	// NoWALHeader makes the read cache observe change versions with PRAGMA
	// data_version alone, never from the -shm file's WAL-index header.
	NoWALHeader bool
}

// pragmas are set on every connection. synchronous=FULL makes every
// acknowledged commit durable.
const pragmas = "_pragma=busy_timeout(10000)&_pragma=journal_mode(WAL)&_pragma=foreign_keys(1)&_pragma=synchronous(FULL)"

// Engine is a SQLite file.
type Engine struct {
	w, r     *sql.DB // the one writer connection; the readers
	versions *versions
	batch    *batcher
}

var _ engine.Engine = (*Engine)(nil)

// Open opens (creating it, mode 0600, when absent) the SQLite file at path.
// It does not migrate it.
func Open(ctx context.Context, path string, o Options) (*Engine, error) {
	// Absolute, so that the -shm file the read cache maps is the one SQLite
	// uses whatever the working directory becomes.
	if abs, err := filepath.Abs(path); err == nil {
		path = abs
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return nil, fmt.Errorf("store: %w", err)
	}
	// Created here with mode 0600, so that SQLite's -wal and -shm files,
	// which take the database file's mode, are private too.
	f, err := os.OpenFile(path, os.O_RDONLY|os.O_CREATE, 0o600)
	if err != nil {
		return nil, fmt.Errorf("store: %w", err)
	}
	f.Close()
	if err := os.Chmod(path, 0o600); err != nil {
		return nil, fmt.Errorf("store: %w", err)
	}
	open := func(extra string, n int) *sql.DB {
		// Statements are prepared once per connection (stmtcache.go).
		db := sql.OpenDB(&stmtCacheConnector{dsn: "file:" + path + "?" + pragmas + extra, drv: &sqlite.Driver{}})
		db.SetMaxOpenConns(n)
		db.SetMaxIdleConns(n)
		db.SetConnMaxLifetime(0)
		db.SetConnMaxIdleTime(0)
		return db
	}
	n := o.MaxConns
	if n <= 0 {
		n = 8
	}
	// One writer connection: writes queue for it rather than fight over the
	// database lock. BEGIN IMMEDIATE takes the write lock at once.
	w := open("&_txlock=immediate", 1)
	r := open("&_pragma=query_only(1)", n)
	// The read cache's version source: one more read-only connection.
	v := newVersions(open("&_pragma=query_only(1)", 1), path, !o.NoWALHeader)
	e := &Engine{w: w, r: r, versions: v, batch: newBatcher(w, v)}
	if err := w.PingContext(ctx); err != nil {
		e.Close()
		return nil, fmt.Errorf("store: opening %s: %w", path, err)
	}
	return e, nil
}

// Exists reports whether the SQLite file at path is there. It opens
// nothing, so it creates nothing.
func Exists(path string) (bool, error) {
	info, err := os.Stat(path)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return false, nil
	case err != nil:
		return false, err
	case info.IsDir():
		return false, &fs.PathError{Op: "open store", Path: path, Err: errors.New("is a directory")}
	}
	return true, nil
}

// HasTable reports whether the file has a table of that name.
func (e *Engine) HasTable(ctx context.Context, name string) (bool, error) {
	var n int
	err := e.r.QueryRowContext(ctx, `SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name = ?`, name).Scan(&n)
	return n > 0, e.Interpret(err)
}

func (*Engine) Name() string                   { return "sqlite" }
func (*Engine) Rebind(q string) string         { return q }
func (e *Engine) Reader() *sql.DB              { return e.r }
func (*Engine) Migrations() []engine.Migration { return migrations }
func (e *Engine) Versions() engine.Versions    { return e.versions }

// Write queues fn for the writer, which commits it with the other writes
// waiting at the same time (batch.go). Every write transaction runs on the
// one writer connection and begins IMMEDIATE, taking the database's write
// lock, so writers — in this process or another — are serial, and Tx.Lock
// has nothing to add.
func (e *Engine) Write(ctx context.Context, fn func(ctx context.Context, tx *engine.Tx) error) error {
	return e.Interpret(e.batch.do(ctx, fn))
}

// Pools are the writer's and the readers' pools.
func (e *Engine) Pools() map[string]*sql.DB {
	return map[string]*sql.DB{"db_write": e.w, "db_read": e.r}
}

// BatchStats returns how many write transactions the writer ran and how many
// writes they carried in all (their ratio is the mean batch size).
func (e *Engine) BatchStats() (batches, writes uint64) {
	return e.batch.batches.Load(), e.batch.writes.Load()
}

// Close stops the writer after the queued writes and closes the pools.
func (e *Engine) Close() error {
	e.batch.close()
	return errors.Join(e.w.Close(), e.r.Close(), e.versions.close())
}

// Interpret: a unique violation is a conflict; a busy database or a deadline
// passed while waiting for it is SERVICE_TEMPORARY_UNAVAILABLE.
func (e *Engine) Interpret(err error) error {
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

// Bulk runs fn on the writer's connection with synchronous=OFF and a large
// page cache, restored afterwards: a crash while it runs may lose what fn
// wrote, but nothing older. fn must leave the connection outside any
// transaction.
func (e *Engine) Bulk(ctx context.Context, fn func(ctx context.Context, conn *sql.Conn) error) error {
	conn, err := e.w.Conn(ctx)
	if err != nil {
		return e.Interpret(err)
	}
	defer conn.Close()
	var sync, cache int64
	if err := conn.QueryRowContext(ctx, `PRAGMA synchronous`).Scan(&sync); err != nil {
		return err
	}
	if err := conn.QueryRowContext(ctx, `PRAGMA cache_size`).Scan(&cache); err != nil {
		return err
	}
	if _, err := conn.ExecContext(ctx, `PRAGMA synchronous=OFF`); err != nil {
		return err
	}
	defer func() {
		// A fresh context: the restore must happen even when ctx is done.
		rctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		_, _ = conn.ExecContext(rctx, `PRAGMA synchronous=`+strconv.FormatInt(sync, 10))
		_, _ = conn.ExecContext(rctx, `PRAGMA cache_size=`+strconv.FormatInt(cache, 10))
	}()
	if _, err := conn.ExecContext(ctx, `PRAGMA cache_size=-262144`); err != nil {
		return err
	}
	if err := fn(ctx, conn); err != nil {
		return e.Interpret(err)
	}
	// fn's transactions recorded the scopes they changed; nobody else will
	// read them.
	_, err = conn.ExecContext(ctx, `DELETE FROM cache_touched`)
	return e.Interpret(err)
}
