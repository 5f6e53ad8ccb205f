package store

import (
	"context"
	"database/sql"
	"encoding/json"
	"math"

	"github.com/imagequota/imagequota/internal/quota"
	"github.com/imagequota/imagequota/internal/store/engine"
)

// auditJSON is a before or after state already encoded as JSON.
type auditJSON []byte

// audit appends a record in the same transaction as the change it describes.
// before and after are encoded with encoding/json, unless already auditJSON.
func (db *DB) audit(ctx context.Context, tx *engine.Tx, actor quota.Actor, accountID, action, target string, before, after any) error {
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
	// Nothing of the write depends on its answer: on PostgreSQL it is sent
	// with the write's next statement or its commit.
	return tx.ExecLater(ctx, nil, db.q(`INSERT INTO audit (at, account_id, actor, request_id, action, target, before, after) VALUES (?, ?, ?, ?, ?, ?, ?, ?)`),
		micros(db.now()), accountID, name, actor.RequestID, action, target, b, a)
}

// ListAudit returns audit records, oldest first.
func (db *DB) ListAudit(ctx context.Context, f quota.AuditFilter) ([]quota.AuditRecord, error) {
	where, args := auditWhere(f)
	q := `SELECT id, at, account_id, actor, request_id, action, target, before, after FROM audit` + where + ` ORDER BY id`
	if f.Limit > 0 || f.Offset > 0 {
		limit := f.Limit
		if limit <= 0 {
			limit = math.MaxInt32
		}
		q += ` LIMIT ? OFFSET ?`
		args = append(args, limit, max(f.Offset, 0))
	}
	rows, err := db.r.QueryContext(ctx, db.q(q), args...)
	if err != nil {
		return nil, wrap("list audit", db.e.Interpret(err))
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
	return out, wrap("list audit", db.e.Interpret(rows.Err()))
}

// CountAudit returns how many audit records f selects (its Limit and Offset
// aside).
func (db *DB) CountAudit(ctx context.Context, f quota.AuditFilter) (int, error) {
	where, args := auditWhere(f)
	var n int
	err := db.r.QueryRowContext(ctx, db.q(`SELECT COUNT(*) FROM audit`+where), args...).Scan(&n)
	return n, wrap("count audit", db.e.Interpret(err))
}

// auditWhere is the WHERE clause that selects the records of f.
func auditWhere(f quota.AuditFilter) (string, []any) {
	q := ` WHERE at >= ?`
	args := []any{micros(f.Since)}
	if f.Since.IsZero() {
		args[0] = int64(0)
	}
	if f.AccountID != "" {
		q += ` AND account_id = ?`
		args = append(args, f.AccountID)
	}
	if !f.Until.IsZero() {
		q += ` AND at < ?`
		args = append(args, micros(f.Until))
	}
	if f.Action != "" {
		q += ` AND action = ?`
		args = append(args, f.Action)
	}
	if f.AfterID > 0 {
		q += ` AND id > ?`
		args = append(args, f.AfterID)
	}
	return q, args
}
