package store

import (
	"context"
	"database/sql"

	"github.com/imagequota/imagequota/internal/quota"
)

// ownOverride is the condition, on a row with an account_id, that the
// account has an override of its own in effect at the instant given as its
// one argument.
const ownOverride = `EXISTS (SELECT 1 FROM limits l WHERE l.account_id = p.account_id AND (l.expires_at IS NULL OR l.expires_at > ?))`

// pairCountsSQL reads, in one statement, what the figures of every location
// are worked out from (quota.PairCounts): the overrides in effect (kind 1);
// the pairs of the accounts without an override of their own as a
// histogram of (location, count) (kind 0); and the pairs of the accounts
// with one, one by one (kind 2). Its rows grow with the locations, the
// counts and the overrides, not with the accounts; the limits themselves
// are resolved by quota.ResolveLimit, as for an admission.
var pairCountsSQL = `SELECT 1, account_id, location_id, max_count, COALESCE(expires_at, 0) FROM limits
	WHERE expires_at IS NULL OR expires_at > ?
	UNION ALL
	SELECT 0, '', p.location_id, p.n, COUNT(*) FROM (SELECT account_id, location_id, COUNT(*) AS n FROM images GROUP BY account_id, location_id) p
	WHERE NOT ` + ownOverride + `
	GROUP BY p.location_id, p.n
	UNION ALL
	SELECT 2, p.account_id, p.location_id, p.n, 1 FROM (SELECT account_id, location_id, COUNT(*) AS n FROM images GROUP BY account_id, location_id) p
	WHERE ` + ownOverride

// PairCounts reads, in one statement, what the quota figures of every
// location are worked out from (quota.PairCounts.Figures).
func (db *DB) PairCounts(ctx context.Context) (quota.PairCounts, error) {
	now := micros(db.now())
	rows, err := db.r.QueryContext(ctx, db.q(pairCountsSQL), now, now, now)
	if err != nil {
		return quota.PairCounts{}, wrap("pair counts", db.e.Interpret(err))
	}
	defer rows.Close()
	var p quota.PairCounts
	for rows.Next() {
		var kind int
		var acct, loc string
		var n, m int64
		if err := rows.Scan(&kind, &acct, &loc, &n, &m); err != nil {
			return quota.PairCounts{}, wrap("pair counts", err)
		}
		switch kind {
		case 1:
			p.Overrides = append(p.Overrides, quota.LimitOverride{AccountID: acct, LocationID: loc, MaxCount: int(n),
				ExpiresAt: expiry(sql.NullInt64{Int64: m, Valid: true})})
		case 0:
			p.Shared = append(p.Shared, quota.CountBucket{LocationID: loc, Count: int(n), Accounts: m})
		default:
			p.Own = append(p.Own, quota.LocationUsage{AccountID: acct, LocationID: loc, Count: int(n)})
		}
	}
	return p, wrap("pair counts", db.e.Interpret(rows.Err()))
}

// QuotaFigures returns the quota figures of every location that has images,
// and of each of locations (with zeros where none has), with fallback as
// the limit where no override applies.
func (db *DB) QuotaFigures(ctx context.Context, locations []string, fallback int) ([]quota.LocationFigures, error) {
	p, err := db.PairCounts(ctx)
	if err != nil {
		return nil, err
	}
	return p.Figures(locations, fallback), nil
}
