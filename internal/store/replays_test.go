package store_test

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/imagequota/imagequota/internal/quota"
	"github.com/imagequota/imagequota/internal/store"
	"github.com/imagequota/imagequota/internal/testkit"
)

// replayActor is the actor of a request recognised by key until expires.
func replayActor(key, action string, expires time.Time) quota.Actor {
	sum := sha256.Sum256([]byte(key))
	return quota.Actor{Name: "test", Replay: quota.Replay{Key: hex.EncodeToString(sum[:]), Action: action, Expires: expires}}
}

// TestReplayRecordsAcrossHandles: two stores on one database (two processes
// on a SQLite file, two replicas on PostgreSQL) write replay-protected
// creates at once, each committing its own batches; every request sent
// again to the other store gets the first answer and makes nothing; a
// request under another action is refused; a record expires with its
// window.
func TestReplayRecordsAcrossHandles(t *testing.T) {
	t.Parallel()
	for _, engine := range []string{"sqlite", "postgres"} {
		t.Run(engine, func(t *testing.T) {
			t.Parallel()
			dbURL, opts := engineStore(t, engine)
			clock := testkit.NewClock(time.Now())
			opts.Now = clock.Now
			stores := []*store.DB{testkit.OpenStore(t, dbURL, opts), testkit.OpenStore(t, dbURL, opts)}
			ctx := t.Context()
			acct, err := stores[0].CreateAccount(ctx, "replays")
			if err != nil {
				t.Fatal(err)
			}
			inst, err := stores[0].CreateInstance(ctx, quota.Instance{AccountID: acct.ID, LocationID: "asia-east-1",
				DiskGB: 20, OSCategory: "Ubuntu", OSType: "linux", OSVersion: "22.04"})
			if err != nil {
				t.Fatal(err)
			}
			if _, err := stores[0].SetLimit(ctx, quota.LimitOverride{AccountID: acct.ID, MaxCount: 1000}, quota.AdminActor); err != nil {
				t.Fatal(err)
			}
			expires := clock.Now().Add(300 * time.Second)
			create := func(db *store.DB, i int) (quota.Image, bool, error) {
				return db.CreateImage(ctx, quota.CreateImageInput{AccountID: acct.ID, InstanceID: inst.ID,
					Name: fmt.Sprintf("img-%d", i), DefaultMax: quota.DefaultMaxCount, Now: clock.Now(),
					Actor: replayActor(fmt.Sprint("request ", i), "CreateImage", expires)})
			}

			const n = 60
			first := make([]quota.Image, n)
			var wg sync.WaitGroup
			errs := make(chan error, n)
			for i := range n {
				wg.Go(func() {
					img, replayed, err := create(stores[i%2], i)
					if err == nil && replayed {
						err = fmt.Errorf("request %d: replayed the first time", i)
					}
					if err != nil {
						errs <- err
					}
					first[i] = img
				})
			}
			wg.Wait()
			close(errs)
			for err := range errs {
				t.Fatal(err)
			}
			// Each request sent again, to the other store and to its own.
			for round := range 2 {
				for i := range n {
					img, replayed, err := create(stores[(i+1+round)%2], i)
					if err != nil || !replayed || img.ID != first[i].ID || img.Name != first[i].Name {
						t.Fatalf("request %d again (round %d): %s %q replayed=%v, %v; want %s %q replayed",
							i, round, img.ID, img.Name, replayed, err, first[i].ID, first[i].Name)
					}
				}
			}
			for _, db := range stores {
				imgs, err := db.ListImages(ctx, acct.ID, nil, "")
				if err != nil || len(imgs) != n {
					t.Fatalf("%d images after %d requests each sent three times (%v), want %d", len(imgs), n, err, n)
				}
			}
			// The signature of a create, presented as a delete, is refused
			// and deletes nothing.
			err = stores[1].DeleteImages(ctx, quota.DeleteImagesInput{AccountID: acct.ID, IDs: []string{first[0].ID},
				Now: clock.Now(), Actor: replayActor("request 0", "DeleteImages", expires)})
			if code := quota.ErrorCode(err); code != quota.CodeSignatureReused {
				t.Fatalf("a create's signature as DeleteImages: %v, want %s", err, quota.CodeSignatureReused)
			}
			if imgs, _ := stores[0].ListImages(ctx, acct.ID, []string{first[0].ID}, ""); len(imgs) != 1 {
				t.Fatalf("the image is gone after its create's signature was refused as DeleteImages")
			}
			// Once the window has passed, the record no longer answers: the
			// same key (a clock far off) is a new request.
			clock.Advance(301 * time.Second)
			img, replayed, err := create(stores[1], 0)
			if err != nil || replayed || img.ID == first[0].ID {
				t.Fatalf("request 0 after its window: %s replayed=%v, %v; want a new image", img.ID, replayed, err)
			}
		})
	}
}
