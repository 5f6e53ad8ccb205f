package store

import (
	"context"
	"path/filepath"
	"runtime"
	"testing"
	"time"

	"imagequota/internal/quota"
)

// versionsEnv is two handles on one SQLite file: reader's cache is under
// test, writer stands for another process.
type versionsEnv struct {
	reader, writer *DB
	acct           quota.Account
	inst           quota.Instance
}

func setupVersions(t *testing.T) *versionsEnv {
	t.Helper()
	path := filepath.Join(t.TempDir(), "quota.db")
	ctx := t.Context()
	open := func() *DB {
		db, err := Open(ctx, path, Options{})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = db.Close() })
		return db
	}
	e := &versionsEnv{reader: open(), writer: open()}
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
			e := setupVersions(t)
			ctx := t.Context()
			sv, w := e.reader.sv, e.reader.cache.watch
			cred, usage := credScope(e.acct.ID), e.acct.ID
			// Two observations: the first maps the header, the second reads it.
			for range 2 {
				if _, err := w.observe(ctx, cred, usage); err != nil {
					t.Fatal(err)
				}
			}
			before, ok := sv.quick([]string{cred, usage})
			if runtime.GOOS == "linux" && !ok {
				t.Fatal("nothing was committed, yet the header check did not answer")
			}
			if err := tt.write(ctx, e); err != nil {
				t.Fatal(err)
			}
			committed := tt.credBump || tt.usageBump
			if _, ok := sv.quick([]string{cred, usage}); ok && committed {
				t.Fatal("the header check answered after another handle committed")
			}
			after, err := w.observe(ctx, cred, usage)
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
			if _, err := w.observe(ctx, cred, usage); err != nil {
				t.Fatal(err)
			}
			if again, ok := sv.quick([]string{cred, usage}); runtime.GOOS == "linux" && (!ok || again[cred] != after[cred] || again[usage] != after[usage]) {
				t.Fatalf("after the observation: quick = %v, %v; want %v", again, ok, after)
			}
		})
	}
}

// TestVersionsWithoutHeader checks that a missing mapping only costs queries.
func TestVersionsWithoutHeader(t *testing.T) {
	t.Parallel()
	e := setupVersions(t)
	ctx := t.Context()
	sv := e.reader.sv
	sv.mu.Lock()
	sv.forget()
	sv.shm = filepath.Join(t.TempDir(), "missing-shm")
	sv.mu.Unlock()
	usage := e.acct.ID
	for i := range 3 {
		before, err := sv.fetch(ctx, []string{usage})
		if err != nil {
			t.Fatal(err)
		}
		if _, ok := sv.quick([]string{usage}); ok {
			t.Fatal("the header check answered without a mapping")
		}
		if _, _, err := e.writer.CreateImage(ctx, quota.CreateImageInput{AccountID: e.acct.ID, InstanceID: e.inst.ID,
			Name: "img", DefaultMax: 10, Now: time.Now()}); err != nil {
			t.Fatal(err)
		}
		after, err := sv.fetch(ctx, []string{usage})
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
			e := setupVersions(t)
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
			if _, err := e.writer.w.ExecContext(ctx, `ALTER TABLE cache_versions RENAME TO cache_versions_gone`); err != nil {
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

// TestVersionsKeptAcrossOwnCommits checks that an image write through a
// handle's own writer leaves what its read cache knows of other scopes
// usable without a query, forgets the written scope, and that a commit by
// another handle slipped in right after its own is not taken for it.
func TestVersionsKeptAcrossOwnCommits(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("the WAL-index header is read on Linux only")
	}
	t.Parallel()
	for _, foreign := range []bool{false, true} {
		t.Run(map[bool]string{false: "own commit only", true: "another commit right after"}[foreign], func(t *testing.T) {
			t.Parallel()
			e := setupVersions(t)
			ctx := t.Context()
			other, err := e.writer.CreateAccount(ctx, "other")
			if err != nil {
				t.Fatal(err)
			}
			sv, w := e.reader.sv, e.reader.cache.watch
			cred, usage, otherUsage := credScope(e.acct.ID), e.acct.ID, other.ID
			scopes := []string{cred, usage, otherUsage}
			for range 2 {
				if _, err := w.observe(ctx, scopes...); err != nil {
					t.Fatal(err)
				}
			}
			before, ok := sv.quick(scopes)
			if !ok {
				t.Fatal("nothing was committed, yet the header check did not answer")
			}
			if foreign {
				e.reader.batch.afterCommit = func() {
					e.reader.batch.afterCommit = nil
					if _, err := e.writer.SetLimit(ctx, quota.LimitOverride{AccountID: other.ID, LocationID: "asia-east-1", MaxCount: 3}, quota.Actor{}); err != nil {
						t.Error(err)
					}
				}
			}
			if _, _, err := e.reader.CreateImage(ctx, quota.CreateImageInput{AccountID: e.acct.ID, InstanceID: e.inst.ID,
				Name: "img", DefaultMax: 10, Now: time.Now()}); err != nil {
				t.Fatal(err)
			}
			if foreign {
				if _, ok := sv.quick([]string{cred}); ok {
					t.Fatal("the header check answered after another handle committed")
				}
				after, err := w.observe(ctx, scopes...)
				if err != nil {
					t.Fatal(err)
				}
				if after[otherUsage] == before[otherUsage] {
					t.Fatalf("the other account's limit was set, yet its version stayed %d", after[otherUsage])
				}
				return
			}
			kept, ok := sv.quick([]string{cred, otherUsage})
			if !ok || kept[cred] != before[cred] || kept[otherUsage] != before[otherUsage] {
				t.Fatalf("after its own image write: quick = %v, %v; want %v", kept, ok, before)
			}
			if _, ok := sv.quick([]string{usage}); ok {
				t.Fatal("the written account's usage scope was still taken as known")
			}
			after, err := w.observe(ctx, usage)
			if err != nil {
				t.Fatal(err)
			}
			if after[usage] <= before[usage] {
				t.Fatalf("usage version %d after an image write, %d before", after[usage], before[usage])
			}
		})
	}
}
