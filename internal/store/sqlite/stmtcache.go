package sqlite

import (
	"context"
	"database/sql/driver"
	"errors"
)

// The SQLite driver prepares (parses and plans) every statement that
// database/sql hands it as a string, and that was about a quarter of the
// server's CPU. stmtCacheConnector wraps the driver's connections so that a
// statement with arguments is prepared once per connection and then only
// re-bound and stepped. Statements without arguments (migrations, PRAGMAs,
// multi-statement scripts) go to the driver as before, except the group
// commit's (cachedWithoutArgs).

// cachedWithoutArgs are the statements without arguments that are cached
// all the same: the group commit's BEGIN, COMMIT and ROLLBACK and its read
// of the scopes a batch changed, run once per batch, and its savepoints, run
// around every write (batch.go).
var cachedWithoutArgs = map[string]bool{
	beginSQL: true, commitSQL: true, rollbackSQL: true,
	savepointSQL: true, releaseSQL: true, rollbackToSQL: true,
	touchedSQL: true,
}

// maxCachedStmts bounds the statements kept per connection; past it, new
// query strings (long IN lists, say) are prepared and finalized each time.
const maxCachedStmts = 256

type stmtCacheConnector struct {
	dsn string
	drv driver.Driver
}

func (c *stmtCacheConnector) Connect(ctx context.Context) (driver.Conn, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	conn, err := c.drv.Open(c.dsn)
	if err != nil {
		return nil, err
	}
	return &stmtCacheConn{inner: conn, stmts: map[string]*cachedStmt{}}, nil
}

func (c *stmtCacheConnector) Driver() driver.Driver { return c.drv }

// innerConn is what the wrapped SQLite connection implements.
type innerConn interface {
	driver.Conn
	driver.ConnPrepareContext
	driver.ConnBeginTx
	driver.QueryerContext
	driver.ExecerContext
}

// stmtCacheConn is used by one goroutine at a time (database/sql's contract),
// so its map needs no lock.
type stmtCacheConn struct {
	inner driver.Conn
	stmts map[string]*cachedStmt
}

type cachedStmt struct {
	s    driver.Stmt
	busy bool // rows of it are open: a nested use prepares afresh
}

var (
	_ driver.Conn               = (*stmtCacheConn)(nil)
	_ driver.ConnPrepareContext = (*stmtCacheConn)(nil)
	_ driver.ConnBeginTx        = (*stmtCacheConn)(nil)
	_ driver.QueryerContext     = (*stmtCacheConn)(nil)
	_ driver.ExecerContext      = (*stmtCacheConn)(nil)
	_ driver.Pinger             = (*stmtCacheConn)(nil)
	_ driver.SessionResetter    = (*stmtCacheConn)(nil)
	_ driver.Validator          = (*stmtCacheConn)(nil)
)

func (c *stmtCacheConn) full() innerConn {
	ic, ok := c.inner.(innerConn)
	if !ok {
		panic("sqlite: the SQLite driver's connection lacks the context methods")
	}
	return ic
}

func (c *stmtCacheConn) Prepare(q string) (driver.Stmt, error) { return c.inner.Prepare(q) }

func (c *stmtCacheConn) PrepareContext(ctx context.Context, q string) (driver.Stmt, error) {
	return c.full().PrepareContext(ctx, q)
}

func (c *stmtCacheConn) Begin() (driver.Tx, error) { //nolint:staticcheck // part of driver.Conn
	return c.full().BeginTx(context.Background(), driver.TxOptions{})
}

func (c *stmtCacheConn) BeginTx(ctx context.Context, opts driver.TxOptions) (driver.Tx, error) {
	return c.full().BeginTx(ctx, opts)
}

func (c *stmtCacheConn) Close() error {
	var err error
	for q, cs := range c.stmts {
		err = errors.Join(err, cs.s.Close())
		delete(c.stmts, q)
	}
	return errors.Join(err, c.inner.Close())
}

func (c *stmtCacheConn) Ping(ctx context.Context) error {
	if p, ok := c.inner.(driver.Pinger); ok {
		return p.Ping(ctx)
	}
	return nil
}

func (c *stmtCacheConn) ResetSession(ctx context.Context) error {
	if r, ok := c.inner.(driver.SessionResetter); ok {
		return r.ResetSession(ctx)
	}
	return nil
}

func (c *stmtCacheConn) IsValid() bool {
	if v, ok := c.inner.(driver.Validator); ok {
		return v.IsValid()
	}
	return true
}

// stmt returns the cached statement for q, preparing it on first use; nil
// when q is not to be cached or its statement is in use.
func (c *stmtCacheConn) stmt(ctx context.Context, q string, args []driver.NamedValue) (*cachedStmt, error) {
	if len(args) == 0 && !cachedWithoutArgs[q] {
		return nil, nil
	}
	cs, ok := c.stmts[q]
	if ok {
		if cs.busy {
			return nil, nil
		}
		return cs, nil
	}
	if len(c.stmts) >= maxCachedStmts {
		return nil, nil
	}
	s, err := c.full().PrepareContext(ctx, q)
	if err != nil {
		return nil, err
	}
	cs = &cachedStmt{s: s}
	c.stmts[q] = cs
	return cs, nil
}

func (c *stmtCacheConn) QueryContext(ctx context.Context, q string, args []driver.NamedValue) (driver.Rows, error) {
	cs, err := c.stmt(ctx, q, args)
	if err != nil {
		return nil, err
	}
	if cs == nil {
		return c.full().QueryContext(ctx, q, args)
	}
	rows, err := cs.s.(driver.StmtQueryContext).QueryContext(ctx, args)
	if err != nil {
		return nil, err
	}
	cs.busy = true
	return &cachedRows{Rows: rows, cs: cs}, nil
}

func (c *stmtCacheConn) ExecContext(ctx context.Context, q string, args []driver.NamedValue) (driver.Result, error) {
	cs, err := c.stmt(ctx, q, args)
	if err != nil {
		return nil, err
	}
	if cs == nil {
		return c.full().ExecContext(ctx, q, args)
	}
	return cs.s.(driver.StmtExecContext).ExecContext(ctx, args)
}

// cachedRows frees its statement for the next use when closed (the driver
// resets it rather than finalizing it).
type cachedRows struct {
	driver.Rows
	cs *cachedStmt
}

func (r *cachedRows) Close() error {
	err := r.Rows.Close()
	r.cs.busy = false
	return err
}
