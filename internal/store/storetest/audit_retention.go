package storetest

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/imagequota/imagequota/internal/quota"
	"github.com/imagequota/imagequota/internal/store"
)

// auditBacklog opens a store and writes n audit records (an account, then
// limit changes), returning them oldest first.
func auditBacklog(t *testing.T, open func(t *testing.T) *store.DB, n int) (*store.DB, []quota.AuditRecord) {
	t.Helper()
	db := open(t)
	acct := newAccount(t, db, "backlog")
	for i := 1; i < n; i++ {
		if _, err := db.SetLimit(t.Context(), quota.LimitOverride{AccountID: acct.ID, MaxCount: i}, quota.AdminActor); err != nil {
			t.Fatalf("SetLimit: %v", err)
		}
	}
	recs := audit(t, db, quota.AuditFilter{})
	if len(recs) != n {
		t.Fatalf("backlog of %d records, want %d", len(recs), n)
	}
	return db, recs
}

// retained is what pruning recs by p must leave: the records stamped at or
// after p.Before that are among the newest p.Keep.
func retained(recs []quota.AuditRecord, p store.AuditPrune) []int64 {
	out := []int64{}
	for i, r := range recs {
		if (p.Before.IsZero() || !r.At.Before(p.Before)) && (p.Keep <= 0 || i >= len(recs)-p.Keep) {
			out = append(out, r.ID)
		}
	}
	return out
}

var pruner = quota.Actor{Name: "admin", RequestID: "req-prune"}

// checkPruned checks that db holds exactly the records kept and, when
// removed is not 0, one PruneAudit record after them by pruner saying so.
func checkPruned(t *testing.T, db *store.DB, kept []int64, removed int, p store.AuditPrune) {
	t.Helper()
	recs := audit(t, db, quota.AuditFilter{})
	var ids []int64
	var prunes []quota.AuditRecord
	for _, r := range recs {
		if r.Action == "PruneAudit" {
			prunes = append(prunes, r)
			continue
		}
		ids = append(ids, r.ID)
	}
	if fmt.Sprint(ids) != fmt.Sprint(kept) {
		t.Fatalf("records left %v, want %v", ids, kept)
	}
	if removed == 0 {
		if len(prunes) != 0 {
			t.Fatalf("a prune that removed nothing left a record: %+v", prunes)
		}
		return
	}
	if len(prunes) != 1 {
		t.Fatalf("%d PruneAudit records, want 1: %+v", len(prunes), prunes)
	}
	r := prunes[0]
	if len(kept) > 0 && r.ID <= kept[len(kept)-1] {
		t.Errorf("PruneAudit record %d is older than the records it kept (%v)", r.ID, kept)
	}
	want := fmt.Sprintf(`{"removed":%d}`, removed)
	switch {
	case !p.Before.IsZero() && p.Keep > 0:
		want = fmt.Sprintf(`{"keep":%d,"olderThan":%q,"removed":%d}`, p.Keep, p.Before.UTC().Truncate(time.Microsecond).Format(time.RFC3339Nano), removed)
	case !p.Before.IsZero():
		want = fmt.Sprintf(`{"olderThan":%q,"removed":%d}`, p.Before.UTC().Truncate(time.Microsecond).Format(time.RFC3339Nano), removed)
	case p.Keep > 0:
		want = fmt.Sprintf(`{"keep":%d,"removed":%d}`, p.Keep, removed)
	}
	if r.Actor != pruner.Name || r.RequestID != pruner.RequestID || r.AccountID != "" || r.Target != "audit" ||
		jsonOf(t, r.Before) != "null" || jsonOf(t, r.After) != want {
		t.Errorf("PruneAudit record = %+v (after %s), want after %s", r, jsonOf(t, r.After), want)
	}
}

// testPruneAudit: PruneAudit removes the records older than the cutoff
// and/or beyond the newest Keep, never one inside the window, says so in
// one record, and removes nothing more when run again.
func testPruneAudit(t *testing.T, open func(t *testing.T) *store.DB) {
	const n = 12
	for _, tc := range []struct {
		name string
		// prune picks the criteria from the backlog's records.
		prune func(recs []quota.AuditRecord) store.AuditPrune
	}{
		{"older than", func(recs []quota.AuditRecord) store.AuditPrune { return store.AuditPrune{Before: recs[7].At} }},
		{"beyond the newest", func([]quota.AuditRecord) store.AuditPrune { return store.AuditPrune{Keep: 5} }},
		{"either", func(recs []quota.AuditRecord) store.AuditPrune { return store.AuditPrune{Before: recs[3].At, Keep: 6} }},
		{"nothing old enough", func(recs []quota.AuditRecord) store.AuditPrune {
			return store.AuditPrune{Before: recs[0].At, Keep: n}
		}},
		{"no bound", func([]quota.AuditRecord) store.AuditPrune { return store.AuditPrune{} }},
		{"a cutoff in the future keeps the prune's own record", func([]quota.AuditRecord) store.AuditPrune {
			return store.AuditPrune{Before: time.Now().Add(time.Hour)}
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			db, recs := auditBacklog(t, open, n)
			p := tc.prune(recs)
			kept := retained(recs, p)
			ctx := t.Context()
			dry, err := db.CountAuditPrune(ctx, p)
			if err != nil || dry != n-len(kept) {
				t.Fatalf("CountAuditPrune = %d, %v; want %d", dry, err, n-len(kept))
			}
			if left := audit(t, db, quota.AuditFilter{}); len(left) != n {
				t.Fatalf("CountAuditPrune removed records: %d left of %d", len(left), n)
			}
			res, err := db.PruneAudit(ctx, p, pruner)
			if err != nil {
				t.Fatalf("PruneAudit: %v", err)
			}
			if res.Removed != n-len(kept) {
				t.Fatalf("PruneAudit removed %d, want %d", res.Removed, n-len(kept))
			}
			checkPruned(t, db, kept, res.Removed, p)

			// Again: nothing left to remove, and no second record (but
			// for a cutoff in the future, which the first prune's record
			// is now before).
			if p.Before.Before(time.Now()) {
				again, err := db.PruneAudit(ctx, p, pruner)
				if err != nil || again.Removed != 0 {
					t.Fatalf("PruneAudit again = %+v, %v; want nothing removed", again, err)
				}
				checkPruned(t, db, kept, res.Removed, p)
			}

			// Ids only grow: a later change is newer than every record left.
			if _, err := db.SetLimit(ctx, quota.LimitOverride{MaxCount: 1}, quota.AdminActor); err != nil {
				t.Fatalf("SetLimit: %v", err)
			}
			left := audit(t, db, quota.AuditFilter{})
			if last := left[len(left)-1]; last.Action != "SetLimit" || last.ID <= recs[n-1].ID {
				t.Fatalf("the change after the prune has id %d (%s), want more than %d", last.ID, last.Action, recs[n-1].ID)
			}
		})
	}
}

// testPruneAuditInBatches: a prune removes at most Batch records per
// transaction, and its one record counts them all.
func testPruneAuditInBatches(t *testing.T, open func(t *testing.T) *store.DB) {
	const n = 25
	db, recs := auditBacklog(t, open, n)
	p := store.AuditPrune{Keep: 1, Batch: 10}
	res, err := db.PruneAudit(t.Context(), p, pruner)
	if err != nil {
		t.Fatalf("PruneAudit: %v", err)
	}
	if res.Removed != n-1 || res.Transactions != 3 {
		t.Fatalf("PruneAudit = %+v, want %d removed in 3 transactions of at most 10", res, n-1)
	}
	checkPruned(t, db, []int64{recs[n-1].ID}, n-1, p)
}

// testConcurrentPrunes: prunes running at once take turns: every record is
// removed once, and each prune's record says what it removed.
func testConcurrentPrunes(t *testing.T, open func(t *testing.T) *store.DB) {
	const n = 30
	db, recs := auditBacklog(t, open, n)
	p := store.AuditPrune{Keep: 2, Batch: 4}
	var wg sync.WaitGroup
	results := make([]store.AuditPruned, 3)
	errs := make([]error, len(results))
	for i := range results {
		wg.Go(func() { results[i], errs[i] = db.PruneAudit(t.Context(), p, pruner) })
	}
	wg.Wait()
	total := 0
	byCount := map[string]int{}
	for i, err := range errs {
		if err != nil {
			t.Fatalf("PruneAudit %d: %v", i, err)
		}
		total += results[i].Removed
		if results[i].Removed > 0 {
			byCount[fmt.Sprintf(`{"keep":2,"removed":%d}`, results[i].Removed)]++
		}
	}
	if total != n-2 {
		t.Fatalf("the prunes removed %d records in all (%+v), want %d", total, results, n-2)
	}
	var ids []int64
	for _, r := range audit(t, db, quota.AuditFilter{}) {
		if r.Action != "PruneAudit" {
			ids = append(ids, r.ID)
			continue
		}
		byCount[jsonOf(t, r.After)]--
	}
	if fmt.Sprint(ids) != fmt.Sprint([]int64{recs[n-2].ID, recs[n-1].ID}) {
		t.Fatalf("records left %v, want the newest two", ids)
	}
	for after, k := range byCount {
		if k != 0 {
			t.Fatalf("PruneAudit records do not match the prunes' results %+v: %s off by %d", results, after, k)
		}
	}
}

// testRetainAudit: a retention prunes by the store's clock; the default
// keeps records as new as these, a count bound does not, and the loop
// prunes at once as RetentionActor.
func testRetainAudit(t *testing.T, open func(t *testing.T) *store.DB) {
	const n = 6
	db, recs := auditBacklog(t, open, n)
	ctx := t.Context()
	for _, r := range []store.AuditRetention{{}, {MaxAge: store.DefaultAuditMaxAge}, {MaxAge: time.Hour, MaxCount: n}} {
		res, err := db.RetainAudit(ctx, r, pruner)
		if err != nil || res.Removed != 0 {
			t.Fatalf("RetainAudit(%v) = %+v, %v; want nothing removed", r, res, err)
		}
	}
	// The zero retention never prunes: the loop returns at once.
	db.RetainAuditEvery(ctx, store.AuditRetention{}, time.Hour, func(store.AuditPruned, error) {
		t.Errorf("the zero retention pruned")
	})
	checkPruned(t, db, retained(recs, store.AuditPrune{}), 0, store.AuditPrune{})

	loop, stop := context.WithCancel(ctx)
	defer stop()
	reports := make(chan error, 1)
	done := make(chan struct{})
	go func() {
		defer close(done)
		db.RetainAuditEvery(loop, store.AuditRetention{MaxCount: 2}, time.Hour, func(res store.AuditPruned, err error) {
			if err == nil && res.Removed != n-2 {
				err = fmt.Errorf("removed %d, want %d", res.Removed, n-2)
			}
			reports <- err
			stop()
		})
	}()
	if err := <-reports; err != nil {
		t.Fatalf("RetainAuditEvery: %v", err)
	}
	<-done
	left := audit(t, db, quota.AuditFilter{})
	if len(left) != 3 || left[0].ID != recs[n-2].ID || left[1].ID != recs[n-1].ID ||
		left[2].Action != "PruneAudit" || left[2].Actor != store.RetentionActor.Name {
		t.Fatalf("after RetainAuditEvery: %+v, want the newest two and a PruneAudit record by %s", left, store.RetentionActor.Name)
	}
}

// testPruneAuditWhileWriting: changes go on between a prune's transactions,
// and the prune removes none of their records.
func testPruneAuditWhileWriting(t *testing.T, open func(t *testing.T) *store.DB) {
	const n, writes = 40, 20
	db, recs := auditBacklog(t, open, n)
	ctx := t.Context()
	p := store.AuditPrune{Before: recs[n-1].At.Add(time.Microsecond), Batch: 5}
	var wg sync.WaitGroup
	var targets []string
	var writeErr error
	wg.Go(func() {
		for i := range writes {
			o := quota.LimitOverride{LocationID: fmt.Sprintf("loc-%02d", i), MaxCount: i}
			if _, writeErr = db.SetLimit(ctx, o, quota.AdminActor); writeErr != nil {
				return
			}
			targets = append(targets, "limit:*/"+o.LocationID)
		}
	})
	res, err := db.PruneAudit(ctx, p, pruner)
	wg.Wait()
	if err != nil || writeErr != nil {
		t.Fatalf("PruneAudit: %v; SetLimit: %v", err, writeErr)
	}
	if res.Removed != n || res.Transactions != n/5 {
		t.Fatalf("PruneAudit = %+v, want %d removed in %d transactions", res, n, n/5)
	}
	var left []string
	prunes := 0
	for _, r := range audit(t, db, quota.AuditFilter{}) {
		if r.Action == "PruneAudit" {
			prunes++
			if jsonOf(t, r.After) != fmt.Sprintf(`{"olderThan":%q,"removed":%d}`, p.Before.UTC().Format(time.RFC3339Nano), n) {
				t.Errorf("PruneAudit record after %s", jsonOf(t, r.After))
			}
			continue
		}
		left = append(left, r.Target)
	}
	if fmt.Sprint(left) != fmt.Sprint(targets) || prunes != 1 {
		t.Fatalf("records left %v and %d PruneAudit records, want the %d written during the prune and one", left, prunes, writes)
	}
}
