package store

import (
	"context"
	"database/sql"
	"errors"

	"imagequota/internal/quota"
	"imagequota/internal/store/engine"
)

// ListLimits returns every override.
func (db *DB) ListLimits(ctx context.Context) ([]quota.LimitOverride, error) {
	rows, err := db.r.QueryContext(ctx, `SELECT account_id, location_id, max_count FROM limits ORDER BY account_id, location_id`)
	if err != nil {
		return nil, wrap("list limits", db.e.Interpret(err))
	}
	defer rows.Close()
	out := []quota.LimitOverride{}
	for rows.Next() {
		var o quota.LimitOverride
		if err := rows.Scan(&o.AccountID, &o.LocationID, &o.MaxCount); err != nil {
			return nil, wrap("list limits", err)
		}
		out = append(out, o)
	}
	return out, wrap("list limits", db.e.Interpret(rows.Err()))
}

func (db *DB) currentLimit(ctx context.Context, tx *engine.Tx, accountID, locationID string) (*int, error) {
	var n int
	err := tx.QueryRow(ctx, db.q(`SELECT max_count FROM limits WHERE account_id = ? AND location_id = ?`), accountID, locationID).Scan(&n)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	return &n, nil
}

// limitTarget names an override's scope in the audit trail.
func limitTarget(accountID, locationID string) string {
	a, l := accountID, locationID
	if a == "" {
		a = "*"
	}
	if l == "" {
		l = "*"
	}
	return "limit:" + a + "/" + l
}

// SetLimit stores an override, returning the value it replaced.
func (db *DB) SetLimit(ctx context.Context, o quota.LimitOverride, actor quota.Actor) (*int, error) {
	if err := quota.CheckLimit(o.MaxCount); err != nil {
		return nil, err
	}
	prev, err := write(ctx, db, func(ctx context.Context, tx *engine.Tx) (*int, error) {
		if o.AccountID != "" {
			if err := db.accountExists(ctx, tx, o.AccountID); err != nil {
				return nil, err
			}
		}
		prev, err := db.currentLimit(ctx, tx, o.AccountID, o.LocationID)
		if err != nil {
			return nil, err
		}
		if _, err := tx.Exec(ctx, db.q(`INSERT INTO limits (account_id, location_id, max_count) VALUES (?, ?, ?)
			ON CONFLICT (account_id, location_id) DO UPDATE SET max_count = excluded.max_count`),
			o.AccountID, o.LocationID, o.MaxCount); err != nil {
			return nil, err
		}
		return prev, db.audit(ctx, tx, actor, o.AccountID, "SetLimit", limitTarget(o.AccountID, o.LocationID), maxCountJSON(prev), maxCountJSON(&o.MaxCount))
	})
	return prev, wrap("set limit", err)
}

// UnsetLimit removes an override, returning the value it had.
func (db *DB) UnsetLimit(ctx context.Context, accountID, locationID string, actor quota.Actor) (*int, error) {
	prev, err := write(ctx, db, func(ctx context.Context, tx *engine.Tx) (*int, error) {
		prev, err := db.currentLimit(ctx, tx, accountID, locationID)
		if err != nil || prev == nil {
			return nil, err
		}
		if _, err := tx.Exec(ctx, db.q(`DELETE FROM limits WHERE account_id = ? AND location_id = ?`), accountID, locationID); err != nil {
			return nil, err
		}
		return prev, db.audit(ctx, tx, actor, accountID, "UnsetLimit", limitTarget(accountID, locationID), maxCountJSON(prev), nil)
	})
	return prev, wrap("unset limit", err)
}

func maxCountJSON(n *int) any {
	if n == nil {
		return nil
	}
	return map[string]int{"maxCount": *n}
}
