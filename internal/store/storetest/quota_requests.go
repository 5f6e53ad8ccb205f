package storetest

import (
	"encoding/json"
	"fmt"
	"reflect"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/imagequota/imagequota/internal/quota"
	"github.com/imagequota/imagequota/internal/store"
)

// operatorActor decides requests in the suite.
var operatorActor = quota.Actor{Name: "OPKSUITE", RequestID: "req-operator"}

// askFor is a request by account for desired in location, with a server default of 5.
func askFor(account, location string, desired int) quota.CreateQuotaRequestInput {
	return quota.CreateQuotaRequestInput{
		AccountID: account, LocationID: location, DesiredMaxCount: desired, Reason: "more builds",
		DefaultMax: quota.DefaultMaxCount, Actor: quota.Actor{Name: "AKTEST", RequestID: fmt.Sprintf("req-ask-%d", desired)},
	}
}

// mustAsk makes a request that must be accepted.
func mustAsk(t *testing.T, db *store.DB, in quota.CreateQuotaRequestInput) quota.QuotaRequest {
	t.Helper()
	r, replayed, err := db.CreateQuotaRequest(t.Context(), in)
	if err != nil || replayed {
		t.Fatalf("CreateQuotaRequest(%s, %d) = %+v, replayed %v, %v", in.LocationID, in.DesiredMaxCount, r, replayed, err)
	}
	return r
}

// limitOf resolves the account's limit in location as DescribeImageQuota does.
func limitOf(t *testing.T, db *store.DB, accountID, location string) int {
	t.Helper()
	u, err := db.Usage(t.Context(), accountID)
	if err != nil {
		t.Fatalf("Usage(%s): %v", accountID, err)
	}
	max, _ := quota.ResolveLimit(u.Overrides, accountID, location, quota.DefaultMaxCount)
	return max
}

// requests lists the requests f selects.
func requests(t *testing.T, db *store.DB, f quota.QuotaRequestFilter) quota.QuotaRequestPage {
	t.Helper()
	p, err := db.ListQuotaRequests(t.Context(), f)
	if err != nil {
		t.Fatalf("ListQuotaRequests(%+v): %v", f, err)
	}
	return p
}

// testQuotaRequestLifecycle: a request is PENDING until approved, denied or
// cancelled, each final; an approval raises the limit in the same
// transaction; every change is audited with its actor and request id.
func testQuotaRequestLifecycle(t *testing.T, open func(t *testing.T) *store.DB) {
	e := setup(t, open)
	db, ctx := e.db, t.Context()
	before := time.Now().Add(-time.Second)

	r := mustAsk(t, db, askFor(e.acct.ID, tokyo, 10))
	if r.State != quota.RequestPending || r.CurrentMaxCount != 5 || r.DesiredMaxCount != 10 || r.GrantedMaxCount != nil ||
		r.Reason != "more builds" || r.Comment != "" || r.DecidedAt != nil || r.ExpiresAt != nil || r.CreatedAt.Before(before) ||
		r.AccountID != e.acct.ID || r.LocationID != tokyo || r.ID == "" {
		t.Fatalf("new request = %+v", r)
	}
	if got := limitOf(t, db, e.acct.ID, tokyo); got != 5 {
		t.Fatalf("limit while PENDING = %d, want 5", got)
	}
	page := requests(t, db, quota.QuotaRequestFilter{AccountID: e.acct.ID})
	if page.TotalCount != 1 || !reflect.DeepEqual(page.Requests, []quota.QuotaRequest{r}) {
		t.Fatalf("ListQuotaRequests = %+v; want exactly %+v", page, r)
	}

	expires := time.Now().Add(48 * time.Hour).UTC().Truncate(time.Second)
	approved, err := db.ApproveQuotaRequest(ctx, quota.ApproveQuotaRequestInput{ID: r.ID, ExpiresAt: &expires, Comment: "ok for the launch", Actor: operatorActor})
	if err != nil {
		t.Fatalf("ApproveQuotaRequest: %v", err)
	}
	if approved.State != quota.RequestApproved || intOrNil(approved.GrantedMaxCount) != "10" || approved.ExpiresAt == nil ||
		!approved.ExpiresAt.Equal(expires) || approved.Comment != "ok for the launch" || approved.DecidedAt == nil ||
		approved.DecidedBy != operatorActor.Name {
		t.Fatalf("approved request = %+v", approved)
	}
	if got := limitOf(t, db, e.acct.ID, tokyo); got != 10 {
		t.Fatalf("limit after the approval = %d, want 10", got)
	}
	if got := requests(t, db, quota.QuotaRequestFilter{IDs: []string{r.ID}}); !reflect.DeepEqual(got.Requests, []quota.QuotaRequest{approved}) {
		t.Fatalf("the approved request reads back as %+v; want %+v", got.Requests, approved)
	}
	// Final: no second decision of any kind.
	for name, err := range map[string]error{
		"approve again": func() error {
			_, err := db.ApproveQuotaRequest(ctx, quota.ApproveQuotaRequestInput{ID: r.ID, Actor: operatorActor})
			return err
		}(),
		"deny": func() error {
			_, err := db.DenyQuotaRequest(ctx, quota.DenyQuotaRequestInput{ID: r.ID, Actor: operatorActor})
			return err
		}(),
		"cancel": func() error {
			_, err := db.CancelQuotaRequest(ctx, quota.CancelQuotaRequestInput{AccountID: e.acct.ID, ID: r.ID, Actor: quota.Actor{Name: "AKTEST"}})
			return err
		}(),
	} {
		wantCode(t, name+" an APPROVED request", err, quota.CodeQuotaRequestState)
	}

	// The next request starts from the raised limit; a denial changes nothing.
	second := mustAsk(t, db, askFor(e.acct.ID, tokyo, 12))
	if second.CurrentMaxCount != 10 {
		t.Fatalf("second request's currentMaxCount = %d, want 10", second.CurrentMaxCount)
	}
	denied, err := db.DenyQuotaRequest(ctx, quota.DenyQuotaRequestInput{ID: second.ID, Comment: "not now", Actor: operatorActor})
	if err != nil || denied.State != quota.RequestDenied || denied.Comment != "not now" || denied.GrantedMaxCount != nil {
		t.Fatalf("DenyQuotaRequest = %+v, %v", denied, err)
	}
	third := mustAsk(t, db, askFor(e.acct.ID, tokyo, 15))
	cancelled, err := db.CancelQuotaRequest(ctx, quota.CancelQuotaRequestInput{AccountID: e.acct.ID, ID: third.ID, Actor: quota.Actor{Name: "AKTEST", RequestID: "req-cancel"}})
	if err != nil || cancelled.State != quota.RequestCancelled || cancelled.DecidedBy != "AKTEST" {
		t.Fatalf("CancelQuotaRequest = %+v, %v", cancelled, err)
	}
	if got := limitOf(t, db, e.acct.ID, tokyo); got != 10 {
		t.Fatalf("limit after a denial and a cancellation = %d, want 10", got)
	}

	// Another account's request answers like one that does not exist, and
	// so does an unknown id.
	other := newAccount(t, db, "other")
	_, err = db.CancelQuotaRequest(ctx, quota.CancelQuotaRequestInput{AccountID: other.ID, ID: third.ID, Actor: quota.Actor{Name: "AKOTHER"}})
	wantCode(t, "cancel another account's request", err, quota.CodeQuotaRequestNotFound)
	_, err = db.ApproveQuotaRequest(ctx, quota.ApproveQuotaRequestInput{ID: "qr-missing", Actor: operatorActor})
	wantCode(t, "approve an unknown request", err, quota.CodeQuotaRequestNotFound)

	// Filters and pages, oldest first.
	all := requests(t, db, quota.QuotaRequestFilter{AccountID: e.acct.ID})
	if all.TotalCount != 3 || len(all.Requests) != 3 || all.Requests[0].ID != r.ID || all.Requests[1].ID != second.ID || all.Requests[2].ID != third.ID {
		t.Fatalf("the account's requests = %+v; want %s, %s, %s", all, r.ID, second.ID, third.ID)
	}
	for _, tc := range []struct {
		f     quota.QuotaRequestFilter
		total int
		ids   []string
	}{
		{quota.QuotaRequestFilter{AccountID: e.acct.ID, States: []quota.RequestState{quota.RequestDenied, quota.RequestCancelled}}, 2, []string{second.ID, third.ID}},
		{quota.QuotaRequestFilter{AccountID: e.acct.ID, States: []quota.RequestState{quota.RequestPending}}, 0, nil},
		{quota.QuotaRequestFilter{AccountID: e.acct.ID, Offset: 1, Limit: 1}, 3, []string{second.ID}},
		{quota.QuotaRequestFilter{AccountID: e.acct.ID, Offset: 5, Limit: 1}, 3, nil},
		{quota.QuotaRequestFilter{AccountID: other.ID}, 0, nil},
		{quota.QuotaRequestFilter{AccountID: other.ID, IDs: []string{r.ID}}, 0, nil},
		{quota.QuotaRequestFilter{IDs: []string{third.ID, r.ID, "qr-missing"}}, 2, []string{r.ID, third.ID}},
	} {
		p := requests(t, db, tc.f)
		var ids []string
		for _, q := range p.Requests {
			ids = append(ids, q.ID)
		}
		if p.TotalCount != tc.total || fmt.Sprint(ids) != fmt.Sprint(tc.ids) {
			t.Errorf("ListQuotaRequests(%+v) = %d in all, %v; want %d, %v", tc.f, p.TotalCount, ids, tc.total, tc.ids)
		}
	}

	// The audit trail: each change by its actor, with the states before and after.
	want := []struct{ action, actor, target, before, after string }{
		{"CreateImageQuotaRequest", "AKTEST", r.ID, "null", `"PENDING"`},
		{"ApproveQuotaRequest", operatorActor.Name, r.ID, `"PENDING"`, `"APPROVED"`},
		{"SetLimit", operatorActor.Name, "limit:" + e.acct.ID + "/" + tokyo, "null", ""},
		{"CreateImageQuotaRequest", "AKTEST", second.ID, "null", `"PENDING"`},
		{"DenyQuotaRequest", operatorActor.Name, second.ID, `"PENDING"`, `"DENIED"`},
		{"CreateImageQuotaRequest", "AKTEST", third.ID, "null", `"PENDING"`},
		{"CancelImageQuotaRequest", "AKTEST", third.ID, `"PENDING"`, `"CANCELLED"`},
	}
	recs := auditOf(t, db, quota.AuditFilter{AccountID: e.acct.ID}, "CreateImageQuotaRequest", "ApproveQuotaRequest", "DenyQuotaRequest",
		"CancelImageQuotaRequest", "SetLimit")
	if len(recs) != len(want) {
		t.Fatalf("audit has %d quota request records, want %d: %+v", len(recs), len(want), recs)
	}
	for i, w := range want {
		got := recs[i]
		if got.Action != w.action || got.Actor != w.actor || got.Target != w.target {
			t.Errorf("audit record %d = %s by %s on %s; want %s by %s on %s", i, got.Action, got.Actor, got.Target, w.action, w.actor, w.target)
		}
		if w.action == "SetLimit" {
			if field(t, got.After, "maxCount") != "10" || got.RequestID != operatorActor.RequestID {
				t.Errorf("the approval's SetLimit record = %+v (after %s)", got, jsonOf(t, got.After))
			}
			continue
		}
		if b := stateOf(t, got.Before); b != w.before {
			t.Errorf("audit record %d (%s) before state %s, want %s", i, w.action, b, w.before)
		}
		if a := field(t, got.After, "state"); a != w.after {
			t.Errorf("audit record %d (%s) after state %s, want %s", i, w.action, a, w.after)
		}
	}
}

// stateOf is the "state" of an audit state, or null for none.
func stateOf(t *testing.T, v any) string {
	t.Helper()
	if jsonOf(t, v) == "null" {
		return "null"
	}
	return field(t, v, "state")
}

// testQuotaRequestRules: a desired limit must be above the current one; an
// account has one open request per location, also under concurrent asks; a
// client token makes a request idempotent.
func testQuotaRequestRules(t *testing.T, open func(t *testing.T) *store.DB) {
	e := setup(t, open)
	db, ctx := e.db, t.Context()
	for _, desired := range []int{5, 4, 0} {
		_, _, err := db.CreateQuotaRequest(ctx, askFor(e.acct.ID, tokyo, desired))
		wantCode(t, fmt.Sprintf("desired %d with a limit of 5", desired), err, quota.CodeQuotaRequestDesiredCount)
	}
	if _, err := db.SetLimit(ctx, quota.LimitOverride{AccountID: e.acct.ID, MaxCount: 7}, quota.AdminActor); err != nil {
		t.Fatal(err)
	}
	_, _, err := db.CreateQuotaRequest(ctx, askFor(e.acct.ID, tokyo, 7))
	wantCode(t, "desired 7 with an account limit of 7", err, quota.CodeQuotaRequestDesiredCount)

	// Concurrent asks for one location: one is accepted, the others find it open.
	const asks = 20
	var wg sync.WaitGroup
	errs := make([]error, asks)
	for i := range asks {
		wg.Go(func() { _, _, errs[i] = db.CreateQuotaRequest(ctx, askFor(e.acct.ID, tokyo, 8+i)) })
	}
	wg.Wait()
	accepted := 0
	for i, err := range errs {
		switch quota.ErrorCode(err) {
		case "":
			accepted++
		case quota.CodeQuotaRequestOpen:
		default:
			t.Fatalf("concurrent ask %d: %v", i, err)
		}
	}
	pending := requests(t, db, quota.QuotaRequestFilter{AccountID: e.acct.ID, States: []quota.RequestState{quota.RequestPending}})
	if accepted != 1 || pending.TotalCount != 1 {
		t.Fatalf("%d of %d concurrent asks accepted, %d PENDING; want exactly 1", accepted, asks, pending.TotalCount)
	}
	open1 := pending.Requests[0]
	_, _, err = db.CreateQuotaRequest(ctx, askFor(e.acct.ID, tokyo, 50))
	wantCode(t, "a second open request", err, quota.CodeQuotaRequestOpen)
	other := mustAsk(t, db, askFor(e.acct.ID, singapore, 50))
	if other.CurrentMaxCount != 7 {
		t.Fatalf("currentMaxCount in Singapore = %d, want the account's 7", other.CurrentMaxCount)
	}
	if _, err := db.CancelQuotaRequest(ctx, quota.CancelQuotaRequestInput{AccountID: e.acct.ID, ID: open1.ID, Actor: quota.Actor{Name: "AKTEST"}}); err != nil {
		t.Fatal(err)
	}
	mustAsk(t, db, askFor(e.acct.ID, tokyo, 50))

	// A client token answers the request it made, as it stands now.
	in := askFor(e.acct.ID, frankfurt, 9)
	in.ClientToken = "ask-once"
	first := mustAsk(t, db, in)
	again, replayed, err := db.CreateQuotaRequest(ctx, in)
	if err != nil || !replayed || again.ID != first.ID {
		t.Fatalf("the same client token again = %+v, replayed %v, %v; want %s", again, replayed, err, first.ID)
	}
	if _, err := db.DenyQuotaRequest(ctx, quota.DenyQuotaRequestInput{ID: first.ID, Actor: operatorActor}); err != nil {
		t.Fatal(err)
	}
	again, replayed, err = db.CreateQuotaRequest(ctx, in)
	if err != nil || !replayed || again.ID != first.ID || again.State != quota.RequestDenied {
		t.Fatalf("the client token after a denial = %+v, replayed %v, %v; want %s DENIED", again, replayed, err, first.ID)
	}
	changed := in
	changed.DesiredMaxCount = 10
	_, _, err = db.CreateQuotaRequest(ctx, changed)
	wantCode(t, "the client token with other parameters", err, quota.CodeInvalidParameterValue)
	if n := requests(t, db, quota.QuotaRequestFilter{AccountID: e.acct.ID}).TotalCount; n != 4 {
		t.Fatalf("%d requests; want 4 (Tokyo twice, Singapore, Frankfurt once)", n)
	}

	// The same request's signature seen again is answered from its record.
	sig := askFor(e.acct.ID, "us-dallas-1a", 9)
	sig.Actor = replayActor("k-ask", "CreateImageQuotaRequest", time.Now().Add(time.Hour))
	first = mustAsk(t, db, sig)
	again, replayed, err = db.CreateQuotaRequest(ctx, sig)
	if err != nil || !replayed || again.ID != first.ID {
		t.Fatalf("the same signature again = %+v, replayed %v, %v; want %s", again, replayed, err, first.ID)
	}
	// So is a cancellation's: its first answer, not a refusal to cancel twice.
	cancel := quota.CancelQuotaRequestInput{AccountID: e.acct.ID, ID: first.ID,
		Actor: replayActor("k-cancel", "CancelImageQuotaRequest", time.Now().Add(time.Hour))}
	for i := range 2 {
		if got, err := db.CancelQuotaRequest(ctx, cancel); err != nil || got.State != quota.RequestCancelled {
			t.Fatalf("cancellation, copy %d = %+v, %v", i, got, err)
		}
	}
	if n := len(auditOf(t, db, quota.AuditFilter{AccountID: e.acct.ID}, "CancelImageQuotaRequest")); n != 2 {
		t.Fatalf("%d cancellations audited; want 2 (one earlier, one sent twice)", n)
	}

	// A decision's values are checked before anything changes.
	last := mustAsk(t, db, askFor(e.acct.ID, "us-dallas-1b", 9))
	past := time.Now().Add(-time.Minute)
	for _, tc := range []struct {
		name string
		in   quota.ApproveQuotaRequestInput
		code string
	}{
		{"granted below 0", quota.ApproveQuotaRequestInput{ID: last.ID, GrantedMaxCount: ptr(-1)}, quota.CodeLessMinimum},
		{"granted above the maximum", quota.ApproveQuotaRequestInput{ID: last.ID, GrantedMaxCount: ptr(quota.MaxLimit + 1)}, quota.CodeExceedMaximum},
		{"expiry in the past", quota.ApproveQuotaRequestInput{ID: last.ID, ExpiresAt: &past}, quota.CodeInvalidParameterValue},
	} {
		_, err := db.ApproveQuotaRequest(ctx, tc.in)
		wantCode(t, tc.name, err, tc.code)
	}
	if got := requests(t, db, quota.QuotaRequestFilter{IDs: []string{last.ID}}); got.Requests[0].State != quota.RequestPending {
		t.Fatalf("refused approvals changed the request: %+v", got.Requests[0])
	}
}

// testQuotaRequestGrant: an approval may grant another value than the one
// asked for; the policy approves at once what it covers, as "policy".
func testQuotaRequestGrant(t *testing.T, open func(t *testing.T) *store.DB) {
	e := setup(t, open)
	db, ctx := e.db, t.Context()
	r := mustAsk(t, db, askFor(e.acct.ID, tokyo, 20))
	got, err := db.ApproveQuotaRequest(ctx, quota.ApproveQuotaRequestInput{ID: r.ID, GrantedMaxCount: ptr(12), Actor: operatorActor})
	if err != nil || intOrNil(got.GrantedMaxCount) != "12" || got.ExpiresAt != nil {
		t.Fatalf("approval granting 12 of 20 = %+v, %v", got, err)
	}
	if n := limitOf(t, db, e.acct.ID, tokyo); n != 12 {
		t.Fatalf("limit = %d, want the granted 12", n)
	}

	in := askFor(e.acct.ID, singapore, 8)
	in.Policy = quota.AutoApproval{UpTo: 8}
	auto := mustAsk(t, db, in)
	if auto.State != quota.RequestApproved || intOrNil(auto.GrantedMaxCount) != "8" || auto.DecidedBy != quota.PolicyActor.Name {
		t.Fatalf("a request the policy covers = %+v; want APPROVED by policy with 8", auto)
	}
	if n := limitOf(t, db, e.acct.ID, singapore); n != 8 {
		t.Fatalf("limit in Singapore = %d, want 8", n)
	}
	in = askFor(e.acct.ID, frankfurt, 9)
	in.Policy = quota.AutoApproval{UpTo: 8}
	if held := mustAsk(t, db, in); held.State != quota.RequestPending {
		t.Fatalf("a request above the policy = %+v; want PENDING", held)
	}
	recs := auditOf(t, db, quota.AuditFilter{AccountID: e.acct.ID}, "ApproveQuotaRequest", "SetLimit")
	var byPolicy []string
	for _, r := range recs {
		if r.Actor == quota.PolicyActor.Name {
			byPolicy = append(byPolicy, r.Action+" "+r.Target+" "+r.RequestID)
		}
	}
	if want := []string{"ApproveQuotaRequest " + auto.ID + " req-ask-8", "SetLimit limit:" + e.acct.ID + "/" + singapore + " req-ask-8"}; fmt.Sprint(byPolicy) != fmt.Sprint(want) {
		t.Fatalf("audit records by policy = %v; want %v", byPolicy, want)
	}
}

// testApprovalExpires: an approval with an expiry raises the limit until
// then; from that instant the limit is what it was before, for admission
// and Usage alike; the sweep records the end, and with events on, each of
// the request's moves and the override's end are events, in order.
func testApprovalExpires(t *testing.T, open func(t *testing.T, now func() time.Time) *store.DB) {
	e := setupClocked(t, open)
	db, ctx := e.db, t.Context()
	db.RecordEvents(true)
	r := mustAsk(t, db, askFor(e.acct.ID, tokyo, 3))
	if r.CurrentMaxCount != 5 {
		t.Fatalf("currentMaxCount = %d, want the server default 5", r.CurrentMaxCount)
	}
	ends := e.clock.Now().Add(24 * time.Hour)
	if _, err := db.ApproveQuotaRequest(ctx, quota.ApproveQuotaRequestInput{ID: r.ID, GrantedMaxCount: ptr(2), ExpiresAt: &ends, Actor: operatorActor}); err != nil {
		t.Fatalf("ApproveQuotaRequest: %v", err)
	}
	ls, err := db.ListLimits(ctx)
	if err != nil || len(ls) != 1 || ls[0].MaxCount != 2 || ls[0].ExpiresAt == nil || !ls[0].ExpiresAt.Equal(ends) || ls[0].Reason != "quota request "+r.ID {
		t.Fatalf("ListLimits = %+v, %v; want the account's override of 2 until %s, for the request", ls, err, ends)
	}
	for _, name := range []string{"one", "two"} {
		if err := e.create(t, name); err != nil {
			t.Fatalf("create %s under the granted 2: %v", name, err)
		}
	}
	wantCode(t, "create over the granted limit", e.create(t, "three"), quota.CodeImageQuotaExceeded)

	e.clock.Set(ends)
	if max, src := e.limitNow(t); max != 1 || src != quota.SourceServerDefault {
		t.Fatalf("limit at the expiry = %d (%s), want the default 1", max, src)
	}
	gone, err := db.ExpireOverrides(ctx)
	if err != nil || len(gone) != 1 {
		t.Fatalf("ExpireOverrides = %+v, %v", gone, err)
	}
	// An expired grant does not stand in the way of asking again.
	again := mustAsk(t, db, askFor(e.acct.ID, tokyo, 6))
	if again.CurrentMaxCount != 5 {
		t.Fatalf("currentMaxCount after the grant expired = %d, want 5", again.CurrentMaxCount)
	}

	evs := pending(t, db)
	want := []string{quota.EventQuotaRequestCreated, quota.EventQuotaRequestApproved, quota.EventLimitReached, quota.EventOverrideExpired, quota.EventQuotaRequestCreated}
	if !slices.Equal(eventTypes(evs), want) {
		t.Fatalf("events = %v; want %v", eventTypes(evs), want)
	}
	var expired quota.OverrideExpiredEvent
	if err := json.Unmarshal(evs[3].Data, &expired); err != nil {
		t.Fatal(err)
	}
	if strOrNil(expired.AccountID) != fmt.Sprintf("%q", e.acct.ID) || strOrNil(expired.ZoneID) != fmt.Sprintf("%q", tokyo) ||
		expired.MaxCount != 2 || expired.ExpiresAt != "2026-12-02T10:00:00Z" || expired.Reason != "quota request "+r.ID {
		t.Fatalf("override_expired data = %s", evs[3].Data)
	}
	if !evs[3].Time.Equal(ends) {
		t.Fatalf("override_expired time = %s, want when the sweep noticed it, %s", evs[3].Time, ends)
	}
}
