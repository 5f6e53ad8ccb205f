package main

import (
	"bufio"
	"context"
	"crypto/sha256"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/imagequota/imagequota/client"
	"github.com/imagequota/imagequota/internal/testkit"
	"github.com/imagequota/imagequota/vmapi"
)

// procServer is "imagequota serve" running as a process of its own.
type procServer struct {
	url    string
	cmd    *exec.Cmd
	stderr *syncBuffer
	exited chan struct{}
}

// startProcServer starts the built binary's serve on dataDir and waits until
// it listens. It is stopped with SIGTERM when the test ends.
func startProcServer(t *testing.T, dataDir string) *procServer {
	t.Helper()
	s := &procServer{stderr: &syncBuffer{}, exited: make(chan struct{})}
	s.cmd = exec.Command(testkit.Binary(t), "serve", "--addr", "127.0.0.1:0", "--data-dir", dataDir, "--image-build-time", "0")
	s.cmd.Stderr = s.stderr
	stdout, err := s.cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := s.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	urls := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			if m := listeningRE.FindStringSubmatch(sc.Text()); m != nil {
				urls <- m[1]
			}
		}
		_, _ = io.Copy(io.Discard, stdout)
	}()
	go func() { _ = s.cmd.Wait(); close(s.exited) }()
	t.Cleanup(func() { s.stop(t) })
	select {
	case s.url = <-urls:
	case <-s.exited:
		t.Fatalf("serve exited before listening:\n%s", s.stderr.String())
	case <-time.After(waitLimit):
		t.Fatalf("serve did not listen within %s:\n%s", waitLimit, s.stderr.String())
	}
	return s
}

func (s *procServer) stop(t *testing.T) {
	t.Helper()
	_ = s.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-s.exited:
	case <-time.After(waitLimit):
		_ = s.cmd.Process.Kill()
		<-s.exited
		t.Errorf("serve (pid %d) did not stop within %s of SIGTERM", s.cmd.Process.Pid, waitLimit)
	}
}

// runBin runs the built binary and returns what it did.
func runBin(t *testing.T, args ...string) result {
	t.Helper()
	cmd := exec.Command(testkit.Tool(t), args...)
	var stdout, stderr strings.Builder
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	code := 0
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else if err != nil {
		t.Fatalf("imagequota %s: %v", strings.Join(args, " "), err)
	}
	return result{code: code, stdout: stdout.String(), stderr: stderr.String()}
}

// copyKey copies the master key of one data directory into another, as an
// operator restoring a backup does.
func copyKey(t *testing.T, fromDir, toDir string) {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(fromDir, "master.key"))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(toDir, 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(toDir, "master.key"), b, 0o600); err != nil {
		t.Fatal(err)
	}
}

// TestBackupUnderWriteLoad: a backup taken from a running server's store
// while signed writes go on holds every write acknowledged before it began;
// restored into a new directory it passes migrate status with every
// migration applied, and a server started on it serves those writes.
func TestBackupUnderWriteLoad(t *testing.T) {
	t.Parallel()
	c := setup(t)
	acct, keyID, secret := c.newAccount(t, "backed-up")
	c.adminOK(t, "quota", "set", "--account", acct, "--max", "100000")
	var inst struct{ InstanceID string }
	c.adminJSON(t, &inst, "instance", "create", "--account", acct, "--location", "jp-tokyo-1a")
	srv := startProcServer(t, c.dir)

	// Writers create images until told to stop, or at most 3000 in all.
	const writers, most = 2, 3000
	var mu sync.Mutex
	var acked []string
	ctx, stopWriters := context.WithCancel(context.Background())
	defer stopWriters()
	var wg sync.WaitGroup
	errs := make(chan error, writers)
	for w := range writers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			cl := client.New(srv.url, keyID, secret)
			for i := 0; ctx.Err() == nil; i++ {
				mu.Lock()
				n := len(acked)
				mu.Unlock()
				if n >= most {
					return
				}
				name := fmt.Sprintf("bk-%d-%d", w, i)
				resp, err := cl.CreateImage(ctx, &vmapi.CreateImageRequest{InstanceID: &inst.InstanceID, ImageName: &name})
				if ctx.Err() != nil {
					return
				}
				if err != nil {
					errs <- fmt.Errorf("CreateImage %s: %w", name, err)
					return
				}
				mu.Lock()
				acked = append(acked, resp.ImageID)
				mu.Unlock()
			}
		}()
	}
	ackedNow := func() []string {
		mu.Lock()
		defer mu.Unlock()
		return append([]string(nil), acked...)
	}
	deadline := time.Now().Add(waitLimit)
	for len(ackedNow()) < 100 && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	before := ackedNow()
	out := filepath.Join(t.TempDir(), "imagequota-backup.db")
	r := runBin(t, "backup", "--data-dir", c.dir, "--out", out)
	during := len(ackedNow()) - len(before)
	stopWriters()
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Errorf("%v\nthe server's log:\n%s", err, srv.stderr.String())
	}
	if r.code != 0 || !regexp.MustCompile(`Backed up .* to .* \(\d+ bytes, schema version \d+\)`).MatchString(r.stdout) {
		t.Fatalf("backup: exit %d\nstdout: %s\nstderr: %s", r.code, r.stdout, r.stderr)
	}
	if !strings.Contains(r.stdout, "the key file ("+filepath.Join(c.dir, "master.key")+") is not in the backup") {
		t.Errorf("backup does not say the key file is not in it:\n%s", r.stdout)
	}
	t.Logf("%d images acknowledged before the backup began, %d while it ran, %d in all", len(before), during, len(ackedNow()))
	if len(before) < 100 {
		t.Fatalf("only %d writes were acknowledged before the backup", len(before))
	}

	restored := filepath.Join(t.TempDir(), "restored")
	// Without the key file beside it, the restore is refused.
	if r := runBin(t, "restore", "--from", out, "--data-dir", restored); r.code != 1 || !strings.Contains(r.stderr, "put a copy of that key file at "+filepath.Join(restored, "master.key")) {
		t.Errorf("restore without the key file: exit %d, stderr %q", r.code, r.stderr)
	}
	copyKey(t, c.dir, restored)
	if r := runBin(t, "restore", "--from", out, "--data-dir", restored); r.code != 0 || !strings.Contains(r.stdout, "Restored ") {
		t.Fatalf("restore: exit %d\nstdout: %s\nstderr: %s", r.code, r.stdout, r.stderr)
	}
	r = runBin(t, "migrate", "status", "--data-dir", restored, "--output", "json")
	var status []migration
	if r.code != 0 || json.Unmarshal([]byte(r.stdout), &status) != nil || len(status) == 0 {
		t.Fatalf("migrate status of the restored store: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	for _, m := range status {
		if !m.Applied {
			t.Errorf("the restored store lacks migration %s", m.Name)
		}
	}

	// A server on the restored store serves every image acknowledged before the backup began.
	srv.stop(t)
	rs := startProcServer(t, restored)
	cl := client.New(rs.url, keyID, secret)
	found := map[string]bool{}
	for i := 0; i < len(before); i += 50 {
		ids := before[i:min(i+50, len(before))]
		size := 100
		resp, err := cl.DescribeImages(context.Background(), &vmapi.DescribeImagesRequest{ImageIDs: ids, PageSize: &size})
		if err != nil {
			t.Fatalf("DescribeImages on the restored store: %v", err)
		}
		for _, im := range resp.DataSet {
			found[im.ImageID] = true
		}
	}
	missing := 0
	for _, id := range before {
		if !found[id] {
			missing++
		}
	}
	if missing > 0 {
		t.Errorf("%d of the %d images acknowledged before the backup are not in the restored store", missing, len(before))
	}
}

// fileSum is the SHA-256 of a file, to tell whether it changed.
func fileSum(t *testing.T, path string) [32]byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return sha256.Sum256(b)
}

// TestRestoreRefuses: restore replaces nothing, and exits 1 saying why, for
// a store that is there (without --force) or in use (even with it), a key
// file that is missing or another, a file that is not a backup, and a
// backup of a newer schema; it names pg_dump for PostgreSQL.
func TestRestoreRefuses(t *testing.T) {
	t.Parallel()
	c := setup(t)
	acct, _, _ := c.newAccount(t, "restored")
	out := filepath.Join(t.TempDir(), "backup.db")
	if r := c.run(t, "backup", "--data-dir", c.dir, "--out", out); r.code != 0 {
		t.Fatalf("backup: exit %d: %s", r.code, r.stderr)
	}
	if r := c.run(t, "backup", "--data-dir", c.dir, "--out", out); r.code != 1 || !strings.Contains(r.stderr, "never written over") {
		t.Errorf("backup over an existing file: exit %d, stderr %q", r.code, r.stderr)
	}

	other := setup(t)
	other.newAccount(t, "other")
	copyKey(t, c.dir, other.dir+"-key")
	otherDB := filepath.Join(other.dir, "imagequota.db")
	before := fileSum(t, otherDB)
	srv := other.serve(t)
	newer := filepath.Join(t.TempDir(), "newer.db")
	garbage := filepath.Join(t.TempDir(), "garbage.db")
	if err := os.WriteFile(garbage, []byte(strings.Repeat("not a database ", 512)), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := copyFile(out, newer); err != nil {
		t.Fatal(err)
	}
	db, err := openSQLite(newer, "")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := db.Exec(`INSERT INTO schema_migrations (version, applied_at) VALUES (9999, 0)`); err != nil {
		t.Fatal(err)
	}
	db.Close()
	fresh := filepath.Join(t.TempDir(), "fresh")
	copyKey(t, c.dir, fresh)
	for _, tc := range []struct {
		name string
		args []string
		code int
		want string
	}{
		{"a store is there", []string{"--from", out, "--data-dir", other.dir}, 1, "restore replaces it only with --force"},
		{"the store is in use", []string{"--from", out, "--data-dir", other.dir, "--force"}, 1, "is in use"},
		{"not a backup", []string{"--from", garbage, "--data-dir", fresh}, 1, "is not a backup this binary can restore"},
		{"a newer schema", []string{"--from", newer, "--data-dir", fresh}, 1, "migrations this binary does not know (9999)"},
		{"no such file", []string{"--from", filepath.Join(fresh, "nothing.db"), "--data-dir", fresh}, 1, "--from:"},
		{"PostgreSQL", []string{"--from", out, "--db", "postgres://127.0.0.1/x"}, 2, "pg_dump"},
		{"no --from", []string{"--data-dir", fresh}, 2, "--from is required"},
	} {
		r := c.run(t, append([]string{"restore"}, tc.args...)...)
		if r.code != tc.code || !strings.Contains(r.stderr, tc.want) {
			t.Errorf("restore with %s: exit %d, stderr %q; want exit %d and %q", tc.name, r.code, r.stderr, tc.code, tc.want)
		}
	}
	if _, err := os.Stat(filepath.Join(fresh, "imagequota.db")); err == nil {
		t.Errorf("a refused restore left a store in %s", fresh)
	}

	// Stopped, the other store is replaced with --force, but only with the backup's key.
	if code := srv.stop(t); code != 0 {
		t.Fatalf("serve exited %d", code)
	}
	if r := c.run(t, "restore", "--from", out, "--data-dir", other.dir, "--force"); r.code != 1 || !strings.Contains(r.stderr, "is not the backup's") {
		t.Errorf("restore with another key: exit %d, stderr %q", r.code, r.stderr)
	}
	if fileSum(t, otherDB) != before {
		t.Errorf("refused restores changed %s", otherDB)
	}
	key := filepath.Join(other.dir+"-key", "master.key")
	r := c.run(t, "restore", "--from", out, "--data-dir", other.dir, "--force", "--master-key-file", key)
	if r.code != 0 {
		t.Fatalf("restore --force: exit %d: %s", r.code, r.stderr)
	}
	var accts []struct{ AccountID string }
	restored := &cli{dir: other.dir}
	restored.adminJSON(t, &accts, "--master-key-file", key, "account", "list")
	if len(accts) != 1 || accts[0].AccountID != acct {
		t.Errorf("the restored store has accounts %+v, want only %s", accts, acct)
	}
}
