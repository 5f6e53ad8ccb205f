// Package testkit starts real imagequota servers for tests: a real listener on
// 127.0.0.1, a real store (a temporary SQLite file, or a fresh PostgreSQL
// database), and clients that sign with real access keys.
package testkit

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/imagequota/imagequota/client"
	"github.com/imagequota/imagequota/internal/app"
	"github.com/imagequota/imagequota/internal/quota"
	"github.com/imagequota/imagequota/internal/secrets"
	"github.com/imagequota/imagequota/internal/store"
	"github.com/imagequota/imagequota/internal/testkit/pgtest"
	"github.com/imagequota/imagequota/internal/usagemetrics"
	"github.com/imagequota/imagequota/internal/vm"
	"github.com/imagequota/imagequota/internal/webhook"
	"github.com/imagequota/imagequota/internal/zcapi"

	"github.com/prometheus/client_golang/prometheus"
)

// PostgresEnv names the variable holding a PostgreSQL server URL for tests.
//
// Deprecated: use pgtest.ServerEnv.
const PostgresEnv = pgtest.ServerEnv

// RequirePostgresEnv, when set (as CI does), makes the PostgreSQL tests fail
// instead of skipping when no server is configured.
//
// Deprecated: use pgtest.RequireEnv.
const RequirePostgresEnv = pgtest.RequireEnv

// SQLiteURL returns the URL of a new SQLite file in a temporary directory.
// The directory is the test's own unless its path holds a '#' (a subtest
// "a#b", or a second subtest of the same name, which go test numbers "#01")
// or a '?': a SQLite path may hold neither, so the file goes to a new
// directory, removed when the test ends.
func SQLiteURL(t testing.TB) string {
	t.Helper()
	dir := t.TempDir()
	if strings.ContainsAny(dir, "?#") {
		d, err := os.MkdirTemp("", "imagequota-sqlite-")
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = os.RemoveAll(d) })
		dir = d
	}
	return "sqlite:" + filepath.Join(dir, "imagequota.db")
}

// PostgresURL creates a fresh database on the server named by
// IMAGEQUOTA_TEST_POSTGRES, drops it when the test ends, and returns its URL.
// Without the variable the test is skipped.
//
// Deprecated: use pgtest.NewDatabase, which packages testkit cannot be
// imported from (the store's own) can use too.
func PostgresURL(t testing.TB) string {
	t.Helper()
	return pgtest.NewDatabase(t)
}

var testMasterKey = sha256.Sum256([]byte("imagequota test master key"))

// SecretBox is the master key test stores seal access key passwords with.
func SecretBox() *secrets.Box {
	box, err := secrets.New(testMasterKey[:])
	if err != nil {
		panic(err)
	}
	return box
}

// OpenStore opens and migrates a store at dbURL, closed when the test ends.
// Without opts.Secrets it seals with SecretBox.
func OpenStore(t testing.TB, dbURL string, opts store.Options) *store.DB {
	t.Helper()
	u, err := store.ParseURL(dbURL)
	if err != nil {
		t.Fatalf("open store: %v", err)
	}
	if opts.Secrets == nil {
		opts.Secrets = SecretBox()
		writeMasterKeyBeside(t, u)
	}
	if u.Engine == store.EngineSQLite {
		startFromTemplate(t, u.Path)
	}
	db, err := app.OpenStore(context.Background(), app.StoreConfig{URL: u, Options: opts, Migrate: true})
	if err != nil {
		t.Fatalf("open store: %v", err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

var (
	templateOnce sync.Once
	template     []byte
	templateErr  error
)

// startFromTemplate makes a new SQLite store at path a copy of one migrated
// once per test process, unless a file is there already. Parsing the
// migrations' SQL takes a tenth of a second under the race detector, and the
// tests open many stores; the migrations themselves are tested where
// they run, in the store's tests and by the commands on fresh directories.
func startFromTemplate(t testing.TB, path string) {
	t.Helper()
	if _, err := os.Stat(path); !errors.Is(err, fs.ErrNotExist) {
		return
	}
	templateOnce.Do(func() { template, templateErr = migratedSQLite() })
	if templateErr != nil {
		t.Fatalf("the migrated SQLite template: %v", templateErr)
	}
	// The store makes a missing directory itself; the copy is skipped then.
	if err := os.WriteFile(path, template, 0o600); err != nil && !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("copying the migrated SQLite template: %v", err)
	}
}

// migratedSQLite returns the file of a new SQLite store, migrated and closed.
func migratedSQLite() ([]byte, error) {
	dir, err := os.MkdirTemp("", "imagequota-template-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(dir)
	path := filepath.Join(dir, "imagequota.db")
	db, err := store.Open(context.Background(), "sqlite:"+path, store.Options{})
	if err != nil {
		return nil, err
	}
	if err := db.Close(); err != nil {
		return nil, err
	}
	// Closing the last connection checkpoints the WAL into the file and
	// removes it; a WAL left behind would hold part of the schema.
	if _, err := os.Stat(path + "-wal"); !errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("closing the store left %s-wal", path)
	}
	return os.ReadFile(path)
}

// Options configure a test server.
type Options struct {
	// DBURL is the store; empty means a new SQLite file.
	DBURL string
	// DB, when set, is used instead of opening DBURL.
	DB      *store.DB
	Catalog *quota.Catalog
	// DefaultMax, when not 0, is recorded in the store as the server-wide
	// limit, as serve --default-max-count records it; 0 leaves the store as
	// it is (with no limit set, quota.DefaultMaxCount applies).
	DefaultMax int
	BuildTime  time.Duration
	Now        func() time.Time
	// Timeouts, RateLimit and RateBurst configure the HTTP server as serve's flags do.
	Timeouts  zcapi.Timeouts
	RateLimit float64
	RateBurst int
	// RequestTimeout bounds each request's work, as serve's --request-timeout
	// does; 0 means a minute, not serve's 4 s: on a busy machine a test's
	// burst of concurrent creates can queue on the one SQLite writer for
	// longer than that, and the tests check outcomes, not latency.
	RequestTimeout time.Duration
	// AfterAdmissionCheck is passed to the store (see store.Options).
	AfterAdmissionCheck func(accountID, locationID string, count, max int)
	// AutoApprove and Webhook configure quota requests and events as
	// serve's --auto-approve-up-to and --webhook-* flags do.
	AutoApprove quota.AutoApproval
	Webhook     *webhook.Config
	// Metrics tunes the quota figures on /metrics, as serve's --metrics-*
	// flags do.
	Metrics usagemetrics.Options
	// Console serves the operator console under /console/, as serve does
	// unless --console=false.
	Console bool
}

// Server is a running test server.
type Server struct {
	URL      string
	DB       *store.DB
	Catalog  *quota.Catalog
	Service  *vm.Service
	Registry *prometheus.Registry
	logs     *SyncBuffer
}

// Start starts a server on a real listener; it stops when the test ends.
func Start(t testing.TB, o Options) *Server {
	t.Helper()
	if o.DB == nil {
		if o.DBURL == "" {
			o.DBURL = SQLiteURL(t)
		}
		o.DB = OpenStore(t, o.DBURL, store.Options{Now: o.Now, AfterAdmissionCheck: o.AfterAdmissionCheck})
	}
	var defaultMax *int
	if o.DefaultMax != 0 {
		defaultMax = &o.DefaultMax
	}
	if o.RequestTimeout == 0 {
		o.RequestTimeout = time.Minute
	}
	logs := &SyncBuffer{}
	srv, err := app.New(context.Background(), app.Config{
		DB: o.DB, Catalog: o.Catalog, DefaultMax: defaultMax, BuildTime: o.BuildTime, Now: o.Now,
		Logger:         slog.New(slog.NewJSONHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug})),
		RequestTimeout: o.RequestTimeout, RateLimit: o.RateLimit, RateBurst: o.RateBurst, Timeouts: o.Timeouts,
		AutoApprove: o.AutoApprove, Webhook: o.Webhook, Metrics: o.Metrics, Console: o.Console,
	})
	if err != nil {
		t.Fatalf("assembling the server: %v", err)
	}
	// After the listener closes and before the store does: it stops the
	// server's own goroutines (the delivery of events).
	t.Cleanup(func() { srv.Close() })
	hs := httptest.NewUnstartedServer(nil)
	hs.Config = srv.HTTP
	hs.Start()
	t.Cleanup(hs.Close)
	return &Server{URL: hs.URL, DB: srv.DB, Catalog: srv.Catalog, Service: srv.Service, Registry: srv.Registry, logs: logs}
}

// Logs returns everything the server logged so far.
func (s *Server) Logs() string { return s.logs.String() }

// Account is a test account with a signing client.
type Account struct {
	ID     string
	Key    quota.AccessKey
	Client *client.Client
}

// NewAccount creates an account with an access key and returns a client for it.
func (s *Server) NewAccount(t testing.TB) Account {
	t.Helper()
	return NewAccount(t, s.DB, s.URL)
}

// NewAccount creates an account with an access key in db and returns a client for endpoint.
func NewAccount(t testing.TB, db *store.DB, endpoint string) Account {
	t.Helper()
	ctx := context.Background()
	a, err := db.CreateAccount(ctx, t.Name())
	if err != nil {
		t.Fatalf("create account: %v", err)
	}
	k, err := db.CreateAccessKey(ctx, a.ID)
	if err != nil {
		t.Fatalf("create access key: %v", err)
	}
	return Account{ID: a.ID, Key: k, Client: client.New(endpoint, k.ID, k.Secret)}
}

// NewInstance registers an instance for an account in a location.
func (s *Server) NewInstance(t testing.TB, accountID, location string) quota.Instance {
	t.Helper()
	in, err := s.DB.CreateInstance(context.Background(), quota.Instance{
		AccountID: accountID, LocationID: location, DiskGB: 40, OSCategory: "Ubuntu", OSType: "linux", OSVersion: "22.04",
	})
	if err != nil {
		t.Fatalf("create instance: %v", err)
	}
	return in
}

// SyncBuffer is a buffer that one goroutine writes while another reads.
type SyncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *SyncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *SyncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// Clock is a settable clock for tests.
type Clock struct {
	mu  sync.Mutex
	now time.Time
}

// NewClock returns a clock set to t.
func NewClock(t time.Time) *Clock { return &Clock{now: t} }

// Now returns the clock's time.
func (c *Clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

// Advance moves the clock forward.
func (c *Clock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

var (
	keyFileOnce sync.Once
	keyFileDir  string
	keyFilePath string
)

// MasterKeyFile returns a file (mode 0600) holding SecretBox's key, for the
// imagequota binary's --master-key-file / IMAGEQUOTA_MASTER_KEY_FILE. Main
// removes it when the tests end.
func MasterKeyFile() string {
	keyFileOnce.Do(func() {
		dir, err := os.MkdirTemp("", "imagequota-key-")
		if err != nil {
			return
		}
		keyFileDir = dir
		p := filepath.Join(dir, "master.key")
		if err := os.WriteFile(p, []byte(hex.EncodeToString(testMasterKey[:])+"\n"), 0o600); err == nil {
			keyFilePath = p
		}
	})
	if keyFilePath == "" {
		panic("testkit: could not write the test master key file")
	}
	return keyFilePath
}

// WriteMasterKey writes SecretBox's key to path (mode 0600), as a master key
// file for app.MasterKey or the imagequota binary.
func WriteMasterKey(t testing.TB, path string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(hex.EncodeToString(testMasterKey[:])+"\n"), 0o600); err != nil {
		t.Fatalf("writing the test master key: %v", err)
	}
}

// writeMasterKeyBeside puts the test master key beside a SQLite file, where
// the imagequota binary looks for it by default.
func writeMasterKeyBeside(t testing.TB, u store.URL) {
	t.Helper()
	if u.Engine != store.EngineSQLite {
		return
	}
	p := filepath.Join(filepath.Dir(u.Path), "master.key")
	if _, err := os.Stat(p); err == nil {
		return
	}
	if err := os.WriteFile(p, []byte(hex.EncodeToString(testMasterKey[:])+"\n"), 0o600); err != nil {
		t.Fatalf("writing the test master key: %v", err)
	}
}
