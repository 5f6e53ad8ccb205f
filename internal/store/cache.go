package store

import (
	"context"
	"database/sql"
	"maps"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"imagequota/internal/quota"
)

// The read cache serves access keys, bearer tokens and each account's usage
// (image counts and the overrides that may apply) from memory, and is never
// stale: every read first observes the current change versions of the scopes
// its answer depends on, and uses a cached answer only when it was stamped
// with exactly those versions. A credential depends on its account's
// credential scope ("cred:" + account id: accounts, access_keys, tokens);
// usage on the account's usage scope (the account id: images, limits) and on
// '' (limits that apply to every account), so that image writes, the
// frequent ones, leave cached credentials valid.
//
// The versions live in cache_versions and are bumped by triggers (migration
// 0002) in the transaction of every insert, update or delete of accounts,
// access_keys, tokens, limits and images, whichever process or replica
// writes. An entry is stamped with the versions read in the same statement
// as its data (one snapshot), so the stamp is exactly as old as the data; a
// miss therefore costs that one statement and no observation. A cached entry
// is used only after an observation that starts after the read that needs it
// began, so a write acknowledged before a read — on any replica, or by
// "imagequota admin" — is seen by it.
//
// Observations are coalesced: while one is in flight, the reads that arrive
// wait for the next one, which serves all of them with a single query. On
// SQLite an observation is PRAGMA data_version on a connection of its own
// (unchanged when nothing was committed since the previous observation, in
// which case the versions already known are current), plus a read of
// cache_versions for the scopes not yet known when something was; on
// PostgreSQL it is one query of cache_versions.
//
// On SQLite most reads need no query at all: the WAL-index header in the
// database's -shm file, which every commit by any connection of any process
// rewrites before its COMMIT returns, is read from a read-only mapping
// (shm_linux.go). When it holds exactly the bytes it held just before the
// last observation, nothing was committed since, and the versions known are
// current; any difference, or anything unusual, falls back to an
// observation. The header is read during the call, so after it began.
//
// Admission (CreateImage) never uses the cache: it counts inside its
// transaction.

// maxCacheEntries bounds each of the cache's maps; past it the map is
// emptied and refills with what is read.
const maxCacheEntries = 1 << 18

// observeTimeout bounds one observation, which serves several reads.
const observeTimeout = 10 * time.Second

// globalScope is the version scope of overrides that apply to every account.
const globalScope = ""

// credScope is the version scope of an account's credentials (its row, its
// access keys and its tokens); the account id itself is its usage scope.
func credScope(accountID string) string { return "cred:" + accountID }

type readCache struct {
	watch *versionWatch

	mu     sync.RWMutex
	keys   map[string]credEntry  // access key id →
	tokens map[string]credEntry  // bearer token →
	usage  map[string]usageEntry // account id →
}

type credEntry struct {
	cred    quota.Credential
	version int64 // of credScope(cred.AccountID)
}

type usageEntry struct {
	u       quota.Usage
	account int64 // version of the account
	global  int64 // version of globalScope
}

// newReadCache makes a cache whose versions come from fetch.
func newReadCache(fetch func(ctx context.Context, scopes []string) (map[string]int64, error)) *readCache {
	return &readCache{
		watch:  &versionWatch{fetch: fetch},
		keys:   map[string]credEntry{},
		tokens: map[string]credEntry{},
		usage:  map[string]usageEntry{},
	}
}

func putBounded[V any](mu *sync.RWMutex, m map[string]V, k string, v V) {
	mu.Lock()
	if len(m) >= maxCacheEntries {
		clear(m)
	}
	m[k] = v
	mu.Unlock()
}

// CachedAccessKeyCredential is AccessKeyCredential served from memory while
// the key's account's credentials are unchanged.
func (db *DB) CachedAccessKeyCredential(ctx context.Context, keyID string) (quota.Credential, error) {
	return db.cachedCredential(ctx, db.cache.keys, keyID, db.accessKeyCredential)
}

// CachedTokenCredential is TokenCredential served from memory while the
// token's account's credentials are unchanged.
func (db *DB) CachedTokenCredential(ctx context.Context, token string) (quota.Credential, error) {
	return db.cachedCredential(ctx, db.cache.tokens, token, db.tokenCredential)
}

// cachedCredential serves a cached credential when its account's credential
// scope still has the version it was stamped with; otherwise (or on a miss)
// it reads the credential together with that version, in one statement, so
// that the stamp is exactly as old as the data.
func (db *DB) cachedCredential(ctx context.Context, m map[string]credEntry, k string,
	load func(ctx context.Context, k string, withVersion bool) (quota.Credential, int64, error)) (quota.Credential, error) {
	c := db.cache
	c.mu.RLock()
	e, ok := m[k]
	c.mu.RUnlock()
	if ok {
		scope := credScope(e.cred.AccountID)
		if vs, err := c.watch.observe(ctx, scope); err == nil && vs[scope] == e.version {
			return e.cred, nil
		}
	}
	cred, ver, err := load(ctx, k, true)
	if err != nil {
		if _, ok := quota.AsError(err); ok {
			return cred, err
		}
		// The versioned read failed (a database without cache_versions,
		// say): answer uncached.
		cred, _, err = load(ctx, k, false)
		return cred, err
	}
	putBounded(&c.mu, m, k, credEntry{cred: cred, version: ver})
	return cred, nil
}

// Usage returns an account's image count per location and the overrides that
// may apply to it, from memory while neither changed. On a miss, or once
// changed, they are read together with their versions in one statement.
func (db *DB) Usage(ctx context.Context, accountID string) (quota.Usage, error) {
	c := db.cache
	c.mu.RLock()
	e, ok := c.usage[accountID]
	c.mu.RUnlock()
	if ok {
		vs, err := c.watch.observe(ctx, accountID, globalScope)
		if err == nil && e.account == vs[accountID] && e.global == vs[globalScope] {
			return copyUsage(e.u), nil
		}
	}
	u, account, global, err := db.loadUsageVersioned(ctx, accountID, true)
	if err != nil {
		// The versioned read failed (a database without cache_versions,
		// say): answer uncached.
		return db.loadUsage(ctx, accountID)
	}
	putBounded(&c.mu, c.usage, accountID, usageEntry{u: copyUsage(u), account: account, global: global})
	return u, nil
}

func copyUsage(u quota.Usage) quota.Usage {
	return quota.Usage{Counts: maps.Clone(u.Counts), Overrides: slices.Clone(u.Overrides)}
}

// versionWatch coalesces observations of change versions: a call waits for
// an observation that starts after the call did, and one observation serves
// every call that arrived while the previous one was in flight. quick, when
// set, is asked first, in the call: it answers only when it can tell,
// without a query, that the versions it knows are current.
type versionWatch struct {
	fetch func(ctx context.Context, scopes []string) (map[string]int64, error)
	quick func(scopes []string) (map[string]int64, bool)

	mu      sync.Mutex
	running bool
	next    *vround // gathering calls until the running round ends
}

type vround struct {
	scopes map[string]struct{}
	done   chan struct{}
	vals   map[string]int64
	err    error
}

// observe returns the current versions of scopes (0 for a scope never changed).
func (w *versionWatch) observe(ctx context.Context, scopes ...string) (map[string]int64, error) {
	if w.quick != nil {
		if vs, ok := w.quick(scopes); ok {
			return vs, nil
		}
	}
	w.mu.Lock()
	if w.next == nil {
		w.next = &vround{scopes: map[string]struct{}{}, done: make(chan struct{})}
	}
	r := w.next
	for _, s := range scopes {
		r.scopes[s] = struct{}{}
	}
	start := !w.running
	if start {
		w.running = true
		w.next = nil
	}
	w.mu.Unlock()
	if start {
		// In a goroutine of its own: the round serves other calls too, and
		// this one must be free to leave when its ctx ends.
		go w.run(r)
	}
	select {
	case <-r.done:
		return r.vals, r.err
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

// run performs round r, then each next round that calls gathered for.
func (w *versionWatch) run(r *vround) {
	for r != nil {
		ctx, cancel := context.WithTimeout(context.Background(), observeTimeout)
		r.vals, r.err = w.fetch(ctx, slices.Collect(maps.Keys(r.scopes)))
		cancel()
		close(r.done)
		w.mu.Lock()
		r = w.next
		w.next = nil
		w.running = r != nil
		w.mu.Unlock()
	}
}

// readVersions reads the versions of scopes from cache_versions.
func readVersions(ctx context.Context, qr queryer, rebind func(string) string, scopes []string) (map[string]int64, error) {
	out := make(map[string]int64, len(scopes))
	for _, s := range scopes {
		out[s] = 0
	}
	for len(scopes) > 0 {
		n := min(len(scopes), 500)
		rows, err := qr.QueryContext(ctx, rebind(`SELECT scope, version FROM cache_versions WHERE scope IN (`+placeholders(n)+`)`), anySlice(scopes[:n])...)
		if err != nil {
			return nil, err
		}
		for rows.Next() {
			var s string
			var v int64
			if err := rows.Scan(&s, &v); err != nil {
				rows.Close()
				return nil, err
			}
			out[s] = v
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return nil, err
		}
		scopes = scopes[n:]
	}
	return out, nil
}

// postgresVersions observes versions with one query.
func postgresVersions(pool *sql.DB) func(ctx context.Context, scopes []string) (map[string]int64, error) {
	return func(ctx context.Context, scopes []string) (map[string]int64, error) {
		return readVersions(ctx, pool, postgresDialect{}.rebind, scopes)
	}
}

// sqliteVersions observes versions on a connection used for nothing else:
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
type sqliteVersions struct {
	mu    sync.Mutex // fetch (one at a time anyway) against close
	pool  *sql.DB
	conn  *sql.Conn
	pragm *sql.Stmt
	shm   string     // path of the -shm file
	hdr   *walHeader // mapped while conn is open; nil when unavailable
	gen   int64      // data_version that made known current, or -1

	kmu    sync.RWMutex     // known, seen and seenOK; written under mu too
	known  map[string]int64 // current as of the observation that saw gen
	seen   [walHeaderSize]byte
	seenOK bool // seen was read before the observation that made known current
	// own are this process's last commits of scoped writes (committed).
	own     [16]ownCommit
	ownNext int
	// flight is the commit of scoped writes this process's writer is
	// making, if any (begin, end).
	flight atomic.Pointer[ownFlight]
}

// ownFlight is a commit of this process's writer in progress: it began at
// header before, and done is closed once it has been reported (or not).
type ownFlight struct {
	before [walHeaderSize]byte
	done   chan struct{}
}

// flightWait bounds how long an observation waits for the writer to report
// its commit; past it, the observation reads again what it needs.
const flightWait = 5 * time.Millisecond

// begin announces a commit of scoped writes that began at header before;
// end must follow, after committed if it committed.
func (v *sqliteVersions) begin(before *[walHeaderSize]byte) *ownFlight {
	f := &ownFlight{before: *before, done: make(chan struct{})}
	v.flight.Store(f)
	return f
}

// end closes f, the commit begun last.
func (v *sqliteVersions) end(f *ownFlight) {
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

func newSQLiteVersions(pool *sql.DB, dbPath string) *sqliteVersions {
	return &sqliteVersions{pool: pool, shm: dbPath + "-shm", gen: -1, known: map[string]int64{}}
}

// quick returns the versions of scopes when the WAL-index header shows that
// nothing was committed since the last observation and all of them are known.
func (v *sqliteVersions) quick(scopes []string) (map[string]int64, bool) {
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
func (v *sqliteVersions) header(dst *[walHeaderSize]byte) bool {
	ok, _, _ := v.headerAndSeen(dst)
	return ok
}

// headerAndSeen reads the WAL-index header into dst (ok: it could) and
// returns with it the header at which what is known is current (seenOK: there
// is one), both under the same lock.
func (v *sqliteVersions) headerAndSeen(dst *[walHeaderSize]byte) (ok bool, seen [walHeaderSize]byte, seenOK bool) {
	v.kmu.RLock()
	defer v.kmu.RUnlock()
	return v.hdr != nil && v.hdr.read(dst), v.seen, v.seenOK
}

// committed is told by this process's writer of one transaction it
// committed, made of writes that each name the scopes they change: before
// was read once the transaction held the write lock, after once its COMMIT
// returned. When the header's change counter moved by exactly one, that
// commit was the only one in between (SQLite counts every commit, and every
// restart of the WAL, in it): whatever was current at before is still
// current at after, but for the batch's scopes. That is kept (ownCommits)
// and applied by advance, now or once an observation in progress has ended.
// Otherwise nothing is kept, and the next observation finds the header
// changed as it would have anyway.
func (v *sqliteVersions) committed(before, after *[walHeaderSize]byte, batch []*writeReq) {
	if walChangeCounter(after) != walChangeCounter(before)+1 {
		return
	}
	var scopes []string
	for _, r := range batch {
		scopes = append(scopes, r.scopes...)
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
func (v *sqliteVersions) advance() {
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

func (v *sqliteVersions) fetch(ctx context.Context, scopes []string) (map[string]int64, error) {
	v.mu.Lock()
	defer v.mu.Unlock()
	out, err := v.observe(ctx, scopes)
	if err != nil {
		v.forget()
	}
	return out, err
}

func (v *sqliteVersions) observe(ctx context.Context, scopes []string) (map[string]int64, error) {
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
	if v.hdr == nil {
		// Mapped once the pinned connection has read, so that the -shm file
		// exists and is in use; read from the next observation on.
		v.hdr = mapWALHeader(v.shm)
	}
	v.seenOK = false
	if changed || len(v.known) >= maxCacheEntries {
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
		if got, err = readVersions(ctx, v.conn, func(q string) string { return q }, missing); err != nil {
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
func (v *sqliteVersions) forget() {
	v.kmu.Lock()
	defer v.kmu.Unlock()
	if v.hdr != nil {
		v.hdr.close()
		v.hdr = nil
	}
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
func (v *sqliteVersions) close() error {
	v.mu.Lock()
	defer v.mu.Unlock()
	v.forget()
	return v.pool.Close()
}
