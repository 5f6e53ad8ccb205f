package main

import (
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/imagequota/imagequota/internal/testkit/pgtest"
)

// TestPostgresDumpAndRestore: a PostgreSQL store is backed up with pg_dump
// and restored with pg_restore into another database, as
// docs/operations-backup.md says; the restored database has every migration
// and the same accounts, and opens with the same master key.
func TestPostgresDumpAndRestore(t *testing.T) {
	t.Parallel()
	for _, tool := range []string{"pg_dump", "pg_restore"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Skipf("%s is not installed", tool)
		}
	}
	src := pgtest.NewDatabase(t)
	key := filepath.Join(t.TempDir(), "master.key")
	c := &cli{dir: t.TempDir(), env: []string{"IMAGEQUOTA_MASTER_KEY_FILE=" + key}}
	if r := c.run(t, "migrate", "--db", src); r.code != 0 {
		t.Fatalf("migrate: exit %d: %s", r.code, r.stderr)
	}
	var acct struct{ AccountID string }
	c.adminJSON(t, &acct, "--db", src, "account", "create", "--name", "dumped")
	c.adminOK(t, "--db", src, "key", "create", "--account", acct.AccountID)

	dump := filepath.Join(t.TempDir(), "imagequota.dump")
	dst := pgtest.NewDatabase(t)
	for _, args := range [][]string{
		{"pg_dump", "--format=custom", "--no-owner", "--file=" + dump, src},
		{"pg_restore", "--no-owner", "--exit-on-error", "--dbname=" + dst, dump},
	} {
		if out, err := exec.Command(args[0], args[1:]...).CombinedOutput(); err != nil {
			t.Fatalf("%s: %v\n%s", strings.Join(args, " "), err, out)
		}
	}
	for _, m := range migrations(t, dst) {
		if !m.Applied {
			t.Errorf("the restored database lacks migration %s", m.Name)
		}
	}
	var accts []struct{ AccountID string }
	c.adminJSON(t, &accts, "--db", dst, "account", "list")
	if len(accts) != 1 || accts[0].AccountID != acct.AccountID {
		t.Errorf("the restored database has accounts %+v, want %s", accts, acct.AccountID)
	}
	// key create opens the sealed passwords with the master key: the
	// restored database is the same key's.
	c.adminOK(t, "--db", dst, "key", "create", "--account", acct.AccountID)
}
