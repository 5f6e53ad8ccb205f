package store

import (
	"bytes"
	"context"
	"database/sql"
	"encoding/binary"
	"errors"
	"sync"
	"time"

	"github.com/imagequota/imagequota/internal/store/engine"
)

// arrivalReplays keeps the replay records in arrival order (SQLite,
// migration 0009): request_replays is a rowid table whose records are
// appended, so the records of one commit share one or two pages, and the
// lookup by key is an index in memory instead of one in the file. With the
// records in a B-tree by key, random digests put each record of a commit on
// a page of its own: about one 4 KiB WAL frame per write.
//
// The index holds every unexpired record with an id up to seen, read from
// the table. Every transaction that looks up a record first reads the
// records added since (by this process's earlier commits, or by any other
// process on the file), under the write lock that BEGIN IMMEDIATE took, so
// nothing can be added meanwhile and the index is complete. A transaction's
// own records go into its memo (engine.Tx.Memo) and reach the index only
// through the next transaction's read, once they are committed: a batch
// rolled back leaves nothing behind. A record found is read back by id and
// its key compared, so an entry of a write undone by its savepoint is
// harmless.
//
// Ids are never used twice: the table has an INTEGER PRIMARY KEY (VACUUM
// keeps it), SQLite gives a new row the largest id plus one, and pruning
// never removes the row with the largest id.
//
// Memory: one map entry (about 30 bytes) per record of the last window and
// a minute: at 1,000 writes a second, about 360,000 entries.
type arrivalReplays struct {
	mu   sync.Mutex
	seen int64 // the largest id read from the table
	// bySecond indexes the unexpired records: expiry second → the key's
	// 8 digest bytes → id.
	bySecond map[int64]map[uint64]int64
	// swept is the second up to which expired seconds were dropped.
	swept int64
}

// clockStepGrace is how long, in seconds, the index keeps the records of a
// second after it expired.
const clockStepGrace = 60

// replayMemo is the key of a transaction's replayTx in its memo.
type replayMemo struct{}

// replayTx is what one transaction knows of the replay records.
type replayTx struct {
	caughtUp bool
	// added are the records this transaction added, by key.
	added map[[replayKeySize]byte]int64
}

// replayKeySize is the length of replayKey's keys.
const replayKeySize = 16

func (a *arrivalReplays) txState(tx *engine.Tx) *replayTx {
	return tx.Memo(replayMemo{}, func() any { return &replayTx{} }).(*replayTx)
}

func (a *arrivalReplays) lookup(ctx context.Context, db *DB, tx *engine.Tx, key []byte) (string, string, bool, error) {
	if len(key) != replayKeySize {
		return "", "", false, errors.New("store: malformed replay key")
	}
	st := a.txState(tx)
	if !st.caughtUp {
		if err := a.catchUp(ctx, db, tx); err != nil {
			return "", "", false, err
		}
		st.caughtUp = true
	}
	id, ok := st.added[[replayKeySize]byte(key)]
	if !ok {
		a.mu.Lock()
		id, ok = a.bySecond[int64(binary.BigEndian.Uint64(key))][binary.BigEndian.Uint64(key[8:])]
		a.mu.Unlock()
	}
	if !ok {
		return "", "", false, nil
	}
	var stored []byte
	var action, result string
	err := tx.QueryRow(ctx, db.q(`SELECT key, action, result FROM request_replays WHERE id = ?`), id).Scan(&stored, &action, &result)
	switch {
	case errors.Is(err, sql.ErrNoRows):
		return "", "", false, nil
	case err != nil:
		return "", "", false, err
	case !bytes.Equal(stored, key):
		// The id was that of a record undone with its write (a savepoint
		// rolled back), since given to another.
		return "", "", false, nil
	}
	return action, result, true, nil
}

// catchUp reads into the index the records added since it last read.
func (a *arrivalReplays) catchUp(ctx context.Context, db *DB, tx *engine.Tx) error {
	a.mu.Lock()
	defer a.mu.Unlock()
	// Seconds are dropped a minute after they expire, so that a clock
	// stepped back a little still finds their records.
	now := db.now().Unix() - clockStepGrace
	rows, err := tx.Query(ctx, db.q(`SELECT id, key FROM request_replays WHERE id > ? ORDER BY id`), a.seen)
	if err != nil {
		return err
	}
	defer rows.Close()
	seen := a.seen
	var key []byte
	for rows.Next() {
		var id int64
		if err := rows.Scan(&id, &key); err != nil {
			return err
		}
		seen = id
		if len(key) != replayKeySize {
			continue
		}
		sec := int64(binary.BigEndian.Uint64(key))
		if sec < now {
			continue // expired: not looked up again
		}
		m := a.bySecond[sec]
		if m == nil {
			if a.bySecond == nil {
				a.bySecond = map[int64]map[uint64]int64{}
			}
			m = map[uint64]int64{}
			a.bySecond[sec] = m
		}
		m[binary.BigEndian.Uint64(key[8:])] = id
	}
	if err := rows.Err(); err != nil {
		return err
	}
	a.seen = seen
	if now > a.swept {
		for sec := range a.bySecond {
			if sec < now {
				delete(a.bySecond, sec)
			}
		}
		a.swept = now
	}
	return nil
}

func (a *arrivalReplays) record(ctx context.Context, db *DB, tx *engine.Tx, key []byte, action, result string) error {
	if len(key) != replayKeySize {
		return errors.New("store: malformed replay key")
	}
	res, err := tx.Exec(ctx, db.q(`INSERT INTO request_replays (key, action, result) VALUES (?, ?, ?)`), key, action, result)
	if err != nil {
		return err
	}
	id, err := res.LastInsertId()
	if err != nil {
		return err
	}
	st := a.txState(tx)
	if st.added == nil {
		st.added = map[[replayKeySize]byte]int64{}
	}
	st.added[[replayKeySize]byte(key)] = id
	return nil
}

// prune removes the expired records among the pruneLimit oldest, never the
// newest record (see the ids above). Records arrive roughly in expiry order
// (a request's timestamp is within the window of its arrival), so this
// removes from the start of the table, a few pages a second.
func (a *arrivalReplays) prune(ctx context.Context, db *DB, tx *engine.Tx, now time.Time) error {
	_, err := tx.Exec(ctx, db.q(`DELETE FROM request_replays WHERE id IN (
		SELECT id FROM (SELECT id, key FROM request_replays ORDER BY id LIMIT ?)
		WHERE key < ? AND id < (SELECT max(id) FROM request_replays))`), pruneLimit, expiryPrefix(now))
	return err
}
