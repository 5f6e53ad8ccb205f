package store

import (
	"context"
	"database/sql"
	"errors"

	"github.com/imagequota/imagequota/internal/quota"
	"github.com/imagequota/imagequota/internal/store/engine"
)

// settingMasterKey names the fingerprint of the store's master key.
const settingMasterKey = "master_key_fingerprint"

// MasterKeyFingerprint returns the fingerprint of the master key the store's
// access key passwords are sealed under; "" when none was recorded yet.
func (db *DB) MasterKeyFingerprint(ctx context.Context) (string, error) {
	var fp string
	err := db.r.QueryRowContext(ctx, db.q(`SELECT value FROM settings WHERE name = ?`), settingMasterKey).Scan(&fp)
	if errors.Is(err, sql.ErrNoRows) {
		return "", nil
	}
	return fp, wrap("master key fingerprint", db.e.Interpret(err))
}

// ClaimMasterKey records fingerprint as the store's master key unless one is
// recorded already, and returns the one recorded: fingerprint when this call
// (or an earlier one with the same key) recorded it, another when the store
// belongs to another key. Concurrent first starts agree on one. Recording it
// is audited.
func (db *DB) ClaimMasterKey(ctx context.Context, fingerprint string, actor quota.Actor) (string, error) {
	fp, err := write(ctx, db, func(ctx context.Context, tx *engine.Tx) (string, error) {
		res, err := tx.Exec(ctx, db.q(`INSERT INTO settings (name, value) VALUES (?, ?) ON CONFLICT (name) DO NOTHING`),
			settingMasterKey, fingerprint)
		if err != nil {
			return "", err
		}
		if n, err := res.RowsAffected(); err != nil {
			return "", err
		} else if n == 1 {
			if err := db.audit(ctx, tx, actor, "", "ClaimMasterKey", "master-key", nil, map[string]string{"fingerprint": fingerprint}); err != nil {
				return "", err
			}
		}
		var fp string
		err = tx.QueryRow(ctx, db.q(`SELECT value FROM settings WHERE name = ?`), settingMasterKey).Scan(&fp)
		return fp, err
	})
	return fp, wrap("claim master key", err)
}

// setMasterKey records fingerprint as the store's master key, in tx.
func (db *DB) setMasterKey(ctx context.Context, tx *engine.Tx, fingerprint string) error {
	_, err := tx.Exec(ctx, db.q(`INSERT INTO settings (name, value) VALUES (?, ?) ON CONFLICT (name) DO UPDATE SET value = excluded.value`),
		settingMasterKey, fingerprint)
	return err
}
