package sqlite_test

import (
	"context"
	"testing"
	"time"

	"github.com/imagequota/imagequota/internal/quota"
	"github.com/imagequota/imagequota/internal/store"
	"github.com/imagequota/imagequota/internal/store/sqlite"
)

// TestWriteAnsweredAtItsDeadline: while another process holds the database's
// write lock, a write whose deadline passes is answered then, with
// SERVICE_TEMPORARY_UNAVAILABLE, rather than after the writer's own wait for
// the lock (busy_timeout, 10 s); it never runs later; and the writer goes on
// once the lock is released.
func TestWriteAnsweredAtItsDeadline(t *testing.T) {
	t.Parallel()
	path := tempPath(t)
	db, _ := open(t, path, sqlite.Options{}, store.Options{})
	ctx := t.Context()

	holder, err := raw(t, path).Conn(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer holder.Close()
	if _, err := holder.ExecContext(ctx, `BEGIN IMMEDIATE`); err != nil {
		t.Fatal(err)
	}
	released := false
	release := func() {
		if !released {
			released = true
			if _, err := holder.ExecContext(context.Background(), `ROLLBACK`); err != nil {
				t.Error(err)
			}
		}
	}
	defer release()

	const deadline = 2 * time.Second
	type outcome struct {
		err     error
		elapsed time.Duration
	}
	results := make(chan outcome, 4)
	for range cap(results) {
		go func() {
			wctx, cancel := context.WithTimeout(context.Background(), deadline)
			defer cancel()
			start := time.Now()
			_, err := db.CreateAccount(wctx, "late")
			results <- outcome{err, time.Since(start)}
		}()
	}
	for range cap(results) {
		o := <-results
		if code := quota.ErrorCode(o.err); code != quota.CodeUnavailable {
			t.Fatalf("write while the lock is held: %v (code %q), want %s", o.err, code, quota.CodeUnavailable)
		}
		// The writer alone would have waited 10 s for the lock; the bound is
		// loose, as the machine may be busy.
		if o.elapsed > deadline+5*time.Second {
			t.Fatalf("answered after %v, with a deadline of %v", o.elapsed, deadline)
		}
	}
	release()
	a, err := db.CreateAccount(ctx, "after")
	if err != nil {
		t.Fatalf("write after the lock was released: %v", err)
	}
	accounts, err := db.ListAccounts(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(accounts) != 1 || accounts[0].ID != a.ID {
		t.Fatalf("accounts %v: an abandoned write ran after all", accounts)
	}
}
