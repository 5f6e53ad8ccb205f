package store

import (
	"context"
	"database/sql"
	"math"
	"strings"

	"imagequota/internal/quota"
)

// overrideJoins joins, to each row of u, every override that applies to its
// (account_id, location_id) at the instant given as each join's argument:
// l1 account+location, l2 account, l3 location, l4 default.
var overrideJoins = `
	LEFT JOIN limits l1 ON l1.account_id = u.account_id AND l1.location_id = u.location_id AND ` + activeOn("l1") + `
	LEFT JOIN limits l2 ON l2.account_id = u.account_id AND l2.location_id = '' AND ` + activeOn("l2") + `
	LEFT JOIN limits l3 ON l3.account_id = '' AND l3.location_id = u.location_id AND ` + activeOn("l3") + `
	LEFT JOIN limits l4 ON l4.account_id = '' AND l4.location_id = '' AND ` + activeOn("l4")

// overrideColumns are the limit and expiry of each joined override.
const overrideColumns = `l1.max_count, l1.expires_at, l2.max_count, l2.expires_at, l3.max_count, l3.expires_at, l4.max_count, l4.expires_at`

// usagePageSQL reads a page of (account, location) pairs with their image
// count and each override that applies there now (NULL when none). The pairs
// come from the images index in its order, so a page after a key starts
// where the previous one stopped; the filters are spliced in at the marker.
var usagePageSQL = `SELECT u.account_id, u.location_id, u.n, ` + overrideColumns + `
	FROM (SELECT account_id, location_id, COUNT(*) AS n FROM images
		WHERE account_id >= ? AND (account_id > ? OR location_id > ?)/*filters*/
		GROUP BY account_id, location_id
		HAVING COUNT(*) >= ?
		ORDER BY account_id, location_id/*limit*/) u` + overrideJoins + `
	ORDER BY u.account_id, u.location_id`

// overrideScan receives the override columns of a row.
type overrideScan struct {
	max [4]sql.NullInt64
	exp [4]sql.NullInt64
}

func (o *overrideScan) dest() []any {
	return []any{&o.max[0], &o.exp[0], &o.max[1], &o.exp[1], &o.max[2], &o.exp[2], &o.max[3], &o.exp[3]}
}

// overrides are the overrides scanned for (accountID, locationID).
func (o *overrideScan) overrides(accountID, locationID string) []quota.LimitOverride {
	var out []quota.LimitOverride
	for k, scope := range [4][2]string{{accountID, locationID}, {accountID, ""}, {"", locationID}, {"", ""}} {
		if o.max[k].Valid {
			out = append(out, quota.LimitOverride{AccountID: scope[0], LocationID: scope[1], MaxCount: int(o.max[k].Int64), ExpiresAt: expiry(o.exp[k])})
		}
	}
	return out
}

// nows repeats the instant now for each override join.
func nows(now int64) []any { return []any{now, now, now, now} }

// ListUsage returns, in one statement, a page of the (account, location)
// pairs that have images, each with its count and the overrides that apply
// there now, for quota.ResolveLimit. Pass the last pair of a page as
// f.AfterAccountID and f.AfterLocationID to read the next one; a page shorter
// than f.Limit is the last.
func (db *DB) ListUsage(ctx context.Context, f quota.UsageFilter) ([]quota.LocationUsage, error) {
	afterLoc := f.AfterLocationID
	if f.AfterAccountID == "" {
		// Every pair is after ("", ""): no account id is empty.
		afterLoc = ""
	}
	args := []any{f.AfterAccountID, f.AfterAccountID, afterLoc}
	var filters strings.Builder
	if f.AccountID != "" {
		filters.WriteString(` AND account_id = ?`)
		args = append(args, f.AccountID)
	}
	if f.LocationID != "" {
		filters.WriteString(` AND location_id = ?`)
		args = append(args, f.LocationID)
	}
	args = append(args, max(f.MinCount, 1))
	limit := ""
	if f.Limit > 0 {
		limit = ` LIMIT ?`
		args = append(args, f.Limit)
	}
	args = append(args, nows(micros(db.now()))...)
	q := strings.Replace(strings.Replace(usagePageSQL, "/*filters*/", filters.String(), 1), "/*limit*/", limit, 1)
	rows, err := db.r.QueryContext(ctx, db.q(q), args...)
	if err != nil {
		return nil, wrap("list usage", db.e.Interpret(err))
	}
	defer rows.Close()
	out := []quota.LocationUsage{}
	for rows.Next() {
		var u quota.LocationUsage
		var n int64
		var ov overrideScan
		if err := rows.Scan(append([]any{&u.AccountID, &u.LocationID, &n}, ov.dest()...)...); err != nil {
			return nil, wrap("list usage", err)
		}
		u.Count = int(n)
		u.Overrides = ov.overrides(u.AccountID, u.LocationID)
		out = append(out, u)
	}
	return out, wrap("list usage", db.e.Interpret(rows.Err()))
}

// usageReportSQL reads one page of the (account, location) pairs that have
// images, filtered, with the limit in effect (mx: the most specific override
// that applies now, else the server default), ordered, and with the number
// of pairs selected before paging (COUNT(*) OVER ()). The filters and the
// order are spliced in at the markers.
var usageReportSQL = `SELECT account_id, location_id, n, m1, e1, m2, e2, m3, e3, m4, e4, COUNT(*) OVER () FROM (
	SELECT u.account_id, u.location_id, u.n,
		l1.max_count AS m1, l1.expires_at AS e1, l2.max_count AS m2, l2.expires_at AS e2,
		l3.max_count AS m3, l3.expires_at AS e3, l4.max_count AS m4, l4.expires_at AS e4,
		COALESCE(l1.max_count, l2.max_count, l3.max_count, l4.max_count, ?) AS mx
	FROM (SELECT account_id, location_id, COUNT(*) AS n FROM images WHERE 1 = 1/*filters*/
		GROUP BY account_id, location_id) u` + overrideJoins + `
	) r/*where*/
	ORDER BY /*order*/
	LIMIT ? OFFSET ?`

// utilizationOrder orders by count over limit, highest first; a limit of 0
// (with images: over it however few) first of all.
const utilizationOrder = `CASE WHEN mx = 0 THEN 1 ELSE 0 END DESC,
	CASE WHEN mx = 0 THEN 0 ELSE CAST(n AS DOUBLE PRECISION) / mx END DESC, account_id, location_id`

// UsageReport returns, in one statement, a page of the (account, location)
// pairs that have images, selected and ordered as f says, each with the
// limit in effect there and where it comes from, and how many pairs are
// selected in all.
func (db *DB) UsageReport(ctx context.Context, f quota.UsageReportFilter) ([]quota.UsageReportRow, int, error) {
	args := []any{f.DefaultMax}
	var filters strings.Builder
	if len(f.AccountIDs) > 0 {
		filters.WriteString(` AND account_id IN (` + placeholders(len(f.AccountIDs)) + `)`)
		args = append(args, anySlice(f.AccountIDs)...)
	}
	if len(f.LocationIDs) > 0 {
		filters.WriteString(` AND location_id IN (` + placeholders(len(f.LocationIDs)) + `)`)
		args = append(args, anySlice(f.LocationIDs)...)
	}
	args = append(args, nows(micros(db.now()))...)
	where := ""
	if f.MinUtilization > 0 {
		// count >= min * limit; a limit of 0 is exceeded by any image.
		where = ` WHERE n >= CAST(? AS DOUBLE PRECISION) * mx`
		args = append(args, f.MinUtilization)
	}
	order := utilizationOrder
	if f.OrderBy == quota.OrderByAccountID {
		order = `account_id, location_id`
	}
	limit := f.Limit
	if limit <= 0 {
		limit = math.MaxInt32 // every pair: no store holds more
	}
	args = append(args, limit, max(f.Offset, 0))
	q := strings.NewReplacer("/*filters*/", filters.String(), "/*where*/", where, "/*order*/", order).Replace(usageReportSQL)
	rows, err := db.r.QueryContext(ctx, db.q(q), args...)
	if err != nil {
		return nil, 0, wrap("usage report", db.e.Interpret(err))
	}
	defer rows.Close()
	out := []quota.UsageReportRow{}
	total := 0
	for rows.Next() {
		var r quota.UsageReportRow
		var n, all int64
		var ov overrideScan
		if err := rows.Scan(append(append([]any{&r.AccountID, &r.LocationID, &n}, ov.dest()...), &all)...); err != nil {
			return nil, 0, wrap("usage report", err)
		}
		r.Count, total = int(n), int(all)
		r.Effective = quota.EffectiveLimit(ov.overrides(r.AccountID, r.LocationID), r.AccountID, r.LocationID, f.DefaultMax)
		out = append(out, r)
	}
	if err := rows.Err(); err != nil {
		return nil, 0, wrap("usage report", db.e.Interpret(err))
	}
	if len(out) == 0 && f.Offset > 0 {
		// A page past the end: the window had no row to count on, so the
		// first pair's row says how many there are.
		f.Offset, f.Limit = 0, 1
		_, total, err := db.UsageReport(ctx, f)
		return out, total, err
	}
	return out, total, nil
}
