package store

import (
	"cmp"
	"context"
	"database/sql"
	"slices"
	"strings"

	"github.com/imagequota/imagequota/internal/quota"
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

// usageReportSQL reads, in one statement, the overrides in effect at the
// instant of its first argument, then the (account, location) pairs that
// have images with their counts; the filters and the bound on the count
// are spliced in at the markers. Which overrides apply to a pair, and so
// its limit and its place in the order, is worked out from these rows:
// resolving each pair's limit in SQL takes four lookups per pair, and the
// pairs are many (every account with images, in every location it has
// some) while the overrides are few.
const usageReportSQL = `SELECT 1, account_id, location_id, max_count, COALESCE(expires_at, 0) FROM limits
	WHERE expires_at IS NULL OR expires_at > ?
	UNION ALL
	SELECT 0, account_id, location_id, COUNT(*), 0 FROM images WHERE 1 = 1/*filters*/
	GROUP BY account_id, location_id/*having*/`

// usageReportBound keeps only the pairs that can reach a minimum
// utilization (its first argument) under the lowest limit any pair can
// have: the lowest override in effect (at the second argument), or the
// server default (the third).
const usageReportBound = `
	HAVING COUNT(*) >= CAST(? AS DOUBLE PRECISION) * (SELECT MIN(m) FROM (
		SELECT max_count AS m FROM limits WHERE expires_at IS NULL OR expires_at > ?
		UNION ALL SELECT ?) b)`

// UsageReport returns, in one statement, a page of the (account, location)
// pairs that have images, selected and ordered as f says, each with the
// limit in effect there and where it comes from, and how many pairs are
// selected in all.
func (db *DB) UsageReport(ctx context.Context, f quota.UsageReportFilter) ([]quota.UsageReportRow, int, error) {
	now := micros(db.now())
	args := []any{now}
	var filters strings.Builder
	if len(f.AccountIDs) > 0 {
		filters.WriteString(` AND account_id IN (` + placeholders(len(f.AccountIDs)) + `)`)
		args = append(args, anySlice(f.AccountIDs)...)
	}
	if len(f.LocationIDs) > 0 {
		filters.WriteString(` AND location_id IN (` + placeholders(len(f.LocationIDs)) + `)`)
		args = append(args, anySlice(f.LocationIDs)...)
	}
	having := ""
	if f.MinUtilization > 0 {
		having = usageReportBound
		args = append(args, f.MinUtilization, now, f.DefaultMax)
	}
	q := strings.NewReplacer("/*filters*/", filters.String(), "/*having*/", having).Replace(usageReportSQL)
	rows, err := db.r.QueryContext(ctx, db.q(q), args...)
	if err != nil {
		return nil, 0, wrap("usage report", db.e.Interpret(err))
	}
	defer rows.Close()
	overrides := map[[2]string]quota.LimitOverride{}
	type pair struct {
		account, location string
		n                 int
	}
	var pairs []pair
	for rows.Next() {
		var kind int
		var p pair
		var n, exp int64
		if err := rows.Scan(&kind, &p.account, &p.location, &n, &exp); err != nil {
			return nil, 0, wrap("usage report", err)
		}
		if kind == 1 {
			overrides[[2]string{p.account, p.location}] = quota.LimitOverride{AccountID: p.account, LocationID: p.location, MaxCount: int(n),
				ExpiresAt: expiry(sql.NullInt64{Int64: exp, Valid: true})}
			continue
		}
		p.n = int(n)
		pairs = append(pairs, p)
	}
	if err := rows.Err(); err != nil {
		return nil, 0, wrap("usage report", db.e.Interpret(err))
	}
	sel := make([]quota.UsageReportRow, 0, len(pairs))
	var ovs []quota.LimitOverride
	for _, p := range pairs {
		ovs = ovs[:0]
		for _, scope := range [4][2]string{{p.account, p.location}, {p.account, ""}, {"", p.location}, {"", ""}} {
			if o, ok := overrides[scope]; ok {
				ovs = append(ovs, o)
			}
		}
		r := quota.UsageReportRow{AccountID: p.account, LocationID: p.location, Count: p.n,
			Effective: quota.EffectiveLimit(ovs, p.account, p.location, f.DefaultMax)}
		if f.MinUtilization > 0 && r.Utilization() < f.MinUtilization {
			continue
		}
		sel = append(sel, r)
	}
	return pageOfReport(sel, f), len(sel), nil
}

// pageOfReport orders the rows as f says and returns its page. Only the
// rows up to the page's end are put in order.
func pageOfReport(rows []quota.UsageReportRow, f quota.UsageReportFilter) []quota.UsageReportRow {
	byKey := func(a, b quota.UsageReportRow) int {
		return cmp.Or(cmp.Compare(a.AccountID, b.AccountID), cmp.Compare(a.LocationID, b.LocationID))
	}
	order := byKey
	if f.OrderBy != quota.OrderByAccountID {
		order = func(a, b quota.UsageReportRow) int {
			// Highest utilization first (+Inf, images under a limit of 0, before all).
			return cmp.Or(cmp.Compare(b.Utilization(), a.Utilization()), byKey(a, b))
		}
	}
	offset := max(f.Offset, 0)
	end := len(rows)
	if f.Limit > 0 {
		end = min(end, offset+f.Limit)
	}
	if offset >= end {
		return []quota.UsageReportRow{}
	}
	topK(rows, end, order)
	return slices.Clone(rows[offset:end])
}

// topK puts the k first rows by order at the front of rows, in order.
func topK[T any](rows []T, k int, order func(a, b T) int) {
	if k >= len(rows)/4 {
		slices.SortFunc(rows, order)
		return
	}
	// A heap of the k best so far, the worst of them at its root.
	h := rows[:k]
	worse := func(i, j int) bool { return order(h[i], h[j]) > 0 }
	down := func(i int) {
		for {
			l := 2*i + 1
			if l >= k {
				return
			}
			c := l
			if r := l + 1; r < k && worse(r, l) {
				c = r
			}
			if !worse(c, i) {
				return
			}
			h[i], h[c] = h[c], h[i]
			i = c
		}
	}
	for i := k/2 - 1; i >= 0; i-- {
		down(i)
	}
	for i := k; i < len(rows); i++ {
		if order(rows[i], h[0]) < 0 {
			h[0], rows[i] = rows[i], h[0]
			down(0)
		}
	}
	slices.SortFunc(h, order)
}
