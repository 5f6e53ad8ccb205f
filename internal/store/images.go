package store

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"strings"

	"imagequota/internal/quota"
)

// CreateInstance registers an instance.
func (db *DB) CreateInstance(ctx context.Context, in quota.Instance) (quota.Instance, error) {
	if in.ID == "" {
		in.ID = newID("ins-", 8)
	}
	in.CreatedAt = fromMicros(micros(db.now()))
	err := db.inTx(ctx, func(ctx context.Context, tx txn) error {
		if err := db.accountExists(ctx, tx, in.AccountID); err != nil {
			return err
		}
		_, err := tx.ExecContext(ctx, db.q(`INSERT INTO instances (id, account_id, location_id, disk_gb, os_category, os_type, os_version, created_at)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?)`),
			in.ID, in.AccountID, in.LocationID, in.DiskGB, in.OSCategory, in.OSType, in.OSVersion, micros(in.CreatedAt))
		if e, ok := quota.AsError(db.d.interpret(err)); ok && e.Code == quota.CodeConflict {
			return quota.Errorf(quota.CodeConflict, "instance %q already exists.", in.ID)
		}
		return err
	})
	return in, wrap("create instance", err)
}

const instanceColumns = `id, account_id, location_id, disk_gb, os_category, os_type, os_version, created_at`

func scanInstance(sc interface{ Scan(...any) error }) (quota.Instance, error) {
	var in quota.Instance
	var created int64
	err := sc.Scan(&in.ID, &in.AccountID, &in.LocationID, &in.DiskGB, &in.OSCategory, &in.OSType, &in.OSVersion, &created)
	in.CreatedAt = fromMicros(created)
	return in, err
}

type rowQueryer interface {
	QueryRowContext(ctx context.Context, q string, args ...any) *sql.Row
}

func (db *DB) getInstance(ctx context.Context, qr rowQueryer, accountID, id string) (quota.Instance, error) {
	in, err := scanInstance(qr.QueryRowContext(ctx, db.q(`SELECT `+instanceColumns+` FROM instances WHERE id = ? AND account_id = ?`), id, accountID))
	if errors.Is(err, sql.ErrNoRows) {
		return in, notFound(quota.CodeInstanceNotFound, "instanceId", id)
	}
	return in, err
}

// GetInstance returns one of an account's instances.
func (db *DB) GetInstance(ctx context.Context, accountID, id string) (quota.Instance, error) {
	in, err := db.getInstance(ctx, db.r, accountID, id)
	return in, wrap("get instance", db.d.interpret(err))
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
		return nil, wrap("list instances", db.d.interpret(err))
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
	return out, wrap("list instances", db.d.interpret(rows.Err()))
}

// DeleteInstance removes an instance. Images made from it stay.
func (db *DB) DeleteInstance(ctx context.Context, id string) error {
	return wrap("delete instance", db.inTx(ctx, func(ctx context.Context, tx txn) error {
		return execOne(ctx, tx, db.q(`DELETE FROM instances WHERE id = ?`), missing{quota.CodeInstanceNotFound, "instance", id}, id)
	}))
}

const imageColumns = `id, account_id, location_id, instance_id, name, description, size_gb, category, os_type, version, unavailable, created_at, ready_at`

func scanImage(sc interface{ Scan(...any) error }) (quota.Image, error) {
	im := quota.Image{Type: quota.ImageTypeCustom}
	var desc sql.NullString
	var created, ready int64
	err := sc.Scan(&im.ID, &im.AccountID, &im.LocationID, &im.InstanceID, &im.Name, &desc, &im.SizeGB,
		&im.Category, &im.OSType, &im.Version, &im.Unavailable, &created, &ready)
	im.Description = ptrString(desc)
	im.CreatedAt, im.ReadyAt = fromMicros(created), fromMicros(ready)
	return im, err
}

// maxListedInQuotaError bounds the image ids named in a quota error.
const maxListedInQuotaError = 10

// CreateImage admits and inserts an image in one transaction: the count of the
// account's images in the instance's location is read and compared with the
// resolved limit while holding the account's lock (SQLite: the database's
// write lock), so concurrent creates — on other connections or other
// replicas — are serialised.
func (db *DB) CreateImage(ctx context.Context, in quota.CreateImageInput) (quota.Image, bool, error) {
	var img quota.Image
	replayed := false
	err := db.inTxScopes(ctx, []string{in.AccountID}, func(ctx context.Context, tx txn) error {
		img, replayed = quota.Image{}, false
		if in.ClientToken != "" {
			if err := db.d.lock(ctx, tx, "token/"+in.AccountID+"/"+in.ClientToken); err != nil {
				return err
			}
			var fp string
			err := tx.QueryRowContext(ctx, db.q(`SELECT fingerprint, image_id, image_name FROM client_tokens WHERE account_id = ? AND token = ?`),
				in.AccountID, in.ClientToken).Scan(&fp, &img.ID, &img.Name)
			switch {
			case err == nil:
				if fp != in.Fingerprint() {
					return quota.Errorf(quota.CodeInvalidParameterValue,
						"clientToken %q was already used with different parameters.", in.ClientToken)
				}
				replayed = true
				return nil
			case !errors.Is(err, sql.ErrNoRows):
				return err
			}
		}
		// The instance, the count of its location and the overrides that
		// may apply there, in one statement. On PostgreSQL the account's lock
		// comes first, so that the count includes every create of the account
		// that held the lock before; on SQLite the write lock is held.
		if err := db.d.lock(ctx, tx, "images/"+in.AccountID); err != nil {
			return err
		}
		inst, count, ovs, err := db.admissionState(ctx, tx, in.AccountID, in.InstanceID)
		if err != nil {
			return err
		}
		if in.CheckInstance != nil {
			if err := in.CheckInstance(inst); err != nil {
				return err
			}
		}
		max, _ := quota.ResolveLimit(ovs, in.AccountID, inst.LocationID, in.DefaultMax)
		if count >= max {
			ids, err := db.imageIDs(ctx, tx, in.AccountID, inst.LocationID, maxListedInQuotaError)
			if err != nil {
				return err
			}
			more := ""
			if count > len(ids) {
				more = " and more"
			}
			return quota.Errorf(quota.CodeImageQuotaExceeded,
				"The custom image quota of location %s is used up: count %d, maxCount %d. Images counted: %s%s.",
				inst.LocationID, count, max, strings.Join(ids, ", "), more)
		}
		if db.afterCheck != nil {
			db.afterCheck(in.AccountID, inst.LocationID, count, max)
		}
		now := fromMicros(micros(in.Now))
		img = quota.Image{
			ID: newID("img-", 8), Type: quota.ImageTypeCustom, AccountID: in.AccountID,
			LocationID: inst.LocationID, InstanceID: inst.ID, Name: in.Name, Description: in.Description,
			SizeGB: inst.DiskGB, Category: inst.OSCategory, OSType: inst.OSType, Version: inst.OSVersion,
			CreatedAt: now, ReadyAt: fromMicros(micros(now.Add(in.BuildTime))),
		}
		if _, err := tx.ExecContext(ctx, db.q(`INSERT INTO images (`+imageColumns+`) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`),
			img.ID, img.AccountID, img.LocationID, img.InstanceID, img.Name, nullString(img.Description), img.SizeGB,
			img.Category, img.OSType, img.Version, false, micros(img.CreatedAt), micros(img.ReadyAt)); err != nil {
			return err
		}
		if in.ClientToken != "" {
			if _, err := tx.ExecContext(ctx, db.q(`INSERT INTO client_tokens (account_id, token, fingerprint, image_id, image_name, created_at) VALUES (?, ?, ?, ?, ?, ?)`),
				in.AccountID, in.ClientToken, in.Fingerprint(), img.ID, img.Name, micros(now)); err != nil {
				return err
			}
		}
		return db.audit(ctx, tx, in.Actor, in.AccountID, "CreateImage", img.ID, nil, imageAuditJSON(img))
	})
	if err != nil {
		return quota.Image{}, false, wrap("create image", err)
	}
	return img, replayed, nil
}

// admissionSQL reads, in one row, an instance of an account, the count of
// the account's images in the instance's location and the max_count of each
// override that may apply there (NULL when not set): account+location,
// account, location, default.
const admissionSQL = `SELECT i.location_id, i.disk_gb, i.os_category, i.os_type, i.os_version, i.created_at,
	(SELECT COUNT(*) FROM images WHERE images.account_id = i.account_id AND images.location_id = i.location_id),
	(SELECT max_count FROM limits WHERE limits.account_id = i.account_id AND limits.location_id = i.location_id),
	(SELECT max_count FROM limits WHERE limits.account_id = i.account_id AND limits.location_id = ''),
	(SELECT max_count FROM limits WHERE limits.account_id = '' AND limits.location_id = i.location_id),
	(SELECT max_count FROM limits WHERE limits.account_id = '' AND limits.location_id = '')
	FROM instances i WHERE i.id = ? AND i.account_id = ?`

// admissionState reads, in one statement, an account's instance, the count
// of the account's images in its location and the overrides that may apply
// there. It fails with INVALID_INSTANCE_NOT_FOUND when there is no such
// instance.
func (db *DB) admissionState(ctx context.Context, tx txn, accountID, instanceID string) (quota.Instance, int, []quota.LimitOverride, error) {
	inst := quota.Instance{ID: instanceID, AccountID: accountID}
	var created int64
	var count int
	var max [4]sql.NullInt64
	err := tx.QueryRowContext(ctx, db.q(admissionSQL), instanceID, accountID).Scan(&inst.LocationID, &inst.DiskGB,
		&inst.OSCategory, &inst.OSType, &inst.OSVersion, &created, &count, &max[0], &max[1], &max[2], &max[3])
	if errors.Is(err, sql.ErrNoRows) {
		return inst, 0, nil, notFound(quota.CodeInstanceNotFound, "instanceId", instanceID)
	}
	if err != nil {
		return inst, 0, nil, err
	}
	inst.CreatedAt = fromMicros(created)
	var ovs []quota.LimitOverride
	for k, scope := range [4][2]string{{accountID, inst.LocationID}, {accountID, ""}, {"", inst.LocationID}, {"", ""}} {
		if max[k].Valid {
			ovs = append(ovs, quota.LimitOverride{AccountID: scope[0], LocationID: scope[1], MaxCount: int(max[k].Int64)})
		}
	}
	return inst, count, ovs, nil
}

func (db *DB) imageIDs(ctx context.Context, tx txn, accountID, locationID string, limit int) ([]string, error) {
	rows, err := tx.QueryContext(ctx, db.q(`SELECT id FROM images WHERE account_id = ? AND location_id = ? ORDER BY created_at, id LIMIT ?`),
		accountID, locationID, limit)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var ids []string
	for rows.Next() {
		var id string
		if err := rows.Scan(&id); err != nil {
			return nil, err
		}
		ids = append(ids, id)
	}
	return ids, rows.Err()
}

// imageAuditJSON is json.Marshal(imageAudit(im)), byte for byte, without
// reflection: it is written inside every image write's transaction.
func imageAuditJSON(im quota.Image) auditJSON {
	b := make([]byte, 0, 160+len(im.Name))
	b = append(b, `{"imageDescription":`...)
	if im.Description == nil {
		b = append(b, "null"...)
	} else {
		b = appendJSONString(b, *im.Description)
	}
	b = append(b, `,"imageId":`...)
	b = appendJSONString(b, im.ID)
	b = append(b, `,"imageName":`...)
	b = appendJSONString(b, im.Name)
	b = append(b, `,"instanceId":`...)
	b = appendJSONString(b, im.InstanceID)
	b = append(b, `,"location":`...)
	b = appendJSONString(b, im.LocationID)
	return append(b, '}')
}

// appendJSONString appends s quoted as encoding/json quotes it: as is when
// it holds only printable ASCII that needs no escape, through encoding/json
// otherwise.
func appendJSONString(b []byte, s string) []byte {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < 0x20 || c >= 0x7f || c == '"' || c == '\\' || c == '<' || c == '>' || c == '&' {
			q, _ := json.Marshal(s)
			return append(b, q...)
		}
	}
	b = append(b, '"')
	b = append(b, s...)
	return append(b, '"')
}

// imageAudit is an image's state as the audit trail records it.
func imageAudit(im quota.Image) map[string]any {
	return map[string]any{
		"imageId": im.ID, "imageName": im.Name, "imageDescription": im.Description,
		"location": im.LocationID, "instanceId": im.InstanceID,
	}
}

// ListImages returns an account's custom images, oldest first.
func (db *DB) ListImages(ctx context.Context, accountID string, ids []string, locationID string) ([]quota.Image, error) {
	imgs, err := db.listImages(ctx, db.r, accountID, ids, locationID)
	return imgs, wrap("list images", db.d.interpret(err))
}

func (db *DB) listImages(ctx context.Context, qr queryer, accountID string, ids []string, locationID string) ([]quota.Image, error) {
	q := `SELECT ` + imageColumns + ` FROM images WHERE account_id = ?`
	args := []any{accountID}
	if locationID != "" {
		q += ` AND location_id = ?`
		args = append(args, locationID)
	}
	if len(ids) > 0 {
		q += ` AND id IN (` + placeholders(len(ids)) + `)`
		args = append(args, anySlice(ids)...)
	}
	rows, err := qr.QueryContext(ctx, db.q(q+` ORDER BY created_at, id`), args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := []quota.Image{}
	for rows.Next() {
		im, err := scanImage(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, im)
	}
	return out, rows.Err()
}

// imagesByID loads the account's images with these ids, failing with
// INVALID_IMAGE_NOT_FOUND (naming the first missing id) unless all exist.
func (db *DB) imagesByID(ctx context.Context, tx txn, accountID string, ids []string) ([]quota.Image, error) {
	if len(ids) == 1 {
		// The usual case, by primary key with a statement of fixed text.
		im, err := scanImage(tx.QueryRowContext(ctx, db.q(`SELECT `+imageColumns+` FROM images WHERE id = ? AND account_id = ?`), ids[0], accountID))
		if errors.Is(err, sql.ErrNoRows) {
			return nil, notFound(quota.CodeImageNotFound, "imageId", ids[0])
		}
		if err != nil {
			return nil, err
		}
		return []quota.Image{im}, nil
	}
	imgs, err := db.listImages(ctx, tx, accountID, ids, "")
	if err != nil {
		return nil, err
	}
	have := make(map[string]bool, len(imgs))
	for _, im := range imgs {
		have[im.ID] = true
	}
	for _, id := range ids {
		if !have[id] {
			return nil, notFound(quota.CodeImageNotFound, "imageId", id)
		}
	}
	return imgs, nil
}

// ModifyImages renames and/or re-describes images, all or none.
func (db *DB) ModifyImages(ctx context.Context, in quota.ModifyImagesInput) error {
	return wrap("modify images", db.inTxScopes(ctx, []string{in.AccountID}, func(ctx context.Context, tx txn) error {
		imgs, err := db.imagesByID(ctx, tx, in.AccountID, in.IDs)
		if err != nil {
			return err
		}
		for _, im := range imgs {
			after := im
			if in.Name != nil {
				after.Name = *in.Name
			}
			if in.Description != nil {
				after.Description = in.Description
			}
			if err := execOne(ctx, tx, db.q(`UPDATE images SET name = ?, description = ? WHERE id = ? AND account_id = ?`),
				missing{quota.CodeImageNotFound, "imageId", im.ID},
				after.Name, nullString(after.Description), im.ID, in.AccountID); err != nil {
				return err
			}
			if err := db.audit(ctx, tx, in.Actor, in.AccountID, "ModifyImagesAttributes", im.ID, imageAudit(im), imageAudit(after)); err != nil {
				return err
			}
		}
		return nil
	}))
}

// DeleteImages deletes images, all or none. An image still CREATING cannot be
// deleted. A deleted image is gone, so deleting it again finds nothing and
// releases nothing.
func (db *DB) DeleteImages(ctx context.Context, in quota.DeleteImagesInput) error {
	return wrap("delete images", db.inTxScopes(ctx, []string{in.AccountID}, func(ctx context.Context, tx txn) error {
		imgs, err := db.imagesByID(ctx, tx, in.AccountID, in.IDs)
		if err != nil {
			return err
		}
		for _, im := range imgs {
			if im.Status(in.Now) == quota.StatusCreating {
				return quota.Errorf(quota.CodeImageStatus, "imageId %q is still CREATING and cannot be deleted yet.", im.ID)
			}
		}
		for _, im := range imgs {
			if err := execOne(ctx, tx, db.q(`DELETE FROM images WHERE id = ? AND account_id = ?`),
				missing{quota.CodeImageNotFound, "imageId", im.ID}, im.ID, in.AccountID); err != nil {
				return err
			}
			if err := db.audit(ctx, tx, in.Actor, in.AccountID, "DeleteImages", im.ID, imageAuditJSON(im), nil); err != nil {
				return err
			}
		}
		return nil
	}))
}
