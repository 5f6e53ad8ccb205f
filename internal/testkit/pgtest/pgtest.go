// Package pgtest makes PostgreSQL databases and schemas for tests and
// benchmarks: each gets a new database, or a new schema in the database, on
// the server named by IMAGEQUOTA_TEST_POSTGRES, and drops it when done. It
// imports no imagequota package, so that any package's tests can use it,
// the store's conformance suite included.
package pgtest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"net/url"
	"os"
	"regexp"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
)

// ServerEnv names the variable holding a PostgreSQL server URL for tests.
const ServerEnv = "IMAGEQUOTA_TEST_POSTGRES"

// RequireEnv, when set (as CI does), makes the PostgreSQL tests fail instead
// of skipping when ServerEnv is not set.
const RequireEnv = "IMAGEQUOTA_REQUIRE_POSTGRES"

// adminTimeout bounds creating or dropping a database. A busy shared server
// can take seconds: DROP … WITH (FORCE) first ends every session on it.
const adminTimeout = 30 * time.Second

// Server returns the server URL in ServerEnv. Without it t is skipped, with
// the reason, or fails when RequireEnv is set.
func Server(t testing.TB) string {
	t.Helper()
	server := os.Getenv(ServerEnv)
	if server == "" {
		if os.Getenv(RequireEnv) != "" {
			t.Fatal(RequireEnv + " is set but " + ServerEnv + " is not")
		}
		t.Skip("PostgreSQL tests skipped: " + ServerEnv + " is not set")
	}
	return server
}

// NewDatabase creates an empty database for t on the server in ServerEnv,
// drops it when t ends, and returns its URL. Without a server t is skipped
// (or fails, as Server says).
func NewDatabase(t testing.TB) string {
	t.Helper()
	return forTest(t, Create)
}

// forTest makes a database or schema for t with create, drops it when t
// ends, and returns its URL.
func forTest(t testing.TB, create func(ctx context.Context, server, prefix string) (string, func(context.Context) error, error)) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), adminTimeout)
	defer cancel()
	u, drop, err := create(ctx, Server(t), "imagequota_test")
	if err != nil {
		t.Fatalf("postgres: %v", err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), adminTimeout)
		defer cancel()
		if err := drop(ctx); err != nil {
			t.Errorf("postgres: %v", err)
		}
	})
	return u
}

// NewSchema creates an empty schema for t in the database that the server
// URL in ServerEnv names, drops it (with everything in it) when t ends, and
// returns that URL with search_path set to the schema, so that a store
// opened on it creates and finds its tables there. Without a server t is
// skipped (or fails, as Server says).
//
// A schema costs the server a catalogue row; a database (NewDatabase) is a
// copy of template1, a few hundred files written and, when dropped, removed.
// Use NewDatabase for a test that needs a database of its own: one that
// counts the sessions on it, say. Sessions on other schemas share the
// database's advisory locks, which the store takes only briefly.
func NewSchema(t testing.TB) string {
	t.Helper()
	return forTest(t, CreateSchema)
}

// CreateSchema creates an empty schema named prefix_ and 12 random hex
// digits in the database that server names, and returns server's URL with
// search_path set to it and a function that drops it, ending first any
// session that holds a lock on something in it.
func CreateSchema(ctx context.Context, server, prefix string) (schemaURL string, drop func(context.Context) error, err error) {
	u, name, err := newName(server, prefix, "schema")
	if err != nil {
		return "", nil, err
	}
	if err := exec(ctx, server, "CREATE SCHEMA "+name); err != nil {
		return "", nil, fmt.Errorf("create schema %s: %w", name, err)
	}
	drop = func(ctx context.Context) error {
		// A session left idle in a transaction (a server stopped with
		// SIGSTOP, say) would make DROP SCHEMA wait for its locks.
		if err := exec(ctx, server, `SELECT pg_terminate_backend(l.pid) FROM pg_locks l
			JOIN pg_class c ON c.oid = l.relation JOIN pg_namespace n ON n.oid = c.relnamespace
			WHERE n.nspname = '`+name+`' AND l.pid <> pg_backend_pid()`); err != nil {
			return fmt.Errorf("drop schema %s: %w", name, err)
		}
		if err := exec(ctx, server, "DROP SCHEMA IF EXISTS "+name+" CASCADE"); err != nil {
			return fmt.Errorf("drop schema %s: %w", name, err)
		}
		return nil
	}
	q := u.Query()
	q.Set("search_path", name)
	u.RawQuery = q.Encode()
	return u.String(), drop, nil
}

// newName checks prefix and server's URL, and returns the URL parsed and a
// new name for a database or schema (what): prefix_ and 12 random hex
// digits.
func newName(server, prefix, what string) (*url.URL, string, error) {
	if !namePrefix.MatchString(prefix) {
		return nil, "", fmt.Errorf("%s name prefix %q is not a lower-case identifier", what, prefix)
	}
	u, err := url.Parse(server)
	if err != nil {
		return nil, "", errors.New("the server URL does not parse")
	}
	b := make([]byte, 6)
	_, _ = rand.Read(b)
	return u, prefix + "_" + hex.EncodeToString(b), nil
}

// namePrefix matches the prefixes Create and CreateSchema accept: the names
// are spliced into SQL, so they must be plain identifiers.
var namePrefix = regexp.MustCompile(`^[a-z][a-z0-9_]{0,40}$`)

// Create creates an empty database named prefix_ and 12 random hex digits on
// the PostgreSQL server at server, and returns its URL (server's URL with the
// database name in its path) and a function that drops it, ending any
// session still on it.
func Create(ctx context.Context, server, prefix string) (dbURL string, drop func(context.Context) error, err error) {
	u, name, err := newName(server, prefix, "database")
	if err != nil {
		return "", nil, err
	}
	// FILE_COPY copies template1's few megabytes as files; the default
	// (WAL_LOG, since PostgreSQL 15) writes every page of it to the WAL,
	// which costs the server about twice the CPU, and the tests make
	// dozens of databases.
	if err := exec(ctx, server, "CREATE DATABASE "+name+createStrategy(ctx, server)); err != nil {
		return "", nil, fmt.Errorf("create database %s: %w", name, err)
	}
	drop = func(ctx context.Context) error {
		if err := exec(ctx, server, "DROP DATABASE IF EXISTS "+name+" WITH (FORCE)"); err != nil {
			return fmt.Errorf("drop database %s: %w", name, err)
		}
		return nil
	}
	u.Path = "/" + name
	return u.String(), drop, nil
}

// createStrategy is the STRATEGY clause for CREATE DATABASE on server:
// FILE_COPY from PostgreSQL 15, where the clause exists; nothing before.
func createStrategy(ctx context.Context, server string) string {
	strategyOnce.Do(func() {
		p, err := adminPool(server)
		if err != nil {
			return
		}
		var v int
		if p.QueryRow(ctx, "SELECT current_setting('server_version_num')::int").Scan(&v) == nil && v >= 150000 {
			strategy = " STRATEGY FILE_COPY"
		}
	})
	return strategy
}

var (
	strategyOnce sync.Once
	strategy     string
)

// adminConns bounds the sessions each server's pool keeps for creating and
// dropping databases: tests that start together wait their turn for one.
const adminConns = 4

var (
	adminMu    sync.Mutex
	adminPools = map[string]*pgxpool.Pool{}
)

// adminPool returns the pool of sessions on server that create and drop the
// databases, made at first use and kept for the rest of the process. A
// new PostgreSQL session costs the server tens of milliseconds of CPU, and
// a test run makes and drops dozens of databases.
func adminPool(server string) (*pgxpool.Pool, error) {
	adminMu.Lock()
	defer adminMu.Unlock()
	if p := adminPools[server]; p != nil {
		return p, nil
	}
	cfg, err := pgxpool.ParseConfig(server)
	if err != nil {
		return nil, err
	}
	cfg.MaxConns = adminConns
	p, err := pgxpool.NewWithConfig(context.Background(), cfg)
	if err != nil {
		return nil, err
	}
	adminPools[server] = p
	return p, nil
}

// exec runs one statement on server, in a session of its pool.
func exec(ctx context.Context, server, sql string) error {
	p, err := adminPool(server)
	if err != nil {
		return err
	}
	_, err = p.Exec(ctx, sql)
	return err
}
