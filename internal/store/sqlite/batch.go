package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"sync"
	"sync/atomic"

	"github.com/imagequota/imagequota/internal/store/engine"
)

// Group commit. Every SQLite write transaction runs on the one
// writer connection and ends with an fsync (synchronous=FULL), so one
// transaction per request caps writes at about one fsync each. Instead, one
// writer goroutine takes the queued writes in arrival order and applies as
// many as are waiting — up to maxBatch — in one transaction: a write that
// fails fails alone, the others go on (a write that fails after changing
// something has the batch run again with a SAVEPOINT around each write; see
// applyIn). Each write is checked in turn against
// what the earlier ones of the batch did (same transaction), so admission is
// exactly as serial as before: CreateImage still counts inside the
// transaction, under the database's write lock. Each caller is answered only
// after its batch's COMMIT returned, so an acknowledged write is as durable
// as before.

// The statements that begin and end a batch's transaction, and the
// savepoint statements around each of its writes (kept prepared by
// stmtcache.go). BEGIN IMMEDIATE takes the database's write lock at once.
const (
	beginSQL      = `BEGIN IMMEDIATE`
	commitSQL     = `COMMIT`
	rollbackSQL   = `ROLLBACK`
	savepointSQL  = `SAVEPOINT w`
	releaseSQL    = `RELEASE w`
	rollbackToSQL = `ROLLBACK TO w`
	// touchedSQL reads and empties the scopes whose version the
	// transaction's writes bumped (migration 0004's triggers record them).
	touchedSQL = `DELETE FROM cache_touched RETURNING scope`
)

// maxBatch bounds the writes committed together.
const maxBatch = 128

var errStoreClosed = errors.New("store: closed")

type writeReq struct {
	ctx  context.Context
	fn   func(ctx context.Context, tx *engine.Tx) error
	done chan error
	// claim: the writer starts the write, or its caller, whose deadline
	// passed first, abandons it.
	claim engine.Claim
}

// wctx is the context a write's statements run with: the caller's values
// without its cancellation. Once started, the write runs to its end inside
// the batch (a cancellation would interrupt the shared connection). It also
// spares the driver a watcher goroutine per statement, which it starts for
// every context that can be cancelled.
func (r *writeReq) wctx() context.Context { return context.WithoutCancel(r.ctx) }

type batcher struct {
	w *sql.DB
	// versions, when set, is told of each commit and the scopes it changed.
	versions *versions
	// afterCommit, when set, runs after each COMMIT returned (tests).
	afterCommit func()

	mu     sync.RWMutex // held shared while enqueueing, exclusively to close
	closed bool
	queue  chan *writeReq
	exited chan struct{}

	// batches and writes count the transactions committed (or rolled back)
	// and the writes they carried, for BatchStats.
	batches, writes atomic.Uint64
}

func newBatcher(w *sql.DB, versions *versions) *batcher {
	b := &batcher{w: w, versions: versions, queue: make(chan *writeReq, 4*maxBatch), exited: make(chan struct{})}
	go b.loop()
	return b
}

// do runs fn in a write transaction shared with other writes, and returns
// fn's error, or the error that kept the transaction from committing.
//
// When ctx ends before the writer started the write — it waits behind
// others, or for a lock another process holds — do returns ctx's error at
// once and the write never runs, so that a request is answered within its
// deadline. Once started, a write is waited for to its end: it may commit,
// and its caller must not be told otherwise. It runs under the write lock,
// so that end is near.
func (b *batcher) do(ctx context.Context, fn func(ctx context.Context, tx *engine.Tx) error) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	req := &writeReq{ctx: ctx, fn: fn, done: make(chan error, 1)}
	b.mu.RLock()
	if b.closed {
		b.mu.RUnlock()
		return errStoreClosed
	}
	select {
	case b.queue <- req:
	case <-ctx.Done():
		b.mu.RUnlock()
		return ctx.Err()
	}
	b.mu.RUnlock()
	select {
	case err := <-req.done:
		return err
	case <-ctx.Done():
		if req.claim.Abandon() {
			return ctx.Err()
		}
		return <-req.done
	}
}

// close stops the writer after the queued writes.
func (b *batcher) close() {
	b.mu.Lock()
	if !b.closed {
		b.closed = true
		close(b.queue)
	}
	b.mu.Unlock()
	<-b.exited
}

func (b *batcher) loop() {
	defer close(b.exited)
	batch := make([]*writeReq, 0, maxBatch)
	for req := range b.queue {
		batch = append(batch[:0], req)
	gather:
		for len(batch) < maxBatch {
			select {
			case r, ok := <-b.queue:
				if !ok {
					break gather
				}
				batch = append(batch, r)
			default:
				break gather
			}
		}
		b.run(batch)
	}
}

// run applies one batch and answers each of its writes.
func (b *batcher) run(batch []*writeReq) {
	errs := make([]error, len(batch))
	commitErr := b.apply(batch, errs)
	b.batches.Add(1)
	b.writes.Add(uint64(len(batch)))
	for i, r := range batch {
		if errs[i] == nil {
			errs[i] = commitErr
		}
		r.done <- errs[i]
	}
}

// apply runs the batch's writes in one transaction, recording each one's own
// error in errs, and returns the error that failed them all, if any. The
// transaction is begun and ended with statements on the writer's connection
// rather than through database/sql's Tx, which starts a goroutine for each
// transaction and for each query in it.
func (b *batcher) apply(batch []*writeReq, errs []error) error {
	ctx := context.Background()
	c, err := b.w.Conn(ctx)
	if err != nil {
		return err
	}
	defer c.Close()
	if _, err := c.ExecContext(ctx, beginSQL); err != nil {
		// Whatever made it fail, leave the connection outside any transaction.
		_, _ = c.ExecContext(ctx, rollbackSQL)
		return err
	}
	// Read once the write lock is held (BEGIN IMMEDIATE): the last commit
	// of anyone, and nobody else can commit until this one has.
	var before [walHeaderSize]byte
	track := b.versions != nil && b.versions.header(&before)
	if track {
		defer b.versions.end(b.versions.begin(&before))
	}
	committed, scopes, err := b.applyIn(ctx, c, batch, errs)
	if !committed {
		return err
	}
	if b.afterCommit != nil {
		b.afterCommit()
	}
	if track && scopes != nil {
		var after [walHeaderSize]byte
		if b.versions.header(&after) {
			b.versions.committed(&before, &after, scopes)
		}
	}
	return nil
}

// applyIn runs the writes in the transaction begun on c and ends it. It
// reports whether it committed, with the scopes the transaction changed (nil
// when they could not be read), or else the error that failed every write,
// if any.
//
// The writes first run one after the other with nothing between them: a
// write that fails before changing anything (over quota, not found: every
// check comes before the first change) leaves nothing to undo. Only when a
// write fails after a change of its own (Tx.Wrote) is the whole
// transaction rolled back and the batch run again, each write inside a
// SAVEPOINT of its own (applySaved), so that it fails alone.
func (b *batcher) applyIn(ctx context.Context, c *sql.Conn, batch []*writeReq, errs []error) (bool, []string, error) {
	rollback := func(err error) (bool, []string, error) {
		// After some errors SQLite has already rolled back; this then fails
		// harmlessly.
		_, _ = c.ExecContext(ctx, rollbackSQL)
		return false, nil, err
	}
	tx := engine.NewTx(c, nil)
	ok := 0
	for i, r := range batch {
		if !r.claim.Start() {
			errs[i] = context.Cause(r.ctx)
			continue
		}
		tx.Reset()
		if errs[i] = r.fn(r.wctx(), tx); errs[i] == nil {
			ok++
			continue
		}
		if !tx.Wrote() {
			continue
		}
		if len(batch) == 1 {
			return rollback(nil)
		}
		if _, err := c.ExecContext(ctx, rollbackSQL); err != nil {
			return false, nil, err
		}
		if _, err := c.ExecContext(ctx, beginSQL); err != nil {
			return rollback(err)
		}
		clear(errs)
		return b.applySaved(ctx, c, batch, errs, rollback)
	}
	if ok == 0 {
		return rollback(nil)
	}
	return commit(ctx, c, tx, rollback)
}

// applySaved runs the writes in the transaction begun on c, each inside a
// savepoint of its own, and ends it.
func (b *batcher) applySaved(ctx context.Context, c *sql.Conn, batch []*writeReq, errs []error, rollback func(error) (bool, []string, error)) (bool, []string, error) {
	tx := engine.NewTx(c, nil)
	ok := 0
	for i, r := range batch {
		if !r.claim.Start() {
			errs[i] = context.Cause(r.ctx)
			continue
		}
		if _, err := c.ExecContext(ctx, savepointSQL); err != nil {
			return rollback(err)
		}
		if errs[i] = r.fn(r.wctx(), tx); errs[i] != nil {
			if _, err := c.ExecContext(ctx, rollbackToSQL); err != nil {
				// The transaction itself failed (SQLite rolls it back on some
				// I/O errors): nothing of the batch stands.
				return rollback(err)
			}
		} else {
			ok++
		}
		if _, err := c.ExecContext(ctx, releaseSQL); err != nil {
			return rollback(err)
		}
	}
	if ok == 0 {
		return rollback(nil)
	}
	return commit(ctx, c, tx, rollback)
}

// commit reads the scopes the transaction changed and commits it, or rolls
// it back when COMMIT fails; once committed, it runs what the writes left
// for then (Tx.OnCommit).
func commit(ctx context.Context, c *sql.Conn, tx *engine.Tx, rollback func(error) (bool, []string, error)) (bool, []string, error) {
	scopes := touched(ctx, c)
	if _, err := c.ExecContext(ctx, commitSQL); err != nil {
		return rollback(err)
	}
	tx.Committed()
	return true, scopes, nil
}

// touched empties cache_touched and returns the scopes it held: those whose
// version the transaction bumped. It returns nil when they cannot be read (a
// database not yet migrated so far): the read cache then observes the
// commit like anyone else's.
func touched(ctx context.Context, c *sql.Conn) []string {
	rows, err := c.QueryContext(ctx, touchedSQL)
	if err != nil {
		return nil
	}
	defer rows.Close()
	scopes := []string{}
	for rows.Next() {
		var s string
		if err := rows.Scan(&s); err != nil {
			return nil
		}
		scopes = append(scopes, s)
	}
	if rows.Err() != nil {
		return nil
	}
	return scopes
}
