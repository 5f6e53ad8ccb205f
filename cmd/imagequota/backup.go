package main

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"

	_ "modernc.org/sqlite" // the "sqlite" driver, for copies outside the store

	"github.com/imagequota/imagequota/internal/app"
	"github.com/imagequota/imagequota/internal/quota"
	"github.com/imagequota/imagequota/internal/secrets"
	"github.com/imagequota/imagequota/internal/store"
)

const backupUsage = `imagequota backup: copy a SQLite store to a file, also while a server runs on it.

Usage: imagequota backup [--data-dir DIR | --db sqlite:PATH] --out FILE

The copy is one consistent snapshot taken in a single read transaction
(SQLite's VACUUM INTO): every write acknowledged before the backup began is in
it, writes made meanwhile go on unhindered and are not. FILE must not exist;
it is written beside itself first and put in place when complete (mode 0600).
The copy is then opened and checked, and its schema version and master key
fingerprint are printed.

The master key file is not in the backup: the backup holds the access key
passwords sealed under it, and keeping the two apart means a stolen backup
opens nothing. Keep a copy of the key file (it changes only with
"imagequota admin master-key rotate"); restore needs it.

For PostgreSQL use pg_dump and pg_restore (docs/operations-backup.md).
`

const restoreUsage = `imagequota restore: put a backup made with "imagequota backup" in place as a store.

Usage: imagequota restore --from FILE [--data-dir DIR | --db sqlite:PATH] [--master-key-file F] [--force]

Before anything is replaced, the backup is checked: it must pass SQLite's
integrity check, hold imagequota's schema with no migration this binary does
not know (older schemas are migrated as the store opens), and its recorded
master key fingerprint must be that of the key file beside the store (or in
--master-key-file): copy the key file there first, as the backup does not
hold it. The restored store is then opened once, as a server would open it.

A store that exists already is replaced only with --force, and never while a
process has it open: stop every server on it first.
`

func runBackup(ctx context.Context, args []string, env map[string]string, stdout, stderr io.Writer) error {
	c := newConfig("backup", backupUsage, env, stdout, stderr)
	sf := addStorePlaceFlags(c)
	var out string
	c.String(&out, "out", "", "", "the backup `FILE` to write (required; must not exist)")
	pos, err := c.Parse(args)
	if err != nil {
		return err
	}
	if len(pos) > 0 {
		c.Problem("unexpected arguments: %s", strings.Join(pos, " "))
	}
	if out == "" {
		c.Problem("--out is required")
	}
	u := sqliteStore(c, sf)
	if err := c.Err(); err != nil {
		return err
	}
	if ok, err := store.Exists(u); err != nil {
		return err
	} else if !ok {
		return sf.explain(&app.NoStoreError{URL: u})
	}
	if _, err := os.Lstat(out); err == nil {
		return fmt.Errorf("%s exists: the backup is never written over a file", out)
	}
	tmp := out + ".partial"
	if err := os.Remove(tmp); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return err
	}
	defer os.Remove(tmp)
	src, err := openSQLite(u.Path, "")
	if err != nil {
		return err
	}
	_, err = src.ExecContext(ctx, `VACUUM INTO ?`, tmp)
	src.Close()
	if err != nil {
		return fmt.Errorf("backup of %s: %w", u.Path, err)
	}
	if err := syncFile(tmp, 0o600); err != nil {
		return err
	}
	info, err := inspectBackup(ctx, tmp)
	if err != nil {
		return fmt.Errorf("the copy does not check: %w", err)
	}
	// Link, not rename: it fails rather than replace a file made meanwhile.
	if err := os.Link(tmp, out); err != nil {
		return fmt.Errorf("backup: %w", err)
	}
	if err := syncDir(filepath.Dir(out)); err != nil {
		return err
	}
	st, err := os.Stat(out)
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "Backed up %s to %s (%d bytes, schema version %d).\n", u.Path, out, st.Size(), info.maxVersion())
	if info.fingerprint != "" {
		fmt.Fprintf(stdout, "Its master key has fingerprint %s; the key file (%s) is not in the backup: keep a copy of it, restore needs it.\n",
			info.fingerprint, sf.keyPath())
	}
	return nil
}

func runRestore(ctx context.Context, args []string, env map[string]string, stdout, stderr io.Writer) error {
	c := newConfig("restore", restoreUsage, env, stdout, stderr)
	sf := addStorePlaceFlags(c)
	var from string
	var force bool
	c.String(&from, "from", "", "", "the backup `FILE` made with imagequota backup (required)")
	c.Bool(&force, "force", "", false, "replace the store that is there (never one a process has open)")
	pos, err := c.Parse(args)
	if err != nil {
		return err
	}
	if len(pos) > 0 {
		c.Problem("unexpected arguments: %s", strings.Join(pos, " "))
	}
	if from == "" {
		c.Problem("--from is required")
	}
	u := sqliteStore(c, sf)
	if err := c.Err(); err != nil {
		return err
	}
	if _, err := os.Stat(from); err != nil {
		return fmt.Errorf("--from: %w", err)
	}
	target := u.Path
	exists, err := store.Exists(u)
	if err != nil {
		return err
	}
	if exists && !force {
		return fmt.Errorf("a store exists at %s: restore replaces it only with --force, once every server on it is stopped", target)
	}
	if exists {
		if err := checkNotInUse(ctx, target); err != nil {
			return err
		}
	}
	info, err := inspectBackup(ctx, from)
	if err != nil {
		return fmt.Errorf("%s is not a backup this binary can restore: %w", from, err)
	}
	keyFile := sf.keyPath()
	if info.fingerprint != "" {
		box, err := secrets.Load(keyFile)
		if err != nil {
			return fmt.Errorf("the backup's access key passwords are sealed under the master key with fingerprint %s: put a copy of that key file at %s, or name it with --master-key-file (%w)",
				info.fingerprint, keyFile, err)
		}
		if box.Fingerprint() != info.fingerprint {
			return fmt.Errorf("the master key in %s (fingerprint %s) is not the backup's (fingerprint %s): restore needs the key file the store had when the backup was made",
				keyFile, box.Fingerprint(), info.fingerprint)
		}
	}

	// The copy is made and opened beside the store, then renamed into place.
	if err := os.MkdirAll(filepath.Dir(target), 0o700); err != nil {
		return err
	}
	tmp := target + ".restoring"
	for _, f := range sqliteFiles(tmp) {
		if err := os.Remove(f); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return err
		}
	}
	defer func() {
		for _, f := range sqliteFiles(tmp) {
			os.Remove(f)
		}
	}()
	if err := copyFile(from, tmp); err != nil {
		return err
	}
	tu := store.URL{Engine: store.EngineSQLite, Path: tmp}
	sc := app.StoreConfig{URL: tu}
	if _, err := os.Stat(keyFile); err == nil {
		sc.MasterKey = &app.MasterKey{File: keyFile, Actor: quota.AdminActor}
	}
	// SQLite migrates as it opens: an older schema is brought up to date here.
	db, err := app.Open(ctx, sc)
	if err != nil {
		return err
	}
	status, err := db.MigrationStatus(ctx)
	if err == nil {
		err = unknownMigrations(info.versions, status)
	}
	if err == nil && sc.MasterKey != nil {
		err = app.UseMasterKey(ctx, db, *sc.MasterKey)
	}
	var accounts []quota.Account
	if err == nil {
		accounts, err = db.ListAccounts(ctx)
	}
	if cerr := db.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("%s does not open as a store: %w", from, err)
	}
	if exists {
		if err := checkNotInUse(ctx, target); err != nil {
			return err
		}
		for _, f := range sqliteFiles(target)[1:] {
			if err := os.Remove(f); err != nil && !errors.Is(err, fs.ErrNotExist) {
				return err
			}
		}
	}
	if err := syncFile(tmp, 0o600); err != nil {
		return err
	}
	if err := os.Rename(tmp, target); err != nil {
		return err
	}
	if err := syncDir(filepath.Dir(target)); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "Restored %s to %s (schema version %d, %d accounts).\n", from, target, status[len(status)-1].Version, len(accounts))
	return nil
}

// sqliteStore is the SQLite store the flags name, recording a problem in c
// when they name PostgreSQL.
func sqliteStore(c *config, sf *storeFlags) store.URL {
	u, err := store.ParseURL(sf.url())
	switch {
	case err != nil:
		sf.check(c)
	case u.Engine != store.EngineSQLite:
		c.Problem("%s works on SQLite stores; for PostgreSQL use pg_dump and pg_restore (docs/operations-backup.md)", c.fs.Name())
	}
	return u
}

// sqliteFiles are the database file of a SQLite store and its companions.
func sqliteFiles(path string) []string {
	return []string{path, path + "-wal", path + "-shm", path + "-journal"}
}

// openSQLite opens the SQLite file at path with one connection.
func openSQLite(path, params string) (*sql.DB, error) {
	db, err := sql.Open("sqlite", "file:"+path+"?_pragma=busy_timeout(10000)"+params)
	if err != nil {
		return nil, err
	}
	db.SetMaxOpenConns(1)
	return db, nil
}

// backupInfo is what a backup holds, as read from it.
type backupInfo struct {
	versions    []int
	fingerprint string
}

func (b backupInfo) maxVersion() int {
	if len(b.versions) == 0 {
		return 0
	}
	return slices.Max(b.versions)
}

// inspectBackup checks a backup file without changing it: SQLite's
// integrity check, imagequota's schema, and the master key it records.
func inspectBackup(ctx context.Context, path string) (backupInfo, error) {
	var info backupInfo
	db, err := openSQLite(path, "&mode=ro")
	if err != nil {
		return info, err
	}
	defer db.Close()
	var check string
	if err := db.QueryRowContext(ctx, `PRAGMA integrity_check`).Scan(&check); err != nil {
		return info, fmt.Errorf("integrity check: %w", err)
	}
	if check != "ok" {
		return info, fmt.Errorf("integrity check: %s", check)
	}
	rows, err := db.QueryContext(ctx, `SELECT version FROM schema_migrations ORDER BY version`)
	if err != nil {
		return info, fmt.Errorf("no imagequota schema: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var v int
		if err := rows.Scan(&v); err != nil {
			return info, err
		}
		info.versions = append(info.versions, v)
	}
	if err := rows.Err(); err != nil {
		return info, err
	}
	if len(info.versions) == 0 {
		return info, errors.New("no imagequota schema: no migration is recorded")
	}
	err = db.QueryRowContext(ctx, `SELECT value FROM settings WHERE name = 'master_key_fingerprint'`).Scan(&info.fingerprint)
	if err != nil && !errors.Is(err, sql.ErrNoRows) && !strings.Contains(err.Error(), "no such table") {
		return info, fmt.Errorf("master key fingerprint: %w", err)
	}
	return info, nil
}

// unknownMigrations refuses a backup with migrations this binary does not
// have: one made by a newer imagequota.
func unknownMigrations(versions []int, known []store.MigrationStatus) error {
	var unknown []string
	for _, v := range versions {
		if !slices.ContainsFunc(known, func(m store.MigrationStatus) bool { return m.Version == v }) {
			unknown = append(unknown, fmt.Sprint(v))
		}
	}
	if len(unknown) > 0 {
		return fmt.Errorf("its schema has migrations this binary does not know (%s): restore it with the imagequota that made it, or a newer one", strings.Join(unknown, ", "))
	}
	return nil
}

// checkNotInUse refuses a SQLite store that a process has open: in WAL mode
// every connection holds a shared lock on the database file as long as it is
// open, so an exclusive lock is had only when no other connection exists.
func checkNotInUse(ctx context.Context, path string) error {
	db, err := openSQLite(path, "&_pragma=locking_mode(EXCLUSIVE)&_txlock=exclusive")
	if err != nil {
		return err
	}
	defer db.Close()
	if _, err := db.ExecContext(ctx, `PRAGMA busy_timeout = 0`); err != nil {
		return err
	}
	tx, err := db.BeginTx(ctx, nil)
	if err == nil {
		_, err = tx.ExecContext(ctx, `SELECT count(*) FROM sqlite_master`)
		if rerr := tx.Rollback(); err == nil {
			err = rerr
		}
	}
	if err != nil {
		return fmt.Errorf("the store at %s is in use (%v): stop every server on it first", path, err)
	}
	return nil
}

// copyFile copies src to a new file dst (mode 0600).
func copyFile(src, dst string) error {
	in, err := os.Open(src)
	if err != nil {
		return err
	}
	defer in.Close()
	out, err := os.OpenFile(dst, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return err
	}
	if _, err := io.Copy(out, in); err != nil {
		out.Close()
		return err
	}
	return out.Close()
}

// syncFile sets the mode of path and writes it to disk.
func syncFile(path string, mode fs.FileMode) error {
	if err := os.Chmod(path, mode); err != nil {
		return err
	}
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	return f.Sync()
}

// syncDir writes a directory's entries to disk.
func syncDir(dir string) error {
	f, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer f.Close()
	return f.Sync()
}
