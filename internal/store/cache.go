package store

import (
	"context"
	"maps"
	"slices"
	"sync"
	"time"

	"github.com/imagequota/imagequota/internal/quota"
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
// wait for the next one, which serves all of them with a single observation.
// How an observation is made is the engine's (engine.Versions): a query of
// cache_versions, or less when the engine can tell that nothing was
// committed since the previous one; and an engine that can tell, without any
// query, that the versions it knows are current answers Quick, during the
// call and so after it began.
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

// newReadCache makes a cache whose versions come from fetch, or from quick
// when it can tell.
func newReadCache(fetch func(ctx context.Context, scopes []string) (map[string]int64, error),
	quick func(scopes []string) (map[string]int64, bool), spacing time.Duration) *readCache {
	return &readCache{
		watch:  &versionWatch{fetch: fetch, quick: quick, spacing: spacing},
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

// versionWatch coalesces observations of change versions: a call waits for
// an observation that starts after the call did, and one observation serves
// every call that arrived while the previous one was in flight. quick is
// asked first, in the call: it answers only when it can tell, without a
// query, that the versions it knows are current.
type versionWatch struct {
	fetch func(ctx context.Context, scopes []string) (map[string]int64, error)
	quick func(scopes []string) (map[string]int64, bool)
	// spacing, when above 0, is the least time from the start of one
	// observation to the start of the next (engine.Spaced).
	spacing time.Duration

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
	if vs, ok := w.quick(scopes); ok {
		return vs, nil
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
		start := time.Now()
		ctx, cancel := context.WithTimeout(context.Background(), observeTimeout)
		r.vals, r.err = w.fetch(ctx, slices.Collect(maps.Keys(r.scopes)))
		cancel()
		close(r.done)
		// The calls that arrive meanwhile gather for the next round.
		if d := w.spacing - time.Since(start); d > 0 {
			time.Sleep(d)
		}
		w.mu.Lock()
		r = w.next
		w.next = nil
		w.running = r != nil
		w.mu.Unlock()
	}
}
