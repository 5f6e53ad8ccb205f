package store

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"

	"imagequota/internal/quota"
	"imagequota/internal/store/engine"
)

// replayable runs fn as one write transaction on behalf of the request that
// r identifies. The first time, fn runs and its result is recorded, in the
// same transaction, until r expires; a request with the same key seen again
// before then gets that recorded result (replayed true) and fn does not run,
// on any replica. The same key under another action is refused. Without a
// key (r.Key empty) fn simply runs. T is recorded as JSON, so its fields must
// be exported.
func replayable[T any](ctx context.Context, db *DB, r quota.Replay, accountID string, fn func(ctx context.Context, tx *engine.Tx) (T, error)) (res T, replayed bool, err error) {
	if r.Key == "" {
		res, err = write(ctx, db, fn)
		return res, false, err
	}
	type outcome struct {
		res      T
		replayed bool
	}
	o, err := write(ctx, db, func(ctx context.Context, tx *engine.Tx) (outcome, error) {
		// Concurrent copies of one request (a client's retry while the first
		// is still in flight) wait for each other here.
		if err := tx.Lock(ctx, "replay/"+r.Key); err != nil {
			return outcome{}, err
		}
		var action, stored string
		err := tx.QueryRow(ctx, db.q(`SELECT action, result FROM request_replays WHERE key = ? AND expires_at >= ?`),
			r.Key, micros(db.now())).Scan(&action, &stored)
		switch {
		case err == nil:
			if action != r.Action {
				return outcome{}, quota.Errorf(quota.CodeSignatureReused,
					"This request's signature was already used for %s; it cannot be used for %s. Sign every request afresh.", action, r.Action)
			}
			var o outcome
			if err := json.Unmarshal([]byte(stored), &o.res); err != nil {
				return outcome{}, err
			}
			o.replayed = true
			return o, nil
		case !errors.Is(err, sql.ErrNoRows):
			return outcome{}, err
		}
		res, err := fn(ctx, tx)
		if err != nil {
			return outcome{}, err
		}
		b, err := json.Marshal(res)
		if err != nil {
			return outcome{}, err
		}
		// An expired record of the same key (a clock far off) is replaced.
		if _, err := tx.Exec(ctx, db.q(`DELETE FROM request_replays WHERE key = ?`), r.Key); err != nil {
			return outcome{}, err
		}
		if _, err := tx.Exec(ctx, db.q(`INSERT INTO request_replays (key, action, account_id, result, expires_at) VALUES (?, ?, ?, ?, ?)`),
			r.Key, r.Action, accountID, string(b), micros(r.Expires)); err != nil {
			return outcome{}, err
		}
		// Each record added takes up to pruneEach expired ones with it, so
		// the table holds about the last window's writes.
		return outcome{res: res}, db.pruneReplays(ctx, tx, pruneEach)
	})
	return o.res, o.replayed, err
}

// execReplayable is replayable for a write that answers nothing but an error.
func (db *DB) execReplayable(ctx context.Context, r quota.Replay, accountID string, fn func(ctx context.Context, tx *engine.Tx) error) error {
	_, _, err := replayable(ctx, db, r, accountID, func(ctx context.Context, tx *engine.Tx) (struct{}, error) {
		return struct{}{}, fn(ctx, tx)
	})
	return err
}

// pruneEach is how many expired records each new one removes.
const pruneEach = 4

// pruneReplays deletes, in tx, up to limit records of requests that can no
// longer be presented.
func (db *DB) pruneReplays(ctx context.Context, tx *engine.Tx, limit int) error {
	_, err := tx.Exec(ctx, db.q(`DELETE FROM request_replays WHERE key IN (
		SELECT key FROM request_replays WHERE expires_at < ? ORDER BY expires_at LIMIT ?)`), micros(db.now()), limit)
	return err
}
