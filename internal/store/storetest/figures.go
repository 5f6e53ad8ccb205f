package storetest

import (
	"fmt"
	"reflect"
	"testing"
	"time"

	"github.com/imagequota/imagequota/internal/quota"
	"github.com/imagequota/imagequota/internal/store"
)

// figuresOf works the figures of every location out the long way: every
// pair with its overrides, as ListUsage joins them, resolved one by one.
func figuresOf(t *testing.T, db *store.DB, locations []string, fallback int) []quota.LocationFigures {
	t.Helper()
	pairs, err := db.ListUsage(t.Context(), quota.UsageFilter{})
	if err != nil {
		t.Fatalf("ListUsage: %v", err)
	}
	byLoc := map[string]*quota.LocationFigures{}
	var order []string
	at := func(loc string) *quota.LocationFigures {
		if f, ok := byLoc[loc]; ok {
			return f
		}
		byLoc[loc] = &quota.LocationFigures{LocationID: loc}
		order = append(order, loc)
		return byLoc[loc]
	}
	for _, l := range locations {
		at(l)
	}
	for _, u := range pairs {
		max, _ := quota.ResolveLimit(u.Overrides, u.AccountID, u.LocationID, fallback)
		at(u.LocationID).AddPairs(u.Count, max, 1)
	}
	out := []quota.LocationFigures{}
	for _, l := range order {
		out = append(out, *byLoc[l])
	}
	return out
}

// figuresByLocation indexes figures by location.
func figuresByLocation(fs []quota.LocationFigures) map[string]quota.LocationFigures {
	m := map[string]quota.LocationFigures{}
	for _, f := range fs {
		m[f.LocationID] = f
	}
	return m
}

// testQuotaFigures: the figures of each location count its images and the
// accounts there at and near their limits, each limit resolved as an
// admission resolves it (override of the account and location, of the
// account, of the location, stored default, server default); an override
// stops counting at its expiry; a catalogue location without images has
// zeros; and the figures match those worked out pair by pair.
func testQuotaFigures(t *testing.T, open func(t *testing.T, now func() time.Time) *store.DB) {
	e := setupClocked(t, open)
	db, ctx := e.db, t.Context()
	if got, err := db.QuotaFigures(ctx, []string{tokyo}, 5); err != nil || !reflect.DeepEqual(got, []quota.LocationFigures{{LocationID: tokyo}}) {
		t.Fatalf("figures of an empty store = %+v, %v", got, err)
	}
	a := e.acct
	b, c, d, f := newAccount(t, db, "b"), newAccount(t, db, "c"), newAccount(t, db, "d"), newAccount(t, db, "f")
	newAccount(t, db, "no images")
	images := map[quota.Instance]int{
		e.inst: 2, newInstance(t, db, a.ID, singapore): 1,
		newInstance(t, db, b.ID, tokyo):     3,
		newInstance(t, db, c.ID, singapore): 1,
		newInstance(t, db, d.ID, tokyo):     3, newInstance(t, db, d.ID, singapore): 4,
		newInstance(t, db, f.ID, tokyo): 1,
	}
	for in, n := range images {
		for i := range n {
			mustCreate(t, db, input(in, fmt.Sprintf("img-%d", i), 5))
		}
	}
	expires := e.clock.Now().Add(time.Hour)
	for _, o := range []quota.LimitOverride{
		{MaxCount: 4},
		{LocationID: tokyo, MaxCount: 3},
		{AccountID: a.ID, LocationID: tokyo, MaxCount: 2},
		{AccountID: b.ID, MaxCount: 6},
		{AccountID: c.ID, LocationID: singapore, MaxCount: 1, ExpiresAt: &expires},
	} {
		if _, err := db.SetLimit(ctx, o, quota.AdminActor); err != nil {
			t.Fatalf("SetLimit(%+v): %v", o, err)
		}
	}
	locations := []string{tokyo, frankfurt}
	check := func(when string, want []quota.LocationFigures) {
		t.Helper()
		got, err := db.QuotaFigures(ctx, locations, 5)
		if err != nil {
			t.Fatalf("%s: QuotaFigures: %v", when, err)
		}
		if g, w := figuresByLocation(got), figuresByLocation(want); !reflect.DeepEqual(g, w) {
			t.Errorf("%s: figures\n%+v\nwant\n%+v", when, got, want)
		}
		if len(got) < 2 || got[0].LocationID != tokyo || got[1].LocationID != frankfurt {
			t.Errorf("%s: the locations asked for do not come first: %+v", when, got)
		}
		if g, w := figuresByLocation(got), figuresByLocation(figuresOf(t, db, locations, 5)); !reflect.DeepEqual(g, w) {
			t.Errorf("%s: figures\n%+v\ndiffer from those worked out pair by pair\n%+v", when, got, w)
		}
	}
	// Tokyo: a 2 of 2 (its own), b 3 of 6 (its account's), d 3 of 3 and
	// f 1 of 3 (the location's). Singapore: a 1 of 4 (the default), c 1
	// of 1 (its own, until it expires), d 4 of 4.
	check("with every override", []quota.LocationFigures{
		{LocationID: tokyo, Images: 9, Accounts: 4, LimitSum: 14, AtLimit: 2, NearLimit: 2},
		{LocationID: frankfurt},
		{LocationID: singapore, Images: 6, Accounts: 3, LimitSum: 9, AtLimit: 2, NearLimit: 2},
	})
	e.clock.Add(2 * time.Hour)
	check("after c's override expired", []quota.LocationFigures{
		{LocationID: tokyo, Images: 9, Accounts: 4, LimitSum: 14, AtLimit: 2, NearLimit: 2},
		{LocationID: frankfurt},
		{LocationID: singapore, Images: 6, Accounts: 3, LimitSum: 12, AtLimit: 1, NearLimit: 1},
	})
	// Without a stored default, the server's applies.
	if _, err := db.UnsetLimit(ctx, "", "", quota.AdminActor); err != nil {
		t.Fatal(err)
	}
	check("under the server default", []quota.LocationFigures{
		{LocationID: tokyo, Images: 9, Accounts: 4, LimitSum: 14, AtLimit: 2, NearLimit: 2},
		{LocationID: frankfurt},
		{LocationID: singapore, Images: 6, Accounts: 3, LimitSum: 15, AtLimit: 0, NearLimit: 1},
	})
}

// testQuotaRequestFigures: the requests are counted by state, every state
// present, with the creation time of the oldest PENDING one.
func testQuotaRequestFigures(t *testing.T, open func(t *testing.T, now func() time.Time) *store.DB) {
	e := setupClocked(t, open)
	db, ctx := e.db, t.Context()
	zero := quota.RequestFigures{ByState: map[quota.RequestState]int64{
		quota.RequestPending: 0, quota.RequestApproved: 0, quota.RequestDenied: 0, quota.RequestCancelled: 0}}
	if got, err := db.QuotaRequestFigures(ctx); err != nil || !reflect.DeepEqual(got, zero) {
		t.Fatalf("figures without requests = %+v, %v", got, err)
	}
	first := e.clock.Now()
	mustAsk(t, db, askFor(e.acct.ID, frankfurt, 9))
	e.clock.Add(10 * time.Minute)
	b := newAccount(t, db, "b")
	mustAsk(t, db, askFor(b.ID, tokyo, 7))
	r := mustAsk(t, db, askFor(e.acct.ID, singapore, 10))
	if _, err := db.ApproveQuotaRequest(ctx, quota.ApproveQuotaRequestInput{ID: r.ID, Actor: operatorActor}); err != nil {
		t.Fatal(err)
	}
	r = mustAsk(t, db, askFor(e.acct.ID, singapore, 11))
	if _, err := db.DenyQuotaRequest(ctx, quota.DenyQuotaRequestInput{ID: r.ID, Comment: "no", Actor: operatorActor}); err != nil {
		t.Fatal(err)
	}
	r = mustAsk(t, db, askFor(e.acct.ID, singapore, 12))
	if _, err := db.CancelQuotaRequest(ctx, quota.CancelQuotaRequestInput{AccountID: e.acct.ID, ID: r.ID, Actor: quota.Actor{Name: "AKTEST"}}); err != nil {
		t.Fatal(err)
	}
	want := quota.RequestFigures{ByState: map[quota.RequestState]int64{
		quota.RequestPending: 2, quota.RequestApproved: 1, quota.RequestDenied: 1, quota.RequestCancelled: 1}, OldestPending: first}
	if got, err := db.QuotaRequestFigures(ctx); err != nil || !reflect.DeepEqual(got, want) {
		t.Fatalf("figures = %+v, %v; want %+v", got, err, want)
	}
}

// testOutboxFigures: the events waiting are counted, those with a failed
// attempt apart, with the time of the oldest; a delivered one is gone.
func testOutboxFigures(t *testing.T, open func(t *testing.T, now func() time.Time) *store.DB) {
	e := setupClocked(t, open)
	db, ctx := e.db, t.Context()
	db.RecordEvents(true)
	figures := func() quota.OutboxFigures {
		t.Helper()
		f, err := db.OutboxFigures(ctx)
		if err != nil {
			t.Fatalf("OutboxFigures: %v", err)
		}
		return f
	}
	if f := figures(); f != (quota.OutboxFigures{}) {
		t.Fatalf("figures of an empty outbox = %+v", f)
	}
	first := e.clock.Now()
	record(t, db, e.acct.ID, 2)
	e.clock.Add(time.Minute)
	record(t, db, newAccount(t, db, "b").ID, 1)
	if f := figures(); f != (quota.OutboxFigures{Events: 3, Oldest: first}) {
		t.Fatalf("figures of 3 events = %+v", f)
	}
	c, err := db.ClaimEvents(ctx, 2, time.Hour)
	if err != nil || len(c.Events) != 2 {
		t.Fatalf("claim = %+v, %v", c, err)
	}
	if err := db.EventFailed(ctx, c.Token, c.Events[0].ID, time.Hour, "HTTP 503"); err != nil {
		t.Fatal(err)
	}
	if err := db.EventDelivered(ctx, c.Events[1].ID); err != nil {
		t.Fatal(err)
	}
	if f := figures(); f != (quota.OutboxFigures{Events: 2, FailingEvents: 1, Oldest: first}) {
		t.Fatalf("figures after a failure and a delivery = %+v", f)
	}
}
