package e2e

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/imagequota/imagequota/client"
	"github.com/imagequota/imagequota/internal/quota"
	"github.com/imagequota/imagequota/internal/store/postgres"
	"github.com/imagequota/imagequota/internal/testkit/pgtest"
	"github.com/imagequota/imagequota/vmapi"
)

// stuckEnv is an account with an access key and an instance in Tokyo, made
// with the binary's admin commands on dbURL.
type stuckEnv struct {
	dbURL, account, keyID, secret, instance string
}

func setupStuck(t *testing.T, dbURL string) *stuckEnv {
	t.Helper()
	e := &stuckEnv{dbURL: dbURL}
	var acct struct {
		ID string `json:"accountId"`
	}
	pgAdmin(t, dbURL, &acct, "account", "create", "--name", "stuck")
	var key struct {
		ID     string `json:"accessKeyId"`
		Secret string `json:"accessKeyPassword"`
	}
	pgAdmin(t, dbURL, &key, "key", "create", "--account", acct.ID)
	var inst struct {
		ID string `json:"instanceId"`
	}
	pgAdmin(t, dbURL, &inst, "instance", "create", "--account", acct.ID, "--location", "jp-tokyo-1a")
	e.account, e.keyID, e.secret, e.instance = acct.ID, key.ID, key.Secret, inst.ID
	return e
}

// stuckAnswer is one CreateImage's outcome, and how long it took.
type stuckAnswer struct {
	imageID string
	code    string // "" for success
	err     error  // no HTTP answer at all
	took    time.Duration
}

func (e *stuckEnv) create(c *client.Client, name string) stuckAnswer {
	start := time.Now()
	resp, err := c.CreateImage(context.Background(), &vmapi.CreateImageRequest{
		InstanceID: client.String(e.instance), ImageName: client.String(name)})
	a := stuckAnswer{took: time.Since(start)}
	var ce *client.Error
	switch {
	case err == nil:
		a.imageID = resp.ImageID
	case errors.As(err, &ce):
		a.code = ce.Code
	default:
		a.err = err
	}
	return a
}

// TestFrozenReplicaReleasesItsLock: a replica frozen (SIGSTOP) in the middle
// of a create holds its account's lock. Every create of that account on the
// other replica is still answered within its deadline (503 while blocked),
// and the frozen replica stops blocking within a bounded time: PostgreSQL ends
// its idle transaction. Nothing acknowledged is lost.
func TestFrozenReplicaReleasesItsLock(t *testing.T) {
	pgRequirePostgres(t)
	parallelFirst(t)
	dbURL := pgtest.NewSchema(t)
	if r := pgRun(t, "migrate", "--db", dbURL); r.code != 0 {
		t.Fatalf("migrate: exit %d\n%s", r.code, r.stderr)
	}
	e := setupStuck(t, dbURL)
	frozenURL := dbURL + "&application_name=imagequota-frozen"
	if !strings.Contains(dbURL, "?") {
		frozenURL = dbURL + "?application_name=imagequota-frozen"
	}
	frozen := pgServe(t, frozenURL, "--image-build-time", "0", "--request-timeout", "2s")
	other := pgServe(t, dbURL, "--image-build-time", "0", "--request-timeout", "2s")
	db, err := sql.Open("pgx", dbURL)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()

	// Creates and deletes run on the frozen-to-be replica without pause, so
	// that a SIGSTOP soon lands inside one of its transactions.
	stop := make(chan struct{})
	var wg sync.WaitGroup
	for w := range 3 {
		wg.Go(func() {
			c := pgConnClient(frozen.URL, e.keyID, e.secret, 90*time.Second)
			for i := 0; ; i++ {
				select {
				case <-stop:
					return
				default:
				}
				a := e.create(c, fmt.Sprintf("load-%d-%d", w, i))
				if a.imageID != "" {
					_ = c.DeleteImages(context.Background(), &vmapi.DeleteImagesRequest{ImageIDs: []string{a.imageID}})
				}
			}
		})
	}
	defer func() {
		_ = frozen.cmd.Process.Signal(syscall.SIGCONT)
		close(stop)
		wg.Wait()
	}()

	// Freeze the replica until it is caught holding an advisory lock in a
	// transaction of its own.
	holding := func() bool {
		var n int
		err := db.QueryRowContext(t.Context(), `SELECT count(*) FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid
			WHERE a.application_name = 'imagequota-frozen' AND l.locktype = 'advisory' AND l.granted
			AND a.state = 'idle in transaction'`).Scan(&n)
		if err != nil {
			t.Fatal(err)
		}
		return n > 0
	}
	caught := false
	for attempt := 0; attempt < 200 && !caught; attempt++ {
		if err := frozen.cmd.Process.Signal(syscall.SIGSTOP); err != nil {
			t.Fatal(err)
		}
		time.Sleep(50 * time.Millisecond) // let the backend go idle
		if caught = holding(); !caught {
			_ = frozen.cmd.Process.Signal(syscall.SIGCONT)
			time.Sleep(time.Duration(attempt%7) * 3 * time.Millisecond)
		}
	}
	if !caught {
		t.Skip("the replica was never frozen inside a transaction holding a lock in 200 tries")
	}
	frozenAt := time.Now()

	// The other replica: every create answered within its deadline, until
	// one goes through.
	c := pgConnClient(other.URL, e.keyID, e.secret, 30*time.Second)
	bound := 6 * postgres.IdleInTransactionTimeout
	var acked []string
	for i := 0; ; i++ {
		a := e.create(c, fmt.Sprintf("other-%d", i))
		if a.err != nil {
			t.Fatalf("create %d on the other replica got no answer after %v: %v", i, a.took, a.err)
		}
		if a.took > 2*time.Second+5*time.Second {
			t.Fatalf("create %d on the other replica took %v with a 2 s deadline", i, a.took)
		}
		if a.code == "" {
			acked = append(acked, a.imageID)
			break
		}
		if a.code != quota.CodeUnavailable {
			t.Fatalf("create %d on the other replica: %s, want success or %s", i, a.code, quota.CodeUnavailable)
		}
		if time.Since(frozenAt) > bound {
			t.Fatalf("the frozen replica still blocks the account's creates after %v", time.Since(frozenAt))
		}
	}
	t.Logf("the other replica's create went through %v after the freeze", time.Since(frozenAt).Round(time.Millisecond))

	// Thawed, the frozen replica serves again; the acknowledged image is there.
	if err := frozen.cmd.Process.Signal(syscall.SIGCONT); err != nil {
		t.Fatal(err)
	}
	fc := pgConnClient(frozen.URL, e.keyID, e.secret, 30*time.Second)
	for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(100 * time.Millisecond) {
		imgs, err := fc.DescribeImages(context.Background(), &vmapi.DescribeImagesRequest{ImageIDs: acked})
		if err == nil {
			if imgs.TotalCount != len(acked) {
				t.Fatalf("acknowledged images %v, found %d", acked, imgs.TotalCount)
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the thawed replica did not serve within 30 s: %v", err)
		}
	}
}

// TestSQLiteWriterLockHeldElsewhere: while another process holds SQLite's
// write lock for longer than the HTTP write timeout, every create gets an
// HTTP answer — 503 at its deadline — and never a dropped connection; once
// the lock is released, creates go through.
func TestSQLiteWriterLockHeldElsewhere(t *testing.T) {
	parallelFirst(t)
	dir := t.TempDir()
	path := filepath.Join(dir, "imagequota.db")
	dbURL := "sqlite:" + path
	if r := pgRun(t, "migrate", "--db", dbURL); r.code != 0 {
		t.Fatalf("migrate: exit %d\n%s", r.code, r.stderr)
	}
	e := setupStuck(t, dbURL)
	// Request deadline 1 s: the HTTP write timeout is then 6 s, shorter than
	// the lock is held (7 s and more) and than the writer's own wait for it
	// (10 s), so a create that waited for the lock past its deadline would
	// lose its connection.
	srv := startBinServer(t, pgCleanEnv(), []string{"serve", "--db", dbURL, "--addr", "127.0.0.1:0",
		"--image-build-time", "0", "--request-timeout", "1s"}, time.Minute)

	holder, err := sql.Open("sqlite", "file:"+path+"?_pragma=busy_timeout(10000)")
	if err != nil {
		t.Fatal(err)
	}
	defer holder.Close()
	conn, err := holder.Conn(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	if _, err := conn.ExecContext(t.Context(), `BEGIN IMMEDIATE`); err != nil {
		t.Fatal(err)
	}
	heldAt := time.Now()

	const n = 8
	answers := make([]stuckAnswer, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			c := pgConnClient(srv.URL, e.keyID, e.secret, 30*time.Second)
			// Spread over the first 5.6 s of the hold, so that some wait
			// behind others.
			time.Sleep(time.Duration(i) * 800 * time.Millisecond)
			answers[i] = e.create(c, fmt.Sprintf("held-%d", i))
		})
	}
	wg.Wait()
	if held := time.Since(heldAt); held < 7*time.Second {
		time.Sleep(7*time.Second - held)
	}
	if _, err := conn.ExecContext(context.Background(), `ROLLBACK`); err != nil {
		t.Fatal(err)
	}
	for i, a := range answers {
		switch {
		case a.err != nil:
			t.Errorf("create %d got no HTTP answer after %v: %v", i, a.took, a.err)
		case a.code != quota.CodeUnavailable:
			t.Errorf("create %d while the lock was held: %q, want %s", i, a.code, quota.CodeUnavailable)
		case a.took > time.Second+5*time.Second:
			t.Errorf("create %d answered after %v, with a 1 s deadline", i, a.took)
		}
	}
	c := pgConnClient(srv.URL, e.keyID, e.secret, 30*time.Second)
	for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(200 * time.Millisecond) {
		a := e.create(c, "after")
		if a.code == "" && a.err == nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("after the lock was released: %q %v", a.code, a.err)
		}
	}
}
