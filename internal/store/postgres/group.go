package postgres

import (
	"cmp"
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/stdlib"

	"github.com/imagequota/imagequota/internal/quota"
	"github.com/imagequota/imagequota/internal/store/engine"
)

// Group commit. A write that names the one lock it takes (WriteKeyed: an
// account's creates and deletes) may share its transaction with other such
// writes of other keys, on one connection: with synchronous_commit on, each
// transaction costs PostgreSQL a commit and the wakeups of its round trips,
// which many writes can share.
//
// A writer goroutine takes the queued writes in arrival order, at most one
// per key (a second write of a key waits for the next group: it must see
// the first one's changes, which its reads in the same transaction would
// not if they were sent before the first one's inserts), and begins one
// transaction: BEGIN and the group's advisory locks, one statement each in
// the order of their numbers, so that groups on several replicas take their
// locks in one order and cannot deadlock. The writes' functions then run
// concurrently, each in its caller's goroutine, against a pipeline of its
// own whose statements go to the shared connection: a statement whose answer
// a write needs waits until every write of the group waits for an answer or
// has returned, and then all of them go in one round trip. A group of N
// creates so costs about two round trips and one COMMIT in all.
//
// A write's deferred statements are sent only when it needs an answer after
// them or once it has returned nil: one that fails with an error of its own
// (over quota, not found, replayed) before sending a change fails alone, and
// the others go on. Anything else — an error from the database, a check
// that fails on a change already sent, a write that failed after sending a
// change, COMMIT refused — rolls the whole group back, and each of its
// writes runs again alone, in a transaction of its own (Write), so nothing
// is half applied. A write that needs what the group cannot give (a Query's
// rows, a lock of another key) runs again alone, after its group.
//
// Once a write has started in a group, its caller waits for the group's
// end: it may commit, and the caller must not be told otherwise. The group's
// statements run under the latest deadline of its writes, which also bounds
// its wait for the locks (lock_timeout), as a write's own does alone.

// maxGroup bounds the writes that share a transaction.
const maxGroup = 64

// groupWriters is the number of groups in flight at once, each on a
// connection of the pool. One: the writes that arrive while a group is in
// flight all go in the next, and the fewer and larger groups cost less CPU
// per write (scenario e/c: about 31 writes a group with one writer, 11–12
// with two, and a quarter more CPU per pair in the process and PostgreSQL).
const groupWriters = 1

var (
	// errUnbatchable: the write needs what a group cannot give; it runs
	// again alone.
	errUnbatchable = errors.New("postgres: this write runs alone")
	errClosed      = errors.New("store: closed")
)

type groupReq struct {
	ctx   context.Context
	key   string
	fn    func(ctx context.Context, tx *engine.Tx) error
	begin chan *group       // the write's group; nil: run alone
	done  chan groupOutcome // the group's end
	claim engine.Claim      // the writer starts it, or its caller abandons it
	tx    *engine.Tx        // the write's transaction in its group
	pipe  *wpipe            // its pipeline there
	err   error             // what its function returned
}

type groupOutcome struct {
	err   error
	alone bool // run the write again, alone
}

// grouper gathers keyed writes into groups.
type grouper struct {
	e      *Engine
	mu     sync.RWMutex // held shared while enqueueing, exclusively to close
	closed bool
	queue  chan *groupReq
	exited sync.WaitGroup

	// groups and writes count the groups begun and the writes they
	// carried, for BatchStats.
	groups, writes atomic.Uint64
	// alone counts the writes run again alone after their group.
	alone atomic.Uint64

	// gate, when set, runs in a writer once it has taken a group's first
	// write and before it gathers the others (tests).
	gate atomic.Pointer[func()]
}

func newGrouper(e *Engine) *grouper {
	g := &grouper{e: e, queue: make(chan *groupReq, 4*maxGroup)}
	for range groupWriters {
		g.exited.Go(g.loop)
	}
	return g
}

func (g *grouper) close() {
	g.mu.Lock()
	if !g.closed {
		g.closed = true
		close(g.queue)
	}
	g.mu.Unlock()
	g.exited.Wait()
}

// WriteKeyed runs fn, which takes no lock but key's (engine.Tx.Lock), in a
// write transaction it may share with writes of other keys (see above). It
// returns what Write does.
func (e *Engine) WriteKeyed(ctx context.Context, key string, fn func(ctx context.Context, tx *engine.Tx) error) error {
	if err := ctx.Err(); err != nil {
		return interpret(err)
	}
	r := &groupReq{ctx: ctx, key: key, fn: fn, begin: make(chan *group, 1), done: make(chan groupOutcome, 1)}
	g := e.groups
	g.mu.RLock()
	if g.closed {
		g.mu.RUnlock()
		return errClosed
	}
	select {
	case g.queue <- r:
	case <-ctx.Done():
		g.mu.RUnlock()
		return interpret(ctx.Err())
	}
	g.mu.RUnlock()
	var gr *group
	select {
	case gr = <-r.begin:
	case <-ctx.Done():
		if r.claim.Abandon() {
			return interpret(ctx.Err())
		}
		gr = <-r.begin
	}
	if gr != nil {
		gr.run(r)
		o := <-r.done
		if !o.alone {
			return o.err
		}
		g.alone.Add(1)
	}
	return e.Write(ctx, fn)
}

func (g *grouper) loop() {
	var held []*groupReq // writes of a key already in the group, for the next
	batch := make([]*groupReq, 0, maxGroup)
	keys := make(map[string]bool, maxGroup)
	open := true
	for open || len(held) > 0 {
		batch, next := batch[:0], held
		held = nil
		clear(keys)
		add := func(r *groupReq) {
			if len(batch) < maxGroup && !keys[r.key] {
				keys[r.key] = true
				batch = append(batch, r)
				return
			}
			held = append(held, r)
		}
		for _, r := range next {
			add(r)
		}
		if len(batch) == 0 {
			r, ok := <-g.queue
			if !ok {
				return
			}
			add(r)
		}
		if f := g.gate.Load(); f != nil {
			(*f)()
		}
	gather:
		for open && len(batch) < maxGroup {
			select {
			case r, ok := <-g.queue:
				if !ok {
					open = false
					break gather
				}
				add(r)
			default:
				break gather
			}
		}
		g.runGroup(batch)
	}
}

// runGroup runs one group's writes and answers each.
func (g *grouper) runGroup(batch []*groupReq) {
	started := batch[:0:0]
	for _, r := range batch {
		if r.claim.Start() {
			started = append(started, r)
		}
	}
	if len(started) == 0 {
		return
	}
	g.groups.Add(1)
	g.writes.Add(uint64(len(started)))
	gr, err := g.e.newGroup(started)
	if err != nil {
		for _, r := range started {
			r.begin <- nil
		}
		return
	}
	outs := gr.apply(started)
	for i, r := range started {
		r.done <- outs[i]
	}
}

// group is one shared transaction on one connection.
type group struct {
	ctx    context.Context
	cancel context.CancelFunc
	c      *sql.Conn

	mu      sync.Mutex
	cond    sync.Cond
	queue   []gstmt // to send in the next round trip
	final   []gstmt // the returned writes' last statements, for the commit
	running int     // writes whose function has not returned
	active  int     // of those, the ones not waiting for an answer
	waiting int     // waiting for the next round trip
	round   int     // round trips made
	err     error   // the group failed: nothing of it is committed
}

// gstmt is a statement of a group: a change (check, when not nil, is given
// the rows it changed; tag, its answer, for a write that waits for it), or a
// read whose first row goes to read.
type gstmt = queued

// newGroup takes a connection and queues BEGIN and the writes' locks, in the
// order of their numbers.
func (e *Engine) newGroup(rs []*groupReq) (*group, error) {
	var deadline time.Time
	for _, r := range rs {
		d, ok := r.ctx.Deadline()
		if !ok {
			deadline = time.Time{}
			break
		}
		if d.After(deadline) {
			deadline = d
		}
	}
	ctx, cancel := context.Background(), context.CancelFunc(func() {})
	if !deadline.IsZero() {
		ctx, cancel = context.WithDeadline(ctx, deadline)
	}
	c, err := e.db.Conn(ctx)
	if err != nil {
		cancel()
		return nil, err
	}
	gr := &group{ctx: ctx, cancel: cancel, c: c}
	gr.cond.L = &gr.mu
	ids := make([]int64, 0, len(rs))
	for _, r := range rs {
		ids = append(ids, lockID(r.key))
	}
	slices.SortFunc(ids, cmp.Compare)
	ids = slices.Compact(ids)
	gr.queue = append(gr.queue, gstmt{query: "BEGIN"})
	for i, id := range ids {
		if i == 0 && !deadline.IsZero() {
			ms := max(time.Until(deadline).Milliseconds(), 1)
			gr.queue = append(gr.queue, gstmt{query: `SELECT set_config('lock_timeout', $2, true), pg_advisory_xact_lock($1)`,
				args: []any{id, strconv.FormatInt(ms, 10) + "ms"}})
			continue
		}
		gr.queue = append(gr.queue, gstmt{query: `SELECT pg_advisory_xact_lock($1)`, args: []any{id}})
	}
	return gr, nil
}

// run runs r's function in the group (in r's caller's goroutine).
func (gr *group) run(r *groupReq) {
	r.pipe = &wpipe{g: gr}
	key := r.key
	r.tx = engine.NewPipelinedTx(r.pipe, func(ctx context.Context, c engine.Conn, k string) error {
		if k == key {
			return nil // taken with the group's
		}
		return errUnbatchable
	})
	r.err = r.fn(context.WithoutCancel(r.ctx), r.tx)
	gr.returned(r)
}

// apply waits for the writes' functions, then commits what they did or rolls
// it back, and says what each write's caller is to be told.
func (gr *group) apply(rs []*groupReq) []groupOutcome {
	defer gr.cancel()
	defer gr.c.Close()
	gr.mu.Lock()
	gr.running, gr.active = len(rs), len(rs)
	gr.mu.Unlock()
	for _, r := range rs {
		r.begin <- gr
	}
	gr.mu.Lock()
	for gr.running > 0 {
		gr.cond.Wait()
	}
	gr.mu.Unlock()
	outs := make([]groupOutcome, len(rs))
	// again rolls the group back and has each write run again alone; or,
	// when the group failed because its session did (the connection was
	// lost or ended, the deadline passed), answers each as a write alone
	// would have been answered.
	again := func() []groupOutcome {
		gr.rollback()
		for i, r := range rs {
			switch {
			case gr.err == nil || retryAlone(gr.err):
				outs[i] = groupOutcome{alone: true}
			case r.err != nil && !r.pipe.wrote && !errors.Is(r.err, errUnbatchable) && !errors.Is(r.err, gr.err):
				outs[i] = groupOutcome{err: interpret(r.err)}
			default:
				outs[i] = groupOutcome{err: interpret(gr.err)}
			}
		}
		return outs
	}
	if gr.err != nil {
		return again()
	}
	ok := 0
	for i, r := range rs {
		switch {
		case r.err == nil:
			ok++
		case r.pipe.wrote:
			// It failed after sending a change of its own.
			return again()
		case errors.Is(r.err, errUnbatchable):
			outs[i] = groupOutcome{alone: true}
		default:
			outs[i] = groupOutcome{err: interpret(r.err)}
		}
	}
	if ok == 0 {
		gr.rollback()
		return outs
	}
	// A check must be made before COMMIT is sent.
	if slices.ContainsFunc(gr.final, func(s gstmt) bool { return s.check != nil }) {
		gr.queue, gr.final = gr.final, nil
		if gr.send(); gr.err != nil {
			return again()
		}
	}
	var tag pgconn.CommandTag
	gr.queue, gr.final = append(gr.final, gstmt{query: "COMMIT", tag: &tag}), nil
	if gr.send(); gr.err == nil && tag.String() != "COMMIT" {
		// COMMIT of a transaction that had failed rolls it back.
		gr.err = fmt.Errorf("postgres: the transaction was rolled back (%s)", tag)
	}
	if gr.err != nil {
		// Refused by the database, nothing was committed: run again. Lost
		// on the way, whether COMMIT was done is not known: answered as a
		// write alone would be (again).
		return again()
	}
	for i, r := range rs {
		if r.err == nil && !outs[i].alone {
			r.tx.Committed()
		}
	}
	return outs
}

// retryAlone reports whether a group that failed with err may have its
// writes run again alone: the database refused a statement (an ERROR; the
// session lives on, the transaction is rolled back), or a check failed, but
// the group's session was not lost or ended.
func retryAlone(err error) bool {
	if errors.Is(err, driver.ErrBadConn) {
		return false
	}
	var pe *pgconn.PgError
	if errors.As(err, &pe) {
		return pe.Severity == "ERROR" && !strings.HasPrefix(pe.Code, "08") && !strings.HasPrefix(pe.Code, "57P")
	}
	_, ok := quota.AsError(err)
	return ok
}

// rollback ends the group's transaction without its changes, or discards
// the connection when it cannot.
func (gr *group) rollback() {
	_ = gr.c.Raw(func(dc any) error {
		conn := dc.(*stdlib.Conn).Conn()
		if gr.ctx.Err() != nil || conn.IsClosed() {
			return driver.ErrBadConn
		}
		if conn.PgConn().TxStatus() == 'I' {
			return nil
		}
		if _, err := conn.Exec(gr.ctx, "ROLLBACK"); err != nil || conn.PgConn().TxStatus() != 'I' {
			return driver.ErrBadConn
		}
		return nil
	})
}

// wait sends w's pending statements with the group's next round trip, made
// once no write of the group is running, and waits for its answers.
func (gr *group) wait(w *wpipe) error {
	gr.mu.Lock()
	defer gr.mu.Unlock()
	if gr.err != nil {
		return gr.err
	}
	gr.take(w, &gr.queue)
	gr.waiting++
	gr.active--
	round := gr.round
	if gr.active == 0 {
		gr.flushLocked()
	}
	for gr.round == round {
		gr.cond.Wait()
	}
	return gr.err
}

// returned: r's function returned; its last statements wait for the commit,
// unless it failed.
func (gr *group) returned(r *groupReq) {
	gr.mu.Lock()
	defer gr.mu.Unlock()
	if r.err == nil {
		gr.take(r.pipe, &gr.final)
	} else {
		r.pipe.pending = nil
	}
	gr.running--
	gr.active--
	if gr.active == 0 && gr.waiting > 0 {
		gr.flushLocked()
	}
	if gr.running == 0 {
		gr.cond.Broadcast()
	}
}

// take moves w's pending statements to *to.
func (gr *group) take(w *wpipe, to *[]gstmt) {
	for _, s := range w.pending {
		if s.read == nil {
			w.wrote = true
		}
	}
	*to = append(*to, w.pending...)
	w.pending = nil
}

// flushLocked makes the round trip that the waiting writes wait for, with
// gr.mu held (every write of the group is waiting or has returned), and
// wakes them.
func (gr *group) flushLocked() {
	if gr.err == nil {
		gr.send()
	}
	gr.active += gr.waiting
	gr.waiting = 0
	gr.round++
	gr.cond.Broadcast()
}

// send sends the queued statements in one round trip and gives each its
// answer; the first error fails the group (gr.err).
func (gr *group) send() {
	stmts := gr.queue
	gr.queue = nil
	err := gr.c.Raw(func(dc any) error {
		conn := dc.(*stdlib.Conn).Conn()
		b := &pgx.Batch{}
		for _, s := range stmts {
			b.Queue(s.query, s.args...)
		}
		br := conn.SendBatch(gr.ctx, b)
		err := errors.Join(answer(br, stmts), br.Close())
		if err != nil && conn.IsClosed() {
			return errors.Join(err, driver.ErrBadConn)
		}
		return err
	})
	if err != nil {
		gr.err = err
		for _, s := range stmts {
			if s.read != nil {
				s.read.fail(err)
			}
		}
	}
}

// wpipe is one write's pipeline in a group (engine.Pipeline).
type wpipe struct {
	g       *group
	pending []gstmt // not yet handed to the group
	wrote   bool    // a change of this write was handed to the group
}

var _ engine.Pipeline = (*wpipe)(nil)

func (w *wpipe) Defer(_ context.Context, check func(n int64) error, query string, args ...any) {
	w.pending = append(w.pending, gstmt{query: query, args: args, check: check})
}

func (w *wpipe) QueryRowLater(_ context.Context, query string, args ...any) func(dest ...any) error {
	return func(dest ...any) error {
		a := &ahead{dest: dest}
		w.pending = append(w.pending, gstmt{query: query, args: args, read: a})
		if err := w.g.wait(w); err != nil {
			a.fail(err)
		}
		a.fail(errors.New("postgres: a query was not run"))
		return a.err
	}
}

func (w *wpipe) QueryRowAhead(_ context.Context, dest []any, query string, args ...any) func() error {
	a := &ahead{dest: dest}
	w.pending = append(w.pending, gstmt{query: query, args: args, read: a})
	return func() error {
		if !a.done {
			if err := w.g.wait(w); err != nil {
				a.fail(err)
			}
			a.fail(errors.New("postgres: a query sent ahead was not run"))
		}
		return a.err
	}
}

func (w *wpipe) ExecContext(_ context.Context, query string, args ...any) (sql.Result, error) {
	if len(args) == 0 {
		return nil, errUnbatchable
	}
	var tag pgconn.CommandTag
	w.pending = append(w.pending, gstmt{query: query, args: args, tag: &tag})
	if err := w.g.wait(w); err != nil {
		return nil, err
	}
	return result(tag.RowsAffected()), nil
}

func (w *wpipe) QueryContext(context.Context, string, ...any) (*sql.Rows, error) {
	return nil, errUnbatchable
}

func (w *wpipe) QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row {
	// Not used through engine.Tx on a pipeline (QueryRowLater is); a row
	// that carries errUnbatchable, from a context already ended.
	cctx, cancel := context.WithCancelCause(ctx)
	cancel(errUnbatchable)
	return w.g.c.QueryRowContext(cctx, query, args...)
}
