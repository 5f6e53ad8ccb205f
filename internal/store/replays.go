package store

import (
	"context"
	"crypto/sha256"
	"database/sql"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"errors"
	"time"

	"github.com/imagequota/imagequota/internal/quota"
	"github.com/imagequota/imagequota/internal/store/engine"
)

// replayable runs fn as one write transaction on behalf of the request that
// r identifies. The first time, fn runs and its result is recorded, in the
// same transaction, until r expires; a request with the same key seen again
// before then gets that recorded result (replayed true) and fn does not run,
// on any replica. The same key under another action is refused. Without a
// key (r.Key empty) fn simply runs. T is recorded as JSON, so its fields must
// be exported; keep it small, it is written with every write.
func replayable[T any](ctx context.Context, db *DB, r quota.Replay, accountID string, fn func(ctx context.Context, tx *engine.Tx) (T, error)) (res T, replayed bool, err error) {
	return replayableRun(ctx, db, r, accountID, false, fn)
}

// replayableAhead is replayable for a write whose fn changes nothing but the
// database (no effect outside it, before or after the commit, that depends on
// fn having run) and whose first statement that needs an answer comes soon.
// Where statements are pipelined (PostgreSQL), the replay record's lookup is
// sent together with fn's first read instead of in a round trip of its own:
// fn runs before the lookup's answer is looked at, and when the request was
// seen before, everything fn did is rolled back and the recorded answer
// returned, as if fn had not run. Elsewhere it is replayable.
func replayableAhead[T any](ctx context.Context, db *DB, r quota.Replay, accountID string, fn func(ctx context.Context, tx *engine.Tx) (T, error)) (res T, replayed bool, err error) {
	return replayableRun(ctx, db, r, accountID, true, fn)
}

// recordedAnswer carries a replay record's answer out of the write that found
// it: as an error, so that whatever the write did (with the lookup sent
// ahead, fn has run) is rolled back.
type recordedAnswer struct{ stored string }

func (recordedAnswer) Error() string { return "store: the request was replayed" }

func replayableRun[T any](ctx context.Context, db *DB, r quota.Replay, accountID string, early bool, fn func(ctx context.Context, tx *engine.Tx) (T, error)) (res T, replayed bool, err error) {
	// The writes that may go with the replay lookup sent ahead take no
	// lock but their account's: an engine may commit them together with
	// other accounts' (writeKeyed).
	key := ""
	if early && accountID != "" {
		key = accountLock(accountID)
	}
	if r.Key == "" {
		res, err = writeKeyed(ctx, db, key, fn)
		return res, false, err
	}
	rkey := replayKey(r)
	res, err = writeKeyed(ctx, db, key, func(ctx context.Context, tx *engine.Tx) (T, error) {
		var zero T
		// Concurrent copies of one request (a client's retry while the first
		// is still in flight) wait for each other here. They are of one
		// account, whose lock CreateImage takes anyway; a Tx takes a lock
		// once.
		lock := accountLock(accountID)
		if accountID == "" {
			lock = "replay/" + r.Key
		}
		if err := tx.Lock(ctx, lock); err != nil {
			return zero, err
		}
		// found is what a record of this request, unexpired, makes the
		// write return: its answer (recordedAnswer), or a refusal when the
		// record answered another action.
		found := func(action, stored string) error {
			if action != r.Action {
				return quota.Errorf(quota.CodeSignatureReused,
					"This request's signature was already used for %s; it cannot be used for %s. Sign every request afresh.", action, r.Action)
			}
			return recordedAnswer{stored: stored}
		}
		var res T
		if kr, ok := db.replays.(keyedReplays); ok && early && tx.Pipelined() {
			// The lookup goes with fn's first read; its answer decides
			// before anything is committed.
			get := kr.lookupAhead(ctx, db, tx, rkey)
			var ferr error
			res, ferr = fn(ctx, tx)
			action, stored, ok, err := get()
			if err != nil {
				return zero, err
			}
			if ok && !replayExpired(rkey, db.now()) {
				return zero, found(action, stored)
			}
			if ferr != nil {
				return zero, ferr
			}
		} else {
			action, stored, ok, err := db.replays.lookup(ctx, db, tx, rkey)
			if err != nil {
				return zero, err
			}
			if ok && !replayExpired(rkey, db.now()) {
				return zero, found(action, stored)
			}
			if res, err = fn(ctx, tx); err != nil {
				return zero, err
			}
		}
		answer, err := replayAnswer(res)
		if err != nil {
			return zero, err
		}
		// Once a second, a write also removes up to pruneLimit expired
		// records, so the table holds about the last window's writes.
		if now := db.now(); db.pruneDue(now) {
			if err := db.replays.prune(ctx, db, tx, now); err != nil {
				return zero, err
			}
		}
		// The record comes last: once it is kept, the write succeeds.
		if err := db.replays.record(ctx, db, tx, rkey, r.Action, answer); err != nil {
			return zero, err
		}
		return res, nil
	})
	var ra recordedAnswer
	if errors.As(err, &ra) {
		var recorded T
		if err := json.Unmarshal([]byte(ra.stored), &recorded); err != nil {
			var zero T
			return zero, false, err
		}
		return recorded, true, nil
	}
	return res, false, err
}

// replayAnswer is the JSON of a result kept for replays: encoding/json's,
// made without reflection for the results of the frequent writes.
func replayAnswer(res any) (string, error) {
	switch r := res.(type) {
	case struct{}:
		return "{}", nil
	case interface{ appendJSON(b []byte) []byte }:
		return string(r.appendJSON(make([]byte, 0, 64))), nil
	}
	b, err := json.Marshal(res)
	return string(b), err
}

// execReplayable is replayable for a write that answers nothing but an error.
func (db *DB) execReplayable(ctx context.Context, r quota.Replay, accountID string, fn func(ctx context.Context, tx *engine.Tx) error) error {
	_, _, err := replayable(ctx, db, r, accountID, func(ctx context.Context, tx *engine.Tx) (struct{}, error) {
		return struct{}{}, fn(ctx, tx)
	})
	return err
}

// execReplayableAhead is replayableAhead for a write that answers nothing but
// an error.
func (db *DB) execReplayableAhead(ctx context.Context, r quota.Replay, accountID string, fn func(ctx context.Context, tx *engine.Tx) error) error {
	_, _, err := replayableAhead(ctx, db, r, accountID, func(ctx context.Context, tx *engine.Tx) (struct{}, error) {
		return struct{}{}, fn(ctx, tx)
	})
	return err
}

// replayRecords is where an engine keeps the replay records: looked up and
// recorded inside the write transaction of the request they answer.
type replayRecords interface {
	// lookup returns the record kept under key, expired or not.
	lookup(ctx context.Context, db *DB, tx *engine.Tx, key []byte) (action, result string, found bool, err error)
	// record keeps the answer to the request key names (replacing an
	// expired record of the same key). It is the last thing a write does:
	// once it returned nil, the write must succeed.
	record(ctx context.Context, db *DB, tx *engine.Tx, key []byte, action, result string) error
	// prune removes up to pruneLimit records expired by now.
	prune(ctx context.Context, db *DB, tx *engine.Tx, now time.Time) error
}

// keyedReplays keeps the records in a table indexed by key (PostgreSQL):
// replicas in parallel transactions find each other's records through the
// index.
type keyedReplays struct{}

func (keyedReplays) lookup(ctx context.Context, db *DB, tx *engine.Tx, key []byte) (string, string, bool, error) {
	var action, result string
	err := tx.QueryRow(ctx, db.q(`SELECT action, result FROM request_replays WHERE key = ?`), key).Scan(&action, &result)
	if errors.Is(err, sql.ErrNoRows) {
		return "", "", false, nil
	}
	return action, result, err == nil, err
}

// lookupAhead is lookup with the query sent ahead (engine.Tx.QueryRowAhead):
// the returned function gives its answer.
func (keyedReplays) lookupAhead(ctx context.Context, db *DB, tx *engine.Tx, key []byte) func() (string, string, bool, error) {
	var action, result string
	get := tx.QueryRowAhead(ctx, []any{&action, &result}, db.q(`SELECT action, result FROM request_replays WHERE key = ?`), key)
	return func() (string, string, bool, error) {
		err := get()
		if errors.Is(err, sql.ErrNoRows) {
			return "", "", false, nil
		}
		return action, result, err == nil, err
	}
}

func (keyedReplays) record(ctx context.Context, db *DB, tx *engine.Tx, key []byte, action, result string) error {
	// An expired record of the same request (clocks far apart) is
	// replaced. Its answer is not needed: it goes with the commit.
	return tx.ExecLater(ctx, nil, db.q(`INSERT INTO request_replays (key, action, result) VALUES (?, ?, ?)
		ON CONFLICT (key) DO UPDATE SET action = excluded.action, result = excluded.result`),
		key, action, result)
}

// prune removes the oldest expired records, from the other end of the index
// than the one records are added at.
func (keyedReplays) prune(ctx context.Context, db *DB, tx *engine.Tx, now time.Time) error {
	return tx.ExecLater(ctx, nil, db.q(`DELETE FROM request_replays WHERE key IN (
		SELECT key FROM request_replays WHERE key < ? ORDER BY key LIMIT ?)`), expiryPrefix(now), pruneLimit)
}

// pruneLimit bounds the expired records one write removes, once a second:
// above this many writes a second, the table grows until the rate falls.
const pruneLimit = 1000

// pruneDue reports whether a write at now should prune expired records: the
// first write of each second, in this process.
func (db *DB) pruneDue(now time.Time) bool {
	sec := now.Unix()
	last := db.lastPrune.Load()
	return sec != last && db.lastPrune.CompareAndSwap(last, sec)
}

// replayKey is how a request is kept: its expiry, 8 bytes big-endian, then
// 8 bytes of its digest. Keys so sort by expiry.
func replayKey(r quota.Replay) []byte {
	digest, err := hex.DecodeString(r.Key)
	if err != nil || len(digest) < 8 {
		sum := sha256.Sum256([]byte(r.Key))
		digest = sum[:]
	}
	return append(expiryPrefix(r.Expires), digest[:8]...)
}

// expiryPrefix is the start of the keys that expire at t.
func expiryPrefix(t time.Time) []byte {
	return binary.BigEndian.AppendUint64(make([]byte, 0, 16), uint64(max(t.Unix(), 0)))
}

// replayExpired reports whether the request key names has expired by now.
func replayExpired(key []byte, now time.Time) bool {
	return len(key) < 8 || int64(binary.BigEndian.Uint64(key)) < now.Unix()
}
