// Package testkit starts real imagequota servers for tests: a real listener on
// 127.0.0.1, a real store (a temporary SQLite file, or a fresh PostgreSQL
// database), and clients that sign with real access keys.
package testkit

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"database/sql"
	"encoding/hex"
	"log/slog"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	_ "github.com/jackc/pgx/v5/stdlib" // the "pgx" driver, for making test databases

	"imagequota/client"
	"imagequota/internal/quota"
	"imagequota/internal/secrets"
	"imagequota/internal/store"
	"imagequota/internal/vm"
	"imagequota/internal/zcapi"

	"github.com/prometheus/client_golang/prometheus"
)

// PostgresEnv names the variable holding a PostgreSQL server URL for tests.
const PostgresEnv = "IMAGEQUOTA_TEST_POSTGRES"

// RequirePostgresEnv, when set (as CI does), makes the PostgreSQL tests fail
// instead of skipping when no server is configured.
const RequirePostgresEnv = "IMAGEQUOTA_REQUIRE_POSTGRES"

// SQLiteURL returns the URL of a new SQLite file in a temporary directory.
func SQLiteURL(t testing.TB) string {
	t.Helper()
	return "sqlite:" + filepath.Join(t.TempDir(), "imagequota.db")
}

// PostgresURL creates a fresh database on the server named by
// IMAGEQUOTA_TEST_POSTGRES, drops it when the test ends, and returns its URL.
// Without the variable the test is skipped.
func PostgresURL(t testing.TB) string {
	t.Helper()
	base := os.Getenv(PostgresEnv)
	if base == "" {
		if os.Getenv(RequirePostgresEnv) != "" {
			t.Fatal(RequirePostgresEnv + " is set but " + PostgresEnv + " is not")
		}
		t.Skip("PostgreSQL tests skipped: " + PostgresEnv + " is not set")
	}
	admin, err := sql.Open("pgx", base)
	if err != nil {
		t.Fatalf("postgres: %v", err)
	}
	defer admin.Close()
	b := make([]byte, 6)
	_, _ = rand.Read(b)
	name := "imagequota_test_" + hex.EncodeToString(b)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if _, err := admin.ExecContext(ctx, "CREATE DATABASE "+name); err != nil {
		t.Fatalf("postgres: create database: %v", err)
	}
	t.Cleanup(func() {
		a, err := sql.Open("pgx", base)
		if err != nil {
			t.Errorf("postgres: %v", err)
			return
		}
		defer a.Close()
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if _, err := a.ExecContext(ctx, "DROP DATABASE IF EXISTS "+name+" WITH (FORCE)"); err != nil {
			t.Errorf("postgres: drop database %s: %v", name, err)
		}
	})
	u, err := url.Parse(base)
	if err != nil {
		t.Fatalf("postgres: %s is not a URL: %v", PostgresEnv, err)
	}
	u.Path = "/" + name
	return u.String()
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

// OpenStore opens (and, for PostgreSQL, migrates) a store at dbURL, closed
// when the test ends. Without opts.Secrets it seals with SecretBox.
func OpenStore(t testing.TB, dbURL string, opts store.Options) *store.DB {
	t.Helper()
	ctx := context.Background()
	if opts.Secrets == nil {
		opts.Secrets = SecretBox()
		writeMasterKeyBeside(t, dbURL)
	}
	db, err := store.Open(ctx, dbURL, opts)
	if err != nil {
		t.Fatalf("open store: %v", err)
	}
	if _, err := db.Migrate(ctx); err != nil {
		t.Fatalf("migrate: %v", err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

// Options configure a test server.
type Options struct {
	// DBURL is the store; empty means a new SQLite file.
	DBURL string
	// DB, when set, is used instead of opening DBURL.
	DB         *store.DB
	Catalog    *quota.Catalog
	DefaultMax int // 0 means quota.DefaultMaxCount
	BuildTime  time.Duration
	Now        func() time.Time
	// Timeouts, RateLimit and RateBurst configure the HTTP server as serve's flags do.
	Timeouts  zcapi.Timeouts
	RateLimit float64
	RateBurst int
	// AfterAdmissionCheck is passed to the store (see store.Options).
	AfterAdmissionCheck func(accountID, locationID string, count, max int)
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
	if o.Catalog == nil {
		o.Catalog = quota.DefaultCatalog()
	}
	if o.DefaultMax == 0 {
		o.DefaultMax = quota.DefaultMaxCount
	}
	logs := &SyncBuffer{}
	reg := prometheus.NewRegistry()
	svc := &vm.Service{Store: o.DB, Catalog: o.Catalog, DefaultMax: o.DefaultMax, BuildTime: o.BuildTime, Now: o.Now}
	api := zcapi.NewServer(zcapi.Config{
		Auth: o.DB, Actions: svc.Actions(), Registry: reg, Ready: o.DB.Ping, Now: o.Now,
		Logger:    slog.New(slog.NewJSONHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug})),
		RateLimit: o.RateLimit, RateBurst: o.RateBurst,
	})
	hs := httptest.NewUnstartedServer(nil)
	hs.Config = api.HTTPServer(o.Timeouts)
	hs.Start()
	t.Cleanup(hs.Close)
	return &Server{URL: hs.URL, DB: o.DB, Catalog: o.Catalog, Service: svc, Registry: reg, logs: logs}
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
	keyFilePath string
)

// MasterKeyFile returns a file (mode 0600) holding SecretBox's key, for the
// imagequota binary's --master-key-file / IMAGEQUOTA_MASTER_KEY_FILE.
func MasterKeyFile() string {
	keyFileOnce.Do(func() {
		dir, err := os.MkdirTemp("", "imagequota-key-")
		if err != nil {
			return
		}
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

// writeMasterKeyBeside puts the test master key beside a SQLite file, where
// the imagequota binary looks for it by default.
func writeMasterKeyBeside(t testing.TB, dbURL string) {
	t.Helper()
	path, ok := strings.CutPrefix(dbURL, "sqlite:")
	if !ok {
		return
	}
	p := filepath.Join(filepath.Dir(path), "master.key")
	if _, err := os.Stat(p); err == nil {
		return
	}
	if err := os.WriteFile(p, []byte(hex.EncodeToString(testMasterKey[:])+"\n"), 0o600); err != nil {
		t.Fatalf("writing the test master key: %v", err)
	}
}
