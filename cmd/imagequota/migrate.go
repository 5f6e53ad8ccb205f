package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"strings"

	"github.com/imagequota/imagequota/internal/app"
	"github.com/imagequota/imagequota/internal/quota"
	"github.com/imagequota/imagequota/internal/store"
)

const migrateUsage = `imagequota migrate: apply or show the database migrations.

Usage: imagequota migrate [--db URL | --data-dir DIR] [up|status] [--output table|json]

"up" (the default) applies every pending migration under a lock, so several
migrates at once are safe, and creates the store when it does not exist yet:
the SQLite file, or the schema of an empty PostgreSQL database. "status" lists
the migrations and which are applied. A server or admin command refuses a
store that does not exist, and a PostgreSQL schema that is behind; SQLite is
migrated when it is opened.

When the master key file (--master-key-file, or master.key beside the SQLite
file or in --data-dir) exists, "up" records its fingerprint in the store if
none is recorded yet, and fails if the store's is another: every server and
admin command must then use the same key. It never generates a key.
`

func runMigrate(ctx context.Context, args []string, env map[string]string, stdout, stderr io.Writer) error {
	c := newConfig("migrate", migrateUsage, env, stdout, stderr)
	sf := addStoreFlags(c)
	var output string
	c.String(&output, "output", "", "table", "output format: table or json")
	pos, err := c.Parse(args)
	if err != nil {
		return err
	}
	verb := "up"
	if len(pos) > 1 || (len(pos) == 1 && pos[0] != "up" && pos[0] != "status") {
		c.Problem("the subcommand is up or status; got %s", strings.Join(pos, " "))
	} else if len(pos) == 1 {
		verb = pos[0]
	}
	sf.check(c)
	if err := c.Err(); err != nil {
		return err
	}
	// up creates the store; status reads it, and reports a PostgreSQL
	// database that was never migrated as every migration pending.
	sc, err := sf.storeConfig(verb == "up", nil)
	if err != nil {
		return err
	}
	sc.Create = sc.Create || sc.URL.Engine == store.EnginePostgres
	db, err := app.Open(ctx, sc)
	if err != nil {
		return sf.explain(err)
	}
	defer db.Close()
	var list []store.MigrationStatus
	if verb == "up" {
		if list, err = db.Migrate(ctx); err != nil {
			return err
		}
		// SQLite was migrated as it was opened: report what that applied.
		list = append(db.AppliedAtOpen(), list...)
		if err := writeMigrations(stdout, output, list, true); err != nil {
			return err
		}
		return claimMasterKey(ctx, db, sf)
	}
	if list, err = db.MigrationStatus(ctx); err != nil {
		return err
	}
	return writeMigrations(stdout, output, list, false)
}

// claimMasterKey records the master key the flags name as the store's when
// its file exists (see migrateUsage).
func claimMasterKey(ctx context.Context, db *store.DB, sf *storeFlags) error {
	if _, err := os.Stat(sf.keyPath()); errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err := app.UseMasterKey(ctx, db, *sf.masterKey(false, quota.AdminActor)); err != nil {
		return fmt.Errorf("the schema is up to date, but %w", err)
	}
	return nil
}

// writeMigrations prints what migrate up applied, or the status of every migration.
func writeMigrations(stdout io.Writer, output string, list []store.MigrationStatus, up bool) error {
	if output == "json" {
		if list == nil {
			list = []store.MigrationStatus{}
		}
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		return enc.Encode(list)
	}
	if up {
		if len(list) == 0 {
			fmt.Fprintln(stdout, "The schema is up to date; nothing to apply.")
		}
		for _, m := range list {
			fmt.Fprintf(stdout, "applied %s\n", m.Name)
		}
		return nil
	}
	for _, m := range list {
		state := "pending"
		if m.Applied {
			state = "applied"
		}
		fmt.Fprintf(stdout, "%-30s %s\n", m.Name, state)
	}
	return nil
}
