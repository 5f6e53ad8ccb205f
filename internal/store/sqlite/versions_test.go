package sqlite_test

import (
	"context"
	"runtime"
	"testing"
	"time"

	"github.com/imagequota/imagequota/internal/quota"
	"github.com/imagequota/imagequota/internal/store"
	"github.com/imagequota/imagequota/internal/store/engine"
	"github.com/imagequota/imagequota/internal/store/sqlite"
)

// versionsEnv is two handles on one SQLite file: reader's cache is under
// test, writer stands for another process.
type versionsEnv struct {
	reader, writer *store.DB
	// eng is the reader's engine, v its version source.
	eng  *sqlite.Engine
	v    engine.Versions
	path string
	acct quota.Account
	inst quota.Instance
}

func setupVersions(t *testing.T, o sqlite.Options) *versionsEnv {
	t.Helper()
	path := tempPath(t)
	ctx := t.Context()
	e := &versionsEnv{path: path}
	e.reader, e.eng = open(t, path, o, store.Options{})
	e.writer, _ = open(t, path, sqlite.Options{}, store.Options{})
	e.v = e.eng.Versions()
	var err error
	if e.acct, err = e.writer.CreateAccount(ctx, "versions"); err != nil {
		t.Fatal(err)
	}
	if e.inst, err = e.writer.CreateInstance(ctx, quota.Instance{AccountID: e.acct.ID, LocationID: "asia-east-1",
		DiskGB: 20, OSCategory: "Ubuntu", OSType: "linux", OSVersion: "22.04"}); err != nil {
		t.Fatal(err)
	}
	return e
}

// TestVersionsSkipQueryOnlyWhileNothingCommitted checks the WAL-index header
// check: it answers without a query after an observation with nothing
// committed since, never after a commit by another handle, and each write
// bumps only the scope it belongs to (image writes leave credentials valid).
func TestVersionsSkipQueryOnlyWhileNothingCommitted(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name      string
		write     func(ctx context.Context, e *versionsEnv) error
		credBump  bool // the account's credential scope changes
		usageBump bool // the account's usage scope changes
	}{
		{"create image", func(ctx context.Context, e *versionsEnv) error {
			_, _, err := e.writer.CreateImage(ctx, quota.CreateImageInput{AccountID: e.acct.ID, InstanceID: e.inst.ID,
				Name: "img", DefaultMax: 10, Now: time.Now()})
			return err
		}, false, true},
		{"set limit", func(ctx context.Context, e *versionsEnv) error {
			_, err := e.writer.SetLimit(ctx, quota.LimitOverride{AccountID: e.acct.ID, LocationID: "asia-east-1", MaxCount: 7}, quota.Actor{})
			return err
		}, false, true},
		{"create access key", func(ctx context.Context, e *versionsEnv) error {
			_, err := e.writer.CreateAccessKey(ctx, e.acct.ID)
			return err
		}, true, false},
		{"create token", func(ctx context.Context, e *versionsEnv) error {
			_, _, err := e.writer.CreateToken(ctx, e.acct.ID, time.Hour)
			return err
		}, true, false},
		{"disable account", func(ctx context.Context, e *versionsEnv) error {
			return e.writer.SetAccountDisabled(ctx, e.acct.ID, true)
		}, true, false},
		{"nothing", func(context.Context, *versionsEnv) error { return nil }, false, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			e := setupVersions(t, sqlite.Options{})
			ctx := t.Context()
			sv := e.v
			cred, usage := "cred:"+e.acct.ID, e.acct.ID
			// Two observations: the first maps the header, the second reads it.
			for range 2 {
				if _, err := sv.Fetch(ctx, []string{cred, usage}); err != nil {
					t.Fatal(err)
				}
			}
			before, ok := sv.Quick([]string{cred, usage})
			if runtime.GOOS == "linux" && !ok {
				t.Fatal("nothing was committed, yet the header check did not answer")
			}
			if err := tt.write(ctx, e); err != nil {
				t.Fatal(err)
			}
			committed := tt.credBump || tt.usageBump
			if _, ok := sv.Quick([]string{cred, usage}); ok && committed {
				t.Fatal("the header check answered after another handle committed")
			}
			after, err := sv.Fetch(ctx, []string{cred, usage})
			if err != nil {
				t.Fatal(err)
			}
			if before != nil {
				if got := after[cred] != before[cred]; got != tt.credBump {
					t.Errorf("credential scope changed = %v, want %v (%d → %d)", got, tt.credBump, before[cred], after[cred])
				}
				if got := after[usage] != before[usage]; got != tt.usageBump {
					t.Errorf("usage scope changed = %v, want %v (%d → %d)", got, tt.usageBump, before[usage], after[usage])
				}
			}
			// Observed again with nothing committed since: answered from the header.
			if _, err := sv.Fetch(ctx, []string{cred, usage}); err != nil {
				t.Fatal(err)
			}
			if again, ok := sv.Quick([]string{cred, usage}); runtime.GOOS == "linux" && (!ok || again[cred] != after[cred] || again[usage] != after[usage]) {
				t.Fatalf("after the observation: quick = %v, %v; want %v", again, ok, after)
			}
		})
	}
}

// TestVersionsWithoutHeader checks that observing without the header (as
// NoWALHeader asks) only costs queries.
func TestVersionsWithoutHeader(t *testing.T) {
	t.Parallel()
	e := setupVersions(t, sqlite.Options{NoWALHeader: true})
	ctx := t.Context()
	sv := e.v
	usage := e.acct.ID
	for i := range 3 {
		before, err := sv.Fetch(ctx, []string{usage})
		if err != nil {
			t.Fatal(err)
		}
		if _, ok := sv.Quick([]string{usage}); ok {
			t.Fatal("the header check answered without a mapping")
		}
		if _, _, err := e.writer.CreateImage(ctx, quota.CreateImageInput{AccountID: e.acct.ID, InstanceID: e.inst.ID,
			Name: "img", DefaultMax: 10, Now: time.Now()}); err != nil {
			t.Fatal(err)
		}
		after, err := sv.Fetch(ctx, []string{usage})
		if err != nil {
			t.Fatal(err)
		}
		if after[usage] <= before[usage] {
			t.Fatalf("round %d: usage version %d after an image write, %d before", i, after[usage], before[usage])
		}
	}
}

// TestCacheWithoutVersionsTable checks that credentials and usage are still
// served, uncached, from a database whose cache_versions cannot be read.
func TestCacheWithoutVersionsTable(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		lookup func(ctx context.Context, e *versionsEnv, key quota.AccessKey, token string) (account string, err error)
	}{
		{"access key", func(ctx context.Context, e *versionsEnv, key quota.AccessKey, _ string) (string, error) {
			c, err := e.reader.CachedAccessKeyCredential(ctx, key.ID)
			return c.AccountID, err
		}},
		{"token", func(ctx context.Context, e *versionsEnv, _ quota.AccessKey, token string) (string, error) {
			c, err := e.reader.CachedTokenCredential(ctx, token)
			return c.AccountID, err
		}},
		{"usage", func(ctx context.Context, e *versionsEnv, _ quota.AccessKey, _ string) (string, error) {
			u, err := e.reader.Usage(ctx, e.acct.ID)
			if err == nil && u.Counts["asia-east-1"] != 1 {
				t.Errorf("usage counts %v, want one image in asia-east-1", u.Counts)
			}
			return e.acct.ID, err
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			e := setupVersions(t, sqlite.Options{})
			ctx := t.Context()
			key, err := e.writer.CreateAccessKey(ctx, e.acct.ID)
			if err != nil {
				t.Fatal(err)
			}
			token, _, err := e.writer.CreateToken(ctx, e.acct.ID, time.Hour)
			if err != nil {
				t.Fatal(err)
			}
			if _, _, err := e.writer.CreateImage(ctx, quota.CreateImageInput{AccountID: e.acct.ID, InstanceID: e.inst.ID,
				Name: "img", DefaultMax: 10, Now: time.Now()}); err != nil {
				t.Fatal(err)
			}
			if _, err := raw(t, e.path).ExecContext(ctx, `ALTER TABLE cache_versions RENAME TO cache_versions_gone`); err != nil {
				t.Fatal(err)
			}
			for range 2 {
				account, err := tt.lookup(ctx, e, key, token)
				if err != nil {
					t.Fatal(err)
				}
				if account != e.acct.ID {
					t.Fatalf("answer for account %q, want %q", account, e.acct.ID)
				}
			}
		})
	}
}

// TestVersionsKeptAcrossOwnCommits checks that a write through a handle's own
// writer leaves what its read cache knows of other scopes usable without a
// query and forgets exactly the scopes the write changed — which the engine
// learns from the triggers, whatever the write — and that a commit by another
// handle slipped in right after its own is not taken for it.
func TestVersionsKeptAcrossOwnCommits(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("the WAL-index header is read on Linux only")
	}
	t.Parallel()
	tests := []struct {
		name    string
		write   func(ctx context.Context, e *versionsEnv) error
		changed func(e *versionsEnv) string // the one scope the write changes
		foreign bool
	}{
		{"image", func(ctx context.Context, e *versionsEnv) error {
			_, _, err := e.reader.CreateImage(ctx, quota.CreateImageInput{AccountID: e.acct.ID, InstanceID: e.inst.ID,
				Name: "img", DefaultMax: 10, Now: time.Now()})
			return err
		}, func(e *versionsEnv) string { return e.acct.ID }, false},
		{"limit", func(ctx context.Context, e *versionsEnv) error {
			_, err := e.reader.SetLimit(ctx, quota.LimitOverride{AccountID: e.acct.ID, LocationID: "asia-east-1", MaxCount: 9}, quota.Actor{})
			return err
		}, func(e *versionsEnv) string { return e.acct.ID }, false},
		{"access key", func(ctx context.Context, e *versionsEnv) error {
			_, err := e.reader.CreateAccessKey(ctx, e.acct.ID)
			return err
		}, func(e *versionsEnv) string { return "cred:" + e.acct.ID }, false},
		{"image, then another handle's commit", func(ctx context.Context, e *versionsEnv) error {
			_, _, err := e.reader.CreateImage(ctx, quota.CreateImageInput{AccountID: e.acct.ID, InstanceID: e.inst.ID,
				Name: "img", DefaultMax: 10, Now: time.Now()})
			return err
		}, func(e *versionsEnv) string { return e.acct.ID }, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			e := setupVersions(t, sqlite.Options{})
			ctx := t.Context()
			other, err := e.writer.CreateAccount(ctx, "other")
			if err != nil {
				t.Fatal(err)
			}
			sv := e.v
			changed := tt.changed(e)
			scopes := []string{"cred:" + e.acct.ID, e.acct.ID, other.ID}
			for range 2 {
				if _, err := sv.Fetch(ctx, scopes); err != nil {
					t.Fatal(err)
				}
			}
			before, ok := sv.Quick(scopes)
			if !ok {
				t.Fatal("nothing was committed, yet the header check did not answer")
			}
			if tt.foreign {
				e.eng.SetAfterCommit(func() {
					e.eng.SetAfterCommit(nil)
					if _, err := e.writer.SetLimit(ctx, quota.LimitOverride{AccountID: other.ID, LocationID: "asia-east-1", MaxCount: 3}, quota.Actor{}); err != nil {
						t.Error(err)
					}
				})
			}
			if err := tt.write(ctx, e); err != nil {
				t.Fatal(err)
			}
			if tt.foreign {
				if _, ok := sv.Quick([]string{"cred:" + e.acct.ID}); ok {
					t.Fatal("the header check answered after another handle committed")
				}
				after, err := sv.Fetch(ctx, scopes)
				if err != nil {
					t.Fatal(err)
				}
				if after[other.ID] == before[other.ID] {
					t.Fatalf("the other account's limit was set, yet its version stayed %d", after[other.ID])
				}
				return
			}
			var unchanged []string
			for _, s := range scopes {
				if s != changed {
					unchanged = append(unchanged, s)
				}
			}
			kept, ok := sv.Quick(unchanged)
			if !ok {
				t.Fatalf("after its own write: the scopes it did not change (%v) were forgotten", unchanged)
			}
			for _, s := range unchanged {
				if kept[s] != before[s] {
					t.Fatalf("after its own write: scope %q = %d, want %d", s, kept[s], before[s])
				}
			}
			if _, ok := sv.Quick([]string{changed}); ok {
				t.Fatalf("the written scope %q was still taken as known", changed)
			}
			after, err := sv.Fetch(ctx, []string{changed})
			if err != nil {
				t.Fatal(err)
			}
			if after[changed] <= before[changed] {
				t.Fatalf("scope %q: version %d after the write, %d before", changed, after[changed], before[changed])
			}
		})
	}
}

// TestWALHeaderLayout pins the parts of SQLite's WAL-index header that the
// read cache relies on (shm_linux.go): valid copies that read as such, and a
// change counter that moves by exactly one per commit. It fails when a
// SQLite upgrade changes the layout.
func TestWALHeaderLayout(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("the WAL-index header is read on Linux only")
	}
	t.Parallel()
	e := setupVersions(t, sqlite.Options{})
	ctx := t.Context()
	// An observation maps the header.
	if _, err := e.v.Fetch(ctx, []string{e.acct.ID}); err != nil {
		t.Fatal(err)
	}
	for i := range 3 {
		before, ok := e.eng.WALChangeCounter()
		if !ok {
			t.Fatalf("round %d: the WAL-index header does not read as valid (version, isInit, two equal copies)", i)
		}
		if _, err := raw(t, e.path).ExecContext(ctx, `UPDATE accounts SET name = name WHERE id = ?`, e.acct.ID); err != nil {
			t.Fatal(err)
		}
		after, ok := e.eng.WALChangeCounter()
		if !ok || after != before+1 {
			t.Fatalf("round %d: change counter %d after one commit, %d before (ok %v): want one more", i, after, before, ok)
		}
	}
}
