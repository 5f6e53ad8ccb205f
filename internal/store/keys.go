package store

import (
	"context"
	"crypto/sha256"
	"database/sql"
	"encoding/hex"
	"errors"
	"strings"
	"time"

	"github.com/imagequota/imagequota/internal/quota"
	"github.com/imagequota/imagequota/internal/store/engine"
)

// CreateAccessKey is CreateAccessKeyAs by the operator (quota.AdminActor).
func (db *DB) CreateAccessKey(ctx context.Context, accountID string) (quota.AccessKey, error) {
	return db.CreateAccessKeyAs(ctx, accountID, quota.AdminActor)
}

// CreateAccessKeyAs creates a key with a new random secret, recorded in the
// audit trail as actor's change (never with its secret).
func (db *DB) CreateAccessKeyAs(ctx context.Context, accountID string, actor quota.Actor) (quota.AccessKey, error) {
	k := quota.AccessKey{
		ID:        "AK" + strings.ToUpper(newID("", 11)),
		AccountID: accountID,
		Secret:    NewSecret(24),
		CreatedAt: fromMicros(micros(db.now())),
	}
	sealed := db.SealSecret(k.ID, k.Secret)
	// A request seen again gets the key it created, its password kept
	// sealed in the replay record as in access_keys.
	type created struct{ ID, Sealed string }
	res, replayed, err := replayable(ctx, db, actor.Replay, accountID, func(ctx context.Context, tx *engine.Tx) (created, error) {
		if err := db.accountExists(ctx, tx, accountID); err != nil {
			return created{}, err
		}
		if _, err := tx.Exec(ctx, db.q(`INSERT INTO access_keys (id, account_id, secret, disabled, created_at) VALUES (?, ?, ?, ?, ?)`),
			k.ID, k.AccountID, sealed, false, micros(k.CreatedAt)); err != nil {
			return created{}, err
		}
		return created{k.ID, sealed}, db.audit(ctx, tx, actor, accountID, "CreateAccessKey", k.ID, nil, accessKeyAudit{ID: k.ID, AccountID: accountID})
	})
	if err == nil && replayed {
		k.ID = res.ID
		k.Secret, err = db.openSecret(res.ID, res.Sealed)
	}
	return k, wrap("create access key", err)
}

// accessKeyAudit is an access key's state as the audit trail records it:
// never its secret.
type accessKeyAudit struct {
	ID        string `json:"accessKeyId"`
	AccountID string `json:"accountId"`
	Disabled  bool   `json:"disabled"`
}

// ListAccessKeys returns an account's keys (without secrets).
func (db *DB) ListAccessKeys(ctx context.Context, accountID string) ([]quota.AccessKey, error) {
	rows, err := db.r.QueryContext(ctx, db.q(`SELECT id, account_id, disabled, created_at FROM access_keys WHERE account_id = ? ORDER BY created_at, id`), accountID)
	if err != nil {
		return nil, wrap("list access keys", db.e.Interpret(err))
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
	return out, wrap("list access keys", db.e.Interpret(rows.Err()))
}

// SetAccessKeyDisabled is SetAccessKeyDisabledAs by the operator (quota.AdminActor).
func (db *DB) SetAccessKeyDisabled(ctx context.Context, keyID string, disabled bool) error {
	return db.SetAccessKeyDisabledAs(ctx, keyID, disabled, quota.AdminActor)
}

// SetAccessKeyDisabledAs disables or enables a key, recorded in the audit
// trail as actor's change (DisableAccessKey or EnableAccessKey, with the
// state before, even when it was already the one asked for).
func (db *DB) SetAccessKeyDisabledAs(ctx context.Context, keyID string, disabled bool, actor quota.Actor) error {
	return wrap("disable access key", db.execReplayable(ctx, actor.Replay, "", func(ctx context.Context, tx *engine.Tx) error {
		var accountID string
		var was bool
		err := tx.QueryRow(ctx, db.q(`SELECT account_id, disabled FROM access_keys WHERE id = ?`), keyID).Scan(&accountID, &was)
		if errors.Is(err, sql.ErrNoRows) {
			return notFound(quota.CodeAccessKeyNotFound, "access key", keyID)
		}
		if err != nil {
			return err
		}
		if err := execOne(ctx, tx, db.q(`UPDATE access_keys SET disabled = ? WHERE id = ?`),
			missing{quota.CodeAccessKeyNotFound, "access key", keyID}, disabled, keyID); err != nil {
			return err
		}
		return db.audit(ctx, tx, actor, accountID, switchAction("AccessKey", disabled), keyID, disabledAudit{was}, disabledAudit{disabled})
	}))
}

// TokenHash is how a bearer token is kept: only its SHA-256.
func TokenHash(token string) string {
	sum := sha256.Sum256([]byte(token))
	return hex.EncodeToString(sum[:])
}

// TokenRef names a bearer token where the token itself must not appear (the
// logs, the audit trail): "token:" and the first 8 hex digits of its SHA-256.
func TokenRef(token string) string {
	return "token:" + TokenHash(token)[:8]
}

// CreateToken is CreateTokenAs by the operator (quota.AdminActor).
func (db *DB) CreateToken(ctx context.Context, accountID string, ttl time.Duration) (string, time.Time, error) {
	return db.CreateTokenAs(ctx, accountID, ttl, quota.AdminActor)
}

// CreateTokenAs creates a bearer token valid for ttl, recorded in the audit
// trail as actor's change under its TokenRef (never the token).
func (db *DB) CreateTokenAs(ctx context.Context, accountID string, ttl time.Duration, actor quota.Actor) (string, time.Time, error) {
	token := "zqt_" + NewSecret(32)
	now := db.now()
	exp := fromMicros(micros(now.Add(ttl)))
	// A request seen again gets the token it created: the store keeps only
	// its hash, so the replay record keeps it sealed with the master key,
	// until the request expires.
	type created struct {
		Sealed    string
		ExpiresAt time.Time
	}
	res, replayed, err := replayable(ctx, db, actor.Replay, accountID, func(ctx context.Context, tx *engine.Tx) (created, error) {
		if err := db.accountExists(ctx, tx, accountID); err != nil {
			return created{}, err
		}
		if _, err := tx.Exec(ctx, db.q(`INSERT INTO tokens (hash, account_id, expires_at, created_at) VALUES (?, ?, ?, ?)`),
			TokenHash(token), accountID, micros(exp), micros(now)); err != nil {
			return created{}, err
		}
		var sealed string
		if actor.Replay.Key != "" {
			sealed = db.SealSecret(tokenReplayAAD, token)
		}
		return created{sealed, exp}, db.audit(ctx, tx, actor, accountID, "CreateToken", TokenRef(token), nil,
			tokenAudit{AccountID: accountID, ExpiresAt: exp.Format(time.RFC3339Nano)})
	})
	if err == nil && replayed {
		exp = res.ExpiresAt
		token, err = db.openSecret(tokenReplayAAD, res.Sealed)
	}
	if err != nil {
		return "", time.Time{}, wrap("create token", err)
	}
	return token, exp, nil
}

// tokenReplayAAD binds a token sealed in a replay record to that use.
const tokenReplayAAD = "token-replay"

// tokenAudit is a token's state as the audit trail records it.
type tokenAudit struct {
	AccountID string `json:"accountId"`
	ExpiresAt string `json:"expiresAt"`
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
		return c, 0, wrap("access key credential", db.e.Interpret(err))
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
		return c, 0, wrap("token credential", db.e.Interpret(err))
	}
	c.ExpiresAt = fromMicros(exp)
	return c, ver, nil
}

// CachedAccessKeyCredential is AccessKeyCredential served from memory while
// the key's account's credentials are unchanged.
func (db *DB) CachedAccessKeyCredential(ctx context.Context, keyID string) (quota.Credential, error) {
	return db.cachedCredential(ctx, db.cache.keys, keyID, db.accessKeyCredential)
}

// CachedTokenCredential is TokenCredential served from memory while the
// token's account's credentials are unchanged.
func (db *DB) CachedTokenCredential(ctx context.Context, token string) (quota.Credential, error) {
	return db.cachedCredential(ctx, db.cache.tokens, token, db.tokenCredential)
}

// cachedCredential serves a cached credential when its account's credential
// scope still has the version it was stamped with; otherwise (or on a miss)
// it reads the credential together with that version, in one statement, so
// that the stamp is exactly as old as the data.
func (db *DB) cachedCredential(ctx context.Context, m map[string]credEntry, k string,
	load func(ctx context.Context, k string, withVersion bool) (quota.Credential, int64, error)) (quota.Credential, error) {
	c := db.cache
	c.mu.RLock()
	e, ok := m[k]
	c.mu.RUnlock()
	if ok {
		scope := credScope(e.cred.AccountID)
		if vs, err := c.watch.observe(ctx, scope); err == nil && vs[scope] == e.version {
			return e.cred, nil
		}
	}
	cred, ver, err := load(ctx, k, true)
	if err != nil {
		if _, ok := quota.AsError(err); ok {
			return cred, err
		}
		// The versioned read failed (a database without cache_versions,
		// say): answer uncached.
		cred, _, err = load(ctx, k, false)
		return cred, err
	}
	putBounded(&c.mu, m, k, credEntry{cred: cred, version: ver})
	return cred, nil
}
