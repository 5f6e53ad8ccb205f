package postgres_test

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/imagequota/imagequota/internal/quota"
	"github.com/imagequota/imagequota/internal/store"
	"github.com/imagequota/imagequota/internal/store/postgres"
	"github.com/imagequota/imagequota/internal/testkit"
	"github.com/imagequota/imagequota/internal/testkit/pgtest"
)

// groupStores opens n stores (as n replicas would) on one new database,
// migrated, and returns them with their engines.
func groupStores(t *testing.T, n int) ([]*store.DB, []*postgres.Engine) {
	t.Helper()
	url := pgtest.NewDatabase(t)
	var dbs []*store.DB
	var es []*postgres.Engine
	for i := range n {
		e, err := postgres.Open(t.Context(), url, postgres.Options{MaxConns: 8})
		if err != nil {
			t.Fatal(err)
		}
		db := store.New(e, store.Options{Secrets: testkit.SecretBox()})
		t.Cleanup(func() { db.Close() })
		if i == 0 {
			if _, err := db.Migrate(t.Context()); err != nil {
				t.Fatal(err)
			}
		}
		dbs, es = append(dbs, db), append(es, e)
	}
	return dbs, es
}

type groupAccount struct {
	acct quota.Account
	inst quota.Instance
}

func groupAccounts(t *testing.T, db *store.DB, n int) []groupAccount {
	t.Helper()
	var out []groupAccount
	for i := range n {
		a, err := db.CreateAccount(t.Context(), fmt.Sprintf("group-%d", i))
		if err != nil {
			t.Fatal(err)
		}
		inst, err := db.CreateInstance(t.Context(), quota.Instance{AccountID: a.ID, LocationID: "jp-tokyo-1a", DiskGB: 40,
			OSCategory: "Ubuntu", OSType: "linux", OSVersion: "22.04"})
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, groupAccount{a, inst})
	}
	return out
}

func createIn(a groupAccount, name string, max int) quota.CreateImageInput {
	return quota.CreateImageInput{AccountID: a.acct.ID, InstanceID: a.inst.ID, Name: name, DefaultMax: max,
		Now: time.Now(), Actor: quota.AdminActor}
}

// together runs calls concurrently with e's group writers held until all of
// them are queued, so that they go in as many groups as there are writers
// (each writer takes one call and holds it; the first gathers the others
// when released), and returns their errors in order. keys is the number of
// accounts the calls write to.
func together(t *testing.T, e *postgres.Engine, keys int, calls ...func() error) []error {
	t.Helper()
	held, queued, release := postgres.HoldGroups(e)
	g0, w0 := e.BatchStats()
	errs := make([]error, len(calls))
	var wg sync.WaitGroup
	wait := func(what string, cond func() bool) {
		for deadline := time.Now().Add(10 * time.Second); !cond(); time.Sleep(time.Millisecond) {
			if time.Now().After(deadline) {
				release()
				t.Fatalf("%s: held %d, queued %d", what, held(), queued())
			}
		}
	}
	writers := min(postgres.GroupWriters, len(calls))
	for i, call := range calls {
		wg.Go(func() { errs[i] = call() })
		if i < writers {
			// Each writer takes one and holds it.
			wait("a writer's first write", func() bool { return held() > i })
		}
	}
	wait("the others", func() bool { return held()+queued() >= len(calls) })
	release()
	wg.Wait()
	// A group per writer, and one for each write of a key already in its
	// writer's group, at most.
	if g, w := e.BatchStats(); w-w0 != uint64(len(calls)) || g-g0 > uint64(writers+len(calls)-keys) {
		t.Errorf("%d writes went in %d groups, want %d in %d at most", w-w0, g-g0, len(calls), writers+len(calls)-keys)
	}
	return errs
}

// images lists an account's images.
func images(t *testing.T, db *store.DB, a groupAccount) []quota.Image {
	t.Helper()
	imgs, err := db.ListImages(t.Context(), a.acct.ID, nil, "")
	if err != nil {
		t.Fatal(err)
	}
	return imgs
}

// TestPostgresGroupOneFailsAlone: in a group of creates, one whose instance
// does not exist and one over its quota fail with their own errors, and the
// others commit; the group is one transaction.
func TestPostgresGroupOneFailsAlone(t *testing.T) {
	t.Parallel()
	dbs, es := groupStores(t, 1)
	db, e := dbs[0], es[0]
	accts := groupAccounts(t, db, 8)
	replay6 := quota.Replay{Key: replayKey("group-6"), Action: "CreateImage", Expires: time.Now().Add(time.Minute)}
	calls := []func() error{}
	for i, a := range accts {
		in := createIn(a, fmt.Sprintf("img-%d", i), 5)
		switch i {
		case 3:
			in.InstanceID = "ins-missing"
		case 5:
			in.DefaultMax = 0
		case 6:
			// Replay-protected, as the API's writes are.
			in.Actor.Replay = replay6
		}
		calls = append(calls, func() error { _, _, err := db.CreateImage(t.Context(), in); return err })
	}
	a0 := postgres.RunAlone(e)
	errs := together(t, e, len(calls), calls...)
	// Only the one over quota runs again alone (its error lists the
	// images counted, a query a group does not make).
	if n := postgres.RunAlone(e) - a0; n != 1 {
		t.Errorf("%d writes ran again alone, want 1", n)
	}
	for i, err := range errs {
		want := ""
		switch i {
		case 3:
			want = quota.CodeInstanceNotFound
		case 5:
			want = quota.CodeImageQuotaExceeded
		}
		if quota.ErrorCode(err) != want || (want == "" && err != nil) {
			t.Errorf("create %d: %v, want %q", i, err, want)
		}
		n := len(images(t, db, accts[i]))
		if (want == "") != (n == 1) {
			t.Errorf("account %d has %d images after %v", i, n, err)
		}
	}
	// The replayed create answers from its record.
	in := createIn(accts[6], "img-6", 5)
	in.Actor.Replay = replay6
	if _, replayed, err := db.CreateImage(t.Context(), in); err != nil || !replayed {
		t.Errorf("replay of create 6: replayed %v, %v", replayed, err)
	}
	if n := len(images(t, db, accts[6])); n != 1 {
		t.Errorf("account 6 has %d images after its replay", n)
	}
}

func replayKey(s string) string {
	sum := sha256.Sum256([]byte(s))
	return hex.EncodeToString(sum[:])
}

// TestPostgresGroupStatementFails: a statement of one write that the
// database refuses (a NUL in a name, which PostgreSQL text cannot hold)
// fails the group's transaction: nothing of it stays, each write runs again
// alone, and only that one fails.
func TestPostgresGroupStatementFails(t *testing.T) {
	t.Parallel()
	dbs, es := groupStores(t, 1)
	db, e := dbs[0], es[0]
	all := groupAccounts(t, db, 9)
	accts, dels := all[:6], all[6:]
	for _, a := range all {
		if _, _, err := db.CreateImage(t.Context(), createIn(a, "old", 5)); err != nil {
			t.Fatal(err)
		}
	}
	calls := []func() error{}
	for i, a := range accts {
		name := fmt.Sprintf("img-%d", i)
		if i == 2 {
			name = "bad\x00name"
		}
		in := createIn(a, name, 5)
		calls = append(calls, func() error { _, _, err := db.CreateImage(t.Context(), in); return err })
	}
	// And deletes of other accounts' images in the same group.
	for _, a := range dels {
		im := images(t, db, a)[0]
		calls = append(calls, func() error {
			return db.DeleteImages(t.Context(), quota.DeleteImagesInput{AccountID: a.acct.ID, IDs: []string{im.ID}, Now: time.Now(), Actor: quota.AdminActor})
		})
	}
	a0 := postgres.RunAlone(e)
	errs := together(t, e, len(calls), calls...)
	// The group with the NUL runs again, each write alone: all but those
	// the other writers took.
	if n, want := postgres.RunAlone(e)-a0, uint64(len(calls)-(postgres.GroupWriters-1)); n != want {
		t.Errorf("%d writes ran again alone, want %d", n, want)
	}
	for i, a := range dels {
		if err, n := errs[len(accts)+i], len(images(t, db, a)); err != nil || n != 0 {
			t.Errorf("delete %d: %v, %d images left", i, err, n)
		}
	}
	for i, err := range errs[:len(accts)] {
		n := len(images(t, db, accts[i]))
		if i == 2 {
			if quota.ErrorCode(err) != quota.CodeInvalidParameterValue || n != 1 {
				t.Errorf("create with a NUL: %v, %d images, want %s and 1", err, n, quota.CodeInvalidParameterValue)
			}
			continue
		}
		if err != nil || n != 2 {
			t.Errorf("create %d: %v, %d images, want success and 2", i, err, n)
		}
	}
	// Each image's audit record once: nothing of the failed group stayed.
	recs, err := db.ListAudit(t.Context(), quota.AuditFilter{Action: "CreateImage"})
	if err != nil {
		t.Fatal(err)
	}
	if want := len(all) + len(accts) - 1; len(recs) != want {
		t.Errorf("%d audit records of creates, want %d", len(recs), want)
	}
}

// TestPostgresGroupOneAccountTwice: two creates of one account never share
// a group; the second sees the first's image (a limit of 1 admits one), and
// with room for both, both go through.
func TestPostgresGroupOneAccountTwice(t *testing.T) {
	t.Parallel()
	dbs, es := groupStores(t, 1)
	db, e := dbs[0], es[0]
	accts := groupAccounts(t, db, 3)
	create := func(a groupAccount, name string, max int) func() error {
		return func() error { _, _, err := db.CreateImage(t.Context(), createIn(a, name, max)); return err }
	}
	del := func(a groupAccount, id string) func() error {
		return func() error {
			return db.DeleteImages(t.Context(), quota.DeleteImagesInput{AccountID: a.acct.ID, IDs: []string{id}, Now: time.Now(), Actor: quota.AdminActor})
		}
	}
	old, _, err := db.CreateImage(t.Context(), createIn(accts[2], "old", 5))
	if err != nil {
		t.Fatal(err)
	}
	errs := together(t, e, 3,
		create(accts[2], "other", 5),
		create(accts[0], "first", 1), create(accts[0], "second", 1),
		create(accts[1], "a", 2), create(accts[1], "b", 2),
		del(accts[2], old.ID), del(accts[2], old.ID))
	ok, over := 0, 0
	for _, err := range errs[1:3] {
		switch quota.ErrorCode(err) {
		case "":
			ok++
		case quota.CodeImageQuotaExceeded:
			over++
		default:
			t.Errorf("create of account 0: %v", err)
		}
	}
	if ok != 1 || over != 1 || len(images(t, db, accts[0])) != 1 {
		t.Errorf("limit 1: %d admitted, %d over quota, %d images; want 1, 1, 1", ok, over, len(images(t, db, accts[0])))
	}
	if errs[3] != nil || errs[4] != nil || len(images(t, db, accts[1])) != 2 {
		t.Errorf("limit 2: %v, %v, %d images; want both and 2", errs[3], errs[4], len(images(t, db, accts[1])))
	}
	// One of the two deletes of one image finds it gone.
	if (errs[5] == nil) == (errs[6] == nil) || quota.ErrorCode(errs[5])+quota.ErrorCode(errs[6]) != quota.CodeImageNotFound {
		t.Errorf("two deletes of one image: %v, %v; want one success, one %s", errs[5], errs[6], quota.CodeImageNotFound)
	}
	if imgs := images(t, db, accts[2]); len(imgs) != 1 || imgs[0].Name != "other" {
		t.Errorf("account 2's images %v, want only other", imgs)
	}
}

// TestPostgresGroupNoOverAdmission: creates and deletes of a few accounts
// from many goroutines on two replicas of one database never admit more
// images than an account's limit.
func TestPostgresGroupNoOverAdmission(t *testing.T) {
	t.Parallel()
	dbs, _ := groupStores(t, 2)
	const limit, workers, rounds = 3, 24, 15
	accts := groupAccounts(t, dbs[0], 4)
	var mu sync.Mutex
	maxSeen := map[string]int{}
	var wg sync.WaitGroup
	for w := range workers {
		wg.Go(func() {
			db := dbs[w%2]
			a := accts[w%len(accts)]
			for i := range rounds {
				ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
				im, _, err := db.CreateImage(ctx, createIn(a, fmt.Sprintf("w%d-%d", w, i), limit))
				cancel()
				if err != nil {
					if quota.ErrorCode(err) != quota.CodeImageQuotaExceeded {
						t.Errorf("create: %v", err)
					}
					continue
				}
				n := len(images(t, db, a))
				mu.Lock()
				maxSeen[a.acct.ID] = max(maxSeen[a.acct.ID], n)
				mu.Unlock()
				if i%2 == 0 {
					if err := db.DeleteImages(t.Context(), quota.DeleteImagesInput{AccountID: a.acct.ID, IDs: []string{im.ID},
						Now: time.Now(), Actor: quota.AdminActor}); err != nil {
						t.Errorf("delete: %v", err)
					}
				}
			}
		})
	}
	wg.Wait()
	for _, a := range accts {
		if n := len(images(t, dbs[0], a)); n > limit || maxSeen[a.acct.ID] > limit {
			t.Errorf("account %s: %d images at the end, %d at most seen; limit %d", a.acct.ID, n, maxSeen[a.acct.ID], limit)
		}
	}
}
