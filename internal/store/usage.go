package store

import (
	"context"
	"database/sql"
	"maps"
	"slices"
	"time"

	"github.com/imagequota/imagequota/internal/quota"
)

// Usage returns an account's image count per location and the overrides that
// may apply to it now, from memory while neither changed. On a miss, or once
// changed, they are read together with their versions in one statement.
func (db *DB) Usage(ctx context.Context, accountID string) (quota.Usage, error) {
	c := db.cache
	c.mu.RLock()
	e, ok := c.usage[accountID]
	c.mu.RUnlock()
	if ok {
		vs, err := c.watch.observe(ctx, accountID, globalScope)
		if err == nil && e.account == vs[accountID] && e.global == vs[globalScope] {
			return activeUsage(copyUsage(e.u), db.now()), nil
		}
	}
	u, account, global, err := db.loadUsageVersioned(ctx, accountID, true)
	if err != nil {
		// The versioned read failed (a database without cache_versions,
		// say): answer uncached.
		u, err := db.loadUsage(ctx, accountID)
		return activeUsage(u, db.now()), err
	}
	putBounded(&c.mu, c.usage, accountID, usageEntry{u: copyUsage(u), account: account, global: global})
	return activeUsage(u, db.now()), nil
}

// activeUsage drops the overrides of u that no longer apply at now. The
// cache keeps every override with its expiry, expired or not: an override
// ending changes no row and so no version, and must stop applying at its
// expiry all the same.
func activeUsage(u quota.Usage, now time.Time) quota.Usage {
	u.Overrides = quota.ActiveOverrides(u.Overrides, now)
	return u
}

func copyUsage(u quota.Usage) quota.Usage {
	return quota.Usage{Counts: maps.Clone(u.Counts), Overrides: slices.Clone(u.Overrides)}
}

// loadUsage reads an account's image count per location and the overrides
// that may apply to it, in one statement.
func (db *DB) loadUsage(ctx context.Context, accountID string) (quota.Usage, error) {
	u, _, _, err := db.loadUsageVersioned(ctx, accountID, false)
	return u, err
}

// loadUsageVersioned is loadUsage; withVersions also reads, in the same
// statement (so as of the same snapshot), the versions of the account's usage
// scope and of the global one for the read cache (cache.go).
func (db *DB) loadUsageVersioned(ctx context.Context, accountID string, withVersions bool) (u quota.Usage, account, global int64, err error) {
	u = quota.Usage{Counts: map[string]int{}}
	q := `SELECT 0, '', location_id, COUNT(*), 0 FROM images WHERE account_id = ? GROUP BY location_id
		UNION ALL SELECT 1, account_id, location_id, max_count, COALESCE(expires_at, 0) FROM limits WHERE account_id IN (?, '')`
	args := []any{accountID, accountID}
	if withVersions {
		q += `
		UNION ALL SELECT 2, scope, '', version, 0 FROM cache_versions WHERE scope IN (?, '')`
		args = append(args, accountID)
	}
	rows, err := db.r.QueryContext(ctx, db.q(q), args...)
	if err != nil {
		return u, 0, 0, wrap("usage", db.e.Interpret(err))
	}
	defer rows.Close()
	for rows.Next() {
		var kind int
		var acct, loc string
		var n, exp int64
		if err := rows.Scan(&kind, &acct, &loc, &n, &exp); err != nil {
			return u, 0, 0, wrap("usage", err)
		}
		switch {
		case kind == 0:
			u.Counts[loc] = int(n)
		case kind == 1:
			u.Overrides = append(u.Overrides, quota.LimitOverride{AccountID: acct, LocationID: loc, MaxCount: int(n),
				ExpiresAt: expiry(sql.NullInt64{Int64: exp, Valid: true})})
		case acct == globalScope:
			global = n
		default:
			account = n
		}
	}
	return u, account, global, wrap("usage", db.e.Interpret(rows.Err()))
}

type queryer interface {
	QueryContext(ctx context.Context, q string, args ...any) (*sql.Rows, error)
}
