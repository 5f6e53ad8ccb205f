package store

import (
	"context"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// TestObservationBeginsAfterTheCall: whatever the spacing of observations,
// every call is answered by an observation that began after the call did,
// so a read never misses a write acknowledged before it arrived; and the
// calls made while one observation runs share the next.
func TestObservationBeginsAfterTheCall(t *testing.T) {
	for _, spacing := range []time.Duration{0, time.Millisecond} {
		t.Run("spacing "+spacing.String(), func(t *testing.T) {
			var begun atomic.Int64 // observations begun; each answers with its number
			w := &versionWatch{
				fetch: func(_ context.Context, scopes []string) (map[string]int64, error) {
					n := begun.Add(1)
					out := make(map[string]int64, len(scopes))
					for _, s := range scopes {
						out[s] = n
					}
					return out, nil
				},
				quick:   func([]string) (map[string]int64, bool) { return nil, false },
				spacing: spacing,
			}
			const callers, calls = 32, 20
			var wg sync.WaitGroup
			for c := range callers {
				wg.Go(func() {
					scope := "account-" + strconv.Itoa(c)
					for range calls {
						before := begun.Load()
						vs, err := w.observe(context.Background(), scope, globalScope)
						if err != nil {
							t.Error(err)
							return
						}
						if vs[scope] <= before || vs[globalScope] <= before {
							t.Errorf("a call made after observation %d was answered by observation %d", before, vs[scope])
							return
						}
					}
				})
			}
			wg.Wait()
			if n := begun.Load(); n == 0 || n > callers*calls {
				t.Fatalf("%d observations for %d calls", n, callers*calls)
			}
			t.Logf("%d calls, %d observations", callers*calls, begun.Load())
		})
	}
}
