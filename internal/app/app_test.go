package app_test

import (
	"context"
	"database/sql"
	"errors"
	"io"
	"io/fs"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/imagequota/imagequota/internal/app"
	"github.com/imagequota/imagequota/internal/quota"
	"github.com/imagequota/imagequota/internal/secrets"
	"github.com/imagequota/imagequota/internal/store"
	"github.com/imagequota/imagequota/internal/testkit"
	"github.com/imagequota/imagequota/internal/testkit/pgtest"
	"github.com/imagequota/imagequota/vmapi"
)

// serve runs s on a listener on 127.0.0.1 until the test ends and returns its URL.
func serve(t *testing.T, s *app.Server) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	errc := make(chan error, 1)
	go func() { errc <- s.Serve(ln) }()
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := s.Shutdown(ctx); err != nil {
			t.Errorf("shutdown: %v", err)
		}
		if err := <-errc; !errors.Is(err, http.ErrServerClosed) {
			t.Errorf("Serve returned %v", err)
		}
		if err := s.Close(); err != nil {
			t.Errorf("close: %v", err)
		}
	})
	return s.URL(ln)
}

func get(t *testing.T, url string) (int, string) {
	t.Helper()
	resp, err := (&http.Client{Timeout: 10 * time.Second}).Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, string(b)
}

func sqliteStore(t *testing.T) app.StoreConfig {
	t.Helper()
	u, err := store.ParseURL("sqlite:" + filepath.Join(t.TempDir(), "imagequota.db"))
	if err != nil {
		t.Fatal(err)
	}
	return app.StoreConfig{URL: u, Options: store.Options{Secrets: testkit.SecretBox()}, Create: true}
}

// TestNewServesTheAPI: a server assembled from a store URL answers signed
// calls and its health and metrics endpoints, with the store's pools and the
// runtime among the metrics.
func TestNewServesTheAPI(t *testing.T) {
	t.Parallel()
	three := 3
	s, err := app.New(t.Context(), app.Config{Store: sqliteStore(t), DefaultMax: &three})
	if err != nil {
		t.Fatal(err)
	}
	url := serve(t, s)
	if !strings.HasPrefix(url, "http://127.0.0.1:") {
		t.Errorf("URL %q", url)
	}
	acct := testkit.NewAccount(t, s.DB, url)
	q, err := acct.Client.DescribeImageQuota(t.Context(), &vmapi.DescribeImageQuotaRequest{ZoneIDs: []string{"jp-tokyo-1a"}})
	if err != nil {
		t.Fatal(err)
	}
	if len(q.Images) != 1 || q.Images[0].MaxCount != 3 {
		t.Errorf("DescribeImageQuota: %+v; want one location with maxCount 3 (the configured default)", q.Images)
	}
	if code, body := get(t, url+"/readyz"); code != http.StatusOK {
		t.Errorf("/readyz: %d %s", code, body)
	}
	_, metrics := get(t, url+"/metrics")
	for _, want := range []string{`imagequota_requests_total{action="DescribeImageQuota",code="OK"} 1`, "go_goroutines", `db_name="imagequota_db`} {
		if !strings.Contains(metrics, want) {
			t.Errorf("/metrics lacks %s", want)
		}
	}
}

// TestCloseLeavesTheCallersStore: a server given an open store does not close it.
func TestCloseLeavesTheCallersStore(t *testing.T) {
	t.Parallel()
	db := testkit.OpenStore(t, testkit.SQLiteURL(t), store.Options{})
	s, err := app.New(t.Context(), app.Config{DB: db, Catalog: quota.DefaultCatalog()})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if err := db.Ping(t.Context()); err != nil {
		t.Errorf("the caller's store was closed: %v", err)
	}
}

// TestOpenStoreRefusesAStoreThatDoesNotExist: without Create or Migrate, a
// SQLite file that is absent and a PostgreSQL database that was never
// migrated are refused, and opening them creates nothing: no file, no table.
func TestOpenStoreRefusesAStoreThatDoesNotExist(t *testing.T) {
	t.Parallel()
	dir := filepath.Join(t.TempDir(), "data")
	lite, err := store.ParseURL("sqlite:" + filepath.Join(dir, "imagequota.db"))
	if err != nil {
		t.Fatal(err)
	}
	var none *app.NoStoreError
	_, err = app.OpenStore(t.Context(), app.StoreConfig{URL: lite, MasterKey: &app.MasterKey{File: filepath.Join(dir, "master.key"), Generate: true}})
	if !errors.As(err, &none) || !strings.Contains(err.Error(), lite.Path) {
		t.Errorf("OpenStore of an absent SQLite file: %v; want a NoStoreError naming the file", err)
	}
	if _, err := os.Stat(dir); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("refusing an absent SQLite store made its directory (%v)", err)
	}
	db, err := app.OpenStore(t.Context(), app.StoreConfig{URL: lite, Create: true})
	if err != nil {
		t.Fatalf("OpenStore with Create: %v", err)
	}
	db.Close()

	dbURL := pgtest.NewDatabase(t)
	pg, err := store.ParseURL(dbURL)
	if err != nil {
		t.Fatal(err)
	}
	_, err = app.OpenStore(t.Context(), app.StoreConfig{URL: pg})
	if !errors.As(err, &none) || !strings.Contains(err.Error(), "no imagequota schema") {
		t.Errorf("OpenStore of a database never migrated: %v; want a NoStoreError", err)
	}
	raw, err := sql.Open("pgx", dbURL)
	if err != nil {
		t.Fatal(err)
	}
	defer raw.Close()
	var tables int
	if err := raw.QueryRowContext(t.Context(), `SELECT count(*) FROM pg_catalog.pg_tables WHERE schemaname = current_schema()`).Scan(&tables); err != nil || tables != 0 {
		t.Errorf("refusing a database never migrated left %d tables (%v)", tables, err)
	}
}

// TestOpenStoreRefusesASchemaBehind: without Migrate, a PostgreSQL database
// whose newest migration is missing is refused, naming it, and the master
// key is not read.
func TestOpenStoreRefusesASchemaBehind(t *testing.T) {
	t.Parallel()
	dbURL := pgtest.NewDatabase(t)
	u, err := store.ParseURL(dbURL)
	if err != nil {
		t.Fatal(err)
	}
	db, err := app.OpenStore(t.Context(), app.StoreConfig{URL: u, Migrate: true})
	if err != nil {
		t.Fatalf("OpenStore with Migrate: %v", err)
	}
	ms, err := db.MigrationStatus(t.Context())
	db.Close()
	if err != nil {
		t.Fatal(err)
	}
	last := ms[len(ms)-1]
	raw, err := sql.Open("pgx", dbURL)
	if err != nil {
		t.Fatal(err)
	}
	defer raw.Close()
	if _, err := raw.ExecContext(t.Context(), `DELETE FROM schema_migrations WHERE version = $1`, last.Version); err != nil {
		t.Fatal(err)
	}
	keyFile := filepath.Join(t.TempDir(), "master.key")
	_, err = app.OpenStore(t.Context(), app.StoreConfig{URL: u, MasterKey: &app.MasterKey{File: keyFile, Generate: true}})
	var behind *app.SchemaBehindError
	if !errors.As(err, &behind) || len(behind.Pending) != 1 || !strings.Contains(err.Error(), last.Name) {
		t.Fatalf("OpenStore of a schema behind: %v; want a SchemaBehindError naming %s", err, last.Name)
	}
	if _, err := os.Stat(keyFile); !errors.Is(err, fs.ErrNotExist) {
		t.Error("a master key was generated for a store that was refused")
	}
}

// keyFile writes a new master key to a file of its own and returns its path.
func keyFile(t *testing.T) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "master.key")
	if _, err := secrets.Generate(p); err != nil {
		t.Fatal(err)
	}
	return p
}

// newStore returns a SQLite store that exists, with no master key recorded;
// or, with postgres, a migrated PostgreSQL database.
func newStore(t *testing.T, postgres bool) store.URL {
	t.Helper()
	raw := "sqlite:" + filepath.Join(t.TempDir(), "imagequota.db")
	if postgres {
		raw = pgtest.NewDatabase(t)
	}
	u, err := store.ParseURL(raw)
	if err != nil {
		t.Fatal(err)
	}
	db, err := app.OpenStore(t.Context(), app.StoreConfig{URL: u, Migrate: true})
	if err != nil {
		t.Fatal(err)
	}
	db.Close()
	return u
}

// TestMasterKeyIsTheStores: the first server of a store records its master
// key (generating the file when it is absent); a replica with another key,
// or with no key file, refuses to start and leaves no key file behind; one
// with the same key starts.
func TestMasterKeyIsTheStores(t *testing.T) {
	t.Parallel()
	for _, engine := range []string{"sqlite", "postgres"} {
		t.Run(engine, func(t *testing.T) {
			t.Parallel()
			u := newStore(t, engine == "postgres")
			first := filepath.Join(t.TempDir(), "first.key")
			generated := ""
			start := func(k app.MasterKey) (*app.Server, error) {
				k.Actor = app.ServeActor
				return app.New(t.Context(), app.Config{Store: app.StoreConfig{URL: u, MasterKey: &k}})
			}
			s, err := start(app.MasterKey{File: first, Generate: true, Generated: func(f string) { generated = f }})
			if err != nil {
				t.Fatalf("first start: %v", err)
			}
			box, err := secrets.Load(first)
			if err != nil || generated != first {
				t.Fatalf("the first start generated %q: %v", generated, err)
			}
			if fp, err := s.DB.MasterKeyFingerprint(t.Context()); err != nil || fp != box.Fingerprint() {
				t.Errorf("recorded fingerprint %q (%v); want the generated key's %q", fp, err, box.Fingerprint())
			}
			testkit.NewAccount(t, s.DB, "http://127.0.0.1:1") // a sealed password
			s.Close()

			other := keyFile(t)
			absent := filepath.Join(t.TempDir(), "absent", "master.key")
			for _, tc := range []struct {
				name string
				key  app.MasterKey
				want string
			}{
				{"another key", app.MasterKey{File: other, Generate: true}, "is not this store's master key"},
				{"no key file", app.MasterKey{File: absent, Generate: true}, "does not exist"},
			} {
				_, err := start(tc.key)
				var mk *app.MasterKeyError
				if !errors.As(err, &mk) || !strings.Contains(err.Error(), tc.want) || !strings.Contains(err.Error(), tc.key.File) ||
					!strings.Contains(err.Error(), "--master-key-file") || !strings.Contains(err.Error(), "master-key rotate") {
					t.Errorf("%s: %v; want a MasterKeyError naming %s, saying %q and what to do", tc.name, err, tc.key.File, tc.want)
				}
			}
			if _, err := os.Stat(filepath.Dir(absent)); !errors.Is(err, fs.ErrNotExist) {
				t.Errorf("a refused start left a key file or its directory behind (%v)", err)
			}
			s, err = start(app.MasterKey{File: first})
			if err != nil {
				t.Fatalf("a start with the store's key: %v", err)
			}
			s.Close()
		})
	}
}

// TestConcurrentFirstStartsAgreeOnOneKey: replicas that start at once on a
// new PostgreSQL store, each generating a key of its own, leave one key
// recorded; the others refuse to start and remove the key they generated.
func TestConcurrentFirstStartsAgreeOnOneKey(t *testing.T) {
	t.Parallel()
	u := newStore(t, true)
	const n = 4
	files := make([]string, n)
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		files[i] = filepath.Join(t.TempDir(), "master.key")
		wg.Go(func() {
			s, err := app.New(t.Context(), app.Config{Store: app.StoreConfig{URL: u,
				MasterKey: &app.MasterKey{File: files[i], Generate: true, Actor: app.ServeActor}}})
			if err == nil {
				s.Close()
			}
			errs[i] = err
		})
	}
	wg.Wait()
	started := 0
	for i, err := range errs {
		_, statErr := os.Stat(files[i])
		switch {
		case err == nil:
			started++
			if statErr != nil {
				t.Errorf("replica %d started without its key file: %v", i, statErr)
			}
		case !errors.As(err, new(*app.MasterKeyError)):
			t.Errorf("replica %d: %v; want a MasterKeyError", i, err)
		case !errors.Is(statErr, fs.ErrNotExist):
			t.Errorf("replica %d was refused and left its generated key file (%v)", i, statErr)
		}
	}
	if started != 1 {
		t.Errorf("%d replicas started; want exactly 1", started)
	}
}

// TestMasterKeyOfAStoreWithoutFingerprint: a store whose passwords were
// sealed before fingerprints were recorded gets the fingerprint of the key
// that opens them; another key, or none, is refused and records nothing.
func TestMasterKeyOfAStoreWithoutFingerprint(t *testing.T) {
	t.Parallel()
	sc := sqliteStore(t) // seals with testkit.SecretBox and records no key
	db, err := app.OpenStore(t.Context(), sc)
	if err != nil {
		t.Fatal(err)
	}
	testkit.NewAccount(t, db, "http://127.0.0.1:1")
	defer db.Close()
	absent := filepath.Join(t.TempDir(), "master.key")
	for _, k := range []app.MasterKey{{File: keyFile(t)}, {File: absent, Generate: true}} {
		if err := app.UseMasterKey(t.Context(), db, k); !errors.As(err, new(*app.MasterKeyError)) {
			t.Errorf("key %s: %v; want a MasterKeyError", k.File, err)
		}
	}
	if _, err := os.Stat(absent); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("a key was generated for a store with sealed passwords (%v)", err)
	}
	if fp, err := db.MasterKeyFingerprint(t.Context()); err != nil || fp != "" {
		t.Fatalf("refused keys recorded %q (%v)", fp, err)
	}
	right := filepath.Join(t.TempDir(), "right.key")
	testkit.WriteMasterKey(t, right)
	if err := app.UseMasterKey(t.Context(), db, app.MasterKey{File: right, Actor: app.ServeActor}); err != nil {
		t.Fatalf("the key that sealed the passwords: %v", err)
	}
	if fp, err := db.MasterKeyFingerprint(t.Context()); err != nil || fp != testkit.SecretBox().Fingerprint() {
		t.Errorf("recorded %q (%v); want the fingerprint of the key that opens the passwords", fp, err)
	}
}

// TestDefaultMaxLivesInTheStore: a server given a default limit records it
// in the store, where a replica started without one and the admin's reads
// find it, and where a change is seen by the running servers.
func TestDefaultMaxLivesInTheStore(t *testing.T) {
	t.Parallel()
	for _, engine := range []string{"sqlite", "postgres"} {
		t.Run(engine, func(t *testing.T) {
			t.Parallel()
			u := newStore(t, engine == "postgres")
			seven := 7
			opts := store.Options{Secrets: testkit.SecretBox()}
			a, err := app.New(t.Context(), app.Config{Store: app.StoreConfig{URL: u, Options: opts}, DefaultMax: &seven})
			if err != nil {
				t.Fatal(err)
			}
			urlA := serve(t, a)
			b, err := app.New(t.Context(), app.Config{Store: app.StoreConfig{URL: u, Options: opts}})
			if err != nil {
				t.Fatal(err)
			}
			urlB := serve(t, b)
			acct := testkit.NewAccount(t, a.DB, urlA)
			maxCounts := func() [2]int {
				t.Helper()
				var got [2]int
				for i, url := range []string{urlA, urlB} {
					acct.Client.Endpoint = url
					q, err := acct.Client.DescribeImageQuota(t.Context(), &vmapi.DescribeImageQuotaRequest{ZoneIDs: []string{"jp-tokyo-1a"}})
					if err != nil {
						t.Fatal(err)
					}
					got[i] = q.Images[0].MaxCount
				}
				return got
			}
			if got := maxCounts(); got != [2]int{7, 7} {
				t.Errorf("maxCount on the server given 7 and on its replica: %v; want 7 on both", got)
			}
			limits, err := b.DB.ListLimits(t.Context())
			if err != nil || len(limits) != 1 || limits[0] != (quota.LimitOverride{MaxCount: 7}) {
				t.Errorf("limits in the store: %+v (%v); want the server-wide 7", limits, err)
			}
			recs, err := b.DB.ListAudit(t.Context(), quota.AuditFilter{})
			if err != nil {
				t.Fatal(err)
			}
			if i := slices.IndexFunc(recs, func(r quota.AuditRecord) bool { return r.Action == "SetLimit" }); i < 0 || recs[i].Actor != app.ServeActor.Name {
				t.Errorf("no SetLimit by %s in the audit trail: %+v", app.ServeActor.Name, recs)
			}
			// What an admin sets is what both servers answer.
			if _, err := b.DB.SetLimit(t.Context(), quota.LimitOverride{MaxCount: 9}, quota.AdminActor); err != nil {
				t.Fatal(err)
			}
			if got := maxCounts(); got != [2]int{9, 9} {
				t.Errorf("maxCount after the admin set 9: %v; want 9 on both", got)
			}
			// A restart with the value given makes it the store's again, once.
			setLimits := func() int {
				t.Helper()
				recs, err := b.DB.ListAudit(t.Context(), quota.AuditFilter{})
				if err != nil {
					t.Fatal(err)
				}
				n := 0
				for _, r := range recs {
					if r.Action == "SetLimit" && r.Actor == app.ServeActor.Name {
						n++
					}
				}
				return n
			}
			for range 2 {
				c, err := app.New(t.Context(), app.Config{Store: app.StoreConfig{URL: u, Options: opts}, DefaultMax: &seven})
				if err != nil {
					t.Fatal(err)
				}
				c.Close()
			}
			if n := setLimits(); n != 2 {
				t.Errorf("%d SetLimit records by %s after two restarts with 7 over an admin's 9; want 2 (the first start's and one more)", n, app.ServeActor.Name)
			}
			if got := maxCounts(); got != [2]int{7, 7} {
				t.Errorf("maxCount after a restart with 7: %v; want 7 on both", got)
			}
		})
	}
}

// TestAuditRetentionPrunesAtStart: a server prunes the audit trail to its
// retention as it starts, and leaves a record saying so.
func TestAuditRetentionPrunesAtStart(t *testing.T) {
	t.Parallel()
	u := newStore(t, false)
	old := time.Now().Add(-2 * time.Hour)
	db, err := app.OpenStore(t.Context(), app.StoreConfig{URL: u, Options: store.Options{Now: func() time.Time { return old }}})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := db.CreateAccountAs(t.Context(), "old", quota.AdminActor); err != nil {
		t.Fatal(err)
	}
	db.Close()
	s, err := app.New(t.Context(), app.Config{Store: app.StoreConfig{URL: u}, AuditRetention: store.AuditRetention{MaxAge: time.Hour}})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	deadline := time.Now().Add(30 * time.Second)
	for {
		recs, err := s.DB.ListAudit(t.Context(), quota.AuditFilter{})
		if err != nil {
			t.Fatal(err)
		}
		if len(recs) == 1 && recs[0].Action == "PruneAudit" && recs[0].Actor == store.RetentionActor.Name {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("audit trail %+v; want only the PruneAudit record of the pruning at start", recs)
		}
		time.Sleep(20 * time.Millisecond)
	}
}
