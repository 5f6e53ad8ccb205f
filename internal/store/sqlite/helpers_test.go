package sqlite_test

import (
	"database/sql"
	"path/filepath"
	"testing"

	"github.com/imagequota/imagequota/internal/store"
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
