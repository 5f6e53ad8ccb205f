package postgres

import (
	"context"
	"os"
	"testing"
	"time"
)

// TestPostgresObserveTextArray: the scopes reach PostgreSQL as the very
// strings they are, quotes, backslashes, commas, braces and the empty
// global scope included, and a scope without a row has version 0.
func TestPostgresObserveTextArray(t *testing.T) {
	url := os.Getenv("IMAGEQUOTA_TEST_POSTGRES")
	if url == "" {
		t.Skip("IMAGEQUOTA_TEST_POSTGRES is not set")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	e, err := Open(ctx, url, Options{MaxConns: 2})
	if err != nil {
		t.Fatal(err)
	}
	defer e.Close()
	scopes := []string{"", "acct-1", "cred:acct-1", `a"b`, `c\d`, "e,f", "{g}", "NULL", " h "}
	// A table of the same name in a schema of this session's own, so the
	// database's own cache_versions is not touched.
	schema := "observe_test_" + time.Now().Format("150405_000000")
	if _, err := e.db.ExecContext(ctx, `CREATE SCHEMA `+schema); err != nil {
		t.Fatal(err)
	}
	defer e.db.ExecContext(context.Background(), `DROP SCHEMA `+schema+` CASCADE`)
	if _, err := e.db.ExecContext(ctx, `CREATE TABLE `+schema+`.cache_versions (scope TEXT PRIMARY KEY, version BIGINT NOT NULL)`); err != nil {
		t.Fatal(err)
	}
	for i, s := range scopes[:len(scopes)-1] {
		if _, err := e.db.ExecContext(ctx, `INSERT INTO `+schema+`.cache_versions VALUES ($1, $2)`, s, i+1); err != nil {
			t.Fatal(err)
		}
	}
	cfg := e.obs.cfg.Copy()
	cfg.RuntimeParams["search_path"] = schema
	o := &observer{cfg: cfg}
	defer o.close()
	for range 2 { // a new connection, then the same one
		got, err := o.Fetch(ctx, scopes)
		if err != nil {
			t.Fatal(err)
		}
		for i, s := range scopes {
			want := int64(i + 1)
			if i == len(scopes)-1 {
				want = 0
			}
			if got[s] != want {
				t.Errorf("scope %q: version %d, want %d", s, got[s], want)
			}
		}
		if len(got) != len(scopes) {
			t.Errorf("%d versions for %d scopes: %v", len(got), len(scopes), got)
		}
	}
	// A connection the server closed is replaced within the same call.
	if _, err := e.db.ExecContext(ctx, `SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE pid = $1`, int(o.conn.PgConn().PID())); err != nil {
		t.Fatal(err)
	}
	time.Sleep(100 * time.Millisecond)
	if got, err := o.Fetch(ctx, scopes[:2]); err != nil || got["acct-1"] != 2 {
		t.Fatalf("after the connection was closed: %v, %v", got, err)
	}
}
