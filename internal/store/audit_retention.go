package store

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/imagequota/imagequota/internal/quota"
	"github.com/imagequota/imagequota/internal/store/engine"
)

// AuditRetention is how long the audit trail keeps its records: a record is
// removed once it is older than MaxAge or older than the newest MaxCount
// changes (see AuditPrune). A zero field sets no bound of its own, so the zero AuditRetention
// keeps everything.
type AuditRetention struct {
	MaxAge   time.Duration
	MaxCount int
}

// DefaultAuditMaxAge is the retention of a server that is not told
// otherwise: 400 days, more than a year, so that a yearly review still
// finds the whole year it covers.
const DefaultAuditMaxAge = 400 * day

const day = 24 * time.Hour

// ParseAuditRetention reads a retention setting: "AGE" or "AGE,COUNT". AGE
// is a number of days ("400d") or a Go duration ("9600h"), COUNT a number of
// records; 0 for either sets no bound of its own, so "0" disables pruning.
func ParseAuditRetention(s string) (AuditRetention, error) {
	age, count, hasCount := strings.Cut(strings.TrimSpace(s), ",")
	var r AuditRetention
	var err error
	if r.MaxAge, err = ParseAge(age); err != nil {
		return AuditRetention{}, fmt.Errorf("audit retention %q: %w", s, err)
	}
	if hasCount {
		n, err := strconv.Atoi(strings.TrimSpace(count))
		if err != nil || n < 0 {
			return AuditRetention{}, fmt.Errorf("audit retention %q: the count after the comma must be a number of records, 0 or more", s)
		}
		r.MaxCount = n
	}
	return r, nil
}

// ParseAge reads a non-negative age: a whole number of days ("400d") or a Go
// duration ("36h", "90m").
func ParseAge(s string) (time.Duration, error) {
	s = strings.TrimSpace(s)
	if days, ok := strings.CutSuffix(s, "d"); ok {
		n, err := strconv.ParseInt(days, 10, 64)
		if err != nil || n < 0 || n > int64(1<<63-1)/int64(day) {
			return 0, fmt.Errorf("%q is not a number of days like 400d", s)
		}
		return time.Duration(n) * day, nil
	}
	d, err := time.ParseDuration(s)
	if err != nil || d < 0 {
		return 0, fmt.Errorf("%q is not an age like 400d or 36h", s)
	}
	return d, nil
}

// String is the setting as ParseAuditRetention reads it: "400d", "36h",
// "400d,1000000", "0".
func (r AuditRetention) String() string {
	if r.MaxCount > 0 {
		return FormatAge(r.MaxAge) + "," + strconv.Itoa(r.MaxCount)
	}
	return FormatAge(r.MaxAge)
}

// FormatAge writes an age as ParseAge reads it: in days when it is a whole
// number of them ("400d", "0"), else as a Go duration ("36h0m0s").
func FormatAge(d time.Duration) string {
	switch {
	case d == 0:
		return "0"
	case d%day == 0:
		return strconv.FormatInt(int64(d/day), 10) + "d"
	}
	return d.String()
}

// Set makes *AuditRetention a flag.Value.
func (r *AuditRetention) Set(s string) error {
	v, err := ParseAuditRetention(s)
	if err != nil {
		return err
	}
	*r = v
	return nil
}

// Enabled reports whether r ever removes anything.
func (r AuditRetention) Enabled() bool { return r.MaxAge > 0 || r.MaxCount > 0 }

// PruneAt is what r removes at time now.
func (r AuditRetention) PruneAt(now time.Time) AuditPrune {
	var p AuditPrune
	if r.MaxAge > 0 {
		p.Before = now.Add(-r.MaxAge)
	}
	p.Keep = r.MaxCount
	return p
}

// AuditPrune says which records PruneAudit removes: those stamped before
// Before (none by age when it is zero) and those older than the newest Keep
// changes (none by count when it is 0). PruneAudit's own records, which say
// what pruning removed, are not counted among the Keep, so that pruning
// again removes nothing more. Records written after the prune began are
// never removed.
type AuditPrune struct {
	Before time.Time
	Keep   int
	// Batch is how many records one transaction removes at most; 0 means
	// DefaultAuditPruneBatch. It bounds how long a prune holds the writer
	// (SQLite) or its locks, however large the backlog.
	Batch int
}

// DefaultAuditPruneBatch is how many records one transaction of PruneAudit
// removes at most, unless told otherwise.
const DefaultAuditPruneBatch = 1000

// AuditPruned is what PruneAudit did.
type AuditPruned struct {
	Removed int // records removed
	// Transactions is how many transactions removed them.
	Transactions int
}

// RetentionActor is the actor of the pruning a server does by its retention
// setting (RetainAuditEvery).
var RetentionActor = quota.Actor{Name: "retention"}

// actionPruneAudit is the action of the records that say what pruning removed.
const actionPruneAudit = "PruneAudit"

// auditPruneLock serialises prunes, on every replica: each batch counts
// exactly what it removes, and finds its own PruneAudit record as the newest.
const auditPruneLock = "audit/prune"

// PruneAudit removes the audit records p names, oldest first, in
// transactions of at most p.Batch records, so that a large backlog never
// makes one long transaction and other writes go on between them. When it
// removes anything it leaves one PruneAudit record by actor saying what it
// removed: written in the first transaction, before anything is removed,
// and brought up to date in each later one, so that whatever a prune
// stopped by an error or a crash removed is on record.
func (db *DB) PruneAudit(ctx context.Context, p AuditPrune, actor quota.Actor) (AuditPruned, error) {
	where, args, err := db.auditPruneScope(ctx, p)
	if err != nil || where == "" {
		return AuditPruned{}, wrap("prune audit", err)
	}
	batch := p.Batch
	if batch <= 0 {
		batch = DefaultAuditPruneBatch
	}
	batchArgs := append(append([]any(nil), args...), batch)
	state := auditPruneState{OlderThan: formatOrEmpty(p.Before), Keep: p.Keep}
	var res AuditPruned
	var recordID int64
	for {
		type step struct {
			n        int
			recordID int64
		}
		s, err := write(ctx, db, func(ctx context.Context, tx *engine.Tx) (step, error) {
			if err := tx.Lock(ctx, auditPruneLock); err != nil {
				return step{}, err
			}
			var n int
			if err := tx.QueryRow(ctx, db.q(`SELECT COUNT(*) FROM (SELECT id FROM audit WHERE `+where+` ORDER BY id LIMIT ?) c`),
				batchArgs...).Scan(&n); err != nil || n == 0 {
				return step{}, err
			}
			st := state
			st.Removed = res.Removed + n
			id := recordID
			if id == 0 {
				// The record goes in first: it is then the newest, so that
				// SQLite, which gives a new row the largest id plus one,
				// never gives a removed record's id to a later one.
				if err := db.audit(ctx, tx, actor, "", actionPruneAudit, "audit", nil, st); err != nil {
					return step{}, err
				}
				if err := tx.QueryRow(ctx, db.q(`SELECT id FROM audit WHERE action = ? ORDER BY id DESC LIMIT 1`), actionPruneAudit).Scan(&id); err != nil {
					return step{}, err
				}
			} else {
				b, err := json.Marshal(st)
				if err != nil {
					return step{}, err
				}
				if err := execCount(ctx, tx, 1, db.q(`UPDATE audit SET after = ? WHERE id = ?`), string(b), id); err != nil {
					return step{}, err
				}
			}
			// Prunes take turns (the lock), and nothing else removes
			// records: the batch just counted is the one removed.
			if err := execCount(ctx, tx, n, db.q(`DELETE FROM audit WHERE id IN (SELECT id FROM audit WHERE `+where+` ORDER BY id LIMIT ?)`),
				batchArgs...); err != nil {
				return step{}, err
			}
			return step{n: n, recordID: id}, nil
		})
		if err != nil {
			return res, wrap("prune audit", err)
		}
		if s.n == 0 {
			return res, nil
		}
		res.Removed += s.n
		res.Transactions++
		recordID = s.recordID
		if s.n < batch {
			return res, nil
		}
	}
}

// execCount runs a statement that must change exactly n rows.
func execCount(ctx context.Context, tx *engine.Tx, n int, q string, args ...any) error {
	r, err := tx.Exec(ctx, q, args...)
	if err != nil {
		return err
	}
	got, err := r.RowsAffected()
	if err != nil {
		return err
	}
	if got != int64(n) {
		return fmt.Errorf("a statement changed %d audit records instead of %d", got, n)
	}
	return nil
}

// auditPruneState is what the PruneAudit record says.
type auditPruneState struct {
	Keep      int    `json:"keep,omitempty"`
	OlderThan string `json:"olderThan,omitempty"`
	Removed   int    `json:"removed"`
}

// formatOrEmpty writes t as the records are stamped (to the microsecond), "" for the zero time.
func formatOrEmpty(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return fromMicros(micros(t)).Format(time.RFC3339Nano)
}

// CountAuditPrune returns how many records PruneAudit(p) would remove now.
func (db *DB) CountAuditPrune(ctx context.Context, p AuditPrune) (int, error) {
	where, args, err := db.auditPruneScope(ctx, p)
	if err != nil || where == "" {
		return 0, wrap("count audit prune", err)
	}
	var n int
	err = db.r.QueryRowContext(ctx, db.q(`SELECT COUNT(*) FROM audit WHERE `+where), args...).Scan(&n)
	return n, wrap("count audit prune", db.e.Interpret(err))
}

// auditPruneScope returns the condition on audit rows that p removes, with
// its arguments; "" when p removes nothing. It is fixed when the prune
// begins: the newest record then bounds it, and so does, for p.Keep, the
// Keep-th newest change.
func (db *DB) auditPruneScope(ctx context.Context, p AuditPrune) (string, []any, error) {
	if p.Before.IsZero() && p.Keep <= 0 {
		return "", nil, nil
	}
	var last int64
	if err := db.r.QueryRowContext(ctx, `SELECT COALESCE(MAX(id), 0) FROM audit`).Scan(&last); err != nil {
		return "", nil, db.e.Interpret(err)
	}
	var or []string
	args := []any{last}
	if !p.Before.IsZero() {
		or = append(or, `at < ?`)
		args = append(args, micros(p.Before))
	}
	if p.Keep > 0 {
		var keepFrom int64
		err := db.r.QueryRowContext(ctx, db.q(`SELECT id FROM audit WHERE action <> ? ORDER BY id DESC LIMIT 1 OFFSET ?`),
			actionPruneAudit, p.Keep-1).Scan(&keepFrom)
		switch {
		case err == nil:
			or = append(or, `id < ?`)
			args = append(args, keepFrom)
		case !errors.Is(err, sql.ErrNoRows): // no Keep-th newest: nothing is beyond the count
			return "", nil, db.e.Interpret(err)
		}
	}
	if len(or) == 0 {
		return "", nil, nil
	}
	return `id <= ? AND (` + strings.Join(or, ` OR `) + `)`, args, nil
}

// RetainAudit prunes the audit trail to r once, by the store's clock.
func (db *DB) RetainAudit(ctx context.Context, r AuditRetention, actor quota.Actor) (AuditPruned, error) {
	if !r.Enabled() {
		return AuditPruned{}, nil
	}
	return db.PruneAudit(ctx, r.PruneAt(db.now()), actor)
}

// RetainAuditEvery prunes the audit trail to r as RetentionActor at once and
// then every interval, until ctx is done, and tells report (when not nil)
// what each pass did. It returns at once when r removes nothing, and after
// one pass when every is not positive. Replicas of one database may all run
// it: their prunes take turns, and the later ones find nothing left to do.
// Run it on a goroutine, and wait for it to return before closing the store.
func (db *DB) RetainAuditEvery(ctx context.Context, r AuditRetention, every time.Duration, report func(AuditPruned, error)) {
	if !r.Enabled() {
		return
	}
	var tick <-chan time.Time
	if every > 0 {
		t := time.NewTicker(every)
		defer t.Stop()
		tick = t.C
	}
	for {
		res, err := db.RetainAudit(ctx, r, RetentionActor)
		if ctx.Err() != nil {
			return
		}
		if report != nil {
			report(res, err)
		}
		if tick == nil {
			return
		}
		select {
		case <-ctx.Done():
			return
		case <-tick:
		}
	}
}
