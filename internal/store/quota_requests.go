package store

import (
	"context"
	"database/sql"
	"errors"
	"strings"
	"time"

	"github.com/imagequota/imagequota/internal/quota"
	"github.com/imagequota/imagequota/internal/store/engine"
)

const quotaRequestColumns = `id, account_id, location_id, current_max_count, desired_max_count, granted_max_count,
	state, reason, comment, created_at, decided_at, decided_by, expires_at`

// scanQuotaRequest scans quotaRequestColumns, then extra.
func scanQuotaRequest(sc interface{ Scan(...any) error }, extra ...any) (quota.QuotaRequest, error) {
	var r quota.QuotaRequest
	var granted, decided, expires sql.NullInt64
	var created int64
	err := sc.Scan(append([]any{&r.ID, &r.AccountID, &r.LocationID, &r.CurrentMaxCount, &r.DesiredMaxCount, &granted,
		&r.State, &r.Reason, &r.Comment, &created, &decided, &r.DecidedBy, &expires}, extra...)...)
	if granted.Valid {
		n := int(granted.Int64)
		r.GrantedMaxCount = &n
	}
	r.CreatedAt, r.DecidedAt, r.ExpiresAt = fromMicros(created), expiry(decided), expiry(expires)
	return r, err
}

func intOrNull(n *int) sql.NullInt64 {
	if n == nil {
		return sql.NullInt64{}
	}
	return sql.NullInt64{Int64: int64(*n), Valid: true}
}

// CreateQuotaRequest records an account's request for a higher limit in one
// location: PENDING, or APPROVED at once when in.Policy approves it. The
// account's writes take turns (its lock, Tx.Lock), so that of two concurrent
// requests for one location — on any replica — the second finds the first
// open. replayed is true when the client token (or the request's signature)
// matched an earlier request, which is returned as it stands now.
func (db *DB) CreateQuotaRequest(ctx context.Context, in quota.CreateQuotaRequestInput) (quota.QuotaRequest, bool, error) {
	// made is what a replay of the request answers (replays.go): the
	// request's id, to read as it stands now.
	type made struct {
		ID       string `json:"id"`
		Replayed bool   `json:"replayed,omitempty"`
		req      quota.QuotaRequest
	}
	res, replayed, err := replayable(ctx, db, in.Actor.Replay, in.AccountID, func(ctx context.Context, tx *engine.Tx) (made, error) {
		if err := tx.Lock(ctx, accountLock(in.AccountID)); err != nil {
			return made{}, err
		}
		if in.ClientToken != "" {
			var fp string
			r, err := scanQuotaRequest(tx.QueryRow(ctx, db.q(`SELECT `+quotaRequestColumns+`, fingerprint FROM quota_requests
				WHERE account_id = ? AND client_token = ?`), in.AccountID, in.ClientToken), &fp)
			switch {
			case err == nil:
				if fp != in.Fingerprint() {
					return made{}, quota.Errorf(quota.CodeInvalidParameterValue,
						"clientToken %q was already used with different parameters.", in.ClientToken)
				}
				return made{ID: r.ID, Replayed: true, req: r}, nil
			case !errors.Is(err, sql.ErrNoRows):
				return made{}, err
			}
		}
		var open string
		err := tx.QueryRow(ctx, db.q(`SELECT id FROM quota_requests WHERE account_id = ? AND location_id = ? AND state = ?`),
			in.AccountID, in.LocationID, quota.RequestPending).Scan(&open)
		switch {
		case err == nil:
			return made{}, quota.Errorf(quota.CodeQuotaRequestOpen,
				"quotaRequestId %s for zoneId %s is still PENDING: cancel it or wait for its decision before asking again.", open, in.LocationID)
		case !errors.Is(err, sql.ErrNoRows):
			return made{}, err
		}
		current, err := db.limitIn(ctx, tx, in.AccountID, in.LocationID, in.DefaultMax)
		if err != nil {
			return made{}, err
		}
		if in.DesiredMaxCount <= current {
			return made{}, quota.Errorf(quota.CodeQuotaRequestDesiredCount,
				"desiredMaxCount %d is not above the current maxCount %d of zoneId %s.", in.DesiredMaxCount, current, in.LocationID)
		}
		r := quota.QuotaRequest{
			ID: newID("qr-", 8), AccountID: in.AccountID, LocationID: in.LocationID,
			CurrentMaxCount: current, DesiredMaxCount: in.DesiredMaxCount, State: quota.RequestPending,
			Reason: in.Reason, CreatedAt: fromMicros(micros(db.now())),
		}
		if _, err := tx.Exec(ctx, db.q(`INSERT INTO quota_requests (id, account_id, location_id, current_max_count, desired_max_count,
			state, reason, comment, client_token, fingerprint, created_at, decided_by) VALUES (?, ?, ?, ?, ?, ?, ?, '', ?, ?, ?, '')`),
			r.ID, r.AccountID, r.LocationID, r.CurrentMaxCount, r.DesiredMaxCount, r.State, r.Reason,
			sql.NullString{String: in.ClientToken, Valid: in.ClientToken != ""}, in.Fingerprint(), micros(r.CreatedAt)); err != nil {
			return made{}, err
		}
		if err := db.audit(ctx, tx, in.Actor, r.AccountID, "CreateImageQuotaRequest", r.ID, nil, r.EventData()); err != nil {
			return made{}, err
		}
		if err := db.event(ctx, tx, quota.EventQuotaRequestCreated, r.CreatedAt, r.EventData()); err != nil {
			return made{}, err
		}
		if in.Policy.Approves(r.DesiredMaxCount) {
			policy := quota.PolicyActor
			policy.RequestID = in.Actor.RequestID
			r, err = db.decide(ctx, tx, r, approval(r.DesiredMaxCount, nil, ""), policy)
		}
		return made{ID: r.ID, req: r}, err
	})
	if err != nil {
		return quota.QuotaRequest{}, false, wrap("create quota request", err)
	}
	if replayed {
		r, err := db.QuotaRequest(ctx, res.ID, in.AccountID)
		return r, true, err
	}
	if !res.Replayed {
		db.eventsCommitted()
	}
	return res.req, res.Replayed, nil
}

// QuotaRequest returns one request: the account's, when accountID is set
// (another account's answers as one that does not exist), any otherwise.
func (db *DB) QuotaRequest(ctx context.Context, id, accountID string) (quota.QuotaRequest, error) {
	page, err := db.ListQuotaRequests(ctx, quota.QuotaRequestFilter{AccountID: accountID, IDs: []string{id}})
	if err != nil {
		return quota.QuotaRequest{}, err
	}
	if len(page.Requests) == 0 {
		return quota.QuotaRequest{}, notFound(quota.CodeQuotaRequestNotFound, "quotaRequestId", id)
	}
	return page.Requests[0], nil
}

// limitIn resolves, in tx, the limit of an account in a location.
func (db *DB) limitIn(ctx context.Context, tx *engine.Tx, accountID, locationID string, fallback int) (int, error) {
	rows, err := tx.Query(ctx, db.q(`SELECT l.account_id, l.location_id, l.max_count FROM limits l
		WHERE l.account_id IN (?, '') AND l.location_id IN (?, '') AND `+activeLimit), accountID, locationID, micros(db.now()))
	if err != nil {
		return 0, err
	}
	defer rows.Close()
	var ovs []quota.LimitOverride
	for rows.Next() {
		var o quota.LimitOverride
		if err := rows.Scan(&o.AccountID, &o.LocationID, &o.MaxCount); err != nil {
			return 0, err
		}
		ovs = append(ovs, o)
	}
	if err := rows.Err(); err != nil {
		return 0, err
	}
	max, _ := quota.ResolveLimit(ovs, accountID, locationID, fallback)
	return max, nil
}

// ListQuotaRequests returns a page of the requests f selects, oldest first,
// and how many it selects in all.
func (db *DB) ListQuotaRequests(ctx context.Context, f quota.QuotaRequestFilter) (quota.QuotaRequestPage, error) {
	var where []string
	var args []any
	if f.AccountID != "" {
		where, args = append(where, `account_id = ?`), append(args, f.AccountID)
	}
	if len(f.IDs) > 0 {
		where, args = append(where, `id IN (`+placeholders(len(f.IDs))+`)`), append(args, anySlice(f.IDs)...)
	}
	if len(f.States) > 0 {
		where = append(where, `state IN (`+placeholders(len(f.States))+`)`)
		for _, s := range f.States {
			args = append(args, s)
		}
	}
	cond := ""
	if len(where) > 0 {
		cond = ` WHERE ` + strings.Join(where, ` AND `)
	}
	page := quota.QuotaRequestPage{Requests: []quota.QuotaRequest{}}
	if err := db.r.QueryRowContext(ctx, db.q(`SELECT COUNT(*) FROM quota_requests`+cond), args...).Scan(&page.TotalCount); err != nil {
		return page, wrap("list quota requests", db.e.Interpret(err))
	}
	q := `SELECT ` + quotaRequestColumns + ` FROM quota_requests` + cond + ` ORDER BY created_at, id`
	if f.Limit > 0 {
		q += ` LIMIT ? OFFSET ?`
		args = append(args, f.Limit, f.Offset)
	}
	rows, err := db.r.QueryContext(ctx, db.q(q), args...)
	if err != nil {
		return page, wrap("list quota requests", db.e.Interpret(err))
	}
	defer rows.Close()
	for rows.Next() {
		r, err := scanQuotaRequest(rows)
		if err != nil {
			return page, wrap("list quota requests", err)
		}
		page.Requests = append(page.Requests, r)
	}
	return page, wrap("list quota requests", db.e.Interpret(rows.Err()))
}

// quotaRequest reads one request in tx: the account's when accountID is set
// (another account's answers as one that does not exist), any otherwise.
func (db *DB) quotaRequest(ctx context.Context, tx *engine.Tx, id, accountID string) (quota.QuotaRequest, error) {
	q, args := `SELECT `+quotaRequestColumns+` FROM quota_requests WHERE id = ?`, []any{id}
	if accountID != "" {
		q, args = q+` AND account_id = ?`, append(args, accountID)
	}
	r, err := scanQuotaRequest(tx.QueryRow(ctx, db.q(q), args...))
	if errors.Is(err, sql.ErrNoRows) {
		return r, notFound(quota.CodeQuotaRequestNotFound, "quotaRequestId", id)
	}
	return r, err
}

// CancelQuotaRequest withdraws an account's PENDING request.
func (db *DB) CancelQuotaRequest(ctx context.Context, in quota.CancelQuotaRequestInput) (quota.QuotaRequest, error) {
	return db.decideRequest(ctx, in.ID, in.AccountID, in.Actor, func(r quota.QuotaRequest) decision {
		return decision{to: quota.RequestCancelled, action: "CancelImageQuotaRequest", event: quota.EventQuotaRequestCancelled}
	})
}

// ApproveQuotaRequest approves a PENDING request: the account's limit in the
// request's location (its account+location override) becomes the granted
// limit — the desired one unless in says otherwise — until in.ExpiresAt when
// set, in the transaction that approves it.
func (db *DB) ApproveQuotaRequest(ctx context.Context, in quota.ApproveQuotaRequestInput) (quota.QuotaRequest, error) {
	if in.GrantedMaxCount != nil {
		if err := quota.CheckLimit(*in.GrantedMaxCount); err != nil {
			return quota.QuotaRequest{}, quota.Errorf(quota.ErrorCode(err), "grantedMaxCount must be 0-%d; it is %d.", quota.MaxLimit, *in.GrantedMaxCount)
		}
	}
	if in.ExpiresAt != nil && !in.ExpiresAt.After(db.now()) {
		return quota.QuotaRequest{}, quota.Errorf(quota.CodeInvalidParameterValue, "expiresAt %s is not in the future.", quota.WireTime(*in.ExpiresAt))
	}
	if err := quota.CheckRequestText("comment", in.Comment); err != nil {
		return quota.QuotaRequest{}, err
	}
	return db.decideRequest(ctx, in.ID, "", in.Actor, func(r quota.QuotaRequest) decision {
		granted := r.DesiredMaxCount
		if in.GrantedMaxCount != nil {
			granted = *in.GrantedMaxCount
		}
		return approval(granted, in.ExpiresAt, in.Comment)
	})
}

// DenyQuotaRequest denies a PENDING request; the limit stays as it is.
func (db *DB) DenyQuotaRequest(ctx context.Context, in quota.DenyQuotaRequestInput) (quota.QuotaRequest, error) {
	if err := quota.CheckRequestText("comment", in.Comment); err != nil {
		return quota.QuotaRequest{}, err
	}
	return db.decideRequest(ctx, in.ID, "", in.Actor, func(r quota.QuotaRequest) decision {
		return decision{to: quota.RequestDenied, action: "DenyQuotaRequest", event: quota.EventQuotaRequestDenied, comment: in.Comment}
	})
}

// decision is how a PENDING request leaves that state.
type decision struct {
	to     quota.RequestState
	action string // in the audit trail
	event  string
	// granted and expiresAt are an approval's limit and its end.
	granted   *int
	expiresAt *time.Time
	comment   string
}

func approval(granted int, expiresAt *time.Time, comment string) decision {
	if expiresAt != nil {
		t := fromMicros(micros(*expiresAt))
		expiresAt = &t
	}
	return decision{to: quota.RequestApproved, action: "ApproveQuotaRequest", event: quota.EventQuotaRequestApproved,
		granted: &granted, expiresAt: expiresAt, comment: comment}
}

// decideRequest reads request id (the account's, when accountID is set) and
// takes the decision decide makes for it, as one replay-safe write.
func (db *DB) decideRequest(ctx context.Context, id, accountID string, actor quota.Actor, decide func(quota.QuotaRequest) decision) (quota.QuotaRequest, error) {
	// decided is what a replay of the request answers: nothing but that it
	// was done; the request is read as it stands now.
	type decided struct{ req quota.QuotaRequest }
	res, replayed, err := replayable(ctx, db, actor.Replay, accountID, func(ctx context.Context, tx *engine.Tx) (decided, error) {
		r, err := db.quotaRequest(ctx, tx, id, accountID)
		if err != nil {
			return decided{}, err
		}
		r, err = db.decide(ctx, tx, r, decide(r), actor)
		return decided{req: r}, err
	})
	if err != nil {
		return quota.QuotaRequest{}, wrap("decide quota request", err)
	}
	if replayed {
		return db.QuotaRequest(ctx, id, accountID)
	}
	db.eventsCommitted()
	return res.req, nil
}

// decide moves the PENDING request r as d says, in tx, audited as actor's
// change with its event recorded; an approval sets the account's limit in
// the request's location in the same transaction. A request that is no
// longer PENDING — already, or decided concurrently — is refused with
// INVALID_QUOTA_REQUEST_STATE.
func (db *DB) decide(ctx context.Context, tx *engine.Tx, r quota.QuotaRequest, d decision, actor quota.Actor) (quota.QuotaRequest, error) {
	if r.State != quota.RequestPending {
		return r, quota.Errorf(quota.CodeQuotaRequestState, "quotaRequestId %s is %s; only a PENDING request can be %s.",
			r.ID, r.State, strings.ToLower(string(d.to)))
	}
	after := r
	now := fromMicros(micros(db.now()))
	after.State, after.GrantedMaxCount, after.ExpiresAt, after.Comment = d.to, d.granted, d.expiresAt, d.comment
	after.DecidedAt, after.DecidedBy = &now, actor.Name
	if after.DecidedBy == "" {
		after.DecidedBy = quota.AdminActor.Name
	}
	res, err := tx.Exec(ctx, db.q(`UPDATE quota_requests SET state = ?, granted_max_count = ?, expires_at = ?, comment = ?, decided_at = ?, decided_by = ?
		WHERE id = ? AND state = ?`), after.State, intOrNull(after.GrantedMaxCount), nullMicros(after.ExpiresAt), after.Comment,
		micros(now), after.DecidedBy, r.ID, quota.RequestPending)
	if err != nil {
		return r, err
	}
	if n, err := res.RowsAffected(); err != nil {
		return r, err
	} else if n != 1 {
		return r, quota.Errorf(quota.CodeQuotaRequestState, "quotaRequestId %s is no longer PENDING; only a PENDING request can be %s.",
			r.ID, strings.ToLower(string(d.to)))
	}
	if err := db.audit(ctx, tx, actor, r.AccountID, d.action, r.ID, r.EventData(), after.EventData()); err != nil {
		return r, err
	}
	if d.to == quota.RequestApproved {
		o := quota.LimitOverride{AccountID: r.AccountID, LocationID: r.LocationID, MaxCount: *d.granted,
			ExpiresAt: d.expiresAt, Reason: "quota request " + r.ID}
		if _, err := db.setLimit(ctx, tx, o, actor); err != nil {
			return r, err
		}
	}
	return after, db.event(ctx, tx, d.event, now, after.EventData())
}

// QuotaRequestFigures counts the quota requests by state, with the creation
// time of the oldest one still PENDING, in one statement.
func (db *DB) QuotaRequestFigures(ctx context.Context) (quota.RequestFigures, error) {
	rows, err := db.r.QueryContext(ctx, `SELECT state, COUNT(*), MIN(created_at) FROM quota_requests GROUP BY state`)
	if err != nil {
		return quota.RequestFigures{}, wrap("quota request figures", db.e.Interpret(err))
	}
	defer rows.Close()
	f := quota.RequestFigures{ByState: map[quota.RequestState]int64{}}
	for _, s := range quota.RequestStates {
		f.ByState[s] = 0
	}
	for rows.Next() {
		var state string
		var n, oldest int64
		if err := rows.Scan(&state, &n, &oldest); err != nil {
			return quota.RequestFigures{}, wrap("quota request figures", err)
		}
		f.ByState[quota.RequestState(state)] = n
		if quota.RequestState(state) == quota.RequestPending {
			f.OldestPending = fromMicros(oldest)
		}
	}
	return f, wrap("quota request figures", db.e.Interpret(rows.Err()))
}
