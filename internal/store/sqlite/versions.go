package sqlite

import (
	"context"
	"database/sql"
	"maps"
	"sync"
	"sync/atomic"
	"time"

	"github.com/imagequota/imagequota/internal/store/engine"
)

// versions observes versions on a connection used for nothing else:
// its PRAGMA data_version changes whenever any other connection, of this
// process or another, commits. While it is unchanged the versions read before
// are current; once it changes they are forgotten and read again. The value
// means something only on the same connection, so the connection is pinned,
// and when it fails everything known is forgotten with it.
//
// Between observations, quick compares the WAL-index header (walHeader) with
// the one read just before the last observation: equal means that nothing
// was committed since, so what is known is current. An observation uses the
// same comparison instead of data_version whenever the header can be read.
// The header is only trusted while the pinned connection is open: SQLite
// keeps the -shm file (same inode, never truncated) for as long as any
// connection uses it.
type versions struct {
	mu    sync.Mutex // fetch (one at a time anyway) against close
	pool  *sql.DB
	conn  *sql.Conn
	pragm *sql.Stmt
	shm   string     // path of the -shm file
	hdr   *walHeader // mapped while conn is open; nil when unavailable
	// useHeader is false when the header must not be read at all.
	useHeader bool
	gen       int64 // data_version that made known current, or -1

	kmu    sync.RWMutex     // known, seen and seenOK; written under mu too
	known  map[string]int64 // current as of the observation that saw gen
	seen   [walHeaderSize]byte
	seenOK bool // seen was read before the observation that made known current
	// own are this process's last commits (committed).
	own     [16]ownCommit
	ownNext int
	// flight is the commit this process's writer is making, if any (begin,
	// end).
	flight atomic.Pointer[ownFlight]
}

// ownFlight is a commit of this process's writer in progress: it began at
// header before, and done is closed once it has been reported (or not).
type ownFlight struct {
	before [walHeaderSize]byte
	done   chan struct{}
}

// maxKnown bounds the versions kept; past it they are forgotten and read
// again as needed.
const maxKnown = 1 << 18

// flightWait bounds how long an observation waits for the writer to report
// its commit; past it, the observation reads again what it needs.
const flightWait = 5 * time.Millisecond

// begin announces a commit that began at header before;
// end must follow, after committed if it committed.
func (v *versions) begin(before *[walHeaderSize]byte) *ownFlight {
	f := &ownFlight{before: *before, done: make(chan struct{})}
	v.flight.Store(f)
	return f
}

// end closes f, the commit begun last.
func (v *versions) end(f *ownFlight) {
	v.flight.CompareAndSwap(f, nil)
	close(f.done)
}

// ownCommit is one commit of this process's writer that changed only
// scopes, and was the only commit from header before to header after.
type ownCommit struct {
	before, after [walHeaderSize]byte
	scopes        []string
	set           bool
}

// newVersions observes on pool (one connection); useHeader says whether it
// may read the WAL-index header of dbPath's -shm file.
func newVersions(pool *sql.DB, dbPath string, useHeader bool) *versions {
	return &versions{pool: pool, shm: dbPath + "-shm", useHeader: useHeader, gen: -1, known: map[string]int64{}}
}

// Fetch observes the versions of scopes (engine.Versions).
func (v *versions) Fetch(ctx context.Context, scopes []string) (map[string]int64, error) {
	return v.fetch(ctx, scopes)
}

// Quick is quick (engine.Versions).
func (v *versions) Quick(scopes []string) (map[string]int64, bool) { return v.quick(scopes) }

// quick returns the versions of scopes when the WAL-index header shows that
// nothing was committed since the last observation and all of them are known.
func (v *versions) quick(scopes []string) (map[string]int64, bool) {
	var now [walHeaderSize]byte
	v.kmu.RLock()
	defer v.kmu.RUnlock()
	if !v.seenOK || v.hdr == nil || !v.hdr.read(&now) || now != v.seen {
		return nil, false
	}
	out := make(map[string]int64, len(scopes))
	for _, s := range scopes {
		ver, ok := v.known[s]
		if !ok {
			return nil, false
		}
		out[s] = ver
	}
	return out, true
}

// header reads the WAL-index header into dst; false when it cannot.
func (v *versions) header(dst *[walHeaderSize]byte) bool {
	ok, _, _ := v.headerAndSeen(dst)
	return ok
}

// headerAndSeen reads the WAL-index header into dst (ok: it could) and
// returns with it the header at which what is known is current (seenOK: there
// is one), both under the same lock.
func (v *versions) headerAndSeen(dst *[walHeaderSize]byte) (ok bool, seen [walHeaderSize]byte, seenOK bool) {
	v.kmu.RLock()
	defer v.kmu.RUnlock()
	return v.hdr != nil && v.hdr.read(dst), v.seen, v.seenOK
}

// committed is told by this process's writer of one transaction it
// committed and of the scopes it changed (read from cache_touched): before
// was read once the transaction held the write lock, after once its COMMIT
// returned. When the header's change counter moved by exactly one, that
// commit was the only one in between (SQLite counts every commit, and every
// restart of the WAL, in it): whatever was current at before is still
// current at after, but for those scopes. That is kept (ownCommits)
// and applied by advance, now or once an observation in progress has ended.
// Otherwise nothing is kept, and the next observation finds the header
// changed as it would have anyway.
func (v *versions) committed(before, after *[walHeaderSize]byte, scopes []string) {
	if walChangeCounter(after) != walChangeCounter(before)+1 {
		return
	}
	v.kmu.Lock()
	defer v.kmu.Unlock()
	v.own[v.ownNext] = ownCommit{before: *before, after: *after, scopes: scopes, set: true}
	v.ownNext = (v.ownNext + 1) % len(v.own)
	v.advance()
}

// advance moves what is known forward over this process's own commits:
// while one of them started at the header that what is known is current at,
// its scopes are forgotten and what is known is current at its end. Called
// with kmu held.
func (v *versions) advance() {
	for moved := true; moved && v.seenOK; {
		moved = false
		for i := range v.own {
			c := &v.own[i]
			if c.set && c.before == v.seen {
				for _, s := range c.scopes {
					delete(v.known, s)
				}
				v.seen = c.after
				c.set, moved = false, true
			}
		}
	}
}

func (v *versions) fetch(ctx context.Context, scopes []string) (map[string]int64, error) {
	v.mu.Lock()
	defer v.mu.Unlock()
	out, err := v.observe(ctx, scopes)
	if err != nil {
		v.forget()
	}
	return out, err
}

func (v *versions) observe(ctx context.Context, scopes []string) (map[string]int64, error) {
	// Queries of the local file, bounded by busy_timeout like observeTimeout:
	// without a cancellation the driver needs no watcher goroutine per query.
	ctx = context.WithoutCancel(ctx)
	if v.conn == nil {
		conn, err := v.pool.Conn(ctx)
		if err != nil {
			return nil, err
		}
		st, err := conn.PrepareContext(ctx, `PRAGMA data_version`)
		if err != nil {
			conn.Close()
			return nil, err
		}
		v.conn, v.pragm = conn, st
	}
	// The header is read before anything else: a commit after this read
	// changes it, so the next quick call will not match and will observe
	// again.
	var hdr [walHeaderSize]byte
	hdrOK, seen, seenOK := v.headerAndSeen(&hdr)
	if f := v.flight.Load(); hdrOK && seenOK && hdr != seen && f != nil && f.before == seen {
		// This process's writer is committing from the header known to be
		// current: what changed is probably its commit, which it is about
		// to report (committed). Waiting for that, briefly, keeps what is
		// known instead of dropping it all.
		t := time.NewTimer(flightWait)
		select {
		case <-f.done:
		case <-t.C:
		}
		t.Stop()
		hdrOK, seen, seenOK = v.headerAndSeen(&hdr)
	}
	var changed bool
	if hdrOK {
		// The header tells whether anything was committed since the last
		// observation; data_version is then not needed (and, not being
		// followed, must not be trusted later: gen is reset).
		changed = !seenOK || hdr != seen
		v.gen = -1
	} else {
		var gen int64
		if err := v.pragm.QueryRowContext(ctx).Scan(&gen); err != nil {
			return nil, err
		}
		changed = gen != v.gen
		v.gen = gen
	}
	v.kmu.Lock()
	if v.hdr == nil && v.useHeader {
		// Mapped once the pinned connection has read, so that the -shm file
		// exists and is in use; read from the next observation on.
		v.hdr = mapWALHeader(v.shm)
	}
	v.seenOK = false
	if changed || len(v.known) >= maxKnown {
		clear(v.known)
	}
	v.kmu.Unlock()
	var missing []string
	for _, s := range scopes {
		if _, ok := v.known[s]; !ok {
			missing = append(missing, s)
		}
	}
	var got map[string]int64
	if len(missing) > 0 {
		var err error
		if got, err = engine.ReadVersions(ctx, v.conn, func(q string) string { return q }, missing); err != nil {
			return nil, err
		}
	}
	v.kmu.Lock()
	defer v.kmu.Unlock()
	maps.Copy(v.known, got)
	v.seen, v.seenOK = hdr, hdrOK
	out := make(map[string]int64, len(scopes))
	for _, s := range scopes {
		out[s] = v.known[s]
	}
	v.advance()
	return out, nil
}

// forget drops the connection and everything known through it.
func (v *versions) forget() {
	v.kmu.Lock()
	defer v.kmu.Unlock()
	if v.conn != nil {
		v.pragm.Close()
		v.conn.Close()
		v.conn, v.pragm = nil, nil
	}
	v.gen = -1
	clear(v.known)
	v.seenOK = false
}

// close releases the connection.
func (v *versions) close() error {
	v.mu.Lock()
	defer v.mu.Unlock()
	v.forget()
	err := v.pool.Close()
	// The header is kept through forget and closed last (see walHeader).
	v.kmu.Lock()
	defer v.kmu.Unlock()
	if v.hdr != nil {
		v.hdr.close()
		v.hdr = nil
	}
	return err
}
