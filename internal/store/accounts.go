package store

import (
	"context"
	"database/sql"
	"errors"
	"math"
	"strings"

	"github.com/imagequota/imagequota/internal/quota"
	"github.com/imagequota/imagequota/internal/store/engine"
)

// CreateAccount is CreateAccountAs by the operator (quota.AdminActor).
func (db *DB) CreateAccount(ctx context.Context, name string) (quota.Account, error) {
	return db.CreateAccountAs(ctx, name, quota.AdminActor)
}

// CreateAccountAs creates an enabled account, recorded in the audit trail as
// actor's change.
func (db *DB) CreateAccountAs(ctx context.Context, name string, actor quota.Actor) (quota.Account, error) {
	a := quota.Account{ID: newID("acc-", 8), Name: name, CreatedAt: fromMicros(micros(db.now()))}
	// A request seen again gets the account it created.
	a, _, err := replayable(ctx, db, actor.Replay, "", func(ctx context.Context, tx *engine.Tx) (quota.Account, error) {
		if _, err := tx.Exec(ctx, db.q(`INSERT INTO accounts (id, name, disabled, created_at) VALUES (?, ?, ?, ?)`),
			a.ID, a.Name, false, micros(a.CreatedAt)); err != nil {
			return quota.Account{}, err
		}
		return a, db.audit(ctx, tx, actor, a.ID, "CreateAccount", a.ID, nil, accountAudit{ID: a.ID, Name: a.Name})
	})
	return a, wrap("create account", err)
}

// accountAudit is an account's state as the audit trail records it.
type accountAudit struct {
	ID       string `json:"accountId"`
	Disabled bool   `json:"disabled"`
	Name     string `json:"name"`
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

// SetAccountDisabled is SetAccountDisabledAs by the operator (quota.AdminActor).
func (db *DB) SetAccountDisabled(ctx context.Context, id string, disabled bool) error {
	return db.SetAccountDisabledAs(ctx, id, disabled, quota.AdminActor)
}

// SetAccountDisabledAs disables or enables an account, recorded in the audit
// trail as actor's change (DisableAccount or EnableAccount, with the state
// before, even when it was already the one asked for).
func (db *DB) SetAccountDisabledAs(ctx context.Context, id string, disabled bool, actor quota.Actor) error {
	return wrap("disable account", db.execReplayable(ctx, actor.Replay, id, func(ctx context.Context, tx *engine.Tx) error {
		var was bool
		err := tx.QueryRow(ctx, db.q(`SELECT disabled FROM accounts WHERE id = ?`), id).Scan(&was)
		if errors.Is(err, sql.ErrNoRows) {
			return notFound(quota.CodeAccountNotFound, "account", id)
		}
		if err != nil {
			return err
		}
		if err := execOne(ctx, tx, db.q(`UPDATE accounts SET disabled = ? WHERE id = ?`),
			missing{quota.CodeAccountNotFound, "account", id}, disabled, id); err != nil {
			return err
		}
		return db.audit(ctx, tx, actor, id, switchAction("Account", disabled), id, disabledAudit{was}, disabledAudit{disabled})
	}))
}

// disabledAudit is the state an enable or disable changes.
type disabledAudit struct {
	Disabled bool `json:"disabled"`
}

// switchAction names an enable or disable of what in the audit trail.
func switchAction(what string, disabled bool) string {
	if disabled {
		return "Disable" + what
	}
	return "Enable" + what
}

func (db *DB) accountExists(ctx context.Context, tx *engine.Tx, id string) error {
	var one int
	err := tx.QueryRow(ctx, db.q(`SELECT 1 FROM accounts WHERE id = ?`), id).Scan(&one)
	if errors.Is(err, sql.ErrNoRows) {
		return notFound(quota.CodeAccountNotFound, "account", id)
	}
	return err
}

// ListAccountsPage returns a page of the accounts f selects, oldest first,
// and how many it selects in all.
func (db *DB) ListAccountsPage(ctx context.Context, f quota.AccountFilter) ([]quota.Account, int, error) {
	where := ` WHERE 1 = 1`
	var args []any
	if len(f.IDs) > 0 {
		where += ` AND id IN (` + placeholders(len(f.IDs)) + `)`
		args = append(args, anySlice(f.IDs)...)
	}
	if f.NameContains != "" {
		where += ` AND LOWER(name) LIKE ? ESCAPE '\'`
		args = append(args, "%"+likeEscaper.Replace(strings.ToLower(f.NameContains))+"%")
	}
	var total int
	if err := db.r.QueryRowContext(ctx, db.q(`SELECT COUNT(*) FROM accounts`+where), args...).Scan(&total); err != nil {
		return nil, 0, wrap("list accounts", db.e.Interpret(err))
	}
	limit := f.Limit
	if limit <= 0 {
		limit = math.MaxInt32
	}
	rows, err := db.r.QueryContext(ctx, db.q(`SELECT id, name, disabled, created_at FROM accounts`+where+` ORDER BY created_at, id LIMIT ? OFFSET ?`),
		append(args, limit, max(f.Offset, 0))...)
	if err != nil {
		return nil, 0, wrap("list accounts", db.e.Interpret(err))
	}
	defer rows.Close()
	out := []quota.Account{}
	for rows.Next() {
		var a quota.Account
		var created int64
		if err := rows.Scan(&a.ID, &a.Name, &a.Disabled, &created); err != nil {
			return nil, 0, wrap("list accounts", err)
		}
		a.CreatedAt = fromMicros(created)
		out = append(out, a)
	}
	return out, total, wrap("list accounts", db.e.Interpret(rows.Err()))
}

// likeEscaper escapes the wildcards of LIKE (with ESCAPE '\').
var likeEscaper = strings.NewReplacer(`\`, `\\`, `%`, `\%`, `_`, `\_`)
