package storetest

import (
	"cmp"
	"fmt"
	"reflect"
	"slices"
	"testing"

	"github.com/imagequota/imagequota/internal/quota"
	"github.com/imagequota/imagequota/internal/store"
)

func testListUsage(t *testing.T, open func(t *testing.T) *store.DB) {
	e := setup(t, open)
	ctx := t.Context()
	db := e.db
	a := e.acct
	b := newAccount(t, db, "b")
	newAccount(t, db, "no images") // has no pair
	aSingapore := newInstance(t, db, a.ID, singapore)
	bTokyo := newInstance(t, db, b.ID, tokyo)
	for i, in := range []quota.Instance{e.inst, e.inst, aSingapore, bTokyo, bTokyo, bTokyo} {
		mustCreate(t, db, input(in, fmt.Sprintf("img-%d", i), 10))
	}
	for _, o := range []quota.LimitOverride{
		{AccountID: a.ID, LocationID: tokyo, MaxCount: 8},
		{AccountID: b.ID, MaxCount: 9},
		{AccountID: a.ID, LocationID: frankfurt, MaxCount: 2}, // a has no images there
		{LocationID: tokyo, MaxCount: 4},
		{LocationID: frankfurt, MaxCount: 1},
		{MaxCount: 20},
	} {
		if _, err := db.SetLimit(ctx, o, quota.AdminActor); err != nil {
			t.Fatalf("SetLimit(%+v): %v", o, err)
		}
	}
	all := []quota.LocationUsage{
		{AccountID: a.ID, LocationID: singapore, Count: 1, Overrides: []quota.LimitOverride{{MaxCount: 20}}},
		{AccountID: a.ID, LocationID: tokyo, Count: 2, Overrides: []quota.LimitOverride{
			{AccountID: a.ID, LocationID: tokyo, MaxCount: 8}, {LocationID: tokyo, MaxCount: 4}, {MaxCount: 20}}},
		{AccountID: b.ID, LocationID: tokyo, Count: 3, Overrides: []quota.LimitOverride{
			{AccountID: b.ID, MaxCount: 9}, {LocationID: tokyo, MaxCount: 4}, {MaxCount: 20}}},
	}
	slices.SortFunc(all, func(x, y quota.LocationUsage) int {
		return cmp.Or(cmp.Compare(x.AccountID, y.AccountID), cmp.Compare(x.LocationID, y.LocationID))
	})
	pick := func(keep func(u quota.LocationUsage) bool) []quota.LocationUsage {
		out := []quota.LocationUsage{}
		for _, u := range all {
			if keep(u) {
				out = append(out, u)
			}
		}
		return out
	}
	tests := []struct {
		name string
		f    quota.UsageFilter
		want []quota.LocationUsage
	}{
		{"every pair", quota.UsageFilter{}, all},
		{"one account", quota.UsageFilter{AccountID: b.ID}, pick(func(u quota.LocationUsage) bool { return u.AccountID == b.ID })},
		{"one location", quota.UsageFilter{LocationID: tokyo}, pick(func(u quota.LocationUsage) bool { return u.LocationID == tokyo })},
		{"both", quota.UsageFilter{AccountID: a.ID, LocationID: singapore}, pick(func(u quota.LocationUsage) bool {
			return u.AccountID == a.ID && u.LocationID == singapore
		})},
		{"at least two", quota.UsageFilter{MinCount: 2}, pick(func(u quota.LocationUsage) bool { return u.Count >= 2 })},
		{"at least three in Tokyo", quota.UsageFilter{LocationID: tokyo, MinCount: 3}, pick(func(u quota.LocationUsage) bool {
			return u.LocationID == tokyo && u.Count >= 3
		})},
		{"more than any", quota.UsageFilter{MinCount: 4}, []quota.LocationUsage{}},
		{"a location without images", quota.UsageFilter{LocationID: frankfurt}, []quota.LocationUsage{}},
		{"an unknown account", quota.UsageFilter{AccountID: "acc-missing"}, []quota.LocationUsage{}},
		{"after the first", quota.UsageFilter{AfterAccountID: all[0].AccountID, AfterLocationID: all[0].LocationID}, all[1:]},
		{"after the last", quota.UsageFilter{AfterAccountID: all[2].AccountID, AfterLocationID: all[2].LocationID}, []quota.LocationUsage{}},
		{"first page", quota.UsageFilter{Limit: 2}, all[:2]},
	}
	for _, tc := range tests {
		got, err := db.ListUsage(ctx, tc.f)
		if err != nil {
			t.Fatalf("%s: ListUsage(%+v): %v", tc.name, tc.f, err)
		}
		if !reflect.DeepEqual(got, tc.want) {
			t.Errorf("%s: ListUsage(%+v) =\n%+v\nwant\n%+v", tc.name, tc.f, got, tc.want)
		}
	}

	// Page by page, every page size reads every pair once, in order.
	for size := 1; size <= len(all)+1; size++ {
		var got []quota.LocationUsage
		f := quota.UsageFilter{Limit: size}
		for pages := 0; ; pages++ {
			if pages > len(all)+1 {
				t.Fatalf("pages of %d: no end after %d pages", size, pages)
			}
			page, err := db.ListUsage(ctx, f)
			if err != nil {
				t.Fatalf("pages of %d: ListUsage(%+v): %v", size, f, err)
			}
			got = append(got, page...)
			if len(page) < size {
				break
			}
			f.AfterAccountID, f.AfterLocationID = page[len(page)-1].AccountID, page[len(page)-1].LocationID
		}
		if !reflect.DeepEqual(got, all) {
			t.Errorf("pages of %d read\n%+v\nwant\n%+v", size, got, all)
		}
	}

	// Each pair resolves to the limit Usage resolves to for its account.
	for _, u := range all {
		usage, err := db.Usage(ctx, u.AccountID)
		if err != nil {
			t.Fatalf("Usage(%s): %v", u.AccountID, err)
		}
		wantMax, wantSource := quota.ResolveLimit(usage.Overrides, u.AccountID, u.LocationID, 5)
		gotMax, gotSource := quota.ResolveLimit(u.Overrides, u.AccountID, u.LocationID, 5)
		if usage.Counts[u.LocationID] != u.Count || gotMax != wantMax || gotSource != wantSource {
			t.Errorf("%s in %s: count %d, limit %d from %s; Usage says count %d, limit %d from %s",
				u.AccountID, u.LocationID, u.Count, gotMax, gotSource, usage.Counts[u.LocationID], wantMax, wantSource)
		}
	}
}
