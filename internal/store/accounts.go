package store

import (
	"context"
	"crypto/sha256"
	"database/sql"
	"encoding/hex"
	"errors"
	"strings"
	"time"

	"imagequota/internal/quota"
)

// CreateAccount creates an enabled account.
func (db *DB) CreateAccount(ctx context.Context, name string) (quota.Account, error) {
	a := quota.Account{ID: newID("acc-", 8), Name: name, CreatedAt: fromMicros(micros(db.now()))}
	err := db.inTx(ctx, func(ctx context.Context, tx txn) error {
		_, err := tx.ExecContext(ctx, db.q(`INSERT INTO accounts (id, name, disabled, created_at) VALUES (?, ?, ?, ?)`),
			a.ID, a.Name, false, micros(a.CreatedAt))
		return err
	})
	return a, wrap("create account", err)
}

// GetAccount returns one account.
func (db *DB) GetAccount(ctx context.Context, id string) (quota.Account, error) {
	var a quota.Account
	var created int64
	err := db.r.QueryRowContext(ctx, db.q(`SELECT id, name, disabled, created_at FROM accounts WHERE id = ?`), id).
		Scan(&a.ID, &a.Name, &a.Disabled, &created)
	if errors.Is(err, sql.ErrNoRows) {
		return a, notFound(quota.CodeAccountNotFound, "account", id)
	}
	if err != nil {
		return a, wrap("get account", db.d.interpret(err))
	}
	a.CreatedAt = fromMicros(created)
	return a, nil
}

// ListAccounts returns every account, oldest first.
func (db *DB) ListAccounts(ctx context.Context) ([]quota.Account, error) {
	rows, err := db.r.QueryContext(ctx, `SELECT id, name, disabled, created_at FROM accounts ORDER BY created_at, id`)
	if err != nil {
		return nil, wrap("list accounts", db.d.interpret(err))
	}
	defer rows.Close()
	out := []quota.Account{}
	for rows.Next() {
		var a quota.Account
		var created int64
		if err := rows.Scan(&a.ID, &a.Name, &a.Disabled, &created); err != nil {
			return nil, wrap("list accounts", err)
		}
		a.CreatedAt = fromMicros(created)
		out = append(out, a)
	}
	return out, wrap("list accounts", db.d.interpret(rows.Err()))
}

// SetAccountDisabled disables or enables an account.
func (db *DB) SetAccountDisabled(ctx context.Context, id string, disabled bool) error {
	return wrap("disable account", db.inTx(ctx, func(ctx context.Context, tx txn) error {
		return execOne(ctx, tx, db.q(`UPDATE accounts SET disabled = ? WHERE id = ?`),
			missing{quota.CodeAccountNotFound, "account", id}, disabled, id)
	}))
}

// missing names the row a statement must change: its not-found error is
// built only when the row is missing.
type missing struct{ code, what, id string }

// execOne runs a statement that must change exactly one row; otherwise it
// fails with m's not-found error.
func execOne(ctx context.Context, tx txn, q string, m missing, args ...any) error {
	res, err := tx.ExecContext(ctx, q, args...)
	if err != nil {
		return err
	}
	n, err := res.RowsAffected()
	if err != nil {
		return err
	}
	if n != 1 {
		return notFound(m.code, m.what, m.id)
	}
	return nil
}

func (db *DB) accountExists(ctx context.Context, tx txn, id string) error {
	var one int
	err := tx.QueryRowContext(ctx, db.q(`SELECT 1 FROM accounts WHERE id = ?`), id).Scan(&one)
	if errors.Is(err, sql.ErrNoRows) {
		return notFound(quota.CodeAccountNotFound, "account", id)
	}
	return err
}

// CreateAccessKey creates a key with a new random secret.
func (db *DB) CreateAccessKey(ctx context.Context, accountID string) (quota.AccessKey, error) {
	k := quota.AccessKey{
		ID:        "AK" + strings.ToUpper(newID("", 11)),
		AccountID: accountID,
		Secret:    newSecret(24),
		CreatedAt: fromMicros(micros(db.now())),
	}
	err := db.inTx(ctx, func(ctx context.Context, tx txn) error {
		if err := db.accountExists(ctx, tx, accountID); err != nil {
			return err
		}
		_, err := tx.ExecContext(ctx, db.q(`INSERT INTO access_keys (id, account_id, secret, disabled, created_at) VALUES (?, ?, ?, ?, ?)`),
			k.ID, k.AccountID, db.sealSecret(k.ID, k.Secret), false, micros(k.CreatedAt))
		return err
	})
	return k, wrap("create access key", err)
}

// ListAccessKeys returns an account's keys (without secrets).
func (db *DB) ListAccessKeys(ctx context.Context, accountID string) ([]quota.AccessKey, error) {
	rows, err := db.r.QueryContext(ctx, db.q(`SELECT id, account_id, disabled, created_at FROM access_keys WHERE account_id = ? ORDER BY created_at, id`), accountID)
	if err != nil {
		return nil, wrap("list access keys", db.d.interpret(err))
	}
	defer rows.Close()
	out := []quota.AccessKey{}
	for rows.Next() {
		var k quota.AccessKey
		var created int64
		if err := rows.Scan(&k.ID, &k.AccountID, &k.Disabled, &created); err != nil {
			return nil, wrap("list access keys", err)
		}
		k.CreatedAt = fromMicros(created)
		out = append(out, k)
	}
	return out, wrap("list access keys", db.d.interpret(rows.Err()))
}

// SetAccessKeyDisabled disables or enables a key.
func (db *DB) SetAccessKeyDisabled(ctx context.Context, keyID string, disabled bool) error {
	return wrap("disable access key", db.inTx(ctx, func(ctx context.Context, tx txn) error {
		return execOne(ctx, tx, db.q(`UPDATE access_keys SET disabled = ? WHERE id = ?`),
			missing{quota.CodeAccessKeyNotFound, "access key", keyID}, disabled, keyID)
	}))
}

// TokenHash is how a bearer token is kept: only its SHA-256.
func TokenHash(token string) string {
	sum := sha256.Sum256([]byte(token))
	return hex.EncodeToString(sum[:])
}

// CreateToken creates a bearer token valid for ttl.
func (db *DB) CreateToken(ctx context.Context, accountID string, ttl time.Duration) (string, time.Time, error) {
	token := "zqt_" + newSecret(32)
	now := db.now()
	exp := fromMicros(micros(now.Add(ttl)))
	err := db.inTx(ctx, func(ctx context.Context, tx txn) error {
		if err := db.accountExists(ctx, tx, accountID); err != nil {
			return err
		}
		_, err := tx.ExecContext(ctx, db.q(`INSERT INTO tokens (hash, account_id, expires_at, created_at) VALUES (?, ?, ?, ?)`),
			TokenHash(token), accountID, micros(exp), micros(now))
		return err
	})
	if err != nil {
		return "", time.Time{}, wrap("create token", err)
	}
	return token, exp, nil
}

var errNoCredential = quota.Errorf(quota.CodeSignatureFailure, "The credential is not valid.")

// AccessKeyCredential looks up a key for authentication.
func (db *DB) AccessKeyCredential(ctx context.Context, keyID string) (quota.Credential, error) {
	c, _, err := db.accessKeyCredential(ctx, keyID, false)
	return c, err
}

// accessKeyCredential is AccessKeyCredential; withVersion also reads, in the
// same statement (so as of the same snapshot), the version of the account's
// credential scope for the read cache (cache.go).
func (db *DB) accessKeyCredential(ctx context.Context, keyID string, withVersion bool) (quota.Credential, int64, error) {
	var c quota.Credential
	var ver int64
	q := `SELECT k.account_id, k.secret, k.disabled, a.disabled, 0`
	if withVersion {
		q = `SELECT k.account_id, k.secret, k.disabled, a.disabled,
			COALESCE((SELECT v.version FROM cache_versions v WHERE v.scope = 'cred:' || k.account_id), 0)`
	}
	err := db.r.QueryRowContext(ctx, db.q(q+`
		FROM access_keys k JOIN accounts a ON a.id = k.account_id WHERE k.id = ?`), keyID).
		Scan(&c.AccountID, &c.Secret, &c.Disabled, &c.AccountDisabled, &ver)
	if errors.Is(err, sql.ErrNoRows) {
		return c, 0, errNoCredential
	}
	if err != nil {
		return c, 0, wrap("access key credential", db.d.interpret(err))
	}
	if c.Secret, err = db.openSecret(keyID, c.Secret); err != nil {
		return quota.Credential{}, 0, wrap("access key credential", err)
	}
	return c, ver, nil
}

// TokenCredential looks up a bearer token for authentication.
func (db *DB) TokenCredential(ctx context.Context, token string) (quota.Credential, error) {
	c, _, err := db.tokenCredential(ctx, token, false)
	return c, err
}

// tokenCredential is TokenCredential; withVersion as in accessKeyCredential.
func (db *DB) tokenCredential(ctx context.Context, token string, withVersion bool) (quota.Credential, int64, error) {
	var c quota.Credential
	var exp, ver int64
	q := `SELECT t.account_id, t.expires_at, a.disabled, 0`
	if withVersion {
		q = `SELECT t.account_id, t.expires_at, a.disabled,
			COALESCE((SELECT v.version FROM cache_versions v WHERE v.scope = 'cred:' || t.account_id), 0)`
	}
	err := db.r.QueryRowContext(ctx, db.q(q+`
		FROM tokens t JOIN accounts a ON a.id = t.account_id WHERE t.hash = ?`), TokenHash(token)).
		Scan(&c.AccountID, &exp, &c.AccountDisabled, &ver)
	if errors.Is(err, sql.ErrNoRows) {
		return c, 0, errNoCredential
	}
	if err != nil {
		return c, 0, wrap("token credential", db.d.interpret(err))
	}
	c.ExpiresAt = fromMicros(exp)
	return c, ver, nil
}
