package storetest

import (
	"cmp"
	"fmt"
	"math"
	"reflect"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/imagequota/imagequota/internal/quota"
	"github.com/imagequota/imagequota/internal/store"
)

// Clock is a settable clock for the stores of the clocked suite.
type Clock struct{ us atomic.Int64 }

// NewClock returns a clock at t.
func NewClock(t time.Time) *Clock {
	c := &Clock{}
	c.Set(t)
	return c
}

// Now is the clock's time.
func (c *Clock) Now() time.Time { return time.UnixMicro(c.us.Load()).UTC() }

// Set moves the clock to t.
func (c *Clock) Set(t time.Time) { c.us.Store(t.UnixMicro()) }

// Add moves the clock by d.
func (c *Clock) Add(d time.Duration) { c.us.Add(d.Microseconds()) }

// RunClocked runs the tests that need the store's clock in hand: expiring
// overrides, the usage report, operators, and audit filters by time. open must return a new, empty, migrated
// store whose clock is now, and close it when the test ends.
func RunClocked(t *testing.T, open func(t *testing.T, now func() time.Time) *store.DB) {
	tests := []struct {
		name string
		fn   func(t *testing.T, open func(t *testing.T, now func() time.Time) *store.DB)
	}{
		{"OverrideExpires", testOverrideExpires},
		{"ExpiredOverrideReplaced", testExpiredOverrideReplaced},
		{"OverrideChecks", testOverrideChecks},
		{"ConcurrentSweepsRecordOnce", testConcurrentSweeps},
		{"UsageReport", testUsageReport},
		{"Operators", testOperators},
		{"OperatorKeysSealed", testOperatorKeysSealed},
		{"AuditFilters", testAuditFilters},
		{"OperatorWritesReplayed", testOperatorWritesReplayed},
		{"ConsoleSessions", testConsoleSessions},
		{"UsageOverview", testUsageOverview},
		{"ListImagesPage", testListImagesPage},
		{"QuotaFigures", testQuotaFigures},
		{"QuotaRequestFigures", testQuotaRequestFigures},
		{"OutboxFigures", testOutboxFigures},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			tc.fn(t, open)
		})
	}
}

// clockedEnv is a store on a clock with one account that has an instance
// in Tokyo.
type clockedEnv struct {
	env
	clock *Clock
}

func setupClocked(t *testing.T, open func(t *testing.T, now func() time.Time) *store.DB) *clockedEnv {
	t.Helper()
	c := NewClock(time.Date(2026, 12, 1, 10, 0, 0, 0, time.UTC))
	e := &clockedEnv{clock: c}
	e.db = open(t, c.Now)
	e.acct = newAccount(t, e.db, "main")
	e.inst = newInstance(t, e.db, e.acct.ID, tokyo)
	return e
}

// create tries an image in the env's instance with a server default of 1.
func (e *clockedEnv) create(t *testing.T, name string) error {
	t.Helper()
	in := input(e.inst, name, 1)
	in.Now = e.clock.Now()
	_, _, err := e.db.CreateImage(t.Context(), in)
	return err
}

func (e *clockedEnv) limitNow(t *testing.T) (int, string) {
	t.Helper()
	u, err := e.db.Usage(t.Context(), e.acct.ID)
	if err != nil {
		t.Fatalf("Usage: %v", err)
	}
	return quota.ResolveLimit(u.Overrides, e.acct.ID, tokyo, 1)
}

// testOverrideExpires: an override with an expiry raises the limit until
// that instant and not from it on, for admission, Usage (cached or not),
// ListLimits, ListUsage and UsageReport alike, before any sweep; the sweep
// then removes it and records OverrideExpired once.
func testOverrideExpires(t *testing.T, open func(t *testing.T, now func() time.Time) *store.DB) {
	e := setupClocked(t, open)
	ctx := t.Context()
	if err := e.create(t, "first"); err != nil {
		t.Fatalf("first create: %v", err)
	}
	wantCode(t, "create over the default of 1", e.create(t, "second"), quota.CodeImageQuotaExceeded)
	ends := e.clock.Now().Add(time.Hour)
	o := quota.LimitOverride{AccountID: e.acct.ID, LocationID: tokyo, MaxCount: 3, ExpiresAt: &ends, Reason: "migration week"}
	if prev, err := e.db.SetLimit(ctx, o, quota.AdminActor); err != nil || prev != nil {
		t.Fatalf("SetLimit = %s, %v; want nil, nil", intOrNil(prev), err)
	}
	if max, src := e.limitNow(t); max != 3 || src != quota.SourceAccountLocation {
		t.Fatalf("limit with the override = %d (%s), want 3 (account+location)", max, src)
	}
	for _, name := range []string{"second", "third"} {
		if err := e.create(t, name); err != nil {
			t.Fatalf("create %s under the raised limit: %v", name, err)
		}
	}
	wantCode(t, "create over the raised limit", e.create(t, "fourth"), quota.CodeImageQuotaExceeded)
	ls, err := e.db.ListLimits(ctx)
	if err != nil || len(ls) != 1 || ls[0].ExpiresAt == nil || !ls[0].ExpiresAt.Equal(ends) || ls[0].Reason != "migration week" {
		t.Fatalf("ListLimits = %+v, %v; want the override with its expiry and reason", ls, err)
	}
	rows, total, err := e.db.UsageReport(ctx, quota.UsageReportFilter{DefaultMax: 1})
	if err != nil || total != 1 || len(rows) != 1 || rows[0].Effective.MaxCount != 3 || rows[0].Effective.Scope == nil ||
		rows[0].Effective.Scope.ExpiresAt == nil || !rows[0].Effective.Scope.ExpiresAt.Equal(ends) {
		t.Fatalf("UsageReport = %+v, %d, %v; want the pair at 3 until %s", rows, total, err, ends)
	}

	// A microsecond before the end it still applies (and Usage is now cached).
	e.clock.Set(ends.Add(-time.Microsecond))
	if max, _ := e.limitNow(t); max != 3 {
		t.Fatalf("limit just before the expiry = %d, want 3", max)
	}
	// At the end it no longer does: nothing was written, so the cached
	// Usage answers, and must drop the override itself.
	e.clock.Set(ends)
	if max, src := e.limitNow(t); max != 1 || src != quota.SourceServerDefault {
		t.Fatalf("limit at the expiry = %d (%s), want 1 (server-default)", max, src)
	}
	if ls, err := e.db.ListLimits(ctx); err != nil || len(ls) != 0 {
		t.Fatalf("ListLimits at the expiry = %+v, %v; want none", ls, err)
	}
	us, err := e.db.ListUsage(ctx, quota.UsageFilter{})
	if err != nil || len(us) != 1 || len(us[0].Overrides) != 0 || us[0].Count != 3 {
		t.Fatalf("ListUsage at the expiry = %+v, %v; want the pair with 3 images and no override", us, err)
	}
	rows, _, err = e.db.UsageReport(ctx, quota.UsageReportFilter{DefaultMax: 1})
	if err != nil || len(rows) != 1 || rows[0].Effective.MaxCount != 1 || rows[0].Effective.Source != quota.SourceServerDefault {
		t.Fatalf("UsageReport at the expiry = %+v, %v; want the pair at the server default", rows, err)
	}
	// Deleting two images is not enough to create again (3 → 1, limit 1).
	wantCode(t, "create after the expiry", e.create(t, "fourth"), quota.CodeImageQuotaExceeded)
	if n := len(auditOf(t, e.db, quota.AuditFilter{}, "OverrideExpired")); n != 0 {
		t.Fatalf("%d OverrideExpired records before any sweep, want 0", n)
	}

	gone, err := e.db.ExpireOverrides(ctx)
	if err != nil || len(gone) != 1 || gone[0].MaxCount != 3 || gone[0].AccountID != e.acct.ID || gone[0].LocationID != tokyo {
		t.Fatalf("ExpireOverrides = %+v, %v; want the one override", gone, err)
	}
	if gone, err := e.db.ExpireOverrides(ctx); err != nil || len(gone) != 0 {
		t.Fatalf("second ExpireOverrides = %+v, %v; want nothing", gone, err)
	}
	recs := auditOf(t, e.db, quota.AuditFilter{AccountID: e.acct.ID}, "OverrideExpired")
	if len(recs) != 1 {
		t.Fatalf("OverrideExpired records = %+v, want 1", recs)
	}
	r := recs[0]
	wantBefore := fmt.Sprintf(`{"expiresAt":%q,"maxCount":3,"reason":"migration week"}`, ends.Format(time.RFC3339Nano))
	if r.Target != "limit:"+e.acct.ID+"/"+tokyo || r.Actor != quota.SystemActor.Name || jsonOf(t, r.Before) != wantBefore || r.After != nil {
		t.Fatalf("OverrideExpired record = %+v (before %s), want target limit:%s/%s by %s, before %s, after null",
			r, jsonOf(t, r.Before), e.acct.ID, tokyo, quota.SystemActor.Name, wantBefore)
	}
	set := auditOf(t, e.db, quota.AuditFilter{AccountID: e.acct.ID}, "SetLimit")
	if len(set) != 1 || jsonOf(t, set[0].After) != wantBefore {
		t.Fatalf("SetLimit record after = %s, want %s", jsonOf(t, set[0].After), wantBefore)
	}
}

// testExpiredOverrideReplaced: setting or unsetting a scope whose override
// has expired (not yet swept) replaces nothing in effect, and records the
// end first.
func testExpiredOverrideReplaced(t *testing.T, open func(t *testing.T, now func() time.Time) *store.DB) {
	e := setupClocked(t, open)
	ctx := t.Context()
	ends := e.clock.Now().Add(time.Minute)
	if _, err := e.db.SetLimit(ctx, quota.LimitOverride{AccountID: e.acct.ID, MaxCount: 4, ExpiresAt: &ends}, quota.AdminActor); err != nil {
		t.Fatalf("SetLimit: %v", err)
	}
	if _, err := e.db.SetLimit(ctx, quota.LimitOverride{LocationID: tokyo, MaxCount: 2, ExpiresAt: &ends}, quota.AdminActor); err != nil {
		t.Fatalf("SetLimit: %v", err)
	}
	e.clock.Add(2 * time.Minute)
	prev, err := e.db.SetLimit(ctx, quota.LimitOverride{AccountID: e.acct.ID, MaxCount: 6}, quota.AdminActor)
	if err != nil || prev != nil {
		t.Fatalf("SetLimit over an expired override = %s, %v; want nil (nothing was in effect)", intOrNil(prev), err)
	}
	if max, src := e.limitNow(t); max != 6 || src != quota.SourceAccount {
		t.Fatalf("limit = %d (%s), want 6 (account)", max, src)
	}
	prev, err = e.db.UnsetLimit(ctx, "", tokyo, quota.AdminActor)
	if err != nil || prev != nil {
		t.Fatalf("UnsetLimit of an expired override = %s, %v; want nil", intOrNil(prev), err)
	}
	got := []string{}
	for _, r := range audit(t, e.db, quota.AuditFilter{}) {
		if r.Action == "SetLimit" || r.Action == "UnsetLimit" || r.Action == "OverrideExpired" {
			got = append(got, r.Action+" "+r.Target)
		}
	}
	a := "limit:" + e.acct.ID + "/*"
	want := []string{"SetLimit " + a, "SetLimit limit:*/" + tokyo, "OverrideExpired " + a, "SetLimit " + a, "OverrideExpired limit:*/" + tokyo}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("limit records = %q, want %q", got, want)
	}
	if ls, err := e.db.ListLimits(ctx); err != nil || len(ls) != 1 || ls[0].ExpiresAt != nil || ls[0].MaxCount != 6 {
		t.Fatalf("ListLimits = %+v, %v; want the account's 6 without expiry", ls, err)
	}
}

// testOverrideChecks: an expiry must be in the future and a reason short
// text; a limit below the count is allowed.
func testOverrideChecks(t *testing.T, open func(t *testing.T, now func() time.Time) *store.DB) {
	e := setupClocked(t, open)
	ctx := t.Context()
	now := e.clock.Now()
	long := string(make([]rune, quota.MaxReasonLen+1))
	for _, tc := range []struct {
		name string
		o    quota.LimitOverride
		code string
	}{
		{"expiry now", quota.LimitOverride{AccountID: e.acct.ID, MaxCount: 2, ExpiresAt: &now}, quota.CodeInvalidParameterValue},
		{"expiry past", quota.LimitOverride{AccountID: e.acct.ID, MaxCount: 2, ExpiresAt: ptr(now.Add(-time.Hour))}, quota.CodeInvalidParameterValue},
		{"reason too long", quota.LimitOverride{AccountID: e.acct.ID, MaxCount: 2, Reason: long}, quota.CodeExceedLength},
		{"reason with NUL", quota.LimitOverride{AccountID: e.acct.ID, MaxCount: 2, Reason: "a\x00b"}, quota.CodeInvalidParameterValue},
		{"reason not UTF-8", quota.LimitOverride{AccountID: e.acct.ID, MaxCount: 2, Reason: "\xff"}, quota.CodeInvalidParameterValue},
	} {
		_, err := e.db.SetLimit(ctx, tc.o, quota.AdminActor)
		wantCode(t, "SetLimit "+tc.name, err, tc.code)
	}
	if err := e.create(t, "one"); err != nil {
		t.Fatal(err)
	}
	if _, err := e.db.SetLimit(ctx, quota.LimitOverride{AccountID: e.acct.ID, LocationID: tokyo, MaxCount: 0, ExpiresAt: ptr(now.Add(time.Hour))}, quota.AdminActor); err != nil {
		t.Fatalf("SetLimit below the count: %v", err)
	}
	wantCode(t, "create under a limit of 0", e.create(t, "two"), quota.CodeImageQuotaExceeded)
}

// testConcurrentSweeps: sweeps running at once record each end once.
func testConcurrentSweeps(t *testing.T, open func(t *testing.T, now func() time.Time) *store.DB) {
	e := setupClocked(t, open)
	ctx := t.Context()
	ends := e.clock.Now().Add(time.Second)
	for i := range 5 {
		o := quota.LimitOverride{LocationID: fmt.Sprintf("loc-%d", i), MaxCount: i, ExpiresAt: &ends}
		if _, err := e.db.SetLimit(ctx, o, quota.AdminActor); err != nil {
			t.Fatal(err)
		}
	}
	e.clock.Add(time.Hour)
	var wg sync.WaitGroup
	var removed atomic.Int64
	for range 4 {
		wg.Go(func() {
			gone, err := e.db.ExpireOverrides(ctx)
			if err != nil {
				t.Errorf("ExpireOverrides: %v", err)
			}
			removed.Add(int64(len(gone)))
		})
	}
	wg.Wait()
	if n := len(auditOf(t, e.db, quota.AuditFilter{}, "OverrideExpired")); n != 5 || removed.Load() != 5 {
		t.Fatalf("%d OverrideExpired records, %d removed; want 5 and 5", n, removed.Load())
	}
}

// testUsageReport: the report's selection, orders, paging and total.
func testUsageReport(t *testing.T, open func(t *testing.T, now func() time.Time) *store.DB) {
	e := setupClocked(t, open)
	ctx := t.Context()
	db := e.db
	a := e.acct
	b := newAccount(t, db, "b")
	c := newAccount(t, db, "c")
	aSG := newInstance(t, db, a.ID, singapore)
	bTokyo := newInstance(t, db, b.ID, tokyo)
	cTokyo := newInstance(t, db, c.ID, tokyo)
	for i, in := range []quota.Instance{e.inst, e.inst, aSG, bTokyo, bTokyo, bTokyo, bTokyo, cTokyo} {
		mustCreate(t, db, input(in, fmt.Sprintf("img-%d", i), 100))
	}
	ends := e.clock.Now().Add(time.Hour)
	for _, o := range []quota.LimitOverride{
		{AccountID: a.ID, LocationID: tokyo, MaxCount: 2},   // a/tokyo 2 of 2: 1.0
		{AccountID: b.ID, MaxCount: 8, ExpiresAt: &ends},    // b/tokyo 4 of 8: 0.5
		{AccountID: c.ID, LocationID: tokyo, MaxCount: 0},   // c/tokyo 1 of 0: over
		{LocationID: singapore, MaxCount: 4},                // a/sg 1 of 4: 0.25
		{AccountID: "", LocationID: frankfurt, MaxCount: 1}, // nobody has images there
	} {
		if _, err := db.SetLimit(ctx, o, quota.AdminActor); err != nil {
			t.Fatalf("SetLimit(%+v): %v", o, err)
		}
	}
	type row struct {
		pair   string
		count  int
		max    int
		source string
	}
	rowsOf := func(rs []quota.UsageReportRow) []row {
		out := []row{}
		for _, r := range rs {
			pair := map[string]string{a.ID: "a", b.ID: "b", c.ID: "c"}[r.AccountID] + "/" + r.LocationID
			out = append(out, row{pair, r.Count, r.Effective.MaxCount, r.Effective.Source})
		}
		return out
	}
	cTok := row{"c/" + tokyo, 1, 0, quota.SourceAccountLocation}
	aTok := row{"a/" + tokyo, 2, 2, quota.SourceAccountLocation}
	bTok := row{"b/" + tokyo, 4, 8, quota.SourceAccount}
	aSg := row{"a/" + singapore, 1, 4, quota.SourceLocation}
	// Account ids are random: order the pairs by them as the store must.
	ids := map[string]string{"a": a.ID, "b": b.ID, "c": c.ID}
	byAccount := []row{aSg, aTok, bTok, cTok}
	slices.SortFunc(byAccount, func(x, y row) int {
		xa, xl, _ := strings.Cut(x.pair, "/")
		ya, yl, _ := strings.Cut(y.pair, "/")
		return cmp.Or(cmp.Compare(ids[xa], ids[ya]), cmp.Compare(xl, yl))
	})
	tests := []struct {
		name  string
		f     quota.UsageReportFilter
		want  []row
		total int
	}{
		{"all by utilization", quota.UsageReportFilter{}, []row{cTok, aTok, bTok, aSg}, 4},
		{"by account", quota.UsageReportFilter{OrderBy: quota.OrderByAccountID}, byAccount, 4},
		{"at least half", quota.UsageReportFilter{MinUtilization: 0.5}, []row{cTok, aTok, bTok}, 3},
		{"at or over", quota.UsageReportFilter{MinUtilization: 1}, []row{cTok, aTok}, 2},
		{"accounts", quota.UsageReportFilter{AccountIDs: []string{a.ID, c.ID}}, []row{cTok, aTok, aSg}, 3},
		{"locations", quota.UsageReportFilter{LocationIDs: []string{singapore}}, []row{aSg}, 1},
		{"page 2 of 3", quota.UsageReportFilter{Offset: 3, Limit: 3}, []row{aSg}, 4},
		{"page 1 of 2", quota.UsageReportFilter{Limit: 2, OrderBy: quota.OrderByAccountID}, byAccount[:2], 4},
		{"past the end", quota.UsageReportFilter{Offset: 10, Limit: 5}, []row{}, 4},
		{"nothing selected", quota.UsageReportFilter{LocationIDs: []string{frankfurt}}, []row{}, 0},
	}
	for _, tc := range tests {
		tc.f.DefaultMax = 100
		got, total, err := db.UsageReport(ctx, tc.f)
		if err != nil {
			t.Fatalf("%s: UsageReport: %v", tc.name, err)
		}
		if g := rowsOf(got); !reflect.DeepEqual(g, tc.want) || total != tc.total {
			t.Errorf("%s: UsageReport = %+v (total %d), want %+v (total %d)", tc.name, g, total, tc.want, tc.total)
		}
	}
	got, _, _ := db.UsageReport(ctx, quota.UsageReportFilter{DefaultMax: 100, AccountIDs: []string{b.ID}})
	if len(got) != 1 || got[0].Effective.Scope == nil || got[0].Effective.Scope.ExpiresAt == nil || !got[0].Effective.Scope.ExpiresAt.Equal(ends) {
		t.Fatalf("b's row = %+v, want the account override with its expiry", got)
	}
	if u := got[0].Utilization(); u != 0.5 {
		t.Fatalf("b's utilization = %v, want 0.5", u)
	}
	got, _, _ = db.UsageReport(ctx, quota.UsageReportFilter{DefaultMax: 100, AccountIDs: []string{c.ID}})
	if u := got[0].Utilization(); !math.IsInf(u, 1) {
		t.Fatalf("c's utilization = %v, want +Inf", u)
	}
	// After b's override ends, b falls back to the server default.
	e.clock.Set(ends)
	got, _, _ = db.UsageReport(ctx, quota.UsageReportFilter{DefaultMax: 100, AccountIDs: []string{b.ID}})
	if r := rowsOf(got); len(r) != 1 || r[0] != (row{"b/" + tokyo, 4, 100, quota.SourceServerDefault}) {
		t.Fatalf("b's row after its override ended = %+v", r)
	}
}
