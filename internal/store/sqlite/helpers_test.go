package sqlite_test

import (
	"context"
	"database/sql"
	"path/filepath"
	"testing"
	"time"

	"github.com/imagequota/imagequota/internal/store"
	"github.com/imagequota/imagequota/internal/store/engine"
	"github.com/imagequota/imagequota/internal/store/sqlite"
)

// open opens the SQLite file at path (migrating it) as a store, and returns
// the engine beside it.
func open(t *testing.T, path string, eo sqlite.Options, so store.Options) (*store.DB, *sqlite.Engine) {
	t.Helper()
	e, err := sqlite.Open(t.Context(), path, eo)
	if err != nil {
		t.Fatal(err)
	}
	db := store.New(e, so)
	t.Cleanup(func() { _ = db.Close() })
	if _, err := db.Migrate(t.Context()); err != nil {
		t.Fatal(err)
	}
	return db, e
}

// tempPath is a database file in a new temporary directory.
func tempPath(t *testing.T) string { return filepath.Join(t.TempDir(), "imagequota.db") }

// raw opens the file with the driver alone, as another program would.
func raw(t *testing.T, path string) *sql.DB {
	t.Helper()
	db, err := sql.Open("sqlite", "file:"+path+"?_pragma=busy_timeout(10000)")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = db.Close() })
	return db
}

// inOneBatch runs calls, each in a goroutine of its own, queued in order
// behind a write that holds e's writer until every call has queued, so that
// the writes they make are committed in one batch; it returns when every
// call has returned.
func inOneBatch(t *testing.T, e *sqlite.Engine, calls ...func()) {
	t.Helper()
	inOneBatchBehind(t, e, nil, calls...)
}

// inOneBatchBehind is inOneBatch whose holding write, once released, runs
// hold (when not nil) in its own transaction, before the batch of calls.
func inOneBatchBehind(t *testing.T, e *sqlite.Engine, hold func(ctx context.Context, tx *engine.Tx) error, calls ...func()) {
	t.Helper()
	paused, release := make(chan struct{}), make(chan struct{})
	first := make(chan error, 1)
	go func() {
		first <- e.Write(context.Background(), func(ctx context.Context, tx *engine.Tx) error {
			close(paused)
			<-release
			if hold == nil {
				return nil
			}
			return hold(ctx, tx)
		})
	}()
	<-paused
	done := make(chan struct{}, len(calls))
	for i, call := range calls {
		go func() { call(); done <- struct{}{} }()
		for deadline := time.Now().Add(30 * time.Second); e.QueueLen() < i+1; time.Sleep(time.Millisecond) {
			if time.Now().After(deadline) {
				close(release)
				t.Fatalf("call %d did not queue", i)
			}
		}
	}
	close(release)
	if err := <-first; err != nil {
		t.Fatalf("the write holding the writer: %v", err)
	}
	for range calls {
		<-done
	}
}
