package store_test

import (
	"context"
	"database/sql"
	"net/url"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/imagequota/imagequota/internal/store"
	"github.com/imagequota/imagequota/internal/store/storetest"
	"github.com/imagequota/imagequota/internal/testkit"
)

// requirePostgres skips the test, with the reason, when no PostgreSQL server
// is configured (or fails it when one is required).
func requirePostgres(t *testing.T) {
	t.Helper()
	if os.Getenv(testkit.PostgresEnv) == "" {
		testkit.PostgresURL(t) // skips, or fails when IMAGEQUOTA_REQUIRE_POSTGRES is set
	}
}

// pgMaxConns keeps each test store's pool small: the suite runs tests in
// parallel against one shared server.
const pgMaxConns = 8

// engineStore returns a new database of engine ("sqlite" or "postgres") and
// the options to open stores on it with (skipping the test when PostgreSQL
// is not configured).
func engineStore(t *testing.T, engine string) (string, store.Options) {
	t.Helper()
	switch engine {
	case "sqlite":
		return testkit.SQLiteURL(t), store.Options{}
	case "postgres":
		requirePostgres(t)
		return testkit.PostgresURL(t), store.Options{MaxConns: pgMaxConns}
	}
	t.Fatalf("no engine %q", engine)
	return "", store.Options{}
}

func TestConformanceSQLite(t *testing.T) {
	t.Parallel()
	storetest.Run(t, func(t *testing.T) *store.DB {
		return testkit.OpenStore(t, testkit.SQLiteURL(t), store.Options{})
	})
}

func TestConformancePostgres(t *testing.T) {
	t.Parallel()
	requirePostgres(t)
	storetest.Run(t, func(t *testing.T) *store.DB {
		return testkit.OpenStore(t, testkit.PostgresURL(t), store.Options{MaxConns: pgMaxConns})
	})
}

// TestConformancePostgresRepeatableReadDefault runs the suite on databases
// whose default isolation is REPEATABLE READ: the store must still count
// what was committed before it took its lock, so it must not inherit that
// default.
func TestConformancePostgresRepeatableReadDefault(t *testing.T) {
	t.Parallel()
	requirePostgres(t)
	storetest.Run(t, func(t *testing.T) *store.DB {
		dbURL := testkit.PostgresURL(t)
		setDatabaseDefault(t, dbURL, "default_transaction_isolation", "repeatable read")
		return testkit.OpenStore(t, dbURL, store.Options{MaxConns: pgMaxConns})
	})
}

// setDatabaseDefault sets a parameter's default for new sessions of the database at dbURL.
func setDatabaseDefault(t *testing.T, dbURL, name, value string) {
	t.Helper()
	u, err := url.Parse(dbURL)
	if err != nil {
		t.Fatal(err)
	}
	raw, err := sql.Open("pgx", dbURL)
	if err != nil {
		t.Fatal(err)
	}
	defer raw.Close()
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	db := strings.TrimPrefix(u.Path, "/")
	if _, err := raw.ExecContext(ctx, `ALTER DATABASE "`+db+`" SET `+name+` = '`+value+`'`); err != nil {
		t.Fatalf("ALTER DATABASE %s SET %s: %v", db, name, err)
	}
}
