package store_test

import (
	"context"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/imagequota/imagequota/internal/quota"
	"github.com/imagequota/imagequota/internal/store"
	"github.com/imagequota/imagequota/internal/testkit"
)

// answerBound is how long a store call may take while the database is out
// before the test counts it as hanging.
const answerBound = 5 * time.Second

// within runs fn and fails the test unless it returns within answerBound.
func within(t *testing.T, what string, fn func() error) error {
	t.Helper()
	done := make(chan error, 1)
	go func() { done <- fn() }()
	select {
	case err := <-done:
		return err
	case <-time.After(answerBound):
		t.Fatalf("%s did not answer within %v", what, answerBound)
		return nil
	}
}

// outageEnv is a migrated PostgreSQL store reached through a proxy, with an
// account, a key and an instance.
type outageEnv struct {
	proxy *testkit.Proxy
	url   string // through the proxy
	db    *store.DB
	acct  quota.Account
	key   quota.AccessKey
	inst  quota.Instance
}

func setupOutage(t *testing.T) *outageEnv {
	t.Helper()
	requirePostgres(t)
	e := &outageEnv{}
	e.proxy, e.url = testkit.ProxyPostgres(t, testkit.PostgresURL(t))
	e.db = testkit.OpenStore(t, e.url, store.Options{MaxConns: 4})
	ctx := t.Context()
	var err error
	if e.acct, err = e.db.CreateAccount(ctx, "outage"); err != nil {
		t.Fatal(err)
	}
	if e.key, err = e.db.CreateAccessKey(ctx, e.acct.ID); err != nil {
		t.Fatal(err)
	}
	if e.inst, err = e.db.CreateInstance(ctx, quota.Instance{AccountID: e.acct.ID, LocationID: "jp-tokyo-1a", DiskGB: 40,
		OSCategory: "Ubuntu", OSType: "linux", OSVersion: "22.04"}); err != nil {
		t.Fatal(err)
	}
	return e
}

// calls are store calls of every kind: reads, authentication, writes.
func (e *outageEnv) calls() []struct {
	name string
	call func(ctx context.Context) error
} {
	return []struct {
		name string
		call func(ctx context.Context) error
	}{
		{"Ping", e.db.Ping},
		{"AccessKeyCredential", func(ctx context.Context) error { _, err := e.db.AccessKeyCredential(ctx, e.key.ID); return err }},
		{"GetAccount", func(ctx context.Context) error { _, err := e.db.GetAccount(ctx, e.acct.ID); return err }},
		{"ListAccounts", func(ctx context.Context) error { _, err := e.db.ListAccounts(ctx); return err }},
		{"Usage", func(ctx context.Context) error { _, err := e.db.Usage(ctx, e.acct.ID); return err }},
		{"ListImages", func(ctx context.Context) error { _, err := e.db.ListImages(ctx, e.acct.ID, nil, ""); return err }},
		{"CreateImage", func(ctx context.Context) error {
			_, _, err := e.db.CreateImage(ctx, quota.CreateImageInput{AccountID: e.acct.ID, InstanceID: e.inst.ID, Name: "x",
				DefaultMax: 1000, Now: time.Now()})
			return err
		}},
		{"SetLimit", func(ctx context.Context) error {
			_, err := e.db.SetLimit(ctx, quota.LimitOverride{AccountID: e.acct.ID, MaxCount: 500}, quota.AdminActor)
			return err
		}},
		{"Pending", func(ctx context.Context) error { _, err := e.db.Pending(ctx); return err }},
	}
}

// waitRecovered waits (boundedly) until every call succeeds again.
func (e *outageEnv) waitRecovered(t *testing.T) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for _, c := range e.calls() {
		for {
			err := c.call(t.Context())
			if err == nil {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("%s still fails 30 s after the database came back: %v", c.name, err)
			}
			time.Sleep(100 * time.Millisecond)
		}
	}
}

// TestPostgresOutageCut: while the database is gone (connections closed,
// new ones refused), every store call fails at once with
// SERVICE_TEMPORARY_UNAVAILABLE — without relying on a deadline — and the
// store recovers by itself when the database is back.
func TestPostgresOutageCut(t *testing.T) {
	t.Parallel()
	e := setupOutage(t)
	for round := 0; round < 2; round++ {
		e.proxy.Cut()
		for _, c := range e.calls() {
			err := within(t, c.name, func() error { return c.call(context.Background()) })
			if code := quota.ErrorCode(err); code != quota.CodeUnavailable {
				t.Errorf("round %d: %s during the outage: %v (code %q), want %s", round, c.name, err, code, quota.CodeUnavailable)
			}
		}
		e.proxy.Restore(t)
		e.waitRecovered(t)
	}
}

// TestPostgresOutageStall: when the database stops answering without closing
// anything (a partition), calls end at their context's deadline with
// SERVICE_TEMPORARY_UNAVAILABLE, and opening a store gives up after the
// connect timeout instead of hanging.
func TestPostgresOutageStall(t *testing.T) {
	t.Parallel()
	e := setupOutage(t)
	e.proxy.Stall()
	calls := e.calls()
	errs := make([]error, len(calls))
	err := within(t, "the calls", func() error {
		var wg sync.WaitGroup
		for i, c := range calls {
			wg.Add(1)
			go func() {
				defer wg.Done()
				ctx, cancel := context.WithTimeout(context.Background(), time.Second)
				defer cancel()
				errs[i] = c.call(ctx)
			}()
		}
		wg.Wait()
		return nil
	})
	for i, c := range calls {
		if code := quota.ErrorCode(errs[i]); code != quota.CodeUnavailable {
			t.Errorf("%s during a stall: %v (code %q), want %s", c.name, errs[i], code, quota.CodeUnavailable)
		}
	}
	err = within(t, "Open", func() error {
		db, err := store.Open(context.Background(), e.url, store.Options{})
		if err == nil {
			db.Close()
		}
		return err
	})
	if err == nil || !strings.Contains(err.Error(), "connecting to PostgreSQL") {
		t.Errorf("Open during a stall = %v, want a connect failure", err)
	}
	e.proxy.Resume()
	e.waitRecovered(t)
}

// TestPostgresOpenUnreachable: a server that is not there is reported at
// once, with the driver's reason.
func TestPostgresOpenUnreachable(t *testing.T) {
	t.Parallel()
	requirePostgres(t)
	proxy, dbURL := testkit.ProxyPostgres(t, testkit.PostgresURL(t))
	proxy.Cut()
	err := within(t, "Open", func() error {
		db, err := store.Open(context.Background(), dbURL, store.Options{})
		if err == nil {
			db.Close()
		}
		return err
	})
	if err == nil || !strings.Contains(err.Error(), "connecting to PostgreSQL") || !strings.Contains(err.Error(), "refused") {
		t.Fatalf("Open of an unreachable server = %v, want the connection refusal", err)
	}
}

// TestPostgresSessionSettings: whatever the database's defaults, the store's
// sessions run READ COMMITTED (admission relies on it).
func TestPostgresSessionSettings(t *testing.T) {
	t.Parallel()
	requirePostgres(t)
	for _, def := range []string{"serializable", "repeatable read", "read committed"} {
		t.Run(def, func(t *testing.T) {
			t.Parallel()
			dbURL := testkit.PostgresURL(t)
			setDatabaseDefault(t, dbURL, "default_transaction_isolation", def)
			db := testkit.OpenStore(t, dbURL, store.Options{MaxConns: 2})
			pool := db.Pools()["db"]
			tx, err := pool.BeginTx(t.Context(), nil)
			if err != nil {
				t.Fatal(err)
			}
			defer tx.Rollback()
			var level string
			if err := tx.QueryRowContext(t.Context(), `SHOW transaction_isolation`).Scan(&level); err != nil {
				t.Fatal(err)
			}
			if level != "read committed" {
				t.Fatalf("a store transaction runs %s, want read committed", level)
			}
		})
	}
}
