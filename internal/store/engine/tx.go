package engine

import (
	"context"
	"database/sql"
	"fmt"
	"slices"
	"strings"
)

// Tx is a write transaction as a write function sees it, and the only way it
// changes the database. Two rules follow from how engines run writes, and the
// type enforces what it can of them:
//
//   - A write function may run more than once. SQLite commits concurrent
//     writes together in one transaction; when one of them fails after
//     changing something, the transaction is rolled back and every write of
//     it runs again, each inside a savepoint. PostgreSQL does the same with
//     concurrent keyed writes (KeyedWriter), which then run again each in a
//     transaction of its own. So a write function computes
//     its results afresh on every run and has no effect outside the
//     database that a second run would repeat (store's write helper keeps
//     only the results of the run that counted).
//   - A write function changes the database only through Exec. Query and
//     QueryRow refuse any statement but a SELECT: Exec is
//     how the engine learns that a write changed something and must be
//     undone on its own when it then fails.
//
// Which cache scopes a write changed is not the write's business: triggers
// record them, and the engine reads them at commit.
//
// A write states which of its statements it needs no answer from (ExecLater):
// an engine whose database is across a network (Pipeline) sends those
// together with the next statement that needs an answer, or with the commit,
// in one round trip.
type Tx struct {
	conn   Conn
	pipe   Pipeline // nil: every statement runs when called
	lock   func(ctx context.Context, c Conn, key string) error
	locked []string // keys locked in this transaction
	wrote  bool
	memo   map[any]any // Memo's values, for this transaction only
	// committed are OnCommit's functions, in the order first registered.
	committed []commitHook
}

// commitHook is one key's function for after the commit (OnCommit).
type commitHook struct {
	key any
	fn  func()
}

// Pipeline is a Conn that can hold statements back: those given to Defer are
// sent, in order, ahead of the next statement that needs an answer (any of
// Conn's, or a Scan of QueryRowLater's row), or with the commit; the first
// of them that fails fails that statement, or the commit.
type Pipeline interface {
	Conn
	// Defer queues a statement; check, when not nil, is given the number
	// of rows it changed, and its error fails the statement.
	Defer(ctx context.Context, check func(n int64) error, query string, args ...any)
	// QueryRowLater returns a Scan that sends the queued statements and
	// the query together, and scans the query's first row (sql.ErrNoRows
	// when it has none).
	QueryRowLater(ctx context.Context, query string, args ...any) func(dest ...any) error
	// QueryRowAhead queues a query like Defer, to be sent with the next
	// statement that goes to the database, and returns a function that
	// gives the error of scanning its first row into dest (sql.ErrNoRows
	// when it has none), sending what is queued first if the query has
	// not been sent yet.
	QueryRowAhead(ctx context.Context, dest []any, query string, args ...any) func() error
}

// NewTx is for engines: a Tx on conn, whose Lock calls lock.
func NewTx(conn Conn, lock func(ctx context.Context, c Conn, key string) error) *Tx {
	return &Tx{conn: conn, lock: lock}
}

// NewPipelinedTx is for engines: a Tx on p, whose Lock calls lock with p.
func NewPipelinedTx(p Pipeline, lock func(ctx context.Context, c Conn, key string) error) *Tx {
	return &Tx{conn: p, pipe: p, lock: lock}
}

// Exec runs a statement that may change the database.
func (tx *Tx) Exec(ctx context.Context, query string, args ...any) (sql.Result, error) {
	tx.wrote = true
	return tx.conn.ExecContext(ctx, query, args...)
}

// ExecLater runs a statement that may change the database and whose answer
// the write does not need but for check (nil: none), which is given the
// number of rows the statement changed. On an engine that pipelines, the
// statement is sent with the next one that needs an answer, or with the
// commit, and its error (or check's) then fails that statement or the
// commit; elsewhere it runs now and its error is returned.
func (tx *Tx) ExecLater(ctx context.Context, check func(n int64) error, query string, args ...any) error {
	tx.wrote = true
	if tx.pipe != nil {
		tx.pipe.Defer(ctx, check, query, args...)
		return nil
	}
	res, err := tx.conn.ExecContext(ctx, query, args...)
	if err != nil || check == nil {
		return err
	}
	n, err := res.RowsAffected()
	if err != nil {
		return err
	}
	return check(n)
}

// Query runs a SELECT.
func (tx *Tx) Query(ctx context.Context, query string, args ...any) (*sql.Rows, error) {
	if err := readOnly(query); err != nil {
		return nil, err
	}
	return tx.conn.QueryContext(ctx, query, args...)
}

// QueryRow runs a SELECT that returns at most one row.
func (tx *Tx) QueryRow(ctx context.Context, query string, args ...any) *Row {
	if err := readOnly(query); err != nil {
		return &Row{err: err}
	}
	if tx.pipe != nil {
		return &Row{scan: tx.pipe.QueryRowLater(ctx, query, args...)}
	}
	return &Row{row: tx.conn.QueryRowContext(ctx, query, args...)}
}

// QueryRowAhead runs a SELECT that returns at most one row, whose answer the
// write needs only later: the returned function gives the error of scanning
// that row into dest (sql.ErrNoRows when there was none), and dest is filled
// once it has been called. On an engine that pipelines, the query is sent
// with the next statement that goes to the database (so in the same round
// trip as the write's next read), or when the function is called, whichever
// comes first; elsewhere it runs now.
func (tx *Tx) QueryRowAhead(ctx context.Context, dest []any, query string, args ...any) func() error {
	if err := readOnly(query); err != nil {
		return func() error { return err }
	}
	if tx.pipe != nil {
		return tx.pipe.QueryRowAhead(ctx, dest, query, args...)
	}
	err := tx.conn.QueryRowContext(ctx, query, args...).Scan(dest...)
	return func() error { return err }
}

// Pipelined reports whether the transaction's statements may wait to be sent
// with a later one (see Pipeline), rather than run when called.
func (tx *Tx) Pipelined() bool { return tx.pipe != nil }

// Row is the result of QueryRow.
type Row struct {
	row  *sql.Row
	scan func(dest ...any) error
	err  error
}

// Scan is sql.Row's Scan: sql.ErrNoRows when there was no row.
func (r *Row) Scan(dest ...any) error {
	switch {
	case r.err != nil:
		return r.err
	case r.scan != nil:
		return r.scan(dest...)
	}
	return r.row.Scan(dest...)
}

// Lock takes a lock on key until the transaction ends: transactions that
// lock the same key — on any connection, of any process or replica — run one
// after the other. Engines whose writers are serial anyway make it a no-op.
// A key already locked in the transaction is not asked for again.
func (tx *Tx) Lock(ctx context.Context, key string) error {
	if tx.lock == nil || slices.Contains(tx.locked, key) {
		return nil
	}
	if err := tx.lock(ctx, tx.conn, key); err != nil {
		return err
	}
	tx.locked = append(tx.locked, key)
	return nil
}

// Memo returns the value kept under key in this transaction, made by mk the
// first time it is asked for. A value lives as long as the transaction: the
// writes that share a transaction (SQLite's group commit) share it, and a
// transaction begun again (a batch run again with savepoints) starts without
// any. It is never shared between transactions, so it may hold what the
// transaction has written and not yet committed.
func (tx *Tx) Memo(key any, mk func() any) any {
	if v, ok := tx.memo[key]; ok {
		return v
	}
	if tx.memo == nil {
		tx.memo = map[any]any{}
	}
	v := mk()
	tx.memo[key] = v
	return v
}

// OnCommit registers, under key, a function that runs once the transaction
// has committed (in the goroutine that committed it, before its writes are
// answered). Only the first registration of a key in a transaction counts;
// the functions run in the order of those. Like Memo, it is of the
// transaction and not of the write: a transaction begun again (a batch run
// again with savepoints) starts without any, and a write that registers one
// must not then fail. A transaction that does not commit runs none.
func (tx *Tx) OnCommit(key any, fn func()) {
	for _, h := range tx.committed {
		if h.key == key {
			return
		}
	}
	tx.committed = append(tx.committed, commitHook{key: key, fn: fn})
}

// Committed is for engines: run OnCommit's functions, once the transaction
// has committed.
func (tx *Tx) Committed() {
	for _, h := range tx.committed {
		h.fn()
	}
}

// Wrote is for engines: whether a statement that may have changed the
// database ran since the last Reset.
func (tx *Tx) Wrote() bool { return tx.wrote }

// Reset is for engines: forget that anything was written, before the next
// write function runs on the same transaction.
func (tx *Tx) Reset() { tx.wrote = false }

// readOnly refuses a statement that does not start with SELECT.
func readOnly(query string) error {
	q := strings.TrimLeft(query, " \t\r\n(")
	if len(q) >= 6 && strings.EqualFold(q[:6], "SELECT") {
		return nil
	}
	return fmt.Errorf("engine: a write changes the database only through Tx.Exec; Query got: %.40q", query)
}
