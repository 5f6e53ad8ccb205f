package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"strings"

	"imagequota/internal/store"
)

const migrateUsage = `imagequota migrate: apply or show the database migrations.

Usage: imagequota migrate [--db URL | --data-dir DIR] [up|status] [--output table|json]

"up" (the default) applies every pending migration under a lock, so several
migrates at once are safe. "status" lists the migrations and which are applied.
A server refuses to start on a PostgreSQL schema that is behind; SQLite is
migrated when it is opened.
`

func runMigrate(ctx context.Context, args []string, env map[string]string, stdout, stderr io.Writer) error {
	c := newConfig("migrate", migrateUsage, env, stdout, stderr)
	c.fs.Usage = func() { fmt.Fprint(c.fs.Output(), migrateUsage, "\nFlags:\n"); c.fs.PrintDefaults() }
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
	if err := c.Err(); err != nil {
		return err
	}
	db, err := store.Open(ctx, sf.url(), store.Options{})
	if err != nil {
		return err
	}
	defer db.Close()
	var list []store.MigrationStatus
	if verb == "up" {
		if list, err = db.Migrate(ctx); err != nil {
			return err
		}
		// SQLite was migrated as it was opened: report what that applied.
		list = append(db.AppliedAtOpen(), list...)
		if output != "json" {
			if len(list) == 0 {
				fmt.Fprintln(stdout, "The schema is up to date; nothing to apply.")
			}
			for _, m := range list {
				fmt.Fprintf(stdout, "applied %s\n", m.Name)
			}
			return nil
		}
	} else if list, err = db.MigrationStatus(ctx); err != nil {
		return err
	}
	if output == "json" {
		if list == nil {
			list = []store.MigrationStatus{}
		}
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		return enc.Encode(list)
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
