package sqlite_test

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/imagequota/imagequota/internal/quota"
	"github.com/imagequota/imagequota/internal/store"
	"github.com/imagequota/imagequota/internal/store/engine"
	"github.com/imagequota/imagequota/internal/store/sqlite"
)

// TestGroupCommitMixedBatch: writes queued behind a paused writer are
// committed together in one batch; the ones that fail (over quota, unknown
// instance, unknown image) fail alone, the others are committed, and
// admission inside the batch is as serial as without it.
func TestGroupCommitMixedBatch(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	var (
		mu      sync.Mutex
		first   = true
		paused  = make(chan struct{})
		release = make(chan struct{})
	)
	hook := func(accountID, locationID string, count, max int) {
		mu.Lock()
		isFirst := first
		first = false
		mu.Unlock()
		if isFirst {
			close(paused)
			<-release
		}
	}
	db, eng := open(t, tempPath(t), sqlite.Options{}, store.Options{AfterAdmissionCheck: hook})
	acct, err := db.CreateAccount(ctx, "batch")
	if err != nil {
		t.Fatal(err)
	}
	inst, err := db.CreateInstance(ctx, quota.Instance{AccountID: acct.ID, LocationID: "asia-east-1", DiskGB: 20,
		OSCategory: "Ubuntu", OSType: "linux", OSVersion: "22.04"})
	if err != nil {
		t.Fatal(err)
	}
	const max = 3
	if _, err := db.SetLimit(ctx, quota.LimitOverride{AccountID: acct.ID, LocationID: inst.LocationID, MaxCount: max}, quota.AdminActor); err != nil {
		t.Fatal(err)
	}
	create := func(instanceID string) error {
		_, _, err := db.CreateImage(context.Background(), quota.CreateImageInput{AccountID: acct.ID, InstanceID: instanceID,
			Name: "b", DefaultMax: quota.DefaultMaxCount, Now: time.Now(), Actor: quota.AdminActor})
		return err
	}
	firstErr := make(chan error, 1)
	go func() { firstErr <- create(inst.ID) }()
	<-paused // the writer holds the first create between its check and its insert

	kinds := []struct {
		name string
		n    int
		call func() error
	}{
		{"create", 8, func() error { return create(inst.ID) }},
		{"create from an unknown instance", 4, func() error { return create("ins-nosuch") }},
		{"delete an unknown image", 4, func() error {
			return db.DeleteImages(context.Background(), quota.DeleteImagesInput{AccountID: acct.ID, IDs: []string{"img-nosuch"}, Now: time.Now()})
		}},
	}
	queued := 0
	results := map[string]chan error{}
	for _, k := range kinds {
		ch := make(chan error, k.n)
		results[k.name] = ch
		for i := 0; i < k.n; i++ {
			queued++
			go func() { ch <- k.call() }()
		}
	}
	deadline := time.Now().Add(30 * time.Second)
	for eng.QueueLen() < queued {
		if time.Now().After(deadline) {
			t.Fatalf("only %d of %d writes queued behind the paused writer", eng.QueueLen(), queued)
		}
		time.Sleep(time.Millisecond)
	}
	close(release)
	if err := <-firstErr; err != nil {
		t.Fatalf("first create: %v", err)
	}
	tally := map[string]int{}
	for _, k := range kinds {
		for i := 0; i < k.n; i++ {
			err := <-results[k.name]
			code := "OK"
			if err != nil {
				code = quota.ErrorCode(err)
			}
			tally[k.name+" "+code]++
		}
	}
	want := map[string]int{
		"create OK": max - 1, "create " + quota.CodeImageQuotaExceeded: 8 - (max - 1),
		"create from an unknown instance " + quota.CodeInstanceNotFound: 4,
		"delete an unknown image " + quota.CodeImageNotFound:            4,
	}
	for k, n := range want {
		if tally[k] != n {
			t.Errorf("%s: %d, want %d (all outcomes: %v)", k, tally[k], n, tally)
		}
	}
	u, err := db.Usage(ctx, acct.ID)
	if err != nil {
		t.Fatal(err)
	}
	if got := u.Counts[inst.LocationID]; got != max {
		t.Fatalf("count %d after the batch, want %d", got, max)
	}
	imgs, err := db.ListImages(ctx, acct.ID, nil, "")
	if err != nil || len(imgs) != max {
		t.Fatalf("ListImages = %d images, %v; want %d", len(imgs), err, max)
	}
	recs, err := db.ListAudit(ctx, quota.AuditFilter{AccountID: acct.ID})
	if err != nil {
		t.Fatal(err)
	}
	creates := 0
	for _, r := range recs {
		if r.Action == "CreateImage" {
			creates++
		}
	}
	if creates != max {
		t.Fatalf("%d CreateImage audit records, want %d: a failed write left a trace", creates, max)
	}
}

// TestGroupCommitAfterClose: a write after Close fails instead of hanging.
func TestGroupCommitAfterClose(t *testing.T) {
	t.Parallel()
	e, err := sqlite.Open(t.Context(), tempPath(t), sqlite.Options{})
	if err != nil {
		t.Fatal(err)
	}
	db := store.New(e, store.Options{})
	if _, err := db.Migrate(t.Context()); err != nil {
		t.Fatal(err)
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := db.CreateAccount(t.Context(), "late"); err == nil {
		t.Fatal("CreateAccount after Close succeeded")
	}
}

// TestGroupCommitUndoesAFailedWrite: a write that fails after changing
// something leaves no trace, while the writes batched with it, before and
// after, are committed.
func TestGroupCommitUndoesAFailedWrite(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	path := tempPath(t)
	db, e := open(t, path, sqlite.Options{}, store.Options{})
	insert := func(ctx context.Context, tx *engine.Tx, name string) error {
		_, err := tx.Exec(ctx, `INSERT INTO accounts (id, name, disabled, created_at) VALUES (?, ?, 0, 0)`, "acc-"+name, name)
		return err
	}
	boom := errors.New("boom")
	// The first write holds the writer; the next three queue behind it.
	writes := []struct {
		name string
		fn   func(ctx context.Context, tx *engine.Tx) error
		want error
	}{
		{"before", func(ctx context.Context, tx *engine.Tx) error { return insert(ctx, tx, "before") }, nil},
		{"failing", func(ctx context.Context, tx *engine.Tx) error {
			if err := insert(ctx, tx, "failing"); err != nil {
				return err
			}
			return boom
		}, boom},
		{"after", func(ctx context.Context, tx *engine.Tx) error { return insert(ctx, tx, "after") }, nil},
	}
	results := make([]error, len(writes))
	calls := make([]func(), len(writes))
	for i, w := range writes {
		calls[i] = func() { results[i] = e.Write(context.Background(), w.fn) }
	}
	b0, _ := db.BatchStats()
	inOneBatchBehind(t, e, func(ctx context.Context, tx *engine.Tx) error { return insert(ctx, tx, "first") }, calls...)
	for i, w := range writes {
		if err := results[i]; !errors.Is(err, w.want) {
			t.Errorf("write %q: %v, want %v", w.name, err, w.want)
		}
	}
	if b1, _ := db.BatchStats(); b1-b0 != 2 {
		t.Errorf("%d transactions, want 2 (the first write, then the three queued behind it)", b1-b0)
	}
	var names []string
	rows, err := raw(t, path).QueryContext(ctx, `SELECT name FROM accounts ORDER BY name`)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	for rows.Next() {
		var n string
		if err := rows.Scan(&n); err != nil {
			t.Fatal(err)
		}
		names = append(names, n)
	}
	if got, want := strings.Join(names, ","), "after,before,first"; got != want {
		t.Errorf("accounts %s, want %s", got, want)
	}
}

// TestGroupCommitOnCommit: what writes leave for after their transaction's
// commit (Tx.OnCommit) runs once per key, once it has committed; a batch run
// again with savepoints starts without what the first run registered; a
// batch that does not commit runs nothing.
func TestGroupCommitOnCommit(t *testing.T) {
	t.Parallel()
	path := tempPath(t)
	_, e := open(t, path, sqlite.Options{}, store.Options{})
	insert := func(ctx context.Context, tx *engine.Tx, name string) error {
		_, err := tx.Exec(ctx, `INSERT INTO accounts (id, name, disabled, created_at) VALUES (?, ?, 0, 0)`, "acc-"+name, name)
		return err
	}
	var mu sync.Mutex
	var log []string
	took := func() string {
		mu.Lock()
		defer mu.Unlock()
		s := strings.Join(log, ",")
		log = nil
		return s
	}
	type hookKey struct{}
	register := func(tx *engine.Tx, name string) {
		tx.OnCommit(hookKey{}, func() {
			mu.Lock()
			log = append(log, "after "+name)
			mu.Unlock()
		})
	}
	boom := errors.New("boom")
	// run queues writes behind a paused first write, in order, and returns
	// their errors.
	run := func(writes ...func(ctx context.Context, tx *engine.Tx) error) []error {
		errs := make([]error, len(writes))
		calls := make([]func(), len(writes))
		for i, w := range writes {
			calls[i] = func() { errs[i] = e.Write(context.Background(), w) }
		}
		inOneBatch(t, e, calls...)
		return errs
	}

	errs := run(
		func(ctx context.Context, tx *engine.Tx) error {
			register(tx, "a")
			return insert(ctx, tx, "a")
		},
		func(ctx context.Context, tx *engine.Tx) error { // fails after a change: the batch runs again
			if err := insert(ctx, tx, "failing"); err != nil {
				return err
			}
			return boom
		},
		func(ctx context.Context, tx *engine.Tx) error {
			register(tx, "b") // the key is taken: ignored
			return insert(ctx, tx, "b")
		},
	)
	if errs[0] != nil || !errors.Is(errs[1], boom) || errs[2] != nil {
		t.Fatalf("writes: %v, want nil, boom, nil", errs)
	}
	if got, want := took(), "after a"; got != want {
		t.Fatalf("after the commit: %s, want %s", got, want)
	}

	// Every write fails before changing anything: nothing is committed.
	errs = run(func(ctx context.Context, tx *engine.Tx) error {
		register(tx, "c")
		return boom
	})
	if !errors.Is(errs[0], boom) {
		t.Fatalf("write: %v, want boom", errs[0])
	}
	if got := took(); got != "" {
		t.Fatalf("after a batch that did not commit: %s, want nothing", got)
	}
}
