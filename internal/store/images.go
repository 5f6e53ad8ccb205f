package store

import (
	"context"
	"database/sql"
	"errors"
	"strings"

	"github.com/imagequota/imagequota/internal/jsonquote"
	"github.com/imagequota/imagequota/internal/quota"
	"github.com/imagequota/imagequota/internal/store/engine"
)

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

// accountLock is the key of the lock that serialises an account's creates
// (and, through replayable, every replay-protected write of the account).
// Its text is shared with the replicas of earlier versions during a rollout.
func accountLock(accountID string) string { return "images/" + accountID }

// maxListedInQuotaError bounds the image ids named in a quota error.
const maxListedInQuotaError = 10

// createdImage is what CreateImage answers, and what a replay of the
// request answers (replays.go): the image's id and name, as a clientToken's
// replay does.
type createdImage struct {
	ID       string `json:"id"`
	Name     string `json:"name"`
	Replayed bool   `json:"replayed,omitempty"`
	img      quota.Image
	// reached: the image brought the count to the limit (an event).
	reached bool
}

// appendJSON appends the JSON that encoding/json makes of c, without its
// reflection: every write replay-protected encodes one.
func (c createdImage) appendJSON(b []byte) []byte {
	b = append(b, `{"id":`...)
	b = jsonquote.Append(b, c.ID)
	b = append(b, `,"name":`...)
	b = jsonquote.Append(b, c.Name)
	if c.Replayed {
		b = append(b, `,"replayed":true`...)
	}
	return append(b, '}')
}

// CreateImage admits and inserts an image in one transaction: the count of the
// account's images in the instance's location is read and compared with the
// resolved limit while holding the account's lock (Tx.Lock), so concurrent
// creates — on other connections or other replicas — are serialised.
func (db *DB) CreateImage(ctx context.Context, in quota.CreateImageInput) (quota.Image, bool, error) {
	// Nothing it does before the commit is seen outside the database (but
	// by the tests' afterCheck hook): the replay record's lookup can go
	// with the admission read (replayableAhead).
	res, replayed, err := replayableAhead(ctx, db, in.Actor.Replay, in.AccountID, func(ctx context.Context, tx *engine.Tx) (createdImage, error) {
		// The account's lock comes first (a no-op where writers are serial
		// anyway): creates of one account, with or without a clientToken,
		// run one after the other, so that the count includes every create
		// of the account that held the lock before, and a clientToken is
		// looked up after any create that recorded it.
		if err := tx.Lock(ctx, accountLock(in.AccountID)); err != nil {
			return createdImage{}, err
		}
		if in.ClientToken != "" {
			var fp string
			var img quota.Image
			err := tx.QueryRow(ctx, db.q(`SELECT fingerprint, image_id, image_name FROM client_tokens WHERE account_id = ? AND token = ?`),
				in.AccountID, in.ClientToken).Scan(&fp, &img.ID, &img.Name)
			switch {
			case err == nil:
				if fp != in.Fingerprint() {
					return createdImage{}, quota.Errorf(quota.CodeInvalidParameterValue,
						"clientToken %q was already used with different parameters.", in.ClientToken)
				}
				return createdImage{ID: img.ID, Name: img.Name, Replayed: true, img: img}, nil
			case !errors.Is(err, sql.ErrNoRows):
				return createdImage{}, err
			}
		}
		// The instance, the count of its location and the overrides that
		// may apply there, in one statement.
		inst, count, ovs, err := db.admissionState(ctx, tx, in.AccountID, in.InstanceID)
		if err != nil {
			return createdImage{}, err
		}
		if in.CheckInstance != nil {
			if err := in.CheckInstance(inst); err != nil {
				return createdImage{}, err
			}
		}
		max, _ := quota.ResolveLimit(ovs, in.AccountID, inst.LocationID, in.DefaultMax)
		if count >= max {
			ids, err := db.imageIDs(ctx, tx, in.AccountID, inst.LocationID, maxListedInQuotaError)
			if err != nil {
				return createdImage{}, err
			}
			if len(ids) == 0 {
				return createdImage{}, quota.Errorf(quota.CodeImageQuotaExceeded,
					"The custom image quota of location %s is used up: count %d, maxCount %d.",
					inst.LocationID, count, max)
			}
			more := ""
			if count > len(ids) {
				more = " and more"
			}
			return createdImage{}, quota.Errorf(quota.CodeImageQuotaExceeded,
				"The custom image quota of location %s is used up: count %d, maxCount %d. Images counted: %s%s.",
				inst.LocationID, count, max, strings.Join(ids, ", "), more)
		}
		if db.afterCheck != nil {
			db.afterCheck(in.AccountID, inst.LocationID, count, max)
		}
		now := fromMicros(micros(in.Now))
		img := quota.Image{
			ID: newID("img-", 8), Type: quota.ImageTypeCustom, AccountID: in.AccountID,
			LocationID: inst.LocationID, InstanceID: inst.ID, Name: in.Name, Description: in.Description,
			SizeGB: inst.DiskGB, Category: inst.OSCategory, OSType: inst.OSType, Version: inst.OSVersion,
			CreatedAt: now, ReadyAt: fromMicros(micros(now.Add(in.BuildTime))),
		}
		// The inserts' answers are not needed: on PostgreSQL they go with
		// the commit.
		if err := tx.ExecLater(ctx, nil, db.q(`INSERT INTO images (`+imageColumns+`) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`),
			img.ID, img.AccountID, img.LocationID, img.InstanceID, img.Name, nullString(img.Description), img.SizeGB,
			img.Category, img.OSType, img.Version, false, micros(img.CreatedAt), micros(img.ReadyAt)); err != nil {
			return createdImage{}, err
		}
		if in.ClientToken != "" {
			if err := tx.ExecLater(ctx, nil, db.q(`INSERT INTO client_tokens (account_id, token, fingerprint, image_id, image_name, created_at) VALUES (?, ?, ?, ?, ?, ?)`),
				in.AccountID, in.ClientToken, in.Fingerprint(), img.ID, img.Name, micros(now)); err != nil {
				return createdImage{}, err
			}
		}
		res := createdImage{ID: img.ID, Name: img.Name, img: img, reached: count+1 == max}
		if res.reached {
			if err := db.event(ctx, tx, quota.EventLimitReached, now, quota.LimitReachedEvent{
				AccountID: in.AccountID, ZoneID: inst.LocationID, Count: count + 1, MaxCount: max, ImageID: img.ID,
			}); err != nil {
				return createdImage{}, err
			}
		}
		return res, db.audit(ctx, tx, in.Actor, in.AccountID, "CreateImage", img.ID, nil, imageAuditJSON(img))
	})
	if err != nil {
		return quota.Image{}, false, wrap("create image", err)
	}
	if replayed {
		return quota.Image{ID: res.ID, Name: res.Name}, true, nil
	}
	if res.reached {
		db.eventsCommitted()
	}
	return res.img, res.Replayed, nil
}

// admissionSQL reads, in one row, an instance of an account, the count of
// the account's images in the instance's location and the max_count of each
// override that applies there now (NULL when none): account+location,
// account, location, default.
var admissionSQL = `SELECT i.location_id, i.disk_gb, i.os_category, i.os_type, i.os_version, i.created_at,
	(SELECT COUNT(*) FROM images WHERE images.account_id = i.account_id AND images.location_id = i.location_id),
	(SELECT max_count FROM limits l WHERE l.account_id = i.account_id AND l.location_id = i.location_id AND ` + activeLimit + `),
	(SELECT max_count FROM limits l WHERE l.account_id = i.account_id AND l.location_id = '' AND ` + activeLimit + `),
	(SELECT max_count FROM limits l WHERE l.account_id = '' AND l.location_id = i.location_id AND ` + activeLimit + `),
	(SELECT max_count FROM limits l WHERE l.account_id = '' AND l.location_id = '' AND ` + activeLimit + `)
	FROM instances i WHERE i.id = ? AND i.account_id = ?`

// admissionState reads, in one statement, an account's instance, the count
// of the account's images in its location and the overrides that may apply
// there. It fails with INVALID_INSTANCE_NOT_FOUND when there is no such
// instance.
func (db *DB) admissionState(ctx context.Context, tx *engine.Tx, accountID, instanceID string) (quota.Instance, int, []quota.LimitOverride, error) {
	inst := quota.Instance{ID: instanceID, AccountID: accountID}
	var created int64
	var count int
	var max [4]sql.NullInt64
	now := micros(db.now())
	err := tx.QueryRow(ctx, db.q(admissionSQL), now, now, now, now, instanceID, accountID).Scan(&inst.LocationID, &inst.DiskGB,
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

func (db *DB) imageIDs(ctx context.Context, tx *engine.Tx, accountID, locationID string, limit int) ([]string, error) {
	rows, err := tx.Query(ctx, db.q(`SELECT id FROM images WHERE account_id = ? AND location_id = ? ORDER BY created_at, id LIMIT ?`),
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
		b = jsonquote.Append(b, *im.Description)
	}
	b = append(b, `,"imageId":`...)
	b = jsonquote.Append(b, im.ID)
	b = append(b, `,"imageName":`...)
	b = jsonquote.Append(b, im.Name)
	b = append(b, `,"instanceId":`...)
	b = jsonquote.Append(b, im.InstanceID)
	b = append(b, `,"location":`...)
	b = jsonquote.Append(b, im.LocationID)
	return append(b, '}')
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
	imgs, err := db.listImages(ctx, db.r.QueryContext, accountID, ids, locationID)
	return imgs, wrap("list images", db.e.Interpret(err))
}

// query is a read: the reader pool's QueryContext, or a transaction's Query.
type query func(ctx context.Context, q string, args ...any) (*sql.Rows, error)

func (db *DB) listImages(ctx context.Context, query query, accountID string, ids []string, locationID string) ([]quota.Image, error) {
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
	rows, err := query(ctx, db.q(q+` ORDER BY created_at, id`), args...)
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
func (db *DB) imagesByID(ctx context.Context, tx *engine.Tx, accountID string, ids []string) ([]quota.Image, error) {
	if len(ids) == 1 {
		// The usual case, by primary key with a statement of fixed text.
		im, err := scanImage(tx.QueryRow(ctx, db.q(`SELECT `+imageColumns+` FROM images WHERE id = ? AND account_id = ?`), ids[0], accountID))
		if errors.Is(err, sql.ErrNoRows) {
			return nil, notFound(quota.CodeImageNotFound, "imageId", ids[0])
		}
		if err != nil {
			return nil, err
		}
		return []quota.Image{im}, nil
	}
	imgs, err := db.listImages(ctx, tx.Query, accountID, ids, "")
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

// ModifyImages renames and/or re-describes images, all or none; with neither
// a name nor a description it only checks that the images exist.
func (db *DB) ModifyImages(ctx context.Context, in quota.ModifyImagesInput) error {
	return wrap("modify images", db.execReplayable(ctx, in.Actor.Replay, in.AccountID, func(ctx context.Context, tx *engine.Tx) error {
		imgs, err := db.imagesByID(ctx, tx, in.AccountID, in.IDs)
		if err != nil || in.Name == nil && in.Description == nil {
			// Without attributes (as the published API allows), a change of
			// nothing: nothing to write or audit, but the request is
			// recorded like any write, so its signature is spent.
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
	// The replay record's lookup goes with the read of the images.
	return wrap("delete images", db.execReplayableAhead(ctx, in.Actor.Replay, in.AccountID, func(ctx context.Context, tx *engine.Tx) error {
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
			if err := execOneLater(ctx, tx, db.q(`DELETE FROM images WHERE id = ? AND account_id = ?`),
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

// ListImagesPage returns a page of an account's custom images, newest
// first, and how many it has in all.
func (db *DB) ListImagesPage(ctx context.Context, accountID string, offset, limit int) ([]quota.Image, int, error) {
	var total int
	if err := db.r.QueryRowContext(ctx, db.q(`SELECT COUNT(*) FROM images WHERE account_id = ?`), accountID).Scan(&total); err != nil {
		return nil, 0, wrap("list images", db.e.Interpret(err))
	}
	if limit <= 0 {
		limit = total
	}
	rows, err := db.r.QueryContext(ctx, db.q(`SELECT `+imageColumns+` FROM images WHERE account_id = ?
		ORDER BY created_at DESC, id DESC LIMIT ? OFFSET ?`), accountID, limit, max(offset, 0))
	if err != nil {
		return nil, 0, wrap("list images", db.e.Interpret(err))
	}
	defer rows.Close()
	out := []quota.Image{}
	for rows.Next() {
		im, err := scanImage(rows)
		if err != nil {
			return nil, 0, wrap("list images", err)
		}
		out = append(out, im)
	}
	return out, total, wrap("list images", db.e.Interpret(rows.Err()))
}
