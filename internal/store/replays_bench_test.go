package store_test

import (
	"fmt"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/imagequota/imagequota/internal/quota"
	"github.com/imagequota/imagequota/internal/store"
	"github.com/imagequota/imagequota/internal/testkit"
)

// BenchmarkReplayedPairs runs scenario c's writes on the store alone (64
// writers, each a CreateImage then a DeleteImages of its own account), with
// and without replay records, and reports the process's CPU per pair.
func BenchmarkReplayedPairs(b *testing.B) {
	for _, replays := range []bool{true, false} {
		b.Run(fmt.Sprintf("replays=%v", replays), func(b *testing.B) {
			const writers = 64
			db := testkit.OpenStore(b, testkit.SQLiteURL(b), store.Options{})
			ctx := b.Context()
			type acct struct{ id, inst string }
			accts := make([]acct, writers)
			for i := range accts {
				a, err := db.CreateAccount(ctx, fmt.Sprint("bench-", i))
				if err != nil {
					b.Fatal(err)
				}
				inst, err := db.CreateInstance(ctx, quota.Instance{AccountID: a.ID, LocationID: "asia-east-1",
					DiskGB: 20, OSCategory: "Ubuntu", OSType: "linux", OSVersion: "22.04"})
				if err != nil {
					b.Fatal(err)
				}
				accts[i] = acct{a.ID, inst.ID}
			}
			var seq atomic.Int64
			actor := func(action string) quota.Actor {
				if !replays {
					return quota.Actor{Name: "bench"}
				}
				return replayActor(fmt.Sprint("bench ", seq.Add(1)), action, time.Now().Add(300*time.Second))
			}
			var next atomic.Int64
			cpu := func() time.Duration {
				var ru syscall.Rusage
				_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
				return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
			}
			b.ResetTimer()
			start := cpu()
			var wg sync.WaitGroup
			for w := range writers {
				wg.Go(func() {
					a := accts[w]
					for next.Add(1) <= int64(b.N) {
						now := time.Now()
						img, _, err := db.CreateImage(ctx, quota.CreateImageInput{AccountID: a.id, InstanceID: a.inst,
							Name: "img", DefaultMax: quota.DefaultMaxCount, Now: now, Actor: actor("CreateImage")})
						if err != nil {
							b.Error(err)
							return
						}
						if err := db.DeleteImages(ctx, quota.DeleteImagesInput{AccountID: a.id, IDs: []string{img.ID},
							Now: now.Add(time.Hour), Actor: actor("DeleteImages")}); err != nil {
							b.Error(err)
							return
						}
					}
				})
			}
			wg.Wait()
			b.StopTimer()
			b.ReportMetric(float64((cpu()-start).Microseconds())/float64(b.N), "cpu-µs/pair")
		})
	}
}
