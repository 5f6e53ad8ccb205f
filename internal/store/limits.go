package store

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"

	"imagequota/internal/quota"
)

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
	q := `SELECT 0, '', location_id, COUNT(*) FROM images WHERE account_id = ? GROUP BY location_id
		UNION ALL SELECT 1, account_id, location_id, max_count FROM limits WHERE account_id IN (?, '')`
	args := []any{accountID, accountID}
	if withVersions {
		q += `
		UNION ALL SELECT 2, scope, '', version FROM cache_versions WHERE scope IN (?, '')`
		args = append(args, accountID)
	}
	rows, err := db.r.QueryContext(ctx, db.q(q), args...)
	if err != nil {
		return u, 0, 0, wrap("usage", db.d.interpret(err))
	}
	defer rows.Close()
	for rows.Next() {
		var kind int
		var acct, loc string
		var n int64
		if err := rows.Scan(&kind, &acct, &loc, &n); err != nil {
			return u, 0, 0, wrap("usage", err)
		}
		switch {
		case kind == 0:
			u.Counts[loc] = int(n)
		case kind == 1:
			u.Overrides = append(u.Overrides, quota.LimitOverride{AccountID: acct, LocationID: loc, MaxCount: int(n)})
		case acct == globalScope:
			global = n
		default:
			account = n
		}
	}
	return u, account, global, wrap("usage", db.d.interpret(rows.Err()))
}

type queryer interface {
	QueryContext(ctx context.Context, q string, args ...any) (*sql.Rows, error)
}

// ListLimits returns every override.
func (db *DB) ListLimits(ctx context.Context) ([]quota.LimitOverride, error) {
	rows, err := db.r.QueryContext(ctx, `SELECT account_id, location_id, max_count FROM limits ORDER BY account_id, location_id`)
	if err != nil {
		return nil, wrap("list limits", db.d.interpret(err))
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
	return out, wrap("list limits", db.d.interpret(rows.Err()))
}

func (db *DB) currentLimit(ctx context.Context, tx txn, accountID, locationID string) (*int, error) {
	var n int
	err := tx.QueryRowContext(ctx, db.q(`SELECT max_count FROM limits WHERE account_id = ? AND location_id = ?`), accountID, locationID).Scan(&n)
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
	var prev *int
	err := db.inTx(ctx, func(ctx context.Context, tx txn) error {
		if o.AccountID != "" {
			if err := db.accountExists(ctx, tx, o.AccountID); err != nil {
				return err
			}
		}
		var err error
		if prev, err = db.currentLimit(ctx, tx, o.AccountID, o.LocationID); err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, db.q(`INSERT INTO limits (account_id, location_id, max_count) VALUES (?, ?, ?)
			ON CONFLICT (account_id, location_id) DO UPDATE SET max_count = excluded.max_count`),
			o.AccountID, o.LocationID, o.MaxCount); err != nil {
			return err
		}
		return db.audit(ctx, tx, actor, o.AccountID, "SetLimit", limitTarget(o.AccountID, o.LocationID), maxCountJSON(prev), maxCountJSON(&o.MaxCount))
	})
	return prev, wrap("set limit", err)
}

// UnsetLimit removes an override, returning the value it had.
func (db *DB) UnsetLimit(ctx context.Context, accountID, locationID string, actor quota.Actor) (*int, error) {
	var prev *int
	err := db.inTx(ctx, func(ctx context.Context, tx txn) error {
		var err error
		if prev, err = db.currentLimit(ctx, tx, accountID, locationID); err != nil || prev == nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, db.q(`DELETE FROM limits WHERE account_id = ? AND location_id = ?`), accountID, locationID); err != nil {
			return err
		}
		return db.audit(ctx, tx, actor, accountID, "UnsetLimit", limitTarget(accountID, locationID), maxCountJSON(prev), nil)
	})
	return prev, wrap("unset limit", err)
}

func maxCountJSON(n *int) any {
	if n == nil {
		return nil
	}
	return map[string]int{"maxCount": *n}
}

// auditJSON is a before or after state already encoded as JSON.
type auditJSON []byte

// audit appends a record in the same transaction as the change it describes.
// before and after are encoded with encoding/json, unless already auditJSON.
func (db *DB) audit(ctx context.Context, tx txn, actor quota.Actor, accountID, action, target string, before, after any) error {
	enc := func(v any) (sql.NullString, error) {
		if v == nil {
			return sql.NullString{}, nil
		}
		if j, ok := v.(auditJSON); ok {
			return sql.NullString{String: string(j), Valid: true}, nil
		}
		b, err := json.Marshal(v)
		return sql.NullString{String: string(b), Valid: true}, err
	}
	b, err := enc(before)
	if err != nil {
		return err
	}
	a, err := enc(after)
	if err != nil {
		return err
	}
	name := actor.Name
	if name == "" {
		name = "admin"
	}
	_, err = tx.ExecContext(ctx, db.q(`INSERT INTO audit (at, account_id, actor, request_id, action, target, before, after) VALUES (?, ?, ?, ?, ?, ?, ?, ?)`),
		micros(db.now()), accountID, name, actor.RequestID, action, target, b, a)
	return err
}

// ListAudit returns audit records, oldest first.
func (db *DB) ListAudit(ctx context.Context, f quota.AuditFilter) ([]quota.AuditRecord, error) {
	q := `SELECT id, at, account_id, actor, request_id, action, target, before, after FROM audit WHERE at >= ?`
	args := []any{micros(f.Since)}
	if f.Since.IsZero() {
		args[0] = int64(0)
	}
	if f.AccountID != "" {
		q += ` AND account_id = ?`
		args = append(args, f.AccountID)
	}
	q += ` ORDER BY id`
	if f.Limit > 0 {
		q += ` LIMIT ?`
		args = append(args, f.Limit)
	}
	rows, err := db.r.QueryContext(ctx, db.q(q), args...)
	if err != nil {
		return nil, wrap("list audit", db.d.interpret(err))
	}
	defer rows.Close()
	out := []quota.AuditRecord{}
	for rows.Next() {
		var r quota.AuditRecord
		var at int64
		var before, after sql.NullString
		if err := rows.Scan(&r.ID, &at, &r.AccountID, &r.Actor, &r.RequestID, &r.Action, &r.Target, &before, &after); err != nil {
			return nil, wrap("list audit", err)
		}
		r.At = fromMicros(at)
		if before.Valid {
			r.Before = json.RawMessage(before.String)
		}
		if after.Valid {
			r.After = json.RawMessage(after.String)
		}
		out = append(out, r)
	}
	return out, wrap("list audit", db.d.interpret(rows.Err()))
}
