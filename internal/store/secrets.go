package store

import (
	"context"
	"fmt"
	"strings"

	"github.com/imagequota/imagequota/internal/quota"
	"github.com/imagequota/imagequota/internal/secrets"
	"github.com/imagequota/imagequota/internal/store/engine"
)

// plainPrefix marks an access key password kept in the clear (a store opened without a master key).
const plainPrefix = "plain:"

// SealSecret is how an access key password is stored.
func (db *DB) SealSecret(keyID, secret string) string {
	if db.box == nil {
		return plainPrefix + secret
	}
	return db.box.Seal(secret, keyID)
}

// openSecret recovers an access key password from its stored form.
func (db *DB) openSecret(keyID, stored string) (string, error) {
	if plain, ok := strings.CutPrefix(stored, plainPrefix); ok {
		return plain, nil
	}
	if db.box == nil {
		return "", fmt.Errorf("access key %s: its password is sealed and no master key was given", keyID)
	}
	return db.box.Open(stored, keyID)
}

// SetSecrets gives the store its master key; call it before the store serves.
func (db *DB) SetSecrets(box *secrets.Box) { db.box = box }

// CheckSecrets verifies that every sealed access key password was sealed under
// the store's master key, so that a wrong --master-key-file is found at start
// rather than as failed signatures.
func (db *DB) CheckSecrets(ctx context.Context) error {
	rows, err := db.r.QueryContext(ctx, `SELECT DISTINCT substr(secret, 1, 19) FROM access_keys
		UNION SELECT DISTINCT substr(secret, 1, 19) FROM operator_keys`)
	if err != nil {
		return wrap("check secrets", db.e.Interpret(err))
	}
	defer rows.Close()
	for rows.Next() {
		var head string
		if err := rows.Scan(&head); err != nil {
			return wrap("check secrets", err)
		}
		id := secrets.KeyIDOf(head + ":")
		switch {
		case id == "":
			continue
		case db.box == nil:
			return fmt.Errorf("access key passwords are sealed under master key %s, and no master key was given", id)
		case id != db.box.ID():
			return fmt.Errorf("access key passwords are sealed under master key %s, but the master key file holds key %s: give the right --master-key-file", id, db.box.ID())
		}
	}
	return wrap("check secrets", db.e.Interpret(rows.Err()))
}

// RotateSecrets re-seals every access key password, tenants' and
// operators', under next, in one transaction, and makes next the store's key
// (its fingerprint recorded). It returns how many tenant keys it re-sealed.
func (db *DB) RotateSecrets(ctx context.Context, next *secrets.Box, actor quota.Actor) (int, error) {
	n, err := write(ctx, db, func(ctx context.Context, tx *engine.Tx) (int, error) {
		all, err := db.resealAll(ctx, tx, "access_keys", next)
		if err != nil {
			return 0, err
		}
		ops, err := db.resealAll(ctx, tx, "operator_keys", next)
		if err != nil {
			return 0, err
		}
		from := "none"
		if db.box != nil {
			from = db.box.ID()
		}
		if err := db.setMasterKey(ctx, tx, next.Fingerprint()); err != nil {
			return 0, err
		}
		return all, db.audit(ctx, tx, actor, "", "RotateMasterKey", "master-key", map[string]string{"masterKeyId": from},
			map[string]any{"masterKeyId": next.ID(), "accessKeys": all, "operatorKeys": ops})
	})
	if err != nil {
		return 0, wrap("rotate secrets", err)
	}
	db.box = next
	return n, nil
}

// resealAll re-seals, in tx, the password of every key of table (access_keys
// or operator_keys) under next, and returns how many there were.
func (db *DB) resealAll(ctx context.Context, tx *engine.Tx, table string, next *secrets.Box) (int, error) {
	rows, err := tx.Query(ctx, `SELECT id, secret FROM `+table+` ORDER BY id`)
	if err != nil {
		return 0, err
	}
	type kv struct{ id, secret string }
	var all []kv
	for rows.Next() {
		var k kv
		if err := rows.Scan(&k.id, &k.secret); err != nil {
			rows.Close()
			return 0, err
		}
		all = append(all, k)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return 0, err
	}
	for _, k := range all {
		plain, err := db.openSecret(k.id, k.secret)
		if err != nil {
			return 0, err
		}
		if _, err := tx.Exec(ctx, db.q(`UPDATE `+table+` SET secret = ? WHERE id = ?`), next.Seal(plain, k.id), k.id); err != nil {
			return 0, err
		}
	}
	return len(all), nil
}
