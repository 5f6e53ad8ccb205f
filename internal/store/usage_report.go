package store

import (
	"context"
	"database/sql"
	"strings"

	"imagequota/internal/quota"
)

// usagePageSQL reads a page of (account, location) pairs with their image
// count and the max_count of each override that may apply there (NULL when
// not set): account+location, account, location, default. The pairs come
// from the images index in its order, so a page after a key starts where the
// previous one stopped; the filters are spliced in at the marker.
const usagePageSQL = `SELECT u.account_id, u.location_id, u.n,
	(SELECT max_count FROM limits WHERE limits.account_id = u.account_id AND limits.location_id = u.location_id),
	(SELECT max_count FROM limits WHERE limits.account_id = u.account_id AND limits.location_id = ''),
	(SELECT max_count FROM limits WHERE limits.account_id = '' AND limits.location_id = u.location_id),
	(SELECT max_count FROM limits WHERE limits.account_id = '' AND limits.location_id = '')
	FROM (SELECT account_id, location_id, COUNT(*) AS n FROM images
		WHERE account_id >= ? AND (account_id > ? OR location_id > ?)/*filters*/
		GROUP BY account_id, location_id
		HAVING COUNT(*) >= ?
		ORDER BY account_id, location_id/*limit*/) u
	ORDER BY u.account_id, u.location_id`

// ListUsage returns, in one statement, a page of the (account, location)
// pairs that have images, each with its count and the overrides that may
// apply there, for quota.ResolveLimit. Pass the last pair of a page as
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
		var limits [4]sql.NullInt64
		if err := rows.Scan(&u.AccountID, &u.LocationID, &n, &limits[0], &limits[1], &limits[2], &limits[3]); err != nil {
			return nil, wrap("list usage", err)
		}
		u.Count = int(n)
		for k, scope := range [4][2]string{{u.AccountID, u.LocationID}, {u.AccountID, ""}, {"", u.LocationID}, {"", ""}} {
			if limits[k].Valid {
				u.Overrides = append(u.Overrides, quota.LimitOverride{AccountID: scope[0], LocationID: scope[1], MaxCount: int(limits[k].Int64)})
			}
		}
		out = append(out, u)
	}
	return out, wrap("list usage", db.e.Interpret(rows.Err()))
}
