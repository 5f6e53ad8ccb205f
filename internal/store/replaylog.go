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
// The index holds every unexpired record with an id up to seen. Every
// transaction that looks up a record first reads the records added since
// (by any other process on the file), under the write lock that BEGIN
// IMMEDIATE took, so nothing can be added meanwhile and the index is
// complete. A transaction's own records are also kept in its memo
// (engine.Tx.Memo), where its later writes find them; once its commit has
// returned (engine.Tx.OnCommit) they are added to the index and seen moves
// past them, so the next transaction's read finds only other processes'
// records: usually none. A transaction that does not commit adds nothing,
// and a record is kept only by a write that then succeeds (it is the
// write's last step), so nothing answers for a write undone. A record found
// in the index is read back by id, for its answer, and its key compared.
//
// Ids are never used twice: the table has an INTEGER PRIMARY KEY (VACUUM
// keeps it), SQLite gives a new row the largest id plus one, and pruning
// never removes the row with the largest id.
//
// Memory: one map entry (about 30 bytes) per record of the last window and
// a minute: at 1,000 writes a second, about 360,000 entries.
type arrivalReplays struct {
	mu   sync.Mutex
	seen int64 // the largest id read from the table, or published
	// bySecond indexes the unexpired records: expiry second → the key's
	// 8 digest bytes → id.
	bySecond map[int64]map[uint64]int64
	// swept is the second up to which expired seconds were dropped.
	swept int64
}

// clockStepGrace is how long, in seconds, the index keeps the records of a
// second after it expired.
const clockStepGrace = 60

// replayMemo is the key of a transaction's replayTx in its memo, and of its
// work at commit (engine.Tx.OnCommit).
type replayMemo struct{}

// replayTx is what one transaction knows of the replay records.
type replayTx struct {
	caughtUp bool
	// base is the largest id in the table once caught up: the records of
	// this transaction get the ids after it.
	base int64
	// pending are the records this transaction inserted, not yet
	// committed. A transaction has at most a batch's writes (a few dozen,
	// at most 128), so a key is looked for among them in turn.
	pending []pendingReplay
}

// pendingReplay is a record of the transaction, not yet committed.
type pendingReplay struct {
	key            [replayKeySize]byte
	id             int64
	action, result string
}

// replayKeySize is the length of replayKey's keys.
const replayKeySize = 16

func (a *arrivalReplays) txState(tx *engine.Tx) *replayTx {
	return tx.Memo(replayMemo{}, func() any { return &replayTx{} }).(*replayTx)
}

// caughtUp reads the records added since the index last read, once per
// transaction.
func (a *arrivalReplays) caughtUp(ctx context.Context, db *DB, tx *engine.Tx, st *replayTx) error {
	if st.caughtUp {
		return nil
	}
	base, err := a.catchUp(ctx, db, tx)
	if err != nil {
		return err
	}
	st.caughtUp, st.base = true, base
	return nil
}

func (a *arrivalReplays) lookup(ctx context.Context, db *DB, tx *engine.Tx, key []byte) (string, string, bool, error) {
	if len(key) != replayKeySize {
		return "", "", false, errors.New("store: malformed replay key")
	}
	st := a.txState(tx)
	if err := a.caughtUp(ctx, db, tx, st); err != nil {
		return "", "", false, err
	}
	k := [replayKeySize]byte(key)
	for i := len(st.pending) - 1; i >= 0; i-- { // the latest of a key counts
		if st.pending[i].key == k {
			return st.pending[i].action, st.pending[i].result, true, nil
		}
	}
	a.mu.Lock()
	id, ok := a.bySecond[int64(binary.BigEndian.Uint64(key))][binary.BigEndian.Uint64(key[8:])]
	a.mu.Unlock()
	if !ok {
		return "", "", false, nil
	}
	var stored []byte
	var action, result string
	err := tx.QueryRow(ctx, db.q(`SELECT key, action, result FROM request_replays WHERE id = ?`), id).Scan(&stored, &action, &result)
	switch {
	case errors.Is(err, sql.ErrNoRows):
		return "", "", false, nil // pruned
	case err != nil:
		return "", "", false, err
	case !bytes.Equal(stored, key):
		// Not expected: ids are not given twice (see above).
		return "", "", false, nil
	}
	return action, result, true, nil
}

// catchUp reads into the index the records added since it last read, and
// returns the largest id it has read: the largest in the table, which the
// write lock keeps so until the transaction ends.
func (a *arrivalReplays) catchUp(ctx context.Context, db *DB, tx *engine.Tx) (int64, error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	// Seconds are dropped a minute after they expire, so that a clock
	// stepped back a little still finds their records.
	now := db.now().Unix() - clockStepGrace
	rows, err := tx.Query(ctx, db.q(`SELECT id, key FROM request_replays WHERE id > ? ORDER BY id`), a.seen)
	if err != nil {
		return 0, err
	}
	defer rows.Close()
	seen := a.seen
	var key []byte
	for rows.Next() {
		var id int64
		if err := rows.Scan(&id, &key); err != nil {
			return 0, err
		}
		seen = id
		if len(key) == replayKeySize {
			a.add(key, id, now)
		}
	}
	if err := rows.Err(); err != nil {
		return 0, err
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
	return seen, nil
}

// record inserts the record, and keeps it in the transaction's memo, where
// its later writes find it and from where it reaches the index once the
// transaction has committed (publish). It must be the last thing its write
// does: nothing may fail the write after it (the record would be
// published for a write undone).
func (a *arrivalReplays) record(ctx context.Context, db *DB, tx *engine.Tx, key []byte, action, result string) error {
	if len(key) != replayKeySize {
		return errors.New("store: malformed replay key")
	}
	st := a.txState(tx)
	if err := a.caughtUp(ctx, db, tx, st); err != nil {
		return err
	}
	res, err := tx.Exec(ctx, db.q(`INSERT INTO request_replays (key, action, result) VALUES (?, ?, ?)`), key, action, result)
	if err != nil {
		return err
	}
	id, err := res.LastInsertId()
	if err != nil {
		return err
	}
	if st.pending == nil {
		st.pending = make([]pendingReplay, 0, 32)
		tx.OnCommit(replayMemo{}, func() { a.publish(db, st) })
	}
	st.pending = append(st.pending, pendingReplay{key: [replayKeySize]byte(key), id: id, action: action, result: result})
	return nil
}

// publish adds the transaction's records, committed, to the index and moves
// seen past them, so that the next transaction's catch-up has none of this
// process's to read. The transaction held the write lock since it caught
// up, so every id above st.base and up to its last is its own. Unless the
// index moved meanwhile (it cannot: one writer per process catches up and
// commits), which leaves them to the next catch-up.
func (a *arrivalReplays) publish(db *DB, st *replayTx) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.seen != st.base {
		return
	}
	now := db.now().Unix() - clockStepGrace
	seen := a.seen
	for i := range st.pending {
		p := &st.pending[i]
		a.add(p.key[:], p.id, now)
		seen = max(seen, p.id)
	}
	a.seen = seen
}

// add indexes the record of key under id, unless it expired before now.
// a.mu is held.
func (a *arrivalReplays) add(key []byte, id, now int64) {
	sec := int64(binary.BigEndian.Uint64(key))
	if sec < now {
		return // expired: not looked up again
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
