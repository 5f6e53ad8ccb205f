package store

import (
	"context"
	"database/sql"
	"errors"

	"imagequota/internal/quota"
	"imagequota/internal/store/engine"
)

// CreateAccount creates an enabled account.
func (db *DB) CreateAccount(ctx context.Context, name string) (quota.Account, error) {
	a := quota.Account{ID: newID("acc-", 8), Name: name, CreatedAt: fromMicros(micros(db.now()))}
	err := db.exec(ctx, func(ctx context.Context, tx *engine.Tx) error {
		_, err := tx.Exec(ctx, db.q(`INSERT INTO accounts (id, name, disabled, created_at) VALUES (?, ?, ?, ?)`),
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
		return a, wrap("get account", db.e.Interpret(err))
	}
	a.CreatedAt = fromMicros(created)
	return a, nil
}

// ListAccounts returns every account, oldest first.
func (db *DB) ListAccounts(ctx context.Context) ([]quota.Account, error) {
	rows, err := db.r.QueryContext(ctx, `SELECT id, name, disabled, created_at FROM accounts ORDER BY created_at, id`)
	if err != nil {
		return nil, wrap("list accounts", db.e.Interpret(err))
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
	return out, wrap("list accounts", db.e.Interpret(rows.Err()))
}

// SetAccountDisabled disables or enables an account.
func (db *DB) SetAccountDisabled(ctx context.Context, id string, disabled bool) error {
	return wrap("disable account", db.exec(ctx, func(ctx context.Context, tx *engine.Tx) error {
		return execOne(ctx, tx, db.q(`UPDATE accounts SET disabled = ? WHERE id = ?`),
			missing{quota.CodeAccountNotFound, "account", id}, disabled, id)
	}))
}

func (db *DB) accountExists(ctx context.Context, tx *engine.Tx, id string) error {
	var one int
	err := tx.QueryRow(ctx, db.q(`SELECT 1 FROM accounts WHERE id = ?`), id).Scan(&one)
	if errors.Is(err, sql.ErrNoRows) {
		return notFound(quota.CodeAccountNotFound, "account", id)
	}
	return err
}
