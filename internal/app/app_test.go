package app_test

import (
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"imagequota/internal/app"
	"imagequota/internal/quota"
	"imagequota/internal/secrets"
	"imagequota/internal/store"
	"imagequota/internal/testkit"
	"imagequota/internal/testkit/pgtest"
	"imagequota/vmapi"
)

// serve runs s on a listener on 127.0.0.1 until the test ends and returns its URL.
func serve(t *testing.T, s *app.Server) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	errc := make(chan error, 1)
	go func() { errc <- s.Serve(ln) }()
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := s.Shutdown(ctx); err != nil {
			t.Errorf("shutdown: %v", err)
		}
		if err := <-errc; !errors.Is(err, http.ErrServerClosed) {
			t.Errorf("Serve returned %v", err)
		}
		if err := s.Close(); err != nil {
			t.Errorf("close: %v", err)
		}
	})
	return s.URL(ln)
}

func get(t *testing.T, url string) (int, string) {
	t.Helper()
	resp, err := (&http.Client{Timeout: 10 * time.Second}).Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, string(b)
}

func sqliteStore(t *testing.T) app.StoreConfig {
	t.Helper()
	u, err := store.ParseURL("sqlite:" + filepath.Join(t.TempDir(), "imagequota.db"))
	if err != nil {
		t.Fatal(err)
	}
	return app.StoreConfig{URL: u, Options: store.Options{Secrets: testkit.SecretBox()}}
}

// TestNewServesTheAPI: a server assembled from a store URL answers signed
// calls and its health and metrics endpoints, with the store's pools and the
// runtime among the metrics.
func TestNewServesTheAPI(t *testing.T) {
	t.Parallel()
	s, err := app.New(t.Context(), app.Config{Store: sqliteStore(t), DefaultMax: 3})
	if err != nil {
		t.Fatal(err)
	}
	url := serve(t, s)
	if !strings.HasPrefix(url, "http://127.0.0.1:") {
		t.Errorf("URL %q", url)
	}
	acct := testkit.NewAccount(t, s.DB, url)
	q, err := acct.Client.DescribeImageQuota(t.Context(), &vmapi.DescribeImageQuotaRequest{ZoneIDs: []string{"jp-tokyo-1a"}})
	if err != nil {
		t.Fatal(err)
	}
	if len(q.Images) != 1 || q.Images[0].MaxCount != 3 {
		t.Errorf("DescribeImageQuota: %+v; want one location with maxCount 3 (the configured default)", q.Images)
	}
	if code, body := get(t, url+"/readyz"); code != http.StatusOK {
		t.Errorf("/readyz: %d %s", code, body)
	}
	_, metrics := get(t, url+"/metrics")
	for _, want := range []string{`imagequota_requests_total{action="DescribeImageQuota",code="OK"} 1`, "go_goroutines", `db_name="imagequota_db`} {
		if !strings.Contains(metrics, want) {
			t.Errorf("/metrics lacks %s", want)
		}
	}
}

// TestCloseLeavesTheCallersStore: a server given an open store does not close it.
func TestCloseLeavesTheCallersStore(t *testing.T) {
	t.Parallel()
	db := testkit.OpenStore(t, testkit.SQLiteURL(t), store.Options{})
	s, err := app.New(t.Context(), app.Config{DB: db, Catalog: quota.DefaultCatalog()})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if err := db.Ping(t.Context()); err != nil {
		t.Errorf("the caller's store was closed: %v", err)
	}
}

// TestOpenStoreRefusesASchemaBehind: without Migrate, a PostgreSQL database
// that was never migrated is refused, naming the first pending migration,
// and the master key is not asked for.
func TestOpenStoreRefusesASchemaBehind(t *testing.T) {
	t.Parallel()
	u, err := store.ParseURL(pgtest.NewDatabase(t))
	if err != nil {
		t.Fatal(err)
	}
	asked := false
	_, err = app.OpenStore(t.Context(), app.StoreConfig{URL: u, MasterKey: func() (*secrets.Box, error) {
		asked = true
		return nil, errors.New("not this")
	}})
	var behind *app.SchemaBehindError
	if !errors.As(err, &behind) || len(behind.Pending) == 0 || !strings.Contains(err.Error(), behind.Pending[0].Name) {
		t.Fatalf("OpenStore of an unmigrated database: %v; want a SchemaBehindError naming the first migration", err)
	}
	if asked {
		t.Error("the master key was loaded for a store that was refused")
	}
	db, err := app.OpenStore(t.Context(), app.StoreConfig{URL: u, Migrate: true})
	if err != nil {
		t.Fatalf("OpenStore with Migrate: %v", err)
	}
	defer db.Close()
	if pending, err := db.Pending(t.Context()); err != nil || len(pending) != 0 {
		t.Errorf("after OpenStore with Migrate: pending %v, %v", pending, err)
	}
}

// TestOpenStoreRefusesAnotherMasterKey: a store whose passwords were sealed
// under one key is refused with another.
func TestOpenStoreRefusesAnotherMasterKey(t *testing.T) {
	t.Parallel()
	sc := sqliteStore(t)
	db, err := app.OpenStore(t.Context(), sc)
	if err != nil {
		t.Fatal(err)
	}
	a, err := db.CreateAccount(t.Context(), "sealed")
	if err == nil {
		_, err = db.CreateAccessKey(t.Context(), a.ID)
	}
	db.Close()
	if err != nil {
		t.Fatal(err)
	}
	sc.MasterKey = func() (*secrets.Box, error) { return otherBox(t), nil }
	if db, err := app.OpenStore(t.Context(), sc); err == nil {
		db.Close()
		t.Fatal("a store sealed under another master key was opened")
	}
}

// otherBox is a master key other than testkit.SecretBox's.
func otherBox(t *testing.T) *secrets.Box {
	t.Helper()
	box, err := secrets.New([]byte(strings.Repeat("k", secrets.KeySize)))
	if err != nil {
		t.Fatal(err)
	}
	return box
}
