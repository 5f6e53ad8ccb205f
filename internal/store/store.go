// Package store keeps imagequota's state in a SQL database, SQLite (embedded,
// the default) or PostgreSQL. It holds what the statements mean, filed by
// entity (accounts.go, keys.go, instances.go, images.go, limits.go, usage.go,
// audit.go, …) and written once for both engines; everything that differs
// between engines — opening, migrations, driver errors, locks, the change
// versions of the read cache, speed-ups — lives in the engine packages
// (internal/store/sqlite, internal/store/postgres) behind engine.Engine.
package store

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/imagequota/imagequota/internal/quota"
	"github.com/imagequota/imagequota/internal/secrets"
	"github.com/imagequota/imagequota/internal/store/engine"
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
	// NoWALHeader is passed to the SQLite engine (sqlite.Options): for
	// measurements, its version source then never reads the WAL-index header.
	NoWALHeader bool
}

// DB is imagequota's state on a SQL database.
type DB struct {
	e   engine.Engine
	r   *sql.DB // e.Reader()
	now func() time.Time
	// afterCheck is Options.AfterAdmissionCheck.
	afterCheck func(accountID, locationID string, count, max int)
	box        *secrets.Box

	qmu     sync.RWMutex
	queries map[string]string

	// cache serves credentials and usage from memory (cache.go).
	cache *readCache
	// openApplied are the migrations Open applied (SQLite migrates when opened).
	openApplied []MigrationStatus
	// lastPrune is the second in which a write last pruned expired replay
	// records (replays.go).
	lastPrune atomic.Int64
	// replays keeps the replay records the engine's way (replays.go).
	replays replayRecords
	// outbox says whether events are recorded, and signals their commits (outbox.go).
	outbox *outbox
}

// New makes a store on an opened engine; it neither migrates nor checks it.
func New(e engine.Engine, opts Options) *DB {
	if opts.Now == nil {
		opts.Now = time.Now
	}
	v := e.Versions()
	var spacing time.Duration
	if sp, ok := v.(engine.Spaced); ok {
		spacing = sp.Spacing()
	}
	var replays replayRecords = keyedReplays{}
	if e.Name() == "sqlite" {
		replays = &arrivalReplays{}
	}
	return &DB{e: e, r: e.Reader(), now: opts.Now, afterCheck: opts.AfterAdmissionCheck, box: opts.Secrets,
		queries: map[string]string{}, cache: newReadCache(v.Fetch, v.Quick, spacing), outbox: newOutbox(), replays: replays}
}

// AppliedAtOpen returns the migrations Open applied: on SQLite, which is
// migrated when it is opened, those the file lacked; on PostgreSQL none.
func (db *DB) AppliedAtOpen() []MigrationStatus {
	return append([]MigrationStatus(nil), db.openApplied...)
}

// Engine names the database engine: "sqlite" or "postgres".
func (db *DB) Engine() string { return db.e.Name() }

// Close closes the engine: on SQLite, after the writes already queued.
func (db *DB) Close() error { return db.e.Close() }

// Ping checks that the database answers.
func (db *DB) Ping(ctx context.Context) error {
	var one int
	if err := db.r.QueryRowContext(ctx, "SELECT 1").Scan(&one); err != nil {
		return db.e.Interpret(err)
	}
	return nil
}

// Pools returns the connection pools by name, for metrics.
func (db *DB) Pools() map[string]*sql.DB { return db.e.Pools() }

// BatchStats returns how many write transactions the SQLite writer ran, or
// PostgreSQL's groups of keyed writes, and how many writes they carried in
// all (their ratio is the mean batch size); zeros on an engine that does not
// commit writes together.
func (db *DB) BatchStats() (batches, writes uint64) {
	if b, ok := db.e.(interface{ BatchStats() (uint64, uint64) }); ok {
		return b.BatchStats()
	}
	return 0, 0
}

// q returns query s with the engine's placeholders, cached.
func (db *DB) q(s string) string {
	db.qmu.RLock()
	r, ok := db.queries[s]
	db.qmu.RUnlock()
	if ok {
		return r
	}
	r = db.e.Rebind(s)
	db.qmu.Lock()
	db.queries[s] = r
	db.qmu.Unlock()
	return r
}

// write runs fn as one write transaction (see engine.Tx: fn may run more
// than once, and changes the database only through tx.Exec) and returns what
// its last run returned: a result is never left over from an earlier run.
func write[T any](ctx context.Context, db *DB, fn func(ctx context.Context, tx *engine.Tx) (T, error)) (T, error) {
	return runWrite(ctx, db.e.Write, fn)
}

// writeKeyed is write for a write that takes no lock but key's: an engine
// that can (engine.KeyedWriter) may commit it together with writes of other
// keys. An empty key is write.
func writeKeyed[T any](ctx context.Context, db *DB, key string, fn func(ctx context.Context, tx *engine.Tx) (T, error)) (T, error) {
	kw, ok := db.e.(engine.KeyedWriter)
	if !ok || key == "" {
		return write(ctx, db, fn)
	}
	return runWrite(ctx, func(ctx context.Context, f func(ctx context.Context, tx *engine.Tx) error) error {
		return kw.WriteKeyed(ctx, key, f)
	}, fn)
}

// runWrite runs fn through run, keeping the result of fn's last run.
func runWrite[T any](ctx context.Context, run func(ctx context.Context, fn func(ctx context.Context, tx *engine.Tx) error) error,
	fn func(ctx context.Context, tx *engine.Tx) (T, error)) (T, error) {
	var out T
	err := run(ctx, func(ctx context.Context, tx *engine.Tx) error {
		var err error
		out, err = fn(ctx, tx)
		return err
	})
	if err != nil {
		var zero T
		return zero, err
	}
	return out, nil
}

// exec runs fn as one write transaction that returns nothing but an error.
func (db *DB) exec(ctx context.Context, fn func(ctx context.Context, tx *engine.Tx) error) error {
	return db.e.Write(ctx, fn)
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

// NewSecret returns a random URL-safe string of n random bytes.
func NewSecret(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return base64.RawURLEncoding.EncodeToString(b)
}

func placeholders(n int) string { return engine.Placeholders(n) }

func anySlice(ss []string) []any {
	out := make([]any, len(ss))
	for i, s := range ss {
		out[i] = s
	}
	return out
}

// missing names the row a statement must change: its not-found error is
// built only when the row is missing.
type missing struct{ code, what, id string }

// execOne runs a statement that must change exactly one row; otherwise it
// fails with m's not-found error.
func execOne(ctx context.Context, tx *engine.Tx, q string, m missing, args ...any) error {
	res, err := tx.Exec(ctx, q, args...)
	if err != nil {
		return err
	}
	n, err := res.RowsAffected()
	if err != nil {
		return err
	}
	if n != 1 {
		return notFound(m.code, m.what, m.id)
	}
	return nil
}

// execOneLater is execOne through Tx.ExecLater: on PostgreSQL the statement
// is sent with the write's next one, and its not-found error fails that one
// (or the commit).
func execOneLater(ctx context.Context, tx *engine.Tx, q string, m missing, args ...any) error {
	return tx.ExecLater(ctx, func(n int64) error {
		if n != 1 {
			return notFound(m.code, m.what, m.id)
		}
		return nil
	}, q, args...)
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

// Bulk runs fn on a connection of its own, outside any transaction, set up by
// the engine for loading much data at once (package seed).
func (db *DB) Bulk(ctx context.Context, fn func(ctx context.Context, conn *sql.Conn) error) error {
	return db.e.Bulk(ctx, fn)
}

// Rebind turns the '?' placeholders of a statement into the engine's.
func (db *DB) Rebind(q string) string { return db.e.Rebind(q) }
