package sqlite_test

import (
	"context"
	"sync"
	"testing"

	"github.com/imagequota/imagequota/internal/store"
	"github.com/imagequota/imagequota/internal/store/engine"
	"github.com/imagequota/imagequota/internal/store/sqlite"
)

// TestBatchStatsCountWrites checks that BatchStats counts every write once
// and never more transactions than writes.
func TestBatchStatsCountWrites(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		writes int
	}{
		{"one", 1},
		{"concurrent", 200},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			db, e := open(t, tempPath(t), sqlite.Options{}, store.Options{})
			b0, w0 := db.BatchStats()
			var wg sync.WaitGroup
			for range tt.writes {
				wg.Go(func() {
					if err := e.Write(context.Background(), func(ctx context.Context, tx *engine.Tx) error {
						_, err := tx.Exec(ctx, `INSERT INTO accounts (id, name, disabled, created_at) VALUES (lower(hex(randomblob(8))), 'x', 0, 0)`)
						return err
					}); err != nil {
						t.Error(err)
					}
				})
			}
			wg.Wait()
			b1, w1 := db.BatchStats()
			if w1-w0 != uint64(tt.writes) {
				t.Errorf("writes counted: %d, want %d", w1-w0, tt.writes)
			}
			if b1-b0 < 1 || b1-b0 > w1-w0 {
				t.Errorf("batches counted: %d for %d writes", b1-b0, w1-w0)
			}
		})
	}
}
