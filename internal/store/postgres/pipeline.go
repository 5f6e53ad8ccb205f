package postgres

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
	"fmt"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/stdlib"

	"github.com/imagequota/imagequota/internal/store/engine"
)

// pipeTx is a write transaction on one connection of the pool that sends
// its statements in as few round trips as their answers allow
// (engine.Pipeline): BEGIN goes with the first statement, a lock and the
// statements whose answers the write does not need wait for the next
// statement that needs an answer, and the last of them go with COMMIT
// (unless one has a check, which COMMIT must wait for). A replay-protected
// CreateImage so takes three round trips instead of eight, a DeleteImages
// four.
//
// Within one round trip PostgreSQL still runs the statements one after the
// other, each (at READ COMMITTED) with a snapshot taken when it starts: a
// read queued after a lock sees what was committed before the lock was
// granted, as it would a round trip later.
type pipeTx struct {
	c       *sql.Conn
	begun   bool // BEGIN was sent
	pending []queued
}

type queued struct {
	query string
	args  []any
	check func(n int64) error // given the rows a change changed
	read  *ahead              // a query's row, for QueryRowAhead
	tag   *pgconn.CommandTag  // a change's answer, for a write that waits for it
}

// answer reads the results of stmts, queued in this order on br, into
// their reads, tags and checks; it stops at the first error.
func answer(br pgx.BatchResults, stmts []queued) error {
	for _, q := range stmts {
		if q.read != nil {
			err := br.QueryRow().Scan(q.read.dest...)
			q.read.done, q.read.err = true, err
			if err != nil && !errors.Is(err, sql.ErrNoRows) {
				return err
			}
			continue
		}
		tag, err := br.Exec()
		if err != nil {
			return err
		}
		if q.tag != nil {
			*q.tag = tag
		}
		if q.check != nil {
			if err := q.check(tag.RowsAffected()); err != nil {
				return err
			}
		}
	}
	return nil
}

// ahead is the row of a query sent ahead of its Scan.
type ahead struct {
	dest []any
	done bool // scanned, or failed: err says
	err  error
}

func (a *ahead) fail(err error) {
	if !a.done {
		a.done, a.err = true, err
	}
}

var _ engine.Pipeline = (*pipeTx)(nil)

func (p *pipeTx) Defer(ctx context.Context, check func(n int64) error, query string, args ...any) {
	p.pending = append(p.pending, queued{query: query, args: args, check: check})
}

// send sends BEGIN (the first time), the pending statements and then last
// (when not empty) in one round trip, and gives last's results to read.
func (p *pipeTx) send(ctx context.Context, last string, args []any, read func(br pgx.BatchResults) error) error {
	return p.c.Raw(func(dc any) error {
		conn := dc.(*stdlib.Conn).Conn()
		b := &pgx.Batch{}
		begin := !p.begun
		if begin {
			b.Queue("BEGIN")
			p.begun = true
		}
		pending := p.pending
		p.pending = nil
		for _, q := range pending {
			b.Queue(q.query, q.args...)
		}
		if last != "" {
			b.Queue(last, args...)
		}
		br := conn.SendBatch(ctx, b)
		err := func() error {
			if begin {
				if _, err := br.Exec(); err != nil {
					return err
				}
			}
			if err := answer(br, pending); err != nil {
				return err
			}
			if last != "" && read != nil {
				return read(br)
			}
			return nil
		}()
		err = errors.Join(err, br.Close())
		if err != nil {
			for _, q := range pending {
				if q.read != nil {
					q.read.fail(err)
				}
			}
		}
		if err != nil && conn.IsClosed() {
			// The connection is gone (a network error, or ctx ended
			// mid-way): database/sql must not reuse it.
			return errors.Join(err, driver.ErrBadConn)
		}
		return err
	})
}

// flush sends whatever is pending (BEGIN included) on its own.
func (p *pipeTx) flush(ctx context.Context) error {
	if p.begun && len(p.pending) == 0 {
		return nil
	}
	return p.send(ctx, "", nil, nil)
}

func (p *pipeTx) ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error) {
	if len(args) == 0 {
		// Perhaps several statements (a migration): the simple protocol,
		// which a batch does not use.
		if err := p.flush(ctx); err != nil {
			return nil, err
		}
		var tag pgconn.CommandTag
		err := p.c.Raw(func(dc any) error {
			var err error
			tag, err = dc.(*stdlib.Conn).Conn().Exec(ctx, query)
			return err
		})
		if err != nil {
			return nil, err
		}
		return result(tag.RowsAffected()), nil
	}
	var tag pgconn.CommandTag
	err := p.send(ctx, query, args, func(br pgx.BatchResults) error {
		var err error
		tag, err = br.Exec()
		return err
	})
	if err != nil {
		return nil, err
	}
	return result(tag.RowsAffected()), nil
}

func (p *pipeTx) QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error) {
	if err := p.flush(ctx); err != nil {
		return nil, err
	}
	return p.c.QueryContext(ctx, query, args...)
}

func (p *pipeTx) QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row {
	if err := p.flush(ctx); err != nil {
		// A *sql.Row carrying err: a query on a context already ended.
		cctx, cancel := context.WithCancelCause(ctx)
		cancel(err)
		return p.c.QueryRowContext(cctx, query, args...)
	}
	return p.c.QueryRowContext(ctx, query, args...)
}

func (p *pipeTx) QueryRowLater(ctx context.Context, query string, args ...any) func(dest ...any) error {
	return func(dest ...any) error {
		return p.send(ctx, query, args, func(br pgx.BatchResults) error {
			return br.QueryRow().Scan(dest...)
		})
	}
}

func (p *pipeTx) QueryRowAhead(ctx context.Context, dest []any, query string, args ...any) func() error {
	a := &ahead{dest: dest}
	p.pending = append(p.pending, queued{query: query, args: args, read: a})
	return func() error {
		if !a.done {
			if err := p.flush(ctx); err != nil {
				a.fail(err)
			}
			// A read left pending by a failed send was dropped with it.
			a.fail(errors.New("postgres: a query sent ahead was not run"))
		}
		return a.err
	}
}

// commit sends the pending statements and COMMIT in one round trip.
func (p *pipeTx) commit(ctx context.Context) error {
	if !p.begun && len(p.pending) == 0 {
		return nil // nothing was run
	}
	// A statement's check is made here, after the server ran everything
	// sent with it: one that fails must not have COMMIT sent along.
	for _, q := range p.pending {
		if q.check != nil {
			if err := p.flush(ctx); err != nil {
				return err
			}
			break
		}
	}
	return p.send(ctx, "COMMIT", nil, func(br pgx.BatchResults) error {
		tag, err := br.Exec()
		if err == nil && tag.String() != "COMMIT" {
			// COMMIT of a transaction that had failed rolls it back.
			err = fmt.Errorf("postgres: the transaction was rolled back (%s)", tag)
		}
		return err
	})
}

// rollback ends the transaction, if it was begun, without its changes. When
// it cannot (ctx has ended, the connection failed), the connection is
// discarded, which ends the transaction on the server and frees its locks.
func (p *pipeTx) rollback(ctx context.Context) {
	p.pending = nil
	if !p.begun {
		return
	}
	_ = p.c.Raw(func(dc any) error {
		conn := dc.(*stdlib.Conn).Conn()
		if ctx.Err() != nil || conn.IsClosed() {
			return driver.ErrBadConn
		}
		if _, err := conn.Exec(ctx, "ROLLBACK"); err != nil || conn.PgConn().TxStatus() != 'I' {
			return driver.ErrBadConn
		}
		return nil
	})
}

// result is an Exec's sql.Result.
type result int64

func (r result) LastInsertId() (int64, error) {
	return 0, errors.New("postgres: LastInsertId is not supported")
}
func (r result) RowsAffected() (int64, error) { return int64(r), nil }
