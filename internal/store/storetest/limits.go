package storetest

import (
	"errors"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/imagequota/imagequota/internal/quota"
	"github.com/imagequota/imagequota/internal/store"
)

func testLimits(t *testing.T, open func(t *testing.T) *store.DB) {
	db := open(t)
	ctx := t.Context()
	acct := newAccount(t, db, "limits")
	actor := quota.Actor{Name: "admin", RequestID: "req-limits"}
	if ls, err := db.ListLimits(ctx); err != nil || len(ls) != 0 {
		t.Fatalf("ListLimits on a new store = %v, %v; want none", ls, err)
	}

	steps := []struct {
		o    quota.LimitOverride
		prev *int
	}{
		{quota.LimitOverride{AccountID: acct.ID, LocationID: tokyo, MaxCount: 3}, nil},
		{quota.LimitOverride{AccountID: acct.ID, LocationID: tokyo, MaxCount: 4}, ptr(3)},
		{quota.LimitOverride{AccountID: acct.ID, LocationID: tokyo, MaxCount: 4}, ptr(4)},
		{quota.LimitOverride{AccountID: acct.ID, MaxCount: 0}, nil},
		{quota.LimitOverride{LocationID: tokyo, MaxCount: 6}, nil},
		{quota.LimitOverride{MaxCount: 7}, nil},
	}
	for _, s := range steps {
		prev, err := db.SetLimit(ctx, s.o, actor)
		if err != nil {
			t.Fatalf("SetLimit(%+v): %v", s.o, err)
		}
		if intOrNil(prev) != intOrNil(s.prev) {
			t.Fatalf("SetLimit(%+v) previous = %s, want %s", s.o, intOrNil(prev), intOrNil(s.prev))
		}
	}
	want := []quota.LimitOverride{
		{MaxCount: 7},
		{LocationID: tokyo, MaxCount: 6},
		{AccountID: acct.ID, MaxCount: 0},
		{AccountID: acct.ID, LocationID: tokyo, MaxCount: 4},
	}
	ls, err := db.ListLimits(ctx)
	if err != nil || !reflect.DeepEqual(ls, want) {
		t.Fatalf("ListLimits = %+v, %v; want %+v", ls, err, want)
	}

	prev, err := db.UnsetLimit(ctx, acct.ID, tokyo, actor)
	if err != nil || intOrNil(prev) != "4" {
		t.Fatalf("UnsetLimit = %s, %v; want previous 4", intOrNil(prev), err)
	}
	prev, err = db.UnsetLimit(ctx, acct.ID, tokyo, actor)
	if err != nil || prev != nil {
		t.Fatalf("UnsetLimit of nothing = %s, %v; want nil, nil", intOrNil(prev), err)
	}
	if ls, _ := db.ListLimits(ctx); len(ls) != 3 {
		t.Fatalf("ListLimits after unset = %+v, want 3 overrides", ls)
	}

	// Every change has an audit record with the values before and after, in
	// order; the no-op unset has none.
	wantAudit := []struct{ action, target, before, after string }{
		{"SetLimit", "limit:" + acct.ID + "/" + tokyo, `null`, `{"maxCount":3}`},
		{"SetLimit", "limit:" + acct.ID + "/" + tokyo, `{"maxCount":3}`, `{"maxCount":4}`},
		{"SetLimit", "limit:" + acct.ID + "/" + tokyo, `{"maxCount":4}`, `{"maxCount":4}`},
		{"SetLimit", "limit:" + acct.ID + "/*", `null`, `{"maxCount":0}`},
		{"UnsetLimit", "limit:" + acct.ID + "/" + tokyo, `{"maxCount":4}`, `null`},
	}
	recs := auditOf(t, db, quota.AuditFilter{AccountID: acct.ID}, "SetLimit", "UnsetLimit")
	if len(recs) != len(wantAudit) {
		t.Fatalf("audit of %s has %d records, want %d: %+v", acct.ID, len(recs), len(wantAudit), recs)
	}
	for i, w := range wantAudit {
		r := recs[i]
		if r.Action != w.action || r.Target != w.target || jsonOf(t, r.Before) != w.before || jsonOf(t, r.After) != w.after ||
			r.Actor != "admin" || r.RequestID != "req-limits" || r.AccountID != acct.ID {
			t.Fatalf("audit record %d = %+v (before %s, after %s), want %+v", i, r, jsonOf(t, r.Before), jsonOf(t, r.After), w)
		}
	}
	global := audit(t, db, quota.AuditFilter{AccountID: ""})
	var targets []string
	for _, r := range global {
		if r.AccountID == "" {
			targets = append(targets, r.Target)
		}
	}
	if !reflect.DeepEqual(targets, []string{"limit:*/" + tokyo, "limit:*/*"}) {
		t.Fatalf("audit targets of location-wide and default limits = %v", targets)
	}

	for _, tc := range []struct {
		name string
		o    quota.LimitOverride
		code string
	}{
		{"negative", quota.LimitOverride{AccountID: acct.ID, MaxCount: -1}, quota.CodeLessMinimum},
		{"too large", quota.LimitOverride{AccountID: acct.ID, MaxCount: quota.MaxLimit + 1}, quota.CodeExceedMaximum},
		{"unknown account", quota.LimitOverride{AccountID: "acc-missing", MaxCount: 1}, quota.CodeAccountNotFound},
	} {
		_, err := db.SetLimit(ctx, tc.o, actor)
		wantCode(t, "SetLimit "+tc.name, err, tc.code)
	}
	if ls, _ := db.ListLimits(ctx); len(ls) != 3 {
		t.Fatalf("refused SetLimit calls changed the limits: %+v", ls)
	}
}

// testLimitResolution checks that admission applies the most specific
// override: account+location, then account, then location, then the stored
// default, then the server default.
func testLimitResolution(t *testing.T, open func(t *testing.T) *store.DB) {
	const serverDefault = 2
	tests := []struct {
		name      string
		overrides func(acct string) []quota.LimitOverride
		admitted  int
	}{
		{"server default", func(string) []quota.LimitOverride { return nil }, serverDefault},
		{"stored default", func(string) []quota.LimitOverride {
			return []quota.LimitOverride{{MaxCount: 3}}
		}, 3},
		{"location beats default", func(string) []quota.LimitOverride {
			return []quota.LimitOverride{{MaxCount: 3}, {LocationID: tokyo, MaxCount: 1}, {LocationID: singapore, MaxCount: 4}}
		}, 1},
		{"account beats location", func(a string) []quota.LimitOverride {
			return []quota.LimitOverride{{LocationID: tokyo, MaxCount: 1}, {AccountID: a, MaxCount: 4}}
		}, 4},
		{"account+location beats account", func(a string) []quota.LimitOverride {
			return []quota.LimitOverride{{AccountID: a, MaxCount: 4}, {AccountID: a, LocationID: tokyo, MaxCount: 0}}
		}, 0},
		{"another location's override does not apply", func(string) []quota.LimitOverride {
			return []quota.LimitOverride{{LocationID: singapore, MaxCount: 0}}
		}, serverDefault},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			e := setup(t, open)
			for _, o := range tc.overrides(e.acct.ID) {
				if _, err := e.db.SetLimit(t.Context(), o, quota.AdminActor); err != nil {
					t.Fatalf("SetLimit(%+v): %v", o, err)
				}
			}
			admitted := 0
			for i := 0; i < 6; i++ {
				_, _, err := e.db.CreateImage(t.Context(), input(e.inst, "img", serverDefault))
				if err != nil {
					wantCode(t, "CreateImage past the limit", err, quota.CodeImageQuotaExceeded)
					break
				}
				admitted++
			}
			if admitted != tc.admitted {
				t.Fatalf("admitted %d images, want %d", admitted, tc.admitted)
			}
			u, err := e.db.Usage(t.Context(), e.acct.ID)
			if err != nil {
				t.Fatalf("Usage: %v", err)
			}
			if max, _ := quota.ResolveLimit(u.Overrides, e.acct.ID, tokyo, serverDefault); max != tc.admitted {
				t.Fatalf("the limit resolved from Usage's overrides is %d, want %d", max, tc.admitted)
			}
		})
	}
}

func testInstances(t *testing.T, open func(t *testing.T) *store.DB) {
	db := open(t)
	ctx := t.Context()
	acct := newAccount(t, db, "instances")
	other := newAccount(t, db, "other")
	before := time.Now().Add(-time.Second)
	in := quota.Instance{AccountID: acct.ID, LocationID: tokyo, DiskGB: 60, OSCategory: "Debian", OSType: "linux", OSVersion: "12"}
	gen, err := db.CreateInstance(ctx, in)
	if err != nil {
		t.Fatalf("CreateInstance: %v", err)
	}
	if !strings.HasPrefix(gen.ID, "ins-") || gen.CreatedAt.Before(before) {
		t.Fatalf("CreateInstance = %+v: want an ins-… id and a creation time", gen)
	}
	in.ID = "ins-fixed-1"
	in.LocationID = singapore
	fixed, err := db.CreateInstance(ctx, in)
	if err != nil || fixed.ID != "ins-fixed-1" {
		t.Fatalf("CreateInstance with an id = %+v, %v", fixed, err)
	}
	theirs := newInstance(t, db, other.ID, tokyo)

	got, err := db.GetInstance(ctx, acct.ID, gen.ID)
	if err != nil {
		t.Fatalf("GetInstance: %v", err)
	}
	gen.CreatedAt, got.CreatedAt = gen.CreatedAt.UTC(), got.CreatedAt.UTC()
	if !reflect.DeepEqual(got, gen) {
		t.Fatalf("GetInstance = %+v, want %+v", got, gen)
	}

	list := func(account string) []string {
		t.Helper()
		ins, err := db.ListInstances(ctx, account)
		if err != nil {
			t.Fatalf("ListInstances(%q): %v", account, err)
		}
		ids := []string{}
		for _, x := range ins {
			ids = append(ids, x.ID)
		}
		return ids
	}
	for _, tc := range []struct {
		account string
		want    []string
	}{
		{acct.ID, []string{gen.ID, fixed.ID}},
		{other.ID, []string{theirs.ID}},
		{"", []string{gen.ID, fixed.ID, theirs.ID}},
		{"acc-missing", []string{}},
	} {
		if got := list(tc.account); !sameSet(got, tc.want) {
			t.Fatalf("ListInstances(%q) = %v, want %v", tc.account, got, tc.want)
		}
	}

	img := mustCreate(t, db, input(gen, "from-gen", 5))
	if err := db.DeleteInstance(ctx, gen.ID); err != nil {
		t.Fatalf("DeleteInstance: %v", err)
	}
	if ids := imageIDs(t, db, acct.ID, nil, ""); !reflect.DeepEqual(ids, []string{img.ID}) {
		t.Fatalf("images after deleting their instance = %v, want %s kept", ids, img.ID)
	}
	if n := count(t, db, acct.ID, tokyo); n != 1 {
		t.Fatalf("count after deleting the instance = %d, want 1", n)
	}

	for _, tc := range []struct {
		name string
		err  error
		code string
	}{
		{"duplicate id", func() error { _, err := db.CreateInstance(ctx, in); return err }(), quota.CodeConflict},
		{"duplicate id in another account", func() error {
			dup := in
			dup.AccountID = other.ID
			_, err := db.CreateInstance(ctx, dup)
			return err
		}(), quota.CodeConflict},
		{"unknown account", func() error {
			_, err := db.CreateInstance(ctx, quota.Instance{AccountID: "acc-missing", LocationID: tokyo, DiskGB: 1})
			return err
		}(), quota.CodeAccountNotFound},
		{"get another account's instance", func() error { _, err := db.GetInstance(ctx, acct.ID, theirs.ID); return err }(), quota.CodeInstanceNotFound},
		{"get unknown instance", func() error { _, err := db.GetInstance(ctx, acct.ID, "ins-missing"); return err }(), quota.CodeInstanceNotFound},
		{"get deleted instance", func() error { _, err := db.GetInstance(ctx, acct.ID, gen.ID); return err }(), quota.CodeInstanceNotFound},
		{"delete twice", db.DeleteInstance(ctx, gen.ID), quota.CodeInstanceNotFound},
		{"image of a deleted instance", func() error { _, _, err := db.CreateImage(ctx, input(gen, "gone", 5)); return err }(), quota.CodeInstanceNotFound},
	} {
		wantCode(t, tc.name, tc.err, tc.code)
	}
	if got := list(""); !sameSet(got, []string{fixed.ID, theirs.ID}) {
		t.Fatalf("refused creates changed the instances: %v", got)
	}
	if e, _ := quota.AsError(func() error { _, err := db.CreateInstance(ctx, in); return err }()); e == nil || !strings.Contains(e.Message, in.ID) {
		t.Fatalf("duplicate instance error %v does not name %s", e, in.ID)
	}
}

func testUsage(t *testing.T, open func(t *testing.T) *store.DB) {
	e := setup(t, open)
	ctx := t.Context()
	other := newAccount(t, e.db, "other")
	sg := newInstance(t, e.db, e.acct.ID, singapore)
	theirs := newInstance(t, e.db, other.ID, tokyo)
	for _, in := range []quota.Instance{e.inst, e.inst, sg, theirs, theirs, theirs} {
		mustCreate(t, e.db, input(in, "img", 10))
	}
	for _, o := range []quota.LimitOverride{
		{AccountID: e.acct.ID, LocationID: tokyo, MaxCount: 8},
		{AccountID: other.ID, MaxCount: 9},
		{LocationID: frankfurt, MaxCount: 1},
		{MaxCount: 20},
	} {
		if _, err := e.db.SetLimit(ctx, o, quota.AdminActor); err != nil {
			t.Fatalf("SetLimit: %v", err)
		}
	}
	u, err := e.db.Usage(ctx, e.acct.ID)
	if err != nil {
		t.Fatalf("Usage: %v", err)
	}
	if want := map[string]int{tokyo: 2, singapore: 1}; !reflect.DeepEqual(u.Counts, want) {
		t.Fatalf("Usage.Counts = %v, want %v", u.Counts, want)
	}
	for _, o := range u.Overrides {
		if o.AccountID == other.ID {
			t.Fatalf("Usage of %s includes %s's override %+v", e.acct.ID, other.ID, o)
		}
	}
	if len(u.Overrides) != 3 {
		t.Fatalf("Usage.Overrides = %+v, want the account's, the location-wide and the default override", u.Overrides)
	}
	empty := newAccount(t, e.db, "empty")
	u, err = e.db.Usage(ctx, empty.ID)
	if err != nil || u.Counts == nil || len(u.Counts) != 0 {
		t.Fatalf("Usage of an account without images = %+v, %v; want an empty, non-nil count map", u, err)
	}
}

func testAudit(t *testing.T, open func(t *testing.T) *store.DB) {
	e := setup(t, open)
	ctx := t.Context()
	other := newAccount(t, e.db, "other")
	theirs := newInstance(t, e.db, other.ID, tokyo)

	mustCreate(t, e.db, input(e.inst, "first", 10))
	mustCreate(t, e.db, input(theirs, "theirs", 10))
	time.Sleep(5 * time.Millisecond) // audit times have microsecond resolution: leave a gap
	since := time.Now()
	time.Sleep(5 * time.Millisecond)
	second := mustCreate(t, e.db, input(e.inst, "second", 10))
	if _, err := e.db.SetLimit(ctx, quota.LimitOverride{AccountID: e.acct.ID, MaxCount: 3}, quota.Actor{}); err != nil {
		t.Fatalf("SetLimit: %v", err)
	}

	all := audit(t, e.db, quota.AuditFilter{})
	if len(all) != 8 {
		t.Fatalf("ListAudit() has %d records, want 8: %+v", len(all), all)
	}
	for i := 1; i < len(all); i++ {
		if all[i].ID <= all[i-1].ID || all[i].At.Before(all[i-1].At) {
			t.Fatalf("ListAudit() is not oldest first: %+v", all)
		}
	}
	if r := all[6]; r.Action != "CreateImage" || r.Target != second.ID || r.Actor != "AKTEST" || r.RequestID != "req-second" ||
		jsonOf(t, r.Before) != "null" || field(t, r.After, "imageId") != `"`+second.ID+`"` || field(t, r.After, "imageName") != `"second"` {
		t.Fatalf("CreateImage audit record = %+v (after %s)", r, jsonOf(t, r.After))
	}
	if r := all[7]; r.Actor != "admin" {
		t.Fatalf("a change with no actor name is recorded as %q, want admin", r.Actor)
	}

	actions := func(recs []quota.AuditRecord) []string {
		out := []string{}
		for _, r := range recs {
			out = append(out, r.AccountID+":"+r.Action)
		}
		return out
	}
	a, o := e.acct.ID, other.ID
	for _, tc := range []struct {
		name string
		f    quota.AuditFilter
		want []string
	}{
		{"all", quota.AuditFilter{}, []string{a + ":CreateAccount", a + ":CreateInstance", o + ":CreateAccount", o + ":CreateInstance",
			a + ":CreateImage", o + ":CreateImage", a + ":CreateImage", a + ":SetLimit"}},
		{"account", quota.AuditFilter{AccountID: a}, []string{a + ":CreateAccount", a + ":CreateInstance", a + ":CreateImage", a + ":CreateImage", a + ":SetLimit"}},
		{"other account", quota.AuditFilter{AccountID: o}, []string{o + ":CreateAccount", o + ":CreateInstance", o + ":CreateImage"}},
		{"unknown account", quota.AuditFilter{AccountID: "acc-missing"}, []string{}},
		{"since", quota.AuditFilter{Since: since}, []string{a + ":CreateImage", a + ":SetLimit"}},
		{"since, other account", quota.AuditFilter{Since: since, AccountID: o}, []string{}},
		{"limit", quota.AuditFilter{Limit: 2}, []string{a + ":CreateAccount", a + ":CreateInstance"}},
		{"account and limit", quota.AuditFilter{AccountID: o, Limit: 1}, []string{o + ":CreateAccount"}},
		{"future", quota.AuditFilter{Since: time.Now().Add(time.Hour)}, []string{}},
	} {
		if got := actions(audit(t, e.db, tc.f)); !reflect.DeepEqual(got, tc.want) {
			t.Errorf("ListAudit(%s) = %v, want %v", tc.name, got, tc.want)
		}
	}
}

// errRefused is what the CheckInstance hook of some tests returns.
var errRefused = errors.New("refused by CheckInstance")
