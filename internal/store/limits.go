package store

import (
	"context"
	"database/sql"
	"errors"
	"time"

	"github.com/imagequota/imagequota/internal/quota"
	"github.com/imagequota/imagequota/internal/store/engine"
)

// activeOn is the condition, on a row of limits named alias, that the
// override applies at the instant given as its one argument. Every read that
// resolves a limit uses it, so an override stops applying at its expiry on
// every replica, whether or not the sweep (ExpireOverrides) has removed it.
func activeOn(alias string) string {
	return `(` + alias + `.expires_at IS NULL OR ` + alias + `.expires_at > ?)`
}

// activeLimit is activeOn for a row named l.
var activeLimit = activeOn("l")

// ListLimits returns every override that applies now, with its expiry and
// reason.
func (db *DB) ListLimits(ctx context.Context) ([]quota.LimitOverride, error) {
	rows, err := db.r.QueryContext(ctx, db.q(`SELECT l.account_id, l.location_id, l.max_count, l.expires_at, l.reason FROM limits l
		WHERE `+activeLimit+` ORDER BY l.account_id, l.location_id`), micros(db.now()))
	if err != nil {
		return nil, wrap("list limits", db.e.Interpret(err))
	}
	defer rows.Close()
	out := []quota.LimitOverride{}
	for rows.Next() {
		o, err := scanLimit(rows)
		if err != nil {
			return nil, wrap("list limits", err)
		}
		out = append(out, o)
	}
	return out, wrap("list limits", db.e.Interpret(rows.Err()))
}

func scanLimit(sc interface{ Scan(...any) error }) (quota.LimitOverride, error) {
	var o quota.LimitOverride
	var exp sql.NullInt64
	err := sc.Scan(&o.AccountID, &o.LocationID, &o.MaxCount, &exp, &o.Reason)
	o.ExpiresAt = expiry(exp)
	return o, err
}

// expiry is a stored expires_at: nil for NULL (and for 0, which no expiry
// in the future can be).
func expiry(v sql.NullInt64) *time.Time {
	if !v.Valid || v.Int64 == 0 {
		return nil
	}
	t := fromMicros(v.Int64)
	return &t
}

func nullMicros(t *time.Time) sql.NullInt64 {
	if t == nil {
		return sql.NullInt64{}
	}
	return sql.NullInt64{Int64: micros(*t), Valid: true}
}

// currentLimit returns the override of a scope that applies now, or nil.
// An override found expired is removed, and its end recorded, in tx.
func (db *DB) currentLimit(ctx context.Context, tx *engine.Tx, accountID, locationID string) (*quota.LimitOverride, error) {
	o, err := scanLimit(tx.QueryRow(ctx, db.q(`SELECT account_id, location_id, max_count, expires_at, reason FROM limits WHERE account_id = ? AND location_id = ?`),
		accountID, locationID))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	if !o.ActiveAt(db.now()) {
		_, err := db.expireLimit(ctx, tx, o)
		return nil, err
	}
	return &o, nil
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

// SetLimit stores an override, with its expiry and reason, returning the
// limit of the override it replaced (nil when none applied).
func (db *DB) SetLimit(ctx context.Context, o quota.LimitOverride, actor quota.Actor) (*int, error) {
	if err := quota.CheckOverride(o, db.now()); err != nil {
		return nil, err
	}
	if o.ExpiresAt != nil {
		t := fromMicros(micros(*o.ExpiresAt))
		o.ExpiresAt = &t
	}
	type result struct{ Previous *int }
	res, _, err := replayable(ctx, db, actor.Replay, o.AccountID, func(ctx context.Context, tx *engine.Tx) (result, error) {
		if o.AccountID != "" {
			if err := db.accountExists(ctx, tx, o.AccountID); err != nil {
				return result{}, err
			}
		}
		prev, err := db.setLimit(ctx, tx, o, actor)
		return result{Previous: maxOf(prev)}, err
	})
	return res.Previous, wrap("set limit", err)
}

// setLimit stores the checked override o in tx, audited as actor's SetLimit,
// and returns the override it replaced (nil when none applied).
func (db *DB) setLimit(ctx context.Context, tx *engine.Tx, o quota.LimitOverride, actor quota.Actor) (*quota.LimitOverride, error) {
	prev, err := db.currentLimit(ctx, tx, o.AccountID, o.LocationID)
	if err != nil {
		return nil, err
	}
	if _, err := tx.Exec(ctx, db.q(`INSERT INTO limits (account_id, location_id, max_count, expires_at, reason) VALUES (?, ?, ?, ?, ?)
		ON CONFLICT (account_id, location_id) DO UPDATE SET max_count = excluded.max_count, expires_at = excluded.expires_at, reason = excluded.reason`),
		o.AccountID, o.LocationID, o.MaxCount, nullMicros(o.ExpiresAt), o.Reason); err != nil {
		return nil, err
	}
	return prev, db.audit(ctx, tx, actor, o.AccountID, "SetLimit", limitTarget(o.AccountID, o.LocationID), limitAuditOf(prev), limitAuditOf(&o))
}

// UnsetLimit removes an override, returning the limit it had (nil when none
// applied).
func (db *DB) UnsetLimit(ctx context.Context, accountID, locationID string, actor quota.Actor) (*int, error) {
	type result struct{ Previous *int }
	res, _, err := replayable(ctx, db, actor.Replay, accountID, func(ctx context.Context, tx *engine.Tx) (result, error) {
		prev, err := db.currentLimit(ctx, tx, accountID, locationID)
		if err != nil || prev == nil {
			return result{}, err
		}
		if _, err := tx.Exec(ctx, db.q(`DELETE FROM limits WHERE account_id = ? AND location_id = ?`), accountID, locationID); err != nil {
			return result{}, err
		}
		return result{Previous: &prev.MaxCount}, db.audit(ctx, tx, actor, accountID, "UnsetLimit", limitTarget(accountID, locationID), limitAuditOf(prev), nil)
	})
	return res.Previous, wrap("unset limit", err)
}

// ExpireOverrides removes every override whose expiry has passed and
// records, for each, an OverrideExpired record by quota.SystemActor, in one
// transaction; it returns the overrides it removed. The overrides stopped
// applying at their expiry whether or not this ran: it keeps the table and
// the trail true. Concurrent sweeps (from several replicas) record each end
// once: a row another sweep removed first is not counted.
func (db *DB) ExpireOverrides(ctx context.Context) ([]quota.LimitOverride, error) {
	out, err := write(ctx, db, func(ctx context.Context, tx *engine.Tx) ([]quota.LimitOverride, error) {
		rows, err := tx.Query(ctx, db.q(`SELECT account_id, location_id, max_count, expires_at, reason FROM limits
			WHERE expires_at IS NOT NULL AND expires_at <= ? ORDER BY expires_at, account_id, location_id LIMIT 1000`), micros(db.now()))
		if err != nil {
			return nil, err
		}
		var found []quota.LimitOverride
		for rows.Next() {
			o, err := scanLimit(rows)
			if err != nil {
				rows.Close()
				return nil, err
			}
			found = append(found, o)
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return nil, err
		}
		out := []quota.LimitOverride{}
		for _, o := range found {
			removed, err := db.expireLimit(ctx, tx, o)
			if err != nil {
				return nil, err
			}
			if removed {
				out = append(out, o)
			}
		}
		return out, nil
	})
	if len(out) > 0 {
		db.eventsCommitted()
	}
	return out, wrap("expire overrides", err)
}

// expireLimit removes the expired override o, unless it changed meanwhile,
// and records its end.
func (db *DB) expireLimit(ctx context.Context, tx *engine.Tx, o quota.LimitOverride) (bool, error) {
	res, err := tx.Exec(ctx, db.q(`DELETE FROM limits WHERE account_id = ? AND location_id = ? AND expires_at = ?`),
		o.AccountID, o.LocationID, nullMicros(o.ExpiresAt))
	if err != nil {
		return false, err
	}
	if n, err := res.RowsAffected(); err != nil || n != 1 {
		return false, err
	}
	if err := db.event(ctx, tx, quota.EventOverrideExpired, db.now(), o.ExpiredEventData()); err != nil {
		return false, err
	}
	return true, db.audit(ctx, tx, quota.SystemActor, o.AccountID, "OverrideExpired", limitTarget(o.AccountID, o.LocationID), limitAuditOf(&o), nil)
}

// limitAudit is an override's state as the audit trail records it.
type limitAudit struct {
	ExpiresAt string `json:"expiresAt,omitempty"`
	MaxCount  int    `json:"maxCount"`
	Reason    string `json:"reason,omitempty"`
}

func limitAuditOf(o *quota.LimitOverride) any {
	if o == nil {
		return nil
	}
	a := limitAudit{MaxCount: o.MaxCount, Reason: o.Reason}
	if o.ExpiresAt != nil {
		a.ExpiresAt = o.ExpiresAt.UTC().Format(time.RFC3339Nano)
	}
	return a
}

func maxOf(o *quota.LimitOverride) *int {
	if o == nil {
		return nil
	}
	n := o.MaxCount
	return &n
}
