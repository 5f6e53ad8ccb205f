package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"path/filepath"
	"strings"

	"github.com/imagequota/imagequota/internal/app"
	"github.com/imagequota/imagequota/internal/quota"
	"github.com/imagequota/imagequota/internal/store"
)

// defaultDataDir is where the store is when no flag or variable says.
const defaultDataDir = "./data"

// storeFlags are the flags that choose the store and the catalogue.
type storeFlags struct {
	dataDir, db, catalog, masterKeyFile string
	maxConns                            int
	// notices receives messages the operator must see (a generated master key).
	notices io.Writer
	c       *config
}

func addStoreFlags(c *config) *storeFlags {
	s := addStorePlaceFlags(c)
	c.String(&s.catalog, "catalog", "IMAGEQUOTA_CATALOG", "", "JSON file replacing the built-in location catalogue")
	c.Int(&s.maxConns, "db-max-conns", "IMAGEQUOTA_DB_MAX_CONNS", 0, "database connections (0: 16 for PostgreSQL, 8 readers for SQLite)")
	return s
}

// addStorePlaceFlags declares only the flags that say where the store and
// its master key are.
func addStorePlaceFlags(c *config) *storeFlags {
	s := &storeFlags{c: c}
	c.String(&s.dataDir, "data-dir", "IMAGEQUOTA_DATA_DIR", defaultDataDir, "directory of the embedded SQLite store (DIR/imagequota.db)")
	c.Secret(&s.db, "db", "IMAGEQUOTA_DB", "database URL: postgres://… for PostgreSQL, or sqlite:PATH; overrides --data-dir")
	c.String(&s.masterKeyFile, "master-key-file", "IMAGEQUOTA_MASTER_KEY_FILE", "", "file holding the master key that seals access key passwords (default: master.key beside the SQLite file, or in --data-dir)")
	return s
}

// url returns the database URL the flags name.
func (s *storeFlags) url() string {
	if s.db != "" {
		return s.db
	}
	return "sqlite:" + filepath.Join(s.dataDir, "imagequota.db")
}

// check records a problem in c when the flags name no store imagequota can
// open (an unknown URL scheme, say), so that it is reported with the others.
func (s *storeFlags) check(c *config) {
	if _, err := store.ParseURL(s.url()); err != nil {
		name := "--data-dir (IMAGEQUOTA_DATA_DIR)"
		if s.db != "" {
			name = "--db (IMAGEQUOTA_DB)"
		}
		c.Problem("%s: %s", name, strings.TrimPrefix(err.Error(), "store: "))
	}
}

// isDefault reports whether the store is the default one, ./data, named by
// no flag or variable: the one store `imagequota serve` creates by itself,
// so that trying it out takes one command.
func (s *storeFlags) isDefault() bool {
	return s.db == "" && s.dataDir == defaultDataDir && !s.c.given("data-dir", "IMAGEQUOTA_DATA_DIR")
}

// createHint says how to create the store the flags name.
func (s *storeFlags) createHint() string {
	switch {
	case s.db != "":
		return `create it with "imagequota migrate" given the same --db (or IMAGEQUOTA_DB)`
	case s.isDefault():
		return `create it with "imagequota migrate", or start "imagequota serve" in this directory, which creates it on its first start`
	}
	return fmt.Sprintf("create it with \"imagequota migrate --data-dir %s\"", s.dataDir)
}

// loadCatalog loads the catalogue the flags name, recording a problem in c
// when it cannot.
func (s *storeFlags) loadCatalog(c *config) *quota.Catalog {
	cat, err := quota.LoadCatalog(s.catalog)
	if err != nil {
		c.Problem("--catalog: %v", err)
	}
	return cat
}

// keyPath is the master key file the flags name.
func (s *storeFlags) keyPath() string {
	if s.masterKeyFile != "" {
		return s.masterKeyFile
	}
	// Beside the SQLite file; for PostgreSQL, in the data directory.
	if u, err := store.ParseURL(s.url()); err == nil && u.Engine == store.EngineSQLite {
		return filepath.Join(filepath.Dir(u.Path), "master.key")
	}
	return filepath.Join(s.dataDir, "master.key")
}

// masterKey is the master key the flags name, for a command that seals or
// opens access key passwords. generate lets it be made on the store's first
// use, as its actor; the command says so on s.notices.
func (s *storeFlags) masterKey(generate bool, actor quota.Actor) *app.MasterKey {
	return &app.MasterKey{File: s.keyPath(), Generate: generate, Actor: actor, Generated: func(file string) {
		if s.notices != nil {
			fmt.Fprintf(s.notices, "Generated a new master key in %s (mode 0600). It seals the access key passwords: back it up, and give every replica the same file.\n", file)
		}
	}}
}

// storeConfig is the store the flags name (see app.StoreConfig), with the
// master key when key is set.
func (s *storeFlags) storeConfig(create bool, key *app.MasterKey) (app.StoreConfig, error) {
	u, err := store.ParseURL(s.url())
	if err != nil {
		return app.StoreConfig{}, err
	}
	return app.StoreConfig{URL: u, Options: store.Options{MaxConns: s.maxConns}, Create: create, MasterKey: key}, nil
}

// open opens the store the flags name, which must exist with a current
// schema, with the master key when key is set.
func (s *storeFlags) open(ctx context.Context, key *app.MasterKey) (*store.DB, error) {
	sc, err := s.storeConfig(false, key)
	if err != nil {
		return nil, err
	}
	db, err := app.OpenStore(ctx, sc)
	return db, s.explain(err)
}

// explain adds to a refusal of a store that does not exist how to create it.
func (s *storeFlags) explain(err error) error {
	var none *app.NoStoreError
	if errors.As(err, &none) {
		return fmt.Errorf("%w: %s", err, s.createHint())
	}
	return err
}
