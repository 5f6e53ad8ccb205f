package store

import (
	"context"
	"strings"

	"github.com/imagequota/imagequota/internal/quota"
)

// The pairs closest to their limits are ranked in one statement, whose
// answer is bounded however many accounts there are: the database groups
// the images, resolves each pair's limit as quota.ResolveLimit does and
// ranks them; nothing is read whole into memory. The per-location figures
// are QuotaFigures', the ones /metrics serves.

// pairLimitsSQL is every (account, location) pair with images, with its
// count n, each override that applies there now (m1/e1 account+location,
// m2/e2 account, m3/e3 location, m4/e4 default) and the limit in effect,
// lim: the most specific of them, or the server's default (its first
// argument). The four instants of overrideJoins follow.
var pairLimitsSQL = `SELECT u.account_id AS account_id, u.location_id AS location_id, u.n AS n,
		l1.max_count AS m1, l1.expires_at AS e1, l2.max_count AS m2, l2.expires_at AS e2,
		l3.max_count AS m3, l3.expires_at AS e3, l4.max_count AS m4, l4.expires_at AS e4,
		COALESCE(l1.max_count, l2.max_count, l3.max_count, l4.max_count, ?) AS lim
	FROM (SELECT account_id, location_id, COUNT(*) AS n FROM images GROUP BY account_id, location_id) u` + overrideJoins

// closestSQL orders pairLimitsSQL by utilization, highest first (images
// under a limit of 0 before all), then by account and location; the page
// size follows the arguments of pairLimitsSQL. The filter is spliced in at
// the marker.
var closestSQL = `SELECT p.account_id, p.location_id, p.n, p.m1, p.e1, p.m2, p.e2, p.m3, p.e3, p.m4, p.e4
	FROM (` + pairLimitsSQL + `) p/*where*/
	ORDER BY CASE WHEN p.lim <= 0 THEN CAST(1e18 AS DOUBLE PRECISION) ELSE CAST(p.n AS DOUBLE PRECISION) / p.lim END DESC,
		p.account_id, p.location_id
	LIMIT ?`

// ClosestToLimit returns, in one statement, the n (account, location)
// pairs with images whose count is the highest fraction of the limit in
// effect there, highest first, each with that limit and where it comes
// from; only those in locationID when it is set. defaultMax is the
// server's configured default limit.
func (db *DB) ClosestToLimit(ctx context.Context, defaultMax, n int, locationID string) ([]quota.UsageReportRow, error) {
	args := append([]any{defaultMax}, nows(micros(db.now()))...)
	where := ""
	if locationID != "" {
		where = ` WHERE p.location_id = ?`
		args = append(args, locationID)
	}
	args = append(args, max(n, 0))
	rows, err := db.r.QueryContext(ctx, db.q(strings.Replace(closestSQL, "/*where*/", where, 1)), args...)
	if err != nil {
		return nil, wrap("closest to limit", db.e.Interpret(err))
	}
	defer rows.Close()
	out := []quota.UsageReportRow{}
	for rows.Next() {
		var r quota.UsageReportRow
		var count int64
		var ov overrideScan
		if err := rows.Scan(append([]any{&r.AccountID, &r.LocationID, &count}, ov.dest()...)...); err != nil {
			return nil, wrap("closest to limit", err)
		}
		r.Count = int(count)
		r.Effective = quota.EffectiveLimit(ov.overrides(r.AccountID, r.LocationID), r.AccountID, r.LocationID, defaultMax)
		out = append(out, r)
	}
	return out, wrap("closest to limit", db.e.Interpret(rows.Err()))
}
