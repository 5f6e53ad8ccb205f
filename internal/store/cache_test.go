package store_test

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/imagequota/imagequota/internal/quota"
	"github.com/imagequota/imagequota/internal/store"
	"github.com/imagequota/imagequota/internal/testkit"
)

// cacheEnv is two handles on one database: reader serves from its cache,
// writer stands for "imagequota admin" in another process (SQLite) or another
// replica (PostgreSQL).
type cacheEnv struct {
	reader, writer *store.DB
	acct           quota.Account
	key            quota.AccessKey
	token          string
	inst           quota.Instance
}

func setupCache(t *testing.T, engine string) *cacheEnv {
	t.Helper()
	dbURL, opts := engineStore(t, engine)
	e := &cacheEnv{reader: testkit.OpenStore(t, dbURL, opts), writer: testkit.OpenStore(t, dbURL, opts)}
	ctx := t.Context()
	var err error
	if e.acct, err = e.writer.CreateAccount(ctx, "cached"); err != nil {
		t.Fatal(err)
	}
	if e.key, err = e.writer.CreateAccessKey(ctx, e.acct.ID); err != nil {
		t.Fatal(err)
	}
	if e.token, _, err = e.writer.CreateToken(ctx, e.acct.ID, time.Hour); err != nil {
		t.Fatal(err)
	}
	if e.inst, err = e.writer.CreateInstance(ctx, quota.Instance{AccountID: e.acct.ID, LocationID: "asia-east-1",
		DiskGB: 20, OSCategory: "Ubuntu", OSType: "linux", OSVersion: "22.04"}); err != nil {
		t.Fatal(err)
	}
	return e
}

// view is what the reader's cached paths answer.
type view struct {
	keyDisabled, accountDisabled, tokenAccountDisabled bool
	count                                              int
	max                                                int
}

func (e *cacheEnv) view(t *testing.T) view {
	t.Helper()
	ctx := t.Context()
	c, err := e.reader.CachedAccessKeyCredential(ctx, e.key.ID)
	if err != nil {
		t.Fatalf("CachedAccessKeyCredential: %v", err)
	}
	if c.Secret != e.key.Secret || c.AccountID != e.acct.ID {
		t.Fatalf("CachedAccessKeyCredential = %+v, want account %s and the key's secret", c, e.acct.ID)
	}
	tc, err := e.reader.CachedTokenCredential(ctx, e.token)
	if err != nil {
		t.Fatalf("CachedTokenCredential: %v", err)
	}
	u, err := e.reader.Usage(ctx, e.acct.ID)
	if err != nil {
		t.Fatalf("Usage: %v", err)
	}
	max, _ := quota.ResolveLimit(u.Overrides, e.acct.ID, e.inst.LocationID, quota.DefaultMaxCount)
	return view{keyDisabled: c.Disabled, accountDisabled: c.AccountDisabled, tokenAccountDisabled: tc.AccountDisabled,
		count: u.Counts[e.inst.LocationID], max: max}
}

// TestCacheSeesOtherWriters: every write through another handle on the same
// database is visible to the very next read of a handle whose cache holds the
// old answer.
func TestCacheSeesOtherWriters(t *testing.T) {
	t.Parallel()
	for _, engine := range []string{"sqlite", "postgres"} {
		t.Run(engine, func(t *testing.T) {
			t.Parallel()
			e := setupCache(t, engine)
			ctx := t.Context()
			var img quota.Image
			steps := []struct {
				name  string
				write func() error
				want  view
			}{
				{"nothing yet", func() error { return nil }, view{max: quota.DefaultMaxCount}},
				{"create image", func() error {
					var err error
					img, _, err = e.writer.CreateImage(ctx, quota.CreateImageInput{AccountID: e.acct.ID, InstanceID: e.inst.ID,
						Name: "one", DefaultMax: quota.DefaultMaxCount, Now: time.Now(), Actor: quota.AdminActor})
					return err
				}, view{count: 1, max: quota.DefaultMaxCount}},
				{"account limit", func() error {
					_, err := e.writer.SetLimit(ctx, quota.LimitOverride{AccountID: e.acct.ID, LocationID: e.inst.LocationID, MaxCount: 7}, quota.AdminActor)
					return err
				}, view{count: 1, max: 7}},
				{"unset account limit", func() error {
					_, err := e.writer.UnsetLimit(ctx, e.acct.ID, e.inst.LocationID, quota.AdminActor)
					return err
				}, view{count: 1, max: quota.DefaultMaxCount}},
				{"limit for every account", func() error {
					_, err := e.writer.SetLimit(ctx, quota.LimitOverride{LocationID: e.inst.LocationID, MaxCount: 3}, quota.AdminActor)
					return err
				}, view{count: 1, max: 3}},
				{"delete image", func() error {
					return e.writer.DeleteImages(ctx, quota.DeleteImagesInput{AccountID: e.acct.ID, IDs: []string{img.ID},
						Now: time.Now().Add(time.Hour), Actor: quota.AdminActor})
				}, view{count: 0, max: 3}},
				{"disable key", func() error { return e.writer.SetAccessKeyDisabled(ctx, e.key.ID, true) },
					view{keyDisabled: true, max: 3}},
				{"disable account", func() error { return e.writer.SetAccountDisabled(ctx, e.acct.ID, true) },
					view{keyDisabled: true, accountDisabled: true, tokenAccountDisabled: true, max: 3}},
				{"enable both", func() error {
					if err := e.writer.SetAccountDisabled(ctx, e.acct.ID, false); err != nil {
						return err
					}
					return e.writer.SetAccessKeyDisabled(ctx, e.key.ID, false)
				}, view{max: 3}},
			}
			for _, s := range steps {
				// Twice before the write, so that the answer is cached.
				e.view(t)
				e.view(t)
				if err := s.write(); err != nil {
					t.Fatalf("%s: %v", s.name, err)
				}
				if got := e.view(t); got != s.want {
					t.Fatalf("after %s: the next read answers %+v, want %+v", s.name, got, s.want)
				}
			}
		})
	}
}

// TestCacheUnderConcurrentWrites: while one handle creates images, reads
// through another never report fewer images than were acknowledged before
// the read began.
func TestCacheUnderConcurrentWrites(t *testing.T) {
	t.Parallel()
	for _, engine := range []string{"sqlite", "postgres"} {
		t.Run(engine, func(t *testing.T) {
			t.Parallel()
			e := setupCache(t, engine)
			ctx := t.Context()
			if _, err := e.writer.SetLimit(ctx, quota.LimitOverride{AccountID: e.acct.ID, LocationID: e.inst.LocationID, MaxCount: 1000}, quota.AdminActor); err != nil {
				t.Fatal(err)
			}
			const creates = 40
			var mu sync.Mutex
			acked := 0
			done := make(chan error, 1)
			go func() {
				for i := 0; i < creates; i++ {
					if _, _, err := e.writer.CreateImage(context.Background(), quota.CreateImageInput{AccountID: e.acct.ID, InstanceID: e.inst.ID,
						Name: "n", DefaultMax: quota.DefaultMaxCount, Now: time.Now(), Actor: quota.AdminActor}); err != nil {
						done <- err
						return
					}
					mu.Lock()
					acked++
					mu.Unlock()
				}
				done <- nil
			}()
			var wg sync.WaitGroup
			errs := make(chan string, 4)
			for r := 0; r < 4; r++ {
				wg.Add(1)
				go func() {
					defer wg.Done()
					for {
						mu.Lock()
						before := acked
						mu.Unlock()
						u, err := e.reader.Usage(ctx, e.acct.ID)
						if err != nil {
							errs <- err.Error()
							return
						}
						if n := u.Counts[e.inst.LocationID]; n < before {
							errs <- "a read counted fewer images than were acknowledged before it began"
							return
						}
						if before == creates {
							return
						}
					}
				}()
			}
			if err := <-done; err != nil {
				t.Fatal(err)
			}
			wg.Wait()
			close(errs)
			for msg := range errs {
				t.Fatal(msg)
			}
			if got := e.view(t).count; got != creates {
				t.Fatalf("count %d, want %d", got, creates)
			}
		})
	}
}
