package main

import (
	"context"
	"fmt"
	"path/filepath"

	"imagequota/internal/quota"
	"imagequota/internal/store"
)

// storeFlags are the flags that choose the store and the catalogue.
type storeFlags struct {
	dataDir, db, catalog string
	maxConns, defaultMax int
}

func addStoreFlags(c *config) *storeFlags {
	s := &storeFlags{}
	c.String(&s.dataDir, "data-dir", "IMAGEQUOTA_DATA_DIR", "./data", "directory of the embedded SQLite store (DIR/imagequota.db)")
	c.Secret(&s.db, "db", "IMAGEQUOTA_DB", "database URL: postgres://… for PostgreSQL, or sqlite:PATH; overrides --data-dir")
	c.String(&s.catalog, "catalog", "IMAGEQUOTA_CATALOG", "", "JSON file replacing the built-in location catalogue")
	c.Int(&s.defaultMax, "default-max-count", "IMAGEQUOTA_DEFAULT_MAX_COUNT", quota.DefaultMaxCount, "custom images per account and location when no limit is set")
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

// open opens the store and refuses a schema that is behind.
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
	return db, nil
}
