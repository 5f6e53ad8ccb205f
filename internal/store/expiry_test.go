package store_test

import (
	"testing"
	"time"

	"github.com/imagequota/imagequota/internal/store"
	"github.com/imagequota/imagequota/internal/store/storetest"
	"github.com/imagequota/imagequota/internal/testkit"
)

func TestClockedConformanceSQLite(t *testing.T) {
	t.Parallel()
	storetest.RunClocked(t, func(t *testing.T, now func() time.Time) *store.DB {
		return testkit.OpenStore(t, testkit.SQLiteURL(t), store.Options{Now: now})
	})
}

func TestClockedConformancePostgres(t *testing.T) {
	t.Parallel()
	requirePostgres(t)
	storetest.RunClocked(t, func(t *testing.T, now func() time.Time) *store.DB {
		return testkit.OpenStore(t, testkit.PostgresURL(t), store.Options{MaxConns: pgMaxConns, Now: now})
	})
}
