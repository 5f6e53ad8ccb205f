package main

import (
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/imagequota/imagequota/internal/testkit/pgtest"
	"github.com/imagequota/imagequota/vmapi"
)

type migration struct {
	Version int    `json:"version"`
	Name    string `json:"name"`
	Applied bool   `json:"applied"`
}

// migrations runs "migrate --db URL status --output json".
func migrations(t *testing.T, dbURL string) []migration {
	t.Helper()
	r := runWith(t, nil, "migrate", "--db", dbURL, "status", "--output", "json")
	if r.code != 0 {
		t.Fatalf("migrate status: exit %d: %s", r.code, r.stderr)
	}
	var ms []migration
	mustUnmarshal(t, []byte(r.stdout), &ms)
	if len(ms) == 0 {
		t.Fatal("migrate status lists no migrations")
	}
	return ms
}

func TestMigrateSQLite(t *testing.T) {
	t.Parallel()
	c := newCLI(t)
	dbURL := "sqlite:" + filepath.Join(c.dir, "imagequota.db")
	tests := []struct {
		name   string
		args   []string
		stdout string
	}{
		// SQLite is migrated when it is opened; migrate reports what that applied.
		{"up", []string{"migrate", "--data-dir", c.dir}, "applied 0001_init\napplied 0002_cache_versions\napplied 0003_audit_pages\n"},
		{"up again", []string{"migrate", "--db", dbURL, "up"}, "The schema is up to date; nothing to apply."},
		{"status", []string{"migrate", "--data-dir", c.dir, "status"}, "0001_init"},
	}
	for _, tc := range tests {
		r := c.run(t, tc.args...)
		if r.code != 0 || !strings.Contains(r.stdout, tc.stdout) {
			t.Errorf("%s: exit %d, stdout %q, stderr %q; want %q", tc.name, r.code, r.stdout, r.stderr, tc.stdout)
		}
	}
	for _, m := range migrations(t, dbURL) {
		if !m.Applied {
			t.Errorf("migration %+v is not applied", m)
		}
	}
}

func TestMigratePostgres(t *testing.T) {
	t.Parallel()
	dbURL := pgtest.NewDatabase(t)
	c := setup(t)
	// Every run shares one master key file, outside the working directory.
	keyEnv := []string{"IMAGEQUOTA_MASTER_KEY_FILE=" + filepath.Join(t.TempDir(), "master.key")}
	for _, m := range migrations(t, dbURL) {
		if m.Applied {
			t.Errorf("migration %+v is applied on a new database", m)
		}
	}

	// A database never migrated is refused by the server and the admin
	// command alike, which say how to create the schema.
	for _, args := range [][]string{
		{"serve", "--addr", "127.0.0.1:0", "--db", dbURL},
		{"admin", "--db", dbURL, "account", "list"},
	} {
		r := runWith(t, keyEnv, args...)
		if r.code != 1 || !strings.Contains(r.stderr, "has no imagequota schema yet") || !strings.Contains(r.stderr, `create it with "imagequota migrate"`) {
			t.Errorf("%s on an unmigrated database: exit %d, %s", args[0], r.code, r.stderr)
		}
	}

	// Several migrates at once are safe: exactly one applies each migration.
	outs := make([]result, 3)
	var wg sync.WaitGroup
	for i := range outs {
		wg.Go(func() { outs[i] = runWith(t, keyEnv, "migrate", "--db", dbURL, "up") })
	}
	wg.Wait()
	applied := 0
	for _, r := range outs {
		if r.code != 0 {
			t.Errorf("concurrent migrate: exit %d: %s", r.code, r.stderr)
		}
		applied += strings.Count(r.stdout, "applied 0001_init")
	}
	if applied != 1 {
		t.Errorf("0001_init applied %d times by concurrent migrates", applied)
	}
	for _, m := range migrations(t, dbURL) {
		if !m.Applied {
			t.Errorf("migration %+v is not applied after migrate up", m)
		}
	}
	if r := runWith(t, keyEnv, "migrate", "--db", dbURL, "status"); r.code != 0 || !strings.Contains(r.stdout, "applied") || strings.Contains(r.stdout, "pending") {
		t.Errorf("migrate status: exit %d, %s", r.code, r.stdout)
	}

	// Migrated, the same URL serves and is administered.
	c.env = append([]string{"IMAGEQUOTA_DB=" + dbURL}, keyEnv...)
	acct, keyID, secret := c.newAccountByEnv(t)
	s := c.serve(t)
	if !strings.Contains(s.stdout.String(), "(store: postgres://") {
		t.Errorf("serve with IMAGEQUOTA_DB does not name the PostgreSQL store:\n%s", s.stdout.String())
	}
	var q vmapi.DescribeImageQuotaResponse
	callOK(t, callEnv(s.url, keyID, secret), &q, "DescribeImageQuota")
	if len(q.Images) != 21 {
		t.Errorf("DescribeImageQuota for %s on PostgreSQL: %+v", acct, q.Images)
	}
}

// newAccountByEnv creates an account and key in the store the environment names.
func (c *cli) newAccountByEnv(t *testing.T) (accountID, keyID, secret string) {
	t.Helper()
	var acct struct{ AccountID string }
	mustUnmarshal(t, []byte(c.run(t, "admin", "account", "create", "--name", "pg", "--output", "json").stdout), &acct)
	var key struct{ AccessKeyID, AccessKeyPassword string }
	mustUnmarshal(t, []byte(c.run(t, "admin", "key", "create", "--account", acct.AccountID, "--output", "json").stdout), &key)
	return acct.AccountID, key.AccessKeyID, key.AccessKeyPassword
}

// TestMigrateRecordsAnExistingMasterKey: migrate records the master key file
// it finds as the store's key, refuses another key file that exists, and
// never generates one.
func TestMigrateRecordsAnExistingMasterKey(t *testing.T) {
	t.Parallel()
	c := newCLI(t)
	if err := os.MkdirAll(c.dir, 0o700); err != nil {
		t.Fatal(err)
	}
	writeKey(t, filepath.Join(c.dir, "master.key"))
	if r := c.run(t, "migrate", "--data-dir", c.dir); r.code != 0 {
		t.Fatalf("migrate with a master key file: exit %d: %s", r.code, r.stderr)
	}
	var recs []auditEntry
	c.adminJSON(t, &recs, "audit", "list")
	if len(recs) != 1 || recs[0].Action != "ClaimMasterKey" || recs[0].Actor != "admin" {
		t.Errorf("audit trail after migrate: %+v; want the master key recorded", recs)
	}
	other := filepath.Join(t.TempDir(), "other.key")
	if err := os.WriteFile(other, []byte(strings.Repeat("cd", 32)+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	r := c.run(t, "migrate", "--data-dir", c.dir, "--master-key-file", other)
	if r.code != 1 || !strings.Contains(r.stderr, "the schema is up to date, but the master key in "+other) {
		t.Errorf("migrate with another key file: exit %d, stderr %q", r.code, r.stderr)
	}
	absent := filepath.Join(t.TempDir(), "absent.key")
	if r := c.run(t, "migrate", "--data-dir", c.dir, "--master-key-file", absent); r.code != 0 {
		t.Errorf("migrate with no key file: exit %d, stderr %q", r.code, r.stderr)
	}
	mustNotExist(t, absent, "migrate with no key file")
}
