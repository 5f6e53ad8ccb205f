package main

import (
	"context"
	"fmt"
	"io"
	"path/filepath"
	"strings"

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
	if u := s.url(); strings.HasPrefix(u, "sqlite:") || strings.HasPrefix(u, "file:") {
		return filepath.Join(filepath.Dir(strings.TrimPrefix(strings.TrimPrefix(u, "sqlite:"), "file:")), "master.key")
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

// open opens the store and refuses a schema that is behind or a master key
// that does not match the sealed passwords.
func (s *storeFlags) open(ctx context.Context) (*store.DB, error) {
	db, err := store.Open(ctx, s.url(), store.Options{MaxConns: s.maxConns})
	if err != nil {
		return nil, err
	}
	pending, err := db.Pending(ctx)
	if err != nil {
		db.Close()
		return nil, err
	}
	if len(pending) > 0 {
		db.Close()
		return nil, fmt.Errorf("the database schema is behind (%d migration(s) pending, first %s): run \"imagequota migrate --db URL\" first", len(pending), pending[0].Name)
	}
	// The master key is loaded (or generated) only for a store that is ready.
	box, err := s.masterKey()
	if err != nil {
		db.Close()
		return nil, err
	}
	db.SetSecrets(box)
	if err := db.CheckSecrets(ctx); err != nil {
		db.Close()
		return nil, err
	}
	return db, nil
}
