package store

import (
	"context"
	"database/sql"
	"errors"
	"strings"

	"github.com/imagequota/imagequota/internal/quota"
	"github.com/imagequota/imagequota/internal/store/engine"
)

// Operators run the service through the operator API with the power of
// their role. Their keys are sealed with the master key like a tenant's,
// and their ids begin with quota.OperatorKeyPrefix, which no tenant key's
// does. Changes to operators are audited under no account ("").

// CreateOperator creates an enabled operator with a first access key,
// recorded in the audit trail as actor's change (never the key's secret).
func (db *DB) CreateOperator(ctx context.Context, name, role string, actor quota.Actor) (quota.Operator, quota.OperatorKey, error) {
	if err := quota.CheckRole(role); err != nil {
		return quota.Operator{}, quota.OperatorKey{}, err
	}
	if strings.TrimSpace(name) == "" {
		return quota.Operator{}, quota.OperatorKey{}, quota.Errorf(quota.CodeMissingParameter, "An operator needs a name.")
	}
	if err := quota.CheckText("name", name, 255); err != nil {
		return quota.Operator{}, quota.OperatorKey{}, err
	}
	op := quota.Operator{ID: newID("opr-", 8), Name: name, Role: role, CreatedAt: fromMicros(micros(db.now()))}
	k := db.newOperatorKey(op.ID)
	err := db.exec(ctx, func(ctx context.Context, tx *engine.Tx) error {
		if _, err := tx.Exec(ctx, db.q(`INSERT INTO operators (id, name, role, disabled, created_at) VALUES (?, ?, ?, ?, ?)`),
			op.ID, op.Name, op.Role, false, micros(op.CreatedAt)); err != nil {
			return err
		}
		if err := db.audit(ctx, tx, actor, "", "CreateOperator", op.ID, nil, operatorAudit{ID: op.ID, Name: op.Name, Role: op.Role}); err != nil {
			return err
		}
		return db.insertOperatorKey(ctx, tx, k, actor)
	})
	if err != nil {
		return quota.Operator{}, quota.OperatorKey{}, wrap("create operator", err)
	}
	return op, k, nil
}

// operatorAudit is an operator's state as the audit trail records it.
type operatorAudit struct {
	ID       string `json:"operatorId"`
	Disabled bool   `json:"disabled"`
	Name     string `json:"name"`
	Role     string `json:"role"`
}

// operatorKeyAudit is an operator key's state as the audit trail records
// it: never its secret.
type operatorKeyAudit struct {
	ID         string `json:"accessKeyId"`
	OperatorID string `json:"operatorId"`
	Disabled   bool   `json:"disabled"`
}

func (db *DB) newOperatorKey(operatorID string) quota.OperatorKey {
	return quota.OperatorKey{
		ID:         quota.OperatorKeyPrefix + strings.ToUpper(newID("", 11)),
		OperatorID: operatorID,
		Secret:     NewSecret(24),
		CreatedAt:  fromMicros(micros(db.now())),
	}
}

func (db *DB) insertOperatorKey(ctx context.Context, tx *engine.Tx, k quota.OperatorKey, actor quota.Actor) error {
	if _, err := tx.Exec(ctx, db.q(`INSERT INTO operator_keys (id, operator_id, secret, disabled, created_at) VALUES (?, ?, ?, ?, ?)`),
		k.ID, k.OperatorID, db.SealSecret(k.ID, k.Secret), false, micros(k.CreatedAt)); err != nil {
		return err
	}
	return db.audit(ctx, tx, actor, "", "CreateOperatorKey", k.ID, nil, operatorKeyAudit{ID: k.ID, OperatorID: k.OperatorID})
}

// CreateOperatorKey gives an operator another access key (to rotate its
// keys: create one, move to it, disable the old one).
func (db *DB) CreateOperatorKey(ctx context.Context, operatorID string, actor quota.Actor) (quota.OperatorKey, error) {
	k := db.newOperatorKey(operatorID)
	err := db.exec(ctx, func(ctx context.Context, tx *engine.Tx) error {
		var one int
		err := tx.QueryRow(ctx, db.q(`SELECT 1 FROM operators WHERE id = ?`), operatorID).Scan(&one)
		if errors.Is(err, sql.ErrNoRows) {
			return notFound(quota.CodeOperatorNotFound, "operator", operatorID)
		}
		if err != nil {
			return err
		}
		return db.insertOperatorKey(ctx, tx, k, actor)
	})
	if err != nil {
		return quota.OperatorKey{}, wrap("create operator key", err)
	}
	return k, nil
}

// ListOperators returns every operator, oldest first.
func (db *DB) ListOperators(ctx context.Context) ([]quota.Operator, error) {
	rows, err := db.r.QueryContext(ctx, `SELECT id, name, role, disabled, created_at FROM operators ORDER BY created_at, id`)
	if err != nil {
		return nil, wrap("list operators", db.e.Interpret(err))
	}
	defer rows.Close()
	out := []quota.Operator{}
	for rows.Next() {
		var o quota.Operator
		var created int64
		if err := rows.Scan(&o.ID, &o.Name, &o.Role, &o.Disabled, &created); err != nil {
			return nil, wrap("list operators", err)
		}
		o.CreatedAt = fromMicros(created)
		out = append(out, o)
	}
	return out, wrap("list operators", db.e.Interpret(rows.Err()))
}

// ListOperatorKeys returns an operator's keys (without secrets), or every
// operator's when operatorID is empty.
func (db *DB) ListOperatorKeys(ctx context.Context, operatorID string) ([]quota.OperatorKey, error) {
	q := `SELECT id, operator_id, disabled, created_at FROM operator_keys`
	var args []any
	if operatorID != "" {
		q += ` WHERE operator_id = ?`
		args = append(args, operatorID)
	}
	rows, err := db.r.QueryContext(ctx, db.q(q+` ORDER BY created_at, id`), args...)
	if err != nil {
		return nil, wrap("list operator keys", db.e.Interpret(err))
	}
	defer rows.Close()
	out := []quota.OperatorKey{}
	for rows.Next() {
		var k quota.OperatorKey
		var created int64
		if err := rows.Scan(&k.ID, &k.OperatorID, &k.Disabled, &created); err != nil {
			return nil, wrap("list operator keys", err)
		}
		k.CreatedAt = fromMicros(created)
		out = append(out, k)
	}
	return out, wrap("list operator keys", db.e.Interpret(rows.Err()))
}

// SetOperatorDisabled disables or enables an operator (and so every key it
// has), recorded as DisableOperator or EnableOperator.
func (db *DB) SetOperatorDisabled(ctx context.Context, id string, disabled bool, actor quota.Actor) error {
	return wrap("disable operator", db.exec(ctx, func(ctx context.Context, tx *engine.Tx) error {
		var was bool
		err := tx.QueryRow(ctx, db.q(`SELECT disabled FROM operators WHERE id = ?`), id).Scan(&was)
		if errors.Is(err, sql.ErrNoRows) {
			return notFound(quota.CodeOperatorNotFound, "operator", id)
		}
		if err != nil {
			return err
		}
		if err := execOne(ctx, tx, db.q(`UPDATE operators SET disabled = ? WHERE id = ?`),
			missing{quota.CodeOperatorNotFound, "operator", id}, disabled, id); err != nil {
			return err
		}
		return db.audit(ctx, tx, actor, "", switchAction("Operator", disabled), id, disabledAudit{was}, disabledAudit{disabled})
	}))
}

// SetOperatorKeyDisabled disables or enables one operator key, recorded as
// DisableOperatorKey or EnableOperatorKey.
func (db *DB) SetOperatorKeyDisabled(ctx context.Context, keyID string, disabled bool, actor quota.Actor) error {
	return wrap("disable operator key", db.exec(ctx, func(ctx context.Context, tx *engine.Tx) error {
		var was bool
		err := tx.QueryRow(ctx, db.q(`SELECT disabled FROM operator_keys WHERE id = ?`), keyID).Scan(&was)
		if errors.Is(err, sql.ErrNoRows) {
			return notFound(quota.CodeAccessKeyNotFound, "operator access key", keyID)
		}
		if err != nil {
			return err
		}
		if err := execOne(ctx, tx, db.q(`UPDATE operator_keys SET disabled = ? WHERE id = ?`),
			missing{quota.CodeAccessKeyNotFound, "operator access key", keyID}, disabled, keyID); err != nil {
			return err
		}
		return db.audit(ctx, tx, actor, "", switchAction("OperatorKey", disabled), keyID, disabledAudit{was}, disabledAudit{disabled})
	}))
}

// OperatorKeyCredential looks up an operator key for authentication: the
// operator's id as AccountID, its role, and whether the key or the operator
// is disabled (as Disabled and AccountDisabled). It is read from the
// database on every request, uncached: operator calls are few, and a key
// or an operator disabled is refused from the next request on, on every
// replica.
func (db *DB) OperatorKeyCredential(ctx context.Context, keyID string) (quota.Credential, error) {
	var c quota.Credential
	var sealed string
	err := db.r.QueryRowContext(ctx, db.q(`SELECT k.operator_id, k.secret, k.disabled, o.disabled, o.role
		FROM operator_keys k JOIN operators o ON o.id = k.operator_id WHERE k.id = ?`), keyID).
		Scan(&c.AccountID, &sealed, &c.Disabled, &c.AccountDisabled, &c.Role)
	if errors.Is(err, sql.ErrNoRows) {
		return c, errNoCredential
	}
	if err != nil {
		return c, wrap("operator key credential", db.e.Interpret(err))
	}
	if c.Secret, err = db.openSecret(keyID, sealed); err != nil {
		return quota.Credential{}, wrap("operator key credential", err)
	}
	return c, nil
}
