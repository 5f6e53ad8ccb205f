package store_test

import (
	"path/filepath"
	"testing"

	"github.com/imagequota/imagequota/internal/store"
	"github.com/imagequota/imagequota/internal/testkit/pgtest"
)

// TestExistsAndHasSchema: Exists tells an absent SQLite file without making
// it; HasSchema tells a PostgreSQL database never migrated from a migrated
// one, and MigrationStatus's empty table from a schema.
func TestExistsAndHasSchema(t *testing.T) {
	t.Parallel()
	u, err := store.ParseURL("sqlite:" + filepath.Join(t.TempDir(), "data", "imagequota.db"))
	if err != nil {
		t.Fatal(err)
	}
	if ok, err := store.Exists(u); ok || err != nil {
		t.Fatalf("Exists of an absent file: %v, %v", ok, err)
	}
	if ok, err := store.Exists(u); ok || err != nil {
		t.Fatalf("Exists made the file: %v, %v", ok, err)
	}
	db, err := store.Open(t.Context(), u.String(), store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	ok, err := db.HasSchema(t.Context())
	db.Close()
	if !ok || err != nil {
		t.Errorf("HasSchema of an opened (so migrated) SQLite store: %v, %v", ok, err)
	}
	if ok, err := store.Exists(u); !ok || err != nil {
		t.Errorf("Exists of an opened SQLite store: %v, %v", ok, err)
	}
	dir, err := store.ParseURL("sqlite:" + t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	if _, err := store.Exists(dir); err == nil {
		t.Error("Exists of a directory: no error")
	}

	pg, err := store.Open(t.Context(), pgtest.NewDatabase(t), store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer pg.Close()
	if ok, err := pg.HasSchema(t.Context()); ok || err != nil {
		t.Fatalf("HasSchema of a new database: %v, %v", ok, err)
	}
	if _, err := pg.MigrationStatus(t.Context()); err != nil {
		t.Fatal(err)
	}
	if ok, err := pg.HasSchema(t.Context()); ok || err != nil {
		t.Errorf("HasSchema after MigrationStatus made its empty table: %v, %v", ok, err)
	}
	if _, err := pg.Migrate(t.Context()); err != nil {
		t.Fatal(err)
	}
	if ok, err := pg.HasSchema(t.Context()); !ok || err != nil {
		t.Errorf("HasSchema of a migrated database: %v, %v", ok, err)
	}
}

// TestHasSchemaSeesItsOwnSchemaOnly: two stores in one PostgreSQL database,
// each on a schema of its own (search_path): migrating one leaves the other
// without a schema.
func TestHasSchemaSeesItsOwnSchemaOnly(t *testing.T) {
	t.Parallel()
	open := func() *store.DB {
		db, err := store.Open(t.Context(), pgtest.NewSchema(t), store.Options{})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { db.Close() })
		return db
	}
	migrated, other := open(), open()
	if _, err := migrated.Migrate(t.Context()); err != nil {
		t.Fatal(err)
	}
	if ok, err := migrated.HasSchema(t.Context()); !ok || err != nil {
		t.Errorf("HasSchema of the migrated schema: %v, %v", ok, err)
	}
	if ok, err := other.HasSchema(t.Context()); ok || err != nil {
		t.Errorf("HasSchema of the other schema in the same database: %v, %v", ok, err)
	}
}
