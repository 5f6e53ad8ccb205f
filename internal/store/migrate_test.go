package store_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"strconv"
	"sync"
	"testing"

	"github.com/imagequota/imagequota/internal/store"
	"github.com/imagequota/imagequota/internal/testkit"
)

// migrationFiles lists the migration files of one engine.
func migrationFiles(t *testing.T, engine string) []string {
	t.Helper()
	entries, err := os.ReadDir(filepath.Join(engine, "migrations"))
	if err != nil {
		t.Fatalf("migrations of %s: %v", engine, err)
	}
	var names []string
	for _, e := range entries {
		names = append(names, e.Name())
	}
	return names
}

// TestMigrationFilesMatch: both engines have the same numbered migrations, so
// a schema version means the same thing on either.
func TestMigrationFilesMatch(t *testing.T) {
	t.Parallel()
	sqlite, postgres := migrationFiles(t, "sqlite"), migrationFiles(t, "postgres")
	if len(sqlite) == 0 {
		t.Fatal("no migrations")
	}
	if !reflect.DeepEqual(sqlite, postgres) {
		t.Fatalf("migrations differ:\n  sqlite:   %v\n  postgres: %v", sqlite, postgres)
	}
	named := regexp.MustCompile(`^(\d{4})_[a-z0-9_]+\.sql$`)
	for i, name := range sqlite {
		m := named.FindStringSubmatch(name)
		if m == nil {
			t.Fatalf("migration %q is not named NNNN_name.sql", name)
		}
		if want := i + 1; m[1] != fmt.Sprintf("%04d", want) {
			t.Fatalf("migration %q: want version %04d (versions run 1, 2, 3… without gaps)", name, want)
		}
	}
}

// migrationNames is what the store says its engine's migrations are.
func migrationNames(t *testing.T, db *store.DB) []string {
	t.Helper()
	all, err := db.MigrationStatus(t.Context())
	if err != nil {
		t.Fatalf("MigrationStatus: %v", err)
	}
	var names []string
	for _, m := range all {
		names = append(names, m.Name)
	}
	return names
}

func TestMigrateLifecycle(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name     string
		url      func(t *testing.T) string
		migrated bool // Open migrates
	}{
		{"sqlite", func(t *testing.T) string { return testkit.SQLiteURL(t) }, true},
		{"postgres", func(t *testing.T) string { requirePostgres(t); return testkit.PostgresURL(t) }, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			ctx := t.Context()
			dbURL := tc.url(t)
			db, err := store.Open(ctx, dbURL, store.Options{MaxConns: 2})
			if err != nil {
				t.Fatalf("Open: %v", err)
			}
			defer db.Close()
			files := migrationFiles(t, tc.name)
			names := migrationNames(t, db)
			if len(names) != len(files) || names[0]+".sql" != files[0] {
				t.Fatalf("MigrationStatus names %v, files %v", names, files)
			}
			pending, err := db.Pending(ctx)
			if err != nil {
				t.Fatalf("Pending: %v", err)
			}
			if tc.migrated {
				if len(pending) != 0 {
					t.Fatalf("Pending after Open = %+v, want none (Open migrates)", pending)
				}
			} else {
				if len(pending) != len(files) || pending[0].Applied {
					t.Fatalf("Pending on a new database = %+v, want all %d migrations", pending, len(files))
				}
				applied, err := db.Migrate(ctx)
				if err != nil {
					t.Fatalf("Migrate: %v", err)
				}
				if len(applied) != len(files) {
					t.Fatalf("Migrate applied %+v, want all %d", applied, len(files))
				}
			}
			again, err := db.Migrate(ctx)
			if err != nil || len(again) != 0 {
				t.Fatalf("second Migrate = %+v, %v; want nothing to apply", again, err)
			}
			all, err := db.MigrationStatus(ctx)
			if err != nil {
				t.Fatalf("MigrationStatus: %v", err)
			}
			for _, m := range all {
				if !m.Applied {
					t.Fatalf("after Migrate, %s is not applied", m.Name)
				}
			}

			// A schema that is behind (its newest migration not recorded)
			// shows that migration as pending.
			pool := db.Pools()
			w := pool["db"]
			if w == nil {
				w = pool["db_write"]
			}
			last := all[len(all)-1]
			if _, err := w.ExecContext(ctx, `DELETE FROM schema_migrations WHERE version = `+strconv.Itoa(last.Version)); err != nil {
				t.Fatalf("forgetting %s: %v", last.Name, err)
			}
			pending, err = db.Pending(ctx)
			if err != nil || len(pending) != 1 || pending[0].Name != last.Name {
				t.Fatalf("Pending of a schema behind = %+v, %v; want only %s", pending, err, last.Name)
			}
		})
	}
}

// TestMigrateConcurrentPostgres: replicas migrating (and checking their
// schema) at once on a new database apply each migration exactly once, and
// none fails.
func TestMigrateConcurrentPostgres(t *testing.T) {
	t.Parallel()
	requirePostgres(t)
	dbURL := testkit.PostgresURL(t)
	const migrators, checkers = 10, 10
	var wg sync.WaitGroup
	var mu sync.Mutex
	appliedBy := map[string]int{}
	var errs []error
	start := make(chan struct{})
	for i := 0; i < migrators+checkers; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			ctx := context.Background()
			db, err := store.Open(ctx, dbURL, store.Options{MaxConns: 1})
			if err == nil {
				defer db.Close()
			}
			<-start
			var applied []store.MigrationStatus
			if err == nil {
				if i < migrators {
					applied, err = db.Migrate(ctx)
				} else {
					_, err = db.Pending(ctx)
				}
			}
			mu.Lock()
			defer mu.Unlock()
			if err != nil {
				errs = append(errs, err)
			}
			for _, m := range applied {
				appliedBy[m.Name]++
			}
		}()
	}
	close(start)
	wg.Wait()
	if len(errs) > 0 {
		t.Fatalf("%d of %d concurrent migrates or checks failed; first: %v", len(errs), migrators+checkers, errs[0])
	}
	db := testkit.OpenStore(t, dbURL, store.Options{MaxConns: 1})
	names := migrationNames(t, db)
	for _, n := range names {
		if appliedBy[n] != 1 {
			t.Errorf("migration %s was applied %d times, want once", n, appliedBy[n])
		}
	}
	if pending, err := db.Pending(t.Context()); err != nil || len(pending) != 0 {
		t.Fatalf("Pending after the concurrent migrates = %+v, %v; want none", pending, err)
	}
}
