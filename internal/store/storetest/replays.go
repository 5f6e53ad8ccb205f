package storetest

import (
	"sync"
	"testing"
	"time"

	"github.com/imagequota/imagequota/internal/quota"
	"github.com/imagequota/imagequota/internal/store"
)

// replayActor is an actor whose request is recognised by key.
func replayActor(key, action string, expires time.Time) quota.Actor {
	return quota.Actor{Name: "AKREPLAY", Replay: quota.Replay{Key: key, Action: action, Expires: expires}}
}

// testReplayedWriteDoneOnce: a write whose request is seen again gets the
// first answer without the work being done twice; under another action it
// is refused; once expired, the key is a new request.
func testReplayedWriteDoneOnce(t *testing.T, open func(t *testing.T) *store.DB) {
	e := setup(t, open)
	ctx := t.Context()
	later := time.Now().Add(time.Hour)
	in := input(e.inst, "replayed", 10)
	in.Actor = replayActor("k-create", "CreateImage", later)
	first, replayed, err := e.db.CreateImage(ctx, in)
	if err != nil || replayed {
		t.Fatalf("first CreateImage = %v, replayed %v", err, replayed)
	}
	again, replayed, err := e.db.CreateImage(ctx, in)
	if err != nil || !replayed || again.ID != first.ID || again.Name != first.Name {
		t.Fatalf("the same request again = %+v, replayed %v, %v; want image %s, replayed", again, replayed, err, first.ID)
	}
	if n := count(t, e.db, e.acct.ID, tokyo); n != 1 {
		t.Fatalf("%d images after one create sent twice", n)
	}
	// Sent again once the limit is reached, it is still answered from its
	// record, not refused, and makes nothing.
	full := in
	full.DefaultMax = 1
	again, replayed, err = e.db.CreateImage(ctx, full)
	if err != nil || !replayed || again.ID != first.ID {
		t.Fatalf("the same request again at the limit = %+v, replayed %v, %v; want image %s, replayed", again, replayed, err, first.ID)
	}
	if n := count(t, e.db, e.acct.ID, tokyo); n != 1 {
		t.Fatalf("%d images after one create sent three times", n)
	}

	del := quota.DeleteImagesInput{AccountID: e.acct.ID, IDs: []string{first.ID}, Now: time.Now(),
		Actor: replayActor("k-delete", "DeleteImages", later)}
	for i := range 2 {
		if err := e.db.DeleteImages(ctx, del); err != nil {
			t.Fatalf("DeleteImages, copy %d: %v", i, err)
		}
	}
	if n := count(t, e.db, e.acct.ID, tokyo); n != 0 {
		t.Fatalf("%d images after the delete", n)
	}

	// A modify without attributes changes nothing, but its request is
	// recorded all the same: its key cannot be spent on another action.
	kept := mustCreate(t, e.db, input(e.inst, "kept", 10))
	noop := quota.ModifyImagesInput{AccountID: e.acct.ID, IDs: []string{kept.ID}, Actor: replayActor("k-noop", "ModifyImagesAttributes", later)}
	if err := e.db.ModifyImages(ctx, noop); err != nil {
		t.Fatal(err)
	}
	wantCode(t, "a no-op modify's key used to delete", e.db.DeleteImages(ctx, quota.DeleteImagesInput{AccountID: e.acct.ID,
		IDs: []string{kept.ID}, Now: time.Now(), Actor: replayActor("k-noop", "DeleteImages", later)}), quota.CodeSignatureReused)
	if err := e.db.DeleteImages(ctx, quota.DeleteImagesInput{AccountID: e.acct.ID, IDs: []string{kept.ID}, Now: time.Now(), Actor: quota.AdminActor}); err != nil {
		t.Fatal(err)
	}

	// The delete's key under another action.
	mod := quota.ModifyImagesInput{AccountID: e.acct.ID, IDs: []string{first.ID}, Name: ptr("x"),
		Actor: replayActor("k-delete", "ModifyImagesAttributes", later)}
	wantCode(t, "a delete's key used to modify", e.db.ModifyImages(ctx, mod), quota.CodeSignatureReused)

	// An expired record no longer answers: the same key is a new request.
	in.Actor = replayActor("k-expired", "CreateImage", time.Now().Add(-time.Second))
	a, _, err := e.db.CreateImage(ctx, in)
	if err != nil {
		t.Fatal(err)
	}
	b, replayed, err := e.db.CreateImage(ctx, in)
	if err != nil || replayed || b.ID == a.ID {
		t.Fatalf("an expired key again = %s, replayed %v, %v; want a new image", b.ID, replayed, err)
	}

	// Failures are not recorded: the request may succeed when sent again.
	over := input(e.inst, "over", 2)
	over.Actor = replayActor("k-over", "CreateImage", later)
	wantCode(t, "create over the limit", func() error { _, _, err := e.db.CreateImage(ctx, over); return err }(), quota.CodeImageQuotaExceeded)
	over.DefaultMax = 10
	if _, replayed, err := e.db.CreateImage(ctx, over); err != nil || replayed {
		t.Fatalf("a failed request sent again with room: %v, replayed %v", err, replayed)
	}
}

// testConcurrentReplays: copies of one request sent at once make one image.
func testConcurrentReplays(t *testing.T, open func(t *testing.T) *store.DB) {
	e := setup(t, open)
	in := input(e.inst, "racing", 10)
	in.Actor = replayActor("k-race", "CreateImage", time.Now().Add(time.Hour))
	ids := make([]string, 8)
	var wg sync.WaitGroup
	for i := range ids {
		wg.Go(func() {
			img, _, err := e.db.CreateImage(t.Context(), in)
			if err != nil {
				t.Errorf("copy %d: %v", i, err)
			}
			ids[i] = img.ID
		})
	}
	wg.Wait()
	for i, id := range ids {
		if id != ids[0] {
			t.Fatalf("copy %d made image %s, copy 0 image %s", i, id, ids[0])
		}
	}
	if n := count(t, e.db, e.acct.ID, tokyo); n != 1 {
		t.Fatalf("%d images from eight copies of one request", n)
	}
}
