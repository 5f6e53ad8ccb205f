package storetest

import (
	"errors"
	"fmt"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/imagequota/imagequota/internal/quota"
	"github.com/imagequota/imagequota/internal/store"
)

// testConsoleSessions: a console session opens for an enabled operator key,
// is found by its token only, ends at its expiry, when its key or its
// operator is disabled (and comes back when they are enabled again before
// it expires), and when it is signed out; sign-ins and sign-outs are
// audited without the token.
func testConsoleSessions(t *testing.T, open func(t *testing.T, now func() time.Time) *store.DB) {
	e := setupClocked(t, open)
	ctx := t.Context()
	db := e.db
	op, key, err := db.CreateOperator(ctx, "alice", quota.RoleAdmin, quota.AdminActor)
	if err != nil {
		t.Fatal(err)
	}
	ro, roKey, err := db.CreateOperator(ctx, "auditor", quota.RoleReadonly, quota.AdminActor)
	if err != nil {
		t.Fatal(err)
	}
	actor := quota.Actor{Name: quota.OperatorActor(op.ID), RequestID: "req-sign-in"}
	token := store.NewSecret(32)
	start := e.clock.Now()
	s, err := db.CreateConsoleSession(ctx, token, key.ID, 8*time.Hour, actor)
	if err != nil {
		t.Fatalf("CreateConsoleSession: %v", err)
	}
	want := store.ConsoleSession{OperatorID: op.ID, OperatorName: "alice", Role: quota.RoleAdmin, KeyID: key.ID,
		CreatedAt: start, ExpiresAt: start.Add(8 * time.Hour)}
	if s != want {
		t.Fatalf("CreateConsoleSession = %+v, want %+v", s, want)
	}
	got, err := db.ConsoleSession(ctx, token)
	if err != nil || got != want {
		t.Fatalf("ConsoleSession = %+v, %v; want %+v", got, err, want)
	}
	roToken := store.NewSecret(32)
	if s, err := db.CreateConsoleSession(ctx, roToken, roKey.ID, time.Hour, quota.Actor{Name: quota.OperatorActor(ro.ID)}); err != nil ||
		s.Role != quota.RoleReadonly || s.OperatorID != ro.ID {
		t.Fatalf("CreateConsoleSession of the readonly operator = %+v, %v", s, err)
	}

	noSession := func(what string, err error) {
		t.Helper()
		if !errors.Is(err, store.ErrNoConsoleSession) {
			t.Fatalf("%s: error %v, want ErrNoConsoleSession", what, err)
		}
	}
	for _, bad := range []string{"", "x", store.ConsoleTokenHash(token), token + "x", strings.ToUpper(token)} {
		_, err := db.ConsoleSession(ctx, bad)
		noSession(fmt.Sprintf("ConsoleSession(%q)", bad), err)
	}
	_, err = db.CreateConsoleSession(ctx, store.NewSecret(32), "OPKMISSING0000000000000", time.Hour, actor)
	noSession("CreateConsoleSession of an unknown key", err)

	// A disabled key, or operator, opens no session and ends those it has
	// while it stays disabled.
	for _, tc := range []struct {
		name string
		set  func(disabled bool) error
	}{
		{"key", func(d bool) error { return db.SetOperatorKeyDisabled(ctx, key.ID, d, quota.AdminActor) }},
		{"operator", func(d bool) error { return db.SetOperatorDisabled(ctx, op.ID, d, quota.AdminActor) }},
	} {
		if err := tc.set(true); err != nil {
			t.Fatal(err)
		}
		_, err := db.ConsoleSession(ctx, token)
		noSession("ConsoleSession with its "+tc.name+" disabled", err)
		_, err = db.CreateConsoleSession(ctx, store.NewSecret(32), key.ID, time.Hour, actor)
		noSession("CreateConsoleSession with the "+tc.name+" disabled", err)
		if s, err := db.ConsoleSession(ctx, roToken); err != nil || s.OperatorID != ro.ID {
			t.Fatalf("another operator's session with the %s disabled: %+v, %v", tc.name, s, err)
		}
		if err := tc.set(false); err != nil {
			t.Fatal(err)
		}
		if got, err := db.ConsoleSession(ctx, token); err != nil || got != want {
			t.Fatalf("ConsoleSession with its %s enabled again = %+v, %v", tc.name, got, err)
		}
	}

	// A session ends at its expiry.
	e.clock.Add(time.Hour - time.Microsecond)
	if _, err := db.ConsoleSession(ctx, roToken); err != nil {
		t.Fatalf("ConsoleSession a microsecond before its expiry: %v", err)
	}
	e.clock.Add(time.Microsecond)
	_, err = db.ConsoleSession(ctx, roToken)
	noSession("ConsoleSession at its expiry", err)
	// The next sign-in deletes it: signing it out finds nothing.
	other := store.NewSecret(32)
	if _, err := db.CreateConsoleSession(ctx, other, key.ID, time.Hour, actor); err != nil {
		t.Fatal(err)
	}
	if ended, err := db.DeleteConsoleSession(ctx, roToken, actor); err != nil || ended {
		t.Fatalf("DeleteConsoleSession of an expired session = %v, %v; want it deleted already", ended, err)
	}

	// Signing out ends one session, not the operator's others.
	out := quota.Actor{Name: quota.OperatorActor(op.ID), RequestID: "req-sign-out"}
	if ended, err := db.DeleteConsoleSession(ctx, token, out); err != nil || !ended {
		t.Fatalf("DeleteConsoleSession = %v, %v", ended, err)
	}
	_, err = db.ConsoleSession(ctx, token)
	noSession("ConsoleSession after signing out", err)
	if ended, err := db.DeleteConsoleSession(ctx, token, out); err != nil || ended {
		t.Fatalf("DeleteConsoleSession again = %v, %v", ended, err)
	}
	if _, err := db.ConsoleSession(ctx, other); err != nil {
		t.Fatalf("the operator's other session after signing out one: %v", err)
	}

	var ins, outs []quota.AuditRecord
	for _, r := range audit(t, db, quota.AuditFilter{}) {
		for _, v := range []any{r.Before, r.After} {
			if s := jsonOf(t, v); strings.Contains(s, token) || strings.Contains(s, store.ConsoleTokenHash(token)) {
				t.Fatalf("audit record %+v holds the session token or its hash", r)
			}
		}
		switch r.Action {
		case "ConsoleSignIn":
			ins = append(ins, r)
		case "ConsoleSignOut":
			outs = append(outs, r)
		}
	}
	if len(ins) != 3 || ins[0].Actor != actor.Name || ins[0].RequestID != "req-sign-in" || ins[0].Target != key.ID || ins[0].AccountID != "" ||
		field(t, ins[0].After, "operatorId") != `"`+op.ID+`"` || field(t, ins[0].After, "expiresAt") != `"`+quota.WireTime(want.ExpiresAt)+`"` {
		t.Fatalf("ConsoleSignIn records = %+v", ins)
	}
	if len(outs) != 1 || outs[0].Actor != out.Name || outs[0].RequestID != "req-sign-out" || outs[0].Target != key.ID ||
		field(t, outs[0].Before, "accessKeyId") != `"`+key.ID+`"` || jsonOf(t, outs[0].After) != "null" {
		t.Fatalf("ConsoleSignOut records = %+v", outs)
	}
}

// testUsageOverview: the console's overview, from the per-location figures
// /metrics serves (QuotaFigures) and the pairs closest to their limits
// (ClosestToLimit, ranked in one statement), agrees with the usage report
// (which resolves every pair's limit in Go) and with the counts worked out
// by hand, with overrides of every scope, one of them expired, one of 0;
// each limit ClosestToLimit resolves in SQL is quota.ResolveLimit's.
func testUsageOverview(t *testing.T, open func(t *testing.T, now func() time.Time) *store.DB) {
	e := setupClocked(t, open)
	ctx := t.Context()
	db := e.db
	const defaultMax = 1000 // the stored default below applies instead

	if f, err := db.QuotaFigures(ctx, nil, defaultMax); err != nil || len(f) != 0 {
		t.Fatalf("QuotaFigures of a store without images = %+v, %v", f, err)
	}
	if r, err := db.ClosestToLimit(ctx, defaultMax, 5, ""); err != nil || len(r) != 0 {
		t.Fatalf("ClosestToLimit of a store without images = %+v, %v", r, err)
	}

	a := e.acct
	b, c, d := newAccount(t, db, "b"), newAccount(t, db, "c"), newAccount(t, db, "d")
	images := func(acct quota.Account, loc string, n int) {
		t.Helper()
		in := newInstance(t, db, acct.ID, loc)
		for i := range n {
			im := input(in, fmt.Sprintf("%s-%s-%d", acct.Name, loc, i), 1_000_000)
			im.Now = e.clock.Now()
			mustCreate(t, db, im)
		}
	}
	images(a, tokyo, 4)     // a+tokyo override 4: at the limit
	images(a, singapore, 1) // stored default 5: 20%
	images(b, tokyo, 4)     // 4 of 5: near
	images(c, tokyo, 2)     // c's account-wide 2: at the limit
	images(c, singapore, 3) // over it
	images(d, singapore, 1) // d+singapore 0: at the limit, before every other
	images(d, frankfurt, 8) // frankfurt 10, once the d+frankfurt 8 has ended: near
	for _, o := range []quota.LimitOverride{
		{MaxCount: 5},
		{AccountID: a.ID, LocationID: tokyo, MaxCount: 4},
		{AccountID: c.ID, MaxCount: 2},
		{AccountID: d.ID, LocationID: singapore, MaxCount: 0},
		{LocationID: frankfurt, MaxCount: 10},
		{AccountID: d.ID, LocationID: frankfurt, MaxCount: 8, ExpiresAt: ptr(e.clock.Now().Add(time.Hour))},
	} {
		if _, err := db.SetLimit(ctx, o, quota.AdminActor); err != nil {
			t.Fatalf("SetLimit(%+v): %v", o, err)
		}
	}

	// limits checks every limit ClosestToLimit reports against
	// quota.ResolveLimit over the overrides in effect, and the ones named.
	limits := func(when string, fallback int, want map[[2]string]int) {
		t.Helper()
		rows, err := db.ClosestToLimit(ctx, fallback, 20, "")
		if err != nil || len(rows) != 7 {
			t.Fatalf("%s: ClosestToLimit = %d rows, %v; want the 7 pairs", when, len(rows), err)
		}
		inEffect, err := db.ListLimits(ctx)
		if err != nil {
			t.Fatal(err)
		}
		for _, r := range rows {
			max, source := quota.ResolveLimit(inEffect, r.AccountID, r.LocationID, fallback)
			if r.Effective.MaxCount != max || r.Effective.Source != source {
				t.Errorf("%s: ClosestToLimit says %s in %s has %d (%s); quota.ResolveLimit says %d (%s)",
					when, r.AccountID, r.LocationID, r.Effective.MaxCount, r.Effective.Source, max, source)
			}
			if w, ok := want[[2]string{r.AccountID, r.LocationID}]; ok && r.Effective.MaxCount != w {
				t.Errorf("%s: ClosestToLimit says %s in %s has %d, want %d", when, r.AccountID, r.LocationID, r.Effective.MaxCount, w)
			}
		}
	}
	// figures checks QuotaFigures against want and against the usage
	// report's rows.
	figures := func(when string, fallback int, want []quota.LocationFigures) {
		t.Helper()
		got, err := db.QuotaFigures(ctx, nil, fallback)
		if err != nil {
			t.Fatalf("%s: QuotaFigures: %v", when, err)
		}
		if g, w := figuresByLocation(got), figuresByLocation(want); !reflect.DeepEqual(g, w) {
			t.Errorf("%s: QuotaFigures = %+v;\nwant %+v", when, got, want)
		}
		report, total, err := db.UsageReport(ctx, quota.UsageReportFilter{DefaultMax: fallback, OrderBy: quota.OrderByUtilization})
		if err != nil || total != 7 {
			t.Fatalf("%s: UsageReport = %d rows, %v", when, total, err)
		}
		fromReport := map[string]quota.LocationFigures{}
		for _, r := range report {
			f := fromReport[r.LocationID]
			f.LocationID = r.LocationID
			f.AddPairs(r.Count, r.Effective.MaxCount, 1)
			fromReport[r.LocationID] = f
		}
		if g := figuresByLocation(got); !reflect.DeepEqual(g, fromReport) {
			t.Errorf("%s: QuotaFigures = %+v;\nthe usage report says %+v", when, got, fromReport)
		}
	}

	limits("with every override", defaultMax, map[[2]string]int{
		{a.ID, tokyo}: 4, {a.ID, singapore}: 5, {c.ID, singapore}: 2, {d.ID, singapore}: 0, {d.ID, frankfurt}: 8})
	e.clock.Add(2 * time.Hour) // d's frankfurt override has ended, not yet swept
	limits("after d's frankfurt override ended", defaultMax, map[[2]string]int{
		{a.ID, tokyo}: 4, {a.ID, singapore}: 5, {b.ID, tokyo}: 5, {c.ID, singapore}: 2, {d.ID, singapore}: 0, {d.ID, frankfurt}: 10})
	// At their limit: a and c in Tokyo, c and d in Singapore; at 80% or
	// more, those and b in Tokyo (4 of 5) and d in Frankfurt (8 of 10).
	figures("after d's frankfurt override ended", defaultMax, []quota.LocationFigures{
		{LocationID: frankfurt, Images: 8, Accounts: 1, LimitSum: 10, AtLimit: 0, NearLimit: 1},
		{LocationID: tokyo, Images: 10, Accounts: 3, LimitSum: 11, AtLimit: 2, NearLimit: 3},
		{LocationID: singapore, Images: 5, Accounts: 3, LimitSum: 7, AtLimit: 2, NearLimit: 2},
	})

	for _, n := range []int{0, 1, 3, 7, 20} {
		got, err := db.ClosestToLimit(ctx, defaultMax, n, "")
		if err != nil {
			t.Fatalf("ClosestToLimit(%d): %v", n, err)
		}
		page, _, err := db.UsageReport(ctx, quota.UsageReportFilter{DefaultMax: defaultMax, OrderBy: quota.OrderByUtilization, Limit: max(n, 1)})
		if err != nil {
			t.Fatal(err)
		}
		if n == 0 {
			page = page[:0]
		}
		if !reflect.DeepEqual(got, page) {
			t.Fatalf("ClosestToLimit(%d) = %+v;\nthe usage report's first page is %+v", n, got, page)
		}
	}
	top, err := db.ClosestToLimit(ctx, defaultMax, 2, "")
	if err != nil || len(top) != 2 || top[0].AccountID != d.ID || top[0].LocationID != singapore || top[0].Effective.MaxCount != 0 ||
		top[0].Effective.Source != quota.SourceAccountLocation || top[1].AccountID != c.ID || top[1].LocationID != singapore ||
		top[1].Count != 3 || top[1].Effective.MaxCount != 2 || top[1].Effective.Source != quota.SourceAccount {
		t.Fatalf("ClosestToLimit(2) = %+v, %v; want d in Singapore (0) then c there (3 of 2)", top, err)
	}
	inTokyo, err := db.ClosestToLimit(ctx, defaultMax, 10, tokyo)
	want2, _, err2 := db.UsageReport(ctx, quota.UsageReportFilter{DefaultMax: defaultMax, OrderBy: quota.OrderByUtilization, LocationIDs: []string{tokyo}})
	if err != nil || err2 != nil || len(inTokyo) != 3 || !reflect.DeepEqual(inTokyo, want2) {
		t.Fatalf("ClosestToLimit in Tokyo = %+v, %v;\nthe usage report says %+v, %v", inTokyo, err, want2, err2)
	}
	// Without the stored default, the server's applies.
	if _, err := db.UnsetLimit(ctx, "", "", quota.AdminActor); err != nil {
		t.Fatal(err)
	}
	limits("under a server default of 4", 4, map[[2]string]int{{a.ID, singapore}: 4, {b.ID, tokyo}: 4, {d.ID, singapore}: 0})
	figures("under a server default of 4", 4, []quota.LocationFigures{
		{LocationID: frankfurt, Images: 8, Accounts: 1, LimitSum: 10, AtLimit: 0, NearLimit: 1},
		{LocationID: tokyo, Images: 10, Accounts: 3, LimitSum: 10, AtLimit: 3, NearLimit: 3},
		{LocationID: singapore, Images: 5, Accounts: 3, LimitSum: 6, AtLimit: 2, NearLimit: 2},
	})
}

// testListImagesPage: an account's images a page at a time, newest first,
// with how many it has.
func testListImagesPage(t *testing.T, open func(t *testing.T, now func() time.Time) *store.DB) {
	e := setupClocked(t, open)
	ctx := t.Context()
	db := e.db
	other := newAccount(t, db, "other")
	mustCreate(t, db, input(newInstance(t, db, other.ID, tokyo), "not mine", 10))
	var ids []string
	for i := range 5 {
		in := input(e.inst, fmt.Sprintf("img-%d", i), 10)
		in.Now = e.clock.Now()
		ids = append(ids, mustCreate(t, db, in).ID)
		e.clock.Add(time.Second)
	}
	slices.Reverse(ids)
	for _, tc := range []struct {
		offset, limit int
		want          []string
	}{
		{0, 0, ids}, {0, 2, ids[:2]}, {2, 2, ids[2:4]}, {4, 2, ids[4:]}, {5, 2, []string{}}, {0, 10, ids},
	} {
		imgs, total, err := db.ListImagesPage(ctx, e.acct.ID, tc.offset, tc.limit)
		got := []string{}
		for _, im := range imgs {
			got = append(got, im.ID)
			if im.AccountID != e.acct.ID {
				t.Fatalf("ListImagesPage returned %+v of another account", im)
			}
		}
		if err != nil || total != 5 || !slices.Equal(got, tc.want) {
			t.Fatalf("ListImagesPage(%d, %d) = %v, %d, %v; want %v of 5", tc.offset, tc.limit, got, total, err, tc.want)
		}
	}
	if imgs, total, err := db.ListImagesPage(ctx, "acc-missing", 0, 10); err != nil || total != 0 || len(imgs) != 0 {
		t.Fatalf("ListImagesPage of an unknown account = %v, %d, %v", imgs, total, err)
	}
}
