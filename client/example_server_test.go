package client_test

import (
	"context"
	"io"
	"log"
	"log/slog"
	"net/http/httptest"
	"os"
	"path/filepath"

	"github.com/imagequota/imagequota/internal/app"
	"github.com/imagequota/imagequota/internal/quota"
	"github.com/imagequota/imagequota/internal/store"
)

// exampleServer is a server on a new SQLite store with one operator; the
// examples call it as a user's program calls a deployed one.
type exampleServer struct {
	URL                           string
	OperatorKeyID, OperatorSecret string
	close                         func()
}

func startExampleServer() *exampleServer {
	ctx := context.Background()
	dir, err := os.MkdirTemp("", "imagequota-example-")
	if err != nil {
		log.Fatal(err)
	}
	u, err := store.ParseURL("sqlite:" + filepath.Join(dir, "imagequota.db"))
	if err != nil {
		log.Fatal(err)
	}
	db, err := app.OpenStore(ctx, app.StoreConfig{URL: u, Migrate: true})
	if err != nil {
		log.Fatal(err)
	}
	_, key, err := db.CreateOperator(ctx, "support", quota.RoleAdmin, quota.AdminActor)
	if err != nil {
		log.Fatal(err)
	}
	srv, err := app.New(ctx, app.Config{DB: db, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		log.Fatal(err)
	}
	hs := httptest.NewUnstartedServer(nil)
	hs.Config = srv.HTTP
	hs.Start()
	return &exampleServer{URL: hs.URL, OperatorKeyID: key.ID, OperatorSecret: key.Secret, close: func() {
		hs.Close()
		srv.Close()
		os.RemoveAll(dir)
	}}
}
