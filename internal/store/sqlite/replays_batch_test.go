package sqlite_test

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"testing"
	"time"

	"github.com/imagequota/imagequota/internal/quota"
	"github.com/imagequota/imagequota/internal/store"
	"github.com/imagequota/imagequota/internal/store/engine"
	"github.com/imagequota/imagequota/internal/store/sqlite"
)

// TestReplayRecordsWithinABatch: a request and its retry committed in one
// batch, with a write that fails after changing something between them (the
// batch is rolled back and runs again, each write in a savepoint): the
// retry gets the first answer, the same signature under another action is
// refused, and the records answer a second store on the file and this
// one's next batches, and the second store's records this one.
func TestReplayRecordsWithinABatch(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	path := tempPath(t)
	db, e := open(t, path, sqlite.Options{}, store.Options{})
	acct, err := db.CreateAccount(ctx, "replays")
	if err != nil {
		t.Fatal(err)
	}
	inst, err := db.CreateInstance(ctx, quota.Instance{AccountID: acct.ID, LocationID: "asia-east-1", DiskGB: 20,
		OSCategory: "Ubuntu", OSType: "linux", OSVersion: "22.04"})
	if err != nil {
		t.Fatal(err)
	}
	expires := time.Now().Add(5 * time.Minute)
	actor := func(key, action string) quota.Actor {
		sum := sha256.Sum256([]byte(key))
		return quota.Actor{Name: "test", Replay: quota.Replay{Key: hex.EncodeToString(sum[:]), Action: action, Expires: expires}}
	}
	type created struct {
		img      quota.Image
		replayed bool
		err      error
	}
	create := func(db *store.DB, key string) created {
		img, replayed, err := db.CreateImage(context.Background(), quota.CreateImageInput{AccountID: acct.ID, InstanceID: inst.ID,
			Name: key, DefaultMax: quota.DefaultMaxCount, Now: time.Now(), Actor: actor(key, "CreateImage")})
		return created{img, replayed, err}
	}
	boom := errors.New("boom")
	batch := func(calls ...func()) { inOneBatch(t, e, calls...) }

	var one, again, other created
	var failing, reused error
	batch(
		func() { one = create(db, "one") },
		func() {
			failing = e.Write(context.Background(), func(ctx context.Context, tx *engine.Tx) error {
				if _, err := tx.Exec(ctx, `INSERT INTO accounts (id, name, disabled, created_at) VALUES ('acc-failing', 'failing', 0, 0)`); err != nil {
					return err
				}
				return boom
			})
		},
		func() { again = create(db, "one") },
		func() {
			reused = db.DeleteImages(context.Background(), quota.DeleteImagesInput{AccountID: acct.ID, IDs: []string{"img-nosuch"},
				Now: time.Now(), Actor: actor("one", "DeleteImages")})
		},
		func() { other = create(db, "other") },
	)
	if one.err != nil || one.replayed {
		t.Fatalf("first create: replayed=%v, %v", one.replayed, one.err)
	}
	if !errors.Is(failing, boom) {
		t.Fatalf("failing write: %v, want boom", failing)
	}
	if again.err != nil || !again.replayed || again.img.ID != one.img.ID {
		t.Fatalf("the retry in the same batch: %s replayed=%v, %v; want %s replayed", again.img.ID, again.replayed, again.err, one.img.ID)
	}
	if code := quota.ErrorCode(reused); code != quota.CodeSignatureReused {
		t.Fatalf("the signature as DeleteImages in the same batch: %v, want %s", reused, quota.CodeSignatureReused)
	}
	if other.err != nil || other.replayed {
		t.Fatalf("another create: replayed=%v, %v", other.replayed, other.err)
	}

	db2, _ := open(t, path, sqlite.Options{}, store.Options{})
	for _, d := range []*store.DB{db2, db, db2} {
		for _, c := range []created{one, other} {
			got := create(d, c.img.Name)
			if got.err != nil || !got.replayed || got.img.ID != c.img.ID {
				t.Fatalf("%s sent again: %s replayed=%v, %v; want %s replayed", c.img.Name, got.img.ID, got.replayed, got.err, c.img.ID)
			}
		}
	}
	// Records written by the other store are found by this one.
	fromOther := create(db2, "from the other store")
	if got := create(db, "from the other store"); got.err != nil || !got.replayed || got.img.ID != fromOther.img.ID {
		t.Fatalf("a request recorded by the other store, sent to this one: %s replayed=%v, %v; want %s replayed",
			got.img.ID, got.replayed, got.err, fromOther.img.ID)
	}

	imgs, err := db.ListImages(ctx, acct.ID, nil, "")
	if err != nil || len(imgs) != 3 {
		t.Fatalf("%d images (%v), want 3", len(imgs), err)
	}
}
