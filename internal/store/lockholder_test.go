package store_test

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/imagequota/imagequota/internal/quota"
	"github.com/imagequota/imagequota/internal/store"
	"github.com/imagequota/imagequota/internal/store/postgres"
	"github.com/imagequota/imagequota/internal/testkit"
)

// TestPostgresStuckLockHolder: a replica stuck in the middle of a create
// (its transaction holds the account's lock and goes idle, as a frozen or
// cut-off process would) stops blocking the other replicas once PostgreSQL
// ends its idle transaction; its create is never acknowledged and leaves no
// image, and the others' creates go through.
func TestPostgresStuckLockHolder(t *testing.T) {
	t.Parallel()
	requirePostgres(t)
	dbURL := testkit.PostgresURL(t)
	release := make(chan struct{})
	var once sync.Once
	stuck := make(chan struct{})
	holder := testkit.OpenStore(t, dbURL, store.Options{MaxConns: 2, AfterAdmissionCheck: func(string, string, int, int) {
		once.Do(func() { close(stuck) })
		<-release
	}})
	other := testkit.OpenStore(t, dbURL, store.Options{MaxConns: 4})
	ctx := t.Context()
	acct, err := other.CreateAccount(ctx, "stuck")
	if err != nil {
		t.Fatal(err)
	}
	inst, err := other.CreateInstance(ctx, quota.Instance{AccountID: acct.ID, LocationID: "jp-tokyo-1a", DiskGB: 40,
		OSCategory: "Ubuntu", OSType: "linux", OSVersion: "22.04"})
	if err != nil {
		t.Fatal(err)
	}
	create := func(ctx context.Context, db *store.DB, name string) error {
		_, _, err := db.CreateImage(ctx, quota.CreateImageInput{AccountID: acct.ID, InstanceID: inst.ID, Name: name,
			DefaultMax: 5, Now: time.Now(), Actor: quota.AdminActor})
		return err
	}
	holderErr := make(chan error, 1)
	go func() { holderErr <- create(context.Background(), holder, "held") }()
	<-stuck // the holder's transaction has the account's lock and idles

	start := time.Now()
	var answers []string
	for {
		rctx, cancel := context.WithTimeout(ctx, 2*time.Second)
		err := create(rctx, other, "other")
		cancel()
		if err == nil {
			break
		}
		if code := quota.ErrorCode(err); code != quota.CodeUnavailable {
			t.Fatalf("create while the lock is held: %v, want %s or success", err, quota.CodeUnavailable)
		}
		answers = append(answers, quota.ErrorCode(err))
		if time.Since(start) > 6*postgres.IdleInTransactionTimeout {
			t.Fatalf("still blocked after %v (%d answers %v): the stuck holder was never ended", time.Since(start), len(answers), answers)
		}
	}
	t.Logf("the other replica's create went through after %v and %d unavailable answers", time.Since(start).Round(time.Millisecond), len(answers))

	close(release)
	if err := <-holderErr; err == nil {
		t.Fatal("the stuck holder's create was acknowledged after its session was ended")
	}
	imgs, err := other.ListImages(ctx, acct.ID, nil, "")
	if err != nil {
		t.Fatal(err)
	}
	if len(imgs) != 1 || imgs[0].Name != "other" {
		t.Fatalf("images %v, want only the other replica's", imgs)
	}
}
