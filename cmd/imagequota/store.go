package main

import (
	"context"
	"fmt"
	"io"
	"path/filepath"

	"imagequota/internal/app"
	"imagequota/internal/quota"
	"imagequota/internal/secrets"
	"imagequota/internal/store"
)

// storeFlags are the flags that choose the store and the catalogue.
type storeFlags struct {
	dataDir, db, catalog, masterKeyFile string
	maxConns, defaultMax                int
	// notices receives messages the operator must see (a generated master key).
	notices io.Writer
}

func addStoreFlags(c *config) *storeFlags {
	s := &storeFlags{}
	c.String(&s.dataDir, "data-dir", "IMAGEQUOTA_DATA_DIR", "./data", "directory of the embedded SQLite store (DIR/imagequota.db)")
	c.Secret(&s.db, "db", "IMAGEQUOTA_DB", "database URL: postgres://… for PostgreSQL, or sqlite:PATH; overrides --data-dir")
	c.String(&s.catalog, "catalog", "IMAGEQUOTA_CATALOG", "", "JSON file replacing the built-in location catalogue")
	c.Int(&s.defaultMax, "default-max-count", "IMAGEQUOTA_DEFAULT_MAX_COUNT", quota.DefaultMaxCount, "custom images per account and location when no limit is set")
	c.String(&s.masterKeyFile, "master-key-file", "IMAGEQUOTA_MASTER_KEY_FILE", "", "file holding the master key that seals access key passwords (default: master.key beside the SQLite file, or in --data-dir; generated with mode 0600 when absent)")
	c.Int(&s.maxConns, "db-max-conns", "IMAGEQUOTA_DB_MAX_CONNS", 0, "database connections (0: 16 for PostgreSQL, 8 readers for SQLite)")
	return s
}

// url returns the database URL the flags name.
func (s *storeFlags) url() string {
	if s.db != "" {
		return s.db
	}
	return "sqlite:" + filepath.Join(s.dataDir, "imagequota.db")
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

// masterKey loads the master key, generating it (and saying so) when absent.
func (s *storeFlags) masterKey() (*secrets.Box, error) {
	box, created, err := secrets.LoadOrGenerate(s.keyPath())
	if err != nil {
		return nil, err
	}
	if created && s.notices != nil {
		fmt.Fprintf(s.notices, "Generated a new master key in %s (mode 0600). It seals the access key passwords: back it up, and give every replica the same file.\n", s.keyPath())
	}
	return box, nil
}

// storeConfig is the store the flags name, refused when its schema is behind
// or its master key does not match the sealed passwords.
func (s *storeFlags) storeConfig() (app.StoreConfig, error) {
	u, err := store.ParseURL(s.url())
	if err != nil {
		return app.StoreConfig{}, err
	}
	return app.StoreConfig{URL: u, Options: store.Options{MaxConns: s.maxConns}, MasterKey: s.masterKey}, nil
}

// open opens the store the flags name (see storeConfig).
func (s *storeFlags) open(ctx context.Context) (*store.DB, error) {
	sc, err := s.storeConfig()
	if err != nil {
		return nil, err
	}
	return app.OpenStore(ctx, sc)
}
