package store

import (
	"context"
	"crypto/sha256"
	"database/sql"
	"encoding/hex"
	"errors"
	"time"

	"github.com/imagequota/imagequota/internal/quota"
	"github.com/imagequota/imagequota/internal/store/engine"
)

// The operator console signs an operator in with one of its access keys and
// keeps a session for it: the browser holds a random token in a cookie, the
// store only the token's SHA-256, so that a copy of the database opens no
// session. Every page the console serves reads the session here, so signing
// out, or disabling the key or the operator, ends it on every replica at
// once. Sign-ins and sign-outs are audited under no account ("").

// ConsoleSession is a signed-in operator as the console sees it.
type ConsoleSession struct {
	OperatorID   string
	OperatorName string
	Role         string
	KeyID        string
	CreatedAt    time.Time
	ExpiresAt    time.Time
}

// ErrNoConsoleSession is returned for a session token that opens no
// session: unknown, signed out, expired, or of a disabled key or operator.
var ErrNoConsoleSession = errors.New("store: no such console session")

// ConsoleTokenHash is the hash a session token is stored under.
func ConsoleTokenHash(token string) string {
	h := sha256.Sum256([]byte(token))
	return hex.EncodeToString(h[:])
}

// consoleSessionAudit is a session as the audit trail records it: never
// its token or the token's hash.
type consoleSessionAudit struct {
	OperatorID  string `json:"operatorId"`
	AccessKeyID string `json:"accessKeyId"`
	ExpiresAt   string `json:"expiresAt,omitempty"`
}

// CreateConsoleSession opens a session for an operator key, whose password
// the caller checked, good for ttl: stored under the hash of token. The key
// and its operator must exist and be enabled, else ErrNoConsoleSession.
// Sessions already expired are deleted in the same transaction. It is
// recorded as ConsoleSignIn by actor.
func (db *DB) CreateConsoleSession(ctx context.Context, token, keyID string, ttl time.Duration, actor quota.Actor) (ConsoleSession, error) {
	now := micros(db.now())
	s := ConsoleSession{KeyID: keyID, CreatedAt: fromMicros(now), ExpiresAt: fromMicros(now + ttl.Microseconds())}
	err := db.exec(ctx, func(ctx context.Context, tx *engine.Tx) error {
		var keyOff, opOff bool
		err := tx.QueryRow(ctx, db.q(`SELECT o.id, o.name, o.role, k.disabled, o.disabled
			FROM operator_keys k JOIN operators o ON o.id = k.operator_id WHERE k.id = ?`), keyID).
			Scan(&s.OperatorID, &s.OperatorName, &s.Role, &keyOff, &opOff)
		if errors.Is(err, sql.ErrNoRows) || err == nil && (keyOff || opOff) {
			return ErrNoConsoleSession
		}
		if err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, db.q(`DELETE FROM console_sessions WHERE expires_at <= ?`), now); err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, db.q(`INSERT INTO console_sessions (token_hash, operator_id, key_id, created_at, expires_at) VALUES (?, ?, ?, ?, ?)`),
			ConsoleTokenHash(token), s.OperatorID, keyID, now, micros(s.ExpiresAt)); err != nil {
			return err
		}
		return db.audit(ctx, tx, actor, "", "ConsoleSignIn", keyID, nil,
			consoleSessionAudit{OperatorID: s.OperatorID, AccessKeyID: keyID, ExpiresAt: quota.WireTime(s.ExpiresAt)})
	})
	if errors.Is(err, ErrNoConsoleSession) {
		return ConsoleSession{}, err
	}
	return s, wrap("create console session", db.e.Interpret(err))
}

// ConsoleSession returns the session of token: ErrNoConsoleSession unless
// it exists, has not expired, and its key and operator are enabled. It is
// read from the database every time, uncached.
func (db *DB) ConsoleSession(ctx context.Context, token string) (ConsoleSession, error) {
	var s ConsoleSession
	var created, expires int64
	var keyOff, opOff bool
	err := db.r.QueryRowContext(ctx, db.q(`SELECT s.operator_id, o.name, o.role, s.key_id, s.created_at, s.expires_at, k.disabled, o.disabled
		FROM console_sessions s JOIN operator_keys k ON k.id = s.key_id JOIN operators o ON o.id = s.operator_id
		WHERE s.token_hash = ? AND s.expires_at > ?`), ConsoleTokenHash(token), micros(db.now())).
		Scan(&s.OperatorID, &s.OperatorName, &s.Role, &s.KeyID, &created, &expires, &keyOff, &opOff)
	if errors.Is(err, sql.ErrNoRows) || err == nil && (keyOff || opOff) {
		return ConsoleSession{}, ErrNoConsoleSession
	}
	if err != nil {
		return ConsoleSession{}, wrap("console session", db.e.Interpret(err))
	}
	s.CreatedAt, s.ExpiresAt = fromMicros(created), fromMicros(expires)
	return s, nil
}

// DeleteConsoleSession ends the session of token, recorded as
// ConsoleSignOut by actor; it reports whether there was one.
func (db *DB) DeleteConsoleSession(ctx context.Context, token string, actor quota.Actor) (bool, error) {
	ended, err := write(ctx, db, func(ctx context.Context, tx *engine.Tx) (bool, error) {
		var s consoleSessionAudit
		err := tx.QueryRow(ctx, db.q(`SELECT operator_id, key_id FROM console_sessions WHERE token_hash = ?`), ConsoleTokenHash(token)).
			Scan(&s.OperatorID, &s.AccessKeyID)
		if errors.Is(err, sql.ErrNoRows) {
			return false, nil
		}
		if err != nil {
			return false, err
		}
		if _, err := tx.Exec(ctx, db.q(`DELETE FROM console_sessions WHERE token_hash = ?`), ConsoleTokenHash(token)); err != nil {
			return false, err
		}
		return true, db.audit(ctx, tx, actor, "", "ConsoleSignOut", s.AccessKeyID, s, nil)
	})
	return ended, wrap("delete console session", db.e.Interpret(err))
}
