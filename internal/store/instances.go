package store

import (
	"context"
	"database/sql"
	"errors"
	"math"
	"time"

	"github.com/imagequota/imagequota/internal/quota"
	"github.com/imagequota/imagequota/internal/store/engine"
)

// CreateInstance is CreateInstanceAs by the operator (quota.AdminActor).
func (db *DB) CreateInstance(ctx context.Context, in quota.Instance) (quota.Instance, error) {
	return db.CreateInstanceAs(ctx, in, quota.AdminActor)
}

// CreateInstanceAs registers an instance, recorded in the audit trail as
// actor's change.
func (db *DB) CreateInstanceAs(ctx context.Context, in quota.Instance, actor quota.Actor) (quota.Instance, error) {
	if in.ID == "" {
		in.ID = newID("ins-", 8)
	}
	in.CreatedAt = fromMicros(micros(db.now()))
	// A request seen again gets the instance it registered.
	type created struct {
		ID        string
		CreatedAt time.Time
	}
	res, _, err := replayable(ctx, db, actor.Replay, in.AccountID, func(ctx context.Context, tx *engine.Tx) (created, error) {
		return created{in.ID, in.CreatedAt}, db.insertInstance(ctx, tx, in, actor)
	})
	if err != nil {
		return quota.Instance{}, wrap("create instance", err)
	}
	in.ID, in.CreatedAt = res.ID, res.CreatedAt
	return in, nil
}

// insertInstance inserts and audits an instance in tx.
func (db *DB) insertInstance(ctx context.Context, tx *engine.Tx, in quota.Instance, actor quota.Actor) error {
	if err := db.accountExists(ctx, tx, in.AccountID); err != nil {
		return err
	}
	_, err := tx.Exec(ctx, db.q(`INSERT INTO instances (id, account_id, location_id, disk_gb, os_category, os_type, os_version, created_at)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?)`),
		in.ID, in.AccountID, in.LocationID, in.DiskGB, in.OSCategory, in.OSType, in.OSVersion, micros(in.CreatedAt))
	if e, ok := quota.AsError(db.e.Interpret(err)); ok && e.Code == quota.CodeConflict {
		return quota.Errorf(quota.CodeConflict, "instance %q already exists.", in.ID)
	}
	if err != nil {
		return err
	}
	return db.audit(ctx, tx, actor, in.AccountID, "CreateInstance", in.ID, nil, instanceAuditOf(in))
}

// instanceAudit is an instance's state as the audit trail records it.
type instanceAudit struct {
	AccountID  string `json:"accountId"`
	DiskGB     int    `json:"diskGb"`
	ID         string `json:"instanceId"`
	LocationID string `json:"location"`
	OSCategory string `json:"osCategory"`
	OSType     string `json:"osType"`
	OSVersion  string `json:"osVersion"`
}

func instanceAuditOf(in quota.Instance) instanceAudit {
	return instanceAudit{ID: in.ID, AccountID: in.AccountID, LocationID: in.LocationID, DiskGB: in.DiskGB,
		OSCategory: in.OSCategory, OSType: in.OSType, OSVersion: in.OSVersion}
}

const instanceColumns = `id, account_id, location_id, disk_gb, os_category, os_type, os_version, created_at`

func scanInstance(sc interface{ Scan(...any) error }) (quota.Instance, error) {
	var in quota.Instance
	var created int64
	err := sc.Scan(&in.ID, &in.AccountID, &in.LocationID, &in.DiskGB, &in.OSCategory, &in.OSType, &in.OSVersion, &created)
	in.CreatedAt = fromMicros(created)
	return in, err
}

// GetInstance returns one of an account's instances.
func (db *DB) GetInstance(ctx context.Context, accountID, id string) (quota.Instance, error) {
	in, err := scanInstance(db.r.QueryRowContext(ctx, db.q(`SELECT `+instanceColumns+` FROM instances WHERE id = ? AND account_id = ?`), id, accountID))
	if errors.Is(err, sql.ErrNoRows) {
		return in, notFound(quota.CodeInstanceNotFound, "instanceId", id)
	}
	return in, wrap("get instance", db.e.Interpret(err))
}

// ListInstances returns the instances of one account, or of all when accountID is empty.
func (db *DB) ListInstances(ctx context.Context, accountID string) ([]quota.Instance, error) {
	q := `SELECT ` + instanceColumns + ` FROM instances`
	var args []any
	if accountID != "" {
		q += ` WHERE account_id = ?`
		args = append(args, accountID)
	}
	rows, err := db.r.QueryContext(ctx, db.q(q+` ORDER BY created_at, id`), args...)
	if err != nil {
		return nil, wrap("list instances", db.e.Interpret(err))
	}
	defer rows.Close()
	out := []quota.Instance{}
	for rows.Next() {
		in, err := scanInstance(rows)
		if err != nil {
			return nil, wrap("list instances", err)
		}
		out = append(out, in)
	}
	return out, wrap("list instances", db.e.Interpret(rows.Err()))
}

// DeleteInstance is DeleteInstanceAs by the operator (quota.AdminActor).
func (db *DB) DeleteInstance(ctx context.Context, id string) error {
	return db.DeleteInstanceAs(ctx, id, quota.AdminActor)
}

// DeleteInstanceAs removes an instance, recorded in the audit trail as
// actor's change with the instance as it was. Images made from it stay.
func (db *DB) DeleteInstanceAs(ctx context.Context, id string, actor quota.Actor) error {
	return wrap("delete instance", db.execReplayable(ctx, actor.Replay, "", func(ctx context.Context, tx *engine.Tx) error {
		in, err := scanInstance(tx.QueryRow(ctx, db.q(`SELECT `+instanceColumns+` FROM instances WHERE id = ?`), id))
		if errors.Is(err, sql.ErrNoRows) {
			return notFound(quota.CodeInstanceNotFound, "instance", id)
		}
		if err != nil {
			return err
		}
		if err := execOne(ctx, tx, db.q(`DELETE FROM instances WHERE id = ?`), missing{quota.CodeInstanceNotFound, "instance", id}, id); err != nil {
			return err
		}
		return db.audit(ctx, tx, actor, in.AccountID, "DeleteInstance", id, instanceAuditOf(in), nil)
	}))
}

// ListInstancesPage returns a page of the instances of one account, or of
// all when accountID is empty, oldest first, and how many there are in all.
func (db *DB) ListInstancesPage(ctx context.Context, accountID string, offset, limit int) ([]quota.Instance, int, error) {
	where := ""
	var args []any
	if accountID != "" {
		where = ` WHERE account_id = ?`
		args = append(args, accountID)
	}
	var total int
	if err := db.r.QueryRowContext(ctx, db.q(`SELECT COUNT(*) FROM instances`+where), args...).Scan(&total); err != nil {
		return nil, 0, wrap("list instances", db.e.Interpret(err))
	}
	if limit <= 0 {
		limit = math.MaxInt32
	}
	rows, err := db.r.QueryContext(ctx, db.q(`SELECT `+instanceColumns+` FROM instances`+where+` ORDER BY created_at, id LIMIT ? OFFSET ?`),
		append(args, limit, max(offset, 0))...)
	if err != nil {
		return nil, 0, wrap("list instances", db.e.Interpret(err))
	}
	defer rows.Close()
	out := []quota.Instance{}
	for rows.Next() {
		in, err := scanInstance(rows)
		if err != nil {
			return nil, 0, wrap("list instances", err)
		}
		out = append(out, in)
	}
	return out, total, wrap("list instances", db.e.Interpret(rows.Err()))
}
