// Package store keeps imagequota's state in SQLite (embedded, the default) or
// PostgreSQL. Both engines share one implementation in SQL; the differences
// (connection setup, locking, error codes, migrations) live in a dialect.
package store

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	"imagequota/internal/quota"
	"imagequota/internal/secrets"
)

// Options tune a store.
type Options struct {
	// MaxConns bounds the read pool (SQLite) or the whole pool (PostgreSQL). 0 picks a default.
	MaxConns int
	// Now is the clock; nil means time.Now.
	Now func() time.Time
	// AfterAdmissionCheck, when set, runs inside CreateImage's transaction
	// after the count was compared with the limit and before the insert. Tests
	// use it to pause one writer at the worst moment.
	AfterAdmissionCheck func(accountID, locationID string, count, max int)
	// Secrets seals access key passwords at rest. Without it they are kept
	// in the clear (marked "plain:"); serve and admin always set it.
	Secrets *secrets.Box
}

// DB is imagequota's state on a SQL database.
type DB struct {
	d   dialect
	w   *sql.DB // transactions that write
	r   *sql.DB // reads
	now func() time.Time
	// afterCheck is Options.AfterAdmissionCheck.
	afterCheck func(accountID, locationID string, count, max int)
	box        *secrets.Box

	qmu     sync.RWMutex
	queries map[string]string

	// cache serves credentials and usage from memory (cache.go); sv is its
	// SQLite version source, nil on PostgreSQL.
	cache *readCache
	sv    *sqliteVersions
	// batch, on SQLite, commits concurrent write transactions together (batch.go).
	batch *batcher
	// openApplied are the migrations Open applied (SQLite migrates when opened).
	openApplied []MigrationStatus
}

// AppliedAtOpen returns the migrations Open applied: on SQLite, which is
// migrated when it is opened, those the file lacked; on PostgreSQL none.
func (db *DB) AppliedAtOpen() []MigrationStatus {
	return append([]MigrationStatus(nil), db.openApplied...)
}


// dialect is what differs between engines.
type dialect interface {
	name() string
	// rebind turns '?' placeholders into the engine's.
	rebind(q string) string
	// lock serialises transactions that take the same key until they end.
	lock(ctx context.Context, tx txn, key string) error
	// interpret turns a driver error into a *quota.Error where it means one.
	interpret(err error) error
	migrations() []migration
}

// Open opens the store at url: "postgres://…" or "postgresql://…" for
// PostgreSQL; "sqlite:PATH", "file:PATH" or a plain path for SQLite. SQLite is
// created and migrated on open; PostgreSQL must be migrated with Migrate and
// is refused when its schema is behind, unless allowBehind is set.
func Open(ctx context.Context, url string, opts Options) (*DB, error) {
	if opts.Now == nil {
		opts.Now = time.Now
	}
	u, err := ParseURL(url)
	if err != nil {
		return nil, err
	}
	if u.Engine == EnginePostgres {
		return openPostgres(ctx, u.DSN, opts)
	}
	return openSQLite(ctx, u.Path, opts)
}

// Engine names the database engine: "sqlite" or "postgres".
func (db *DB) Engine() string { return db.d.name() }

// Close closes the pools.
func (db *DB) Close() error {
	if db.batch != nil {
		db.batch.close()
	}
	err := db.w.Close()
	if db.r != db.w {
		err = errors.Join(err, db.r.Close())
	}
	if db.sv != nil {
		err = errors.Join(err, db.sv.close())
	}
	return err
}

// Ping checks that the database answers.
func (db *DB) Ping(ctx context.Context) error {
	if err := db.r.PingContext(ctx); err != nil {
		return db.d.interpret(err)
	}
	var one int
	if err := db.r.QueryRowContext(ctx, "SELECT 1").Scan(&one); err != nil {
		return db.d.interpret(err)
	}
	return nil
}

// Pools returns the connection pools by name, for metrics.
func (db *DB) Pools() map[string]*sql.DB {
	if db.r == db.w {
		return map[string]*sql.DB{"db": db.w}
	}
	return map[string]*sql.DB{"db_write": db.w, "db_read": db.r}
}

// q returns query s with the engine's placeholders, cached.
func (db *DB) q(s string) string {
	db.qmu.RLock()
	r, ok := db.queries[s]
	db.qmu.RUnlock()
	if ok {
		return r
	}
	r = db.d.rebind(s)
	db.qmu.Lock()
	db.queries[s] = r
	db.qmu.Unlock()
	return r
}

// txn is what a write runs its statements on: a *sql.Tx (PostgreSQL), or
// the SQLite writer's connection inside the transaction its batch began.
type txn interface {
	ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error)
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
}

// inTx runs fn in a write transaction, committing when it returns nil. On
// SQLite the transaction may be shared with other writes (batch.go); fn's
// changes are kept or undone as a whole either way. fn may run more than
// once (when a write batched with it fails after changing something), so it
// sets its results afresh each time and changes the database only through
// tx.ExecContext.
func (db *DB) inTx(ctx context.Context, fn func(ctx context.Context, tx txn) error) error {
	return db.inTxReq(ctx, &writeReq{fn: fn})
}

// inTxScopes is inTx for a write that changes no cache_versions scope but
// scopes: on SQLite, the read cache then keeps what it knows of every other
// scope across the commit instead of reading the versions again.
func (db *DB) inTxScopes(ctx context.Context, scopes []string, fn func(ctx context.Context, tx txn) error) error {
	return db.inTxReq(ctx, &writeReq{fn: fn, scoped: true, scopes: scopes})
}

func (db *DB) inTxReq(ctx context.Context, req *writeReq) error {
	fn := req.fn
	if db.batch != nil {
		return db.d.interpret(db.batch.do(ctx, req))
	}
	tx, err := db.w.BeginTx(ctx, nil)
	if err != nil {
		return db.d.interpret(err)
	}
	if err := fn(ctx, tx); err != nil {
		_ = tx.Rollback()
		return db.d.interpret(err)
	}
	if err := tx.Commit(); err != nil {
		return db.d.interpret(err)
	}
	return nil
}

func micros(t time.Time) int64 { return t.UnixMicro() }
func fromMicros(v int64) time.Time {
	return time.UnixMicro(v).UTC()
}

// newID returns prefix followed by n random bytes in hex.
func newID(prefix string, n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b) // crypto/rand never fails on supported platforms
	return prefix + hex.EncodeToString(b)
}

// newSecret returns a random URL-safe string of n random bytes.
func newSecret(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return base64.RawURLEncoding.EncodeToString(b)
}

func placeholders(n int) string {
	return strings.TrimSuffix(strings.Repeat("?,", n), ",")
}

func anySlice(ss []string) []any {
	out := make([]any, len(ss))
	for i, s := range ss {
		out[i] = s
	}
	return out
}

func notFound(code, what, id string) error {
	return quota.Errorf(code, "%s %q does not exist.", what, id)
}

// nullString wraps a value as a database/sql argument that stores NULL for nil.
func nullString(p *string) sql.NullString {
	if p == nil {
		return sql.NullString{}
	}
	return sql.NullString{String: *p, Valid: true}
}

func ptrString(n sql.NullString) *string {
	if !n.Valid {
		return nil
	}
	s := n.String
	return &s
}

func wrap(op string, err error) error {
	if err == nil {
		return nil
	}
	if _, ok := quota.AsError(err); ok {
		return err
	}
	return fmt.Errorf("store: %s: %w", op, err)
}
