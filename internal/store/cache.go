package store

import (
	"context"
	"database/sql"
	"maps"
	"slices"
	"sync"
	"time"

	"imagequota/internal/quota"
)

// The read cache serves access keys, bearer tokens and each account's usage
// (image counts and the overrides that may apply) from memory, and is never
// stale: every read first observes the current change versions of the scopes
// its answer depends on (the account, and '' for limits that apply to every
// account), and uses a cached answer only when it was stamped with exactly
// those versions.
//
// The versions live in cache_versions and are bumped by triggers (migration
// 0002) in the transaction of every insert, update or delete of accounts,
// access_keys, tokens, limits and images, whichever process or replica
// writes. An entry is stamped with the versions observed *before* its data
// was read, so a write that commits between the two makes the stamp older
// than the data, which costs one reload and never serves stale data. An
// observation always starts after the read that needs it began, so a write
// acknowledged before a read — on any replica, or by "imagequota admin" — is
// seen by it.
//
// Observations are coalesced: while one is in flight, the reads that arrive
// wait for the next one, which serves all of them with a single query. On
// SQLite an observation is PRAGMA data_version on a connection of its own
// (unchanged when nothing was committed since the previous observation, in
// which case the versions already known are current), plus a read of
// cache_versions for the scopes not yet known when something was; on
// PostgreSQL it is one query of cache_versions.
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

type readCache struct {
	watch *versionWatch

	mu     sync.RWMutex
	keys   map[string]credEntry  // access key id →
	tokens map[string]credEntry  // bearer token →
	usage  map[string]usageEntry // account id →
}

type credEntry struct {
	cred    quota.Credential
	version int64 // of cred.AccountID
}

type usageEntry struct {
	u       quota.Usage
	account int64 // version of the account
	global  int64 // version of globalScope
}

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
// the key's account is unchanged.
func (db *DB) CachedAccessKeyCredential(ctx context.Context, keyID string) (quota.Credential, error) {
	return db.cachedCredential(ctx, db.cache.keys, keyID, db.AccessKeyCredential)
}

// CachedTokenCredential is TokenCredential served from memory while the
// token's account is unchanged.
func (db *DB) CachedTokenCredential(ctx context.Context, token string) (quota.Credential, error) {
	return db.cachedCredential(ctx, db.cache.tokens, token, db.TokenCredential)
}

func (db *DB) cachedCredential(ctx context.Context, m map[string]credEntry, k string,
	load func(ctx context.Context, k string) (quota.Credential, error)) (quota.Credential, error) {
	c := db.cache
	c.mu.RLock()
	e, ok := m[k]
	c.mu.RUnlock()
	account := ""
	if ok {
		account = e.cred.AccountID
	} else {
		// The account is learnt from a first, uncached read.
		cred, err := load(ctx, k)
		if err != nil {
			return cred, err
		}
		account = cred.AccountID
	}
	vs, err := c.watch.observe(ctx, account)
	if err != nil {
		return load(ctx, k)
	}
	if ok && vs[account] == e.version {
		return e.cred, nil
	}
	cred, err := load(ctx, k)
	if err != nil {
		return cred, err
	}
	if cred.AccountID == account {
		putBounded(&c.mu, m, k, credEntry{cred: cred, version: vs[account]})
	}
	return cred, nil
}

// Usage returns an account's image count per location and the overrides that
// may apply to it, from memory while neither changed.
func (db *DB) Usage(ctx context.Context, accountID string) (quota.Usage, error) {
	c := db.cache
	vs, err := c.watch.observe(ctx, accountID, globalScope)
	if err != nil {
		return db.loadUsage(ctx, accountID)
	}
	c.mu.RLock()
	e, ok := c.usage[accountID]
	c.mu.RUnlock()
	if ok && e.account == vs[accountID] && e.global == vs[globalScope] {
		return copyUsage(e.u), nil
	}
	u, err := db.loadUsage(ctx, accountID)
	if err != nil {
		return u, err
	}
	putBounded(&c.mu, c.usage, accountID, usageEntry{u: copyUsage(u), account: vs[accountID], global: vs[globalScope]})
	return u, nil
}

func copyUsage(u quota.Usage) quota.Usage {
	return quota.Usage{Counts: maps.Clone(u.Counts), Overrides: slices.Clone(u.Overrides)}
}

// versionWatch coalesces observations of change versions: a call waits for
// an observation that starts after the call did, and one observation serves
// every call that arrived while the previous one was in flight.
type versionWatch struct {
	fetch func(ctx context.Context, scopes []string) (map[string]int64, error)

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
type sqliteVersions struct {
	mu    sync.Mutex // fetch (one at a time anyway) against close
	pool  *sql.DB
	conn  *sql.Conn
	pragm *sql.Stmt

	gen   int64
	known map[string]int64 // current as of the observation that saw gen
}

func newSQLiteVersions(pool *sql.DB) *sqliteVersions {
	return &sqliteVersions{pool: pool, gen: -1, known: map[string]int64{}}
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
	var gen int64
	if err := v.pragm.QueryRowContext(ctx).Scan(&gen); err != nil {
		return nil, err
	}
	if gen != v.gen || len(v.known) >= maxCacheEntries {
		v.gen = gen
		clear(v.known)
	}
	var missing []string
	for _, s := range scopes {
		if _, ok := v.known[s]; !ok {
			missing = append(missing, s)
		}
	}
	if len(missing) > 0 {
		got, err := readVersions(ctx, v.conn, func(q string) string { return q }, missing)
		if err != nil {
			return nil, err
		}
		maps.Copy(v.known, got)
	}
	out := make(map[string]int64, len(scopes))
	for _, s := range scopes {
		out[s] = v.known[s]
	}
	return out, nil
}

// forget drops the connection and everything known through it.
func (v *sqliteVersions) forget() {
	if v.conn != nil {
		v.pragm.Close()
		v.conn.Close()
		v.conn, v.pragm = nil, nil
	}
	v.gen = -1
	clear(v.known)
}

// close releases the connection.
func (v *sqliteVersions) close() error {
	v.mu.Lock()
	defer v.mu.Unlock()
	v.forget()
	return v.pool.Close()
}
