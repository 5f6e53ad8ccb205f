package store

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"sync/atomic"
	"time"

	"github.com/imagequota/imagequota/internal/quota"
	"github.com/imagequota/imagequota/internal/store/engine"
)

// The outbox holds the events a webhook is told of (quota.Event), each
// written in the transaction of the change it reports, so that an event
// exists exactly when its change does. A deliverer (package webhook) claims
// due events for a lease, sends them outside any transaction, and then
// deletes each one delivered or schedules its next attempt. A deliverer that
// stops mid-way leaves its claim to expire, so an event is delivered at
// least once, and, while its claim holds, by one deliverer only. This is
// bookkeeping of the store, like replay records: the changes the events
// report are audited, the deliveries are not.

// outbox is a store's recording switch and its wake-up signal.
type outbox struct {
	on   atomic.Bool
	wake chan struct{}
}

func newOutbox() *outbox { return &outbox{wake: make(chan struct{}, 1)} }

// RecordEvents makes the store record events in its outbox (on) or not, for
// a server that delivers them; call it before the store serves.
func (db *DB) RecordEvents(on bool) { db.outbox.on.Store(on) }

// EventsRecorded receives a value after a write that recorded an event has
// committed in this process, so that a deliverer need not wait for its next
// poll. Several such writes may be signalled once.
func (db *DB) EventsRecorded() <-chan struct{} { return db.outbox.wake }

// eventsCommitted signals EventsRecorded; call it once the write that
// recorded events has returned.
func (db *DB) eventsCommitted() {
	select {
	case db.outbox.wake <- struct{}{}:
	default:
	}
}

// event records an event of type typ that happened at (the time of the
// change it reports, as that change's record holds it) with data (encoded
// with encoding/json) in tx, when the store records events.
func (db *DB) event(ctx context.Context, tx *engine.Tx, typ string, at time.Time, data any) error {
	if !db.outbox.on.Load() {
		return nil
	}
	b, err := json.Marshal(data)
	if err != nil {
		return err
	}
	now := micros(at)
	return tx.ExecLater(ctx, nil, db.q(`INSERT INTO outbox (id, type, at, data, next_attempt_at) VALUES (?, ?, ?, ?, ?)`),
		newID("evt-", 8), typ, now, string(b), now)
}

// claimLock serialises claims: on PostgreSQL, several replicas claim from
// one outbox, and each claim must see the leases of those before it.
const claimLock = "outbox/claim"

// ClaimEvents claims up to max events that are due (their next attempt has
// come and no live claim holds them), oldest first, for lease. It returns an
// empty claim when none is due.
func (db *DB) ClaimEvents(ctx context.Context, max int, lease time.Duration) (quota.EventClaim, error) {
	// Most polls find nothing due: a read answers them without a write
	// transaction.
	var seq int64
	now := micros(db.now())
	err := db.r.QueryRowContext(ctx, db.q(`SELECT seq FROM outbox WHERE next_attempt_at <= ? AND claimed_until <= ? LIMIT 1`), now, now).Scan(&seq)
	if errors.Is(err, sql.ErrNoRows) {
		return quota.EventClaim{}, nil
	}
	if err != nil {
		return quota.EventClaim{}, wrap("claim events", db.e.Interpret(err))
	}
	c, err := write(ctx, db, func(ctx context.Context, tx *engine.Tx) (quota.EventClaim, error) {
		// Claims take turns (a no-op where writers are serial anyway), so
		// that the rows read below are the ones nobody else holds; the
		// statements are the same on both engines.
		if err := tx.Lock(ctx, claimLock); err != nil {
			return quota.EventClaim{}, err
		}
		now := db.now()
		rows, err := tx.Query(ctx, db.q(`SELECT `+eventColumns+` FROM outbox
			WHERE next_attempt_at <= ? AND claimed_until <= ? ORDER BY seq LIMIT ?`), micros(now), micros(now), max)
		if err != nil {
			return quota.EventClaim{}, err
		}
		c := quota.EventClaim{Token: newID("", 8), Until: fromMicros(micros(now.Add(lease)))}
		for rows.Next() {
			e, err := scanEvent(rows)
			if err != nil {
				rows.Close()
				return quota.EventClaim{}, err
			}
			c.Events = append(c.Events, e)
		}
		rows.Close()
		if err := rows.Err(); err != nil || len(c.Events) == 0 {
			return quota.EventClaim{}, err
		}
		ids := make([]any, 0, len(c.Events)+2)
		ids = append(ids, c.Token, micros(c.Until))
		for _, e := range c.Events {
			ids = append(ids, e.ID)
		}
		_, err = tx.Exec(ctx, db.q(`UPDATE outbox SET claim = ?, claimed_until = ? WHERE id IN (`+placeholders(len(c.Events))+`)`), ids...)
		return c, err
	})
	return c, wrap("claim events", err)
}

const eventColumns = `seq, id, type, at, data, attempts`

// scanEvent scans eventColumns, then extra.
func scanEvent(sc interface{ Scan(...any) error }, extra ...any) (quota.Event, error) {
	var e quota.Event
	var at int64
	var data string
	err := sc.Scan(append([]any{&e.Seq, &e.ID, &e.Type, &at, &data, &e.Attempts}, extra...)...)
	e.Time, e.Data = fromMicros(at), []byte(data)
	return e, err
}

// EventDelivered removes a delivered event from the outbox, whoever holds it
// now: delivered is delivered.
func (db *DB) EventDelivered(ctx context.Context, id string) error {
	return wrap("event delivered", db.exec(ctx, func(ctx context.Context, tx *engine.Tx) error {
		_, err := tx.Exec(ctx, db.q(`DELETE FROM outbox WHERE id = ?`), id)
		return err
	}))
}

// maxEventError bounds the text of a failed delivery kept with its event.
const maxEventError = 500

// EventFailed records a failed attempt to deliver event id under claim
// token and releases it until retryIn from now. An event whose claim has
// passed to another deliverer is left to it.
func (db *DB) EventFailed(ctx context.Context, token, id string, retryIn time.Duration, reason string) error {
	return wrap("event failed", db.exec(ctx, func(ctx context.Context, tx *engine.Tx) error {
		_, err := tx.Exec(ctx, db.q(`UPDATE outbox SET attempts = attempts + 1, next_attempt_at = ?, claim = '', claimed_until = 0, last_error = ?
			WHERE id = ? AND claim = ?`), micros(db.now().Add(retryIn)), quota.Truncate(reason, maxEventError), id, token)
		return err
	}))
}

// ReleaseEvents gives up the claim token on events ids without an attempt
// made, due again in retryIn from now.
func (db *DB) ReleaseEvents(ctx context.Context, token string, ids []string, retryIn time.Duration) error {
	if len(ids) == 0 {
		return nil
	}
	return wrap("release events", db.exec(ctx, func(ctx context.Context, tx *engine.Tx) error {
		args := append([]any{micros(db.now().Add(retryIn)), token}, anySlice(ids)...)
		_, err := tx.Exec(ctx, db.q(`UPDATE outbox SET next_attempt_at = ?, claim = '', claimed_until = 0
			WHERE claim = ? AND id IN (`+placeholders(len(ids))+`)`), args...)
		return err
	}))
}

// PendingEvent is an event still in the outbox, with where its delivery stands.
type PendingEvent struct {
	quota.Event
	NextAttemptAt time.Time
	LastError     string
}

// PendingEvents lists the events not delivered yet, oldest first.
func (db *DB) PendingEvents(ctx context.Context) ([]PendingEvent, error) {
	rows, err := db.r.QueryContext(ctx, `SELECT `+eventColumns+`, next_attempt_at, last_error FROM outbox ORDER BY seq`)
	if err != nil {
		return nil, wrap("pending events", db.e.Interpret(err))
	}
	defer rows.Close()
	out := []PendingEvent{}
	for rows.Next() {
		var next int64
		var lastError string
		e, err := scanEvent(rows, &next, &lastError)
		if err != nil {
			return nil, wrap("pending events", err)
		}
		out = append(out, PendingEvent{Event: e, NextAttemptAt: fromMicros(next), LastError: lastError})
	}
	return out, wrap("pending events", db.e.Interpret(rows.Err()))
}

// OutboxFigures counts the events waiting in the outbox, and those of them
// with a failed attempt, with the time of the oldest, in one statement.
func (db *DB) OutboxFigures(ctx context.Context) (quota.OutboxFigures, error) {
	var f quota.OutboxFigures
	var oldest sql.NullInt64
	err := db.r.QueryRowContext(ctx, `SELECT COUNT(*), COUNT(CASE WHEN attempts > 0 THEN 1 END), MIN(at) FROM outbox`).
		Scan(&f.Events, &f.FailingEvents, &oldest)
	if err != nil {
		return quota.OutboxFigures{}, wrap("outbox figures", db.e.Interpret(err))
	}
	if oldest.Valid {
		f.Oldest = fromMicros(oldest.Int64)
	}
	return f, nil
}
