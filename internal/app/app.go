// Package app assembles an imagequota server from its configuration: the
// store with its read cache, authentication, the vm service, the HTTP server
// with its limits and timeouts, and the metrics. `imagequota serve`, the test
// kit and the benchmark all build their servers here, so that the server a
// test or a benchmark runs is the server that is deployed.
package app

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"

	"imagequota/internal/quota"
	"imagequota/internal/secrets"
	"imagequota/internal/store"
	"imagequota/internal/vm"
	"imagequota/internal/zcapi"
)

// StoreConfig says which store to open and how.
type StoreConfig struct {
	// URL names the database (see store.ParseURL).
	URL store.URL
	// Options tune the store.
	Options store.Options
	// Migrate applies pending migrations when the store opens. Without it a
	// store whose schema is behind is refused with a *SchemaBehindError: the
	// schema of a shared database changes when a rollout says so, with
	// `imagequota migrate`, never because a replica started.
	Migrate bool
	// MasterKey, when set, loads the key that seals access key passwords
	// (in place of Options.Secrets), and the store is refused when its
	// passwords were sealed under another key: a wrong key file is found at
	// start, not as failed signatures. It is called only once the schema is
	// known to be current, so that a start that fails generates no key file.
	MasterKey func() (*secrets.Box, error)
}

// SchemaBehindError refuses a store whose schema lacks migrations this
// binary has.
type SchemaBehindError struct {
	Pending []store.MigrationStatus
}

func (e *SchemaBehindError) Error() string {
	return fmt.Sprintf("the database schema is behind (%d migration(s) pending, first %s): run \"imagequota migrate --db URL\" first",
		len(e.Pending), e.Pending[0].Name)
}

// OpenStore opens the store c names, migrated or refused as c.Migrate says,
// with its master key.
func OpenStore(ctx context.Context, c StoreConfig) (*store.DB, error) {
	db, err := store.Open(ctx, c.URL.String(), c.Options)
	if err != nil {
		return nil, err
	}
	if err := prepare(ctx, db, c); err != nil {
		db.Close()
		return nil, err
	}
	return db, nil
}

func prepare(ctx context.Context, db *store.DB, c StoreConfig) error {
	if c.Migrate {
		if _, err := db.Migrate(ctx); err != nil {
			return err
		}
	} else {
		pending, err := db.Pending(ctx)
		if err != nil {
			return err
		}
		if len(pending) > 0 {
			return &SchemaBehindError{Pending: pending}
		}
	}
	if c.MasterKey == nil {
		return nil
	}
	box, err := c.MasterKey()
	if err != nil {
		return err
	}
	db.SetSecrets(box)
	return db.CheckSecrets(ctx)
}

// Config is what a server is assembled from.
type Config struct {
	// Store is the store to open; the server closes it when it closes.
	Store StoreConfig
	// DB, when set, is an open store to serve instead of opening Store. The
	// caller keeps it: the server does not close it.
	DB *store.DB

	// Catalog is the location catalogue; nil means quota.DefaultCatalog().
	Catalog *quota.Catalog
	// DefaultMax is the limit where no override applies (0 allows no image).
	DefaultMax int
	// BuildTime is how long a new image stays CREATING.
	BuildTime time.Duration
	// Now is the clock of the store (unless Store.Options sets one), the
	// service and the API; nil means time.Now.
	Now func() time.Time

	// Logger receives the request log; nil discards it.
	Logger *slog.Logger
	// RequestTimeout bounds each API request's work; 0 means zcapi's default.
	RequestTimeout time.Duration
	// RateLimit is the requests per second allowed to each access key or
	// token (0: no limit), with RateBurst above it.
	RateLimit float64
	RateBurst int
	// Timeouts bound what a client connection can hold.
	Timeouts zcapi.Timeouts
	// TLS, when set, makes Serve speak HTTPS.
	TLS *tls.Config
}

// Server is an assembled server, ready to serve on a listener.
type Server struct {
	DB       *store.DB
	Catalog  *quota.Catalog
	Service  *vm.Service
	API      *zcapi.Server
	Registry *prometheus.Registry
	// HTTP serves API's handler with the configured timeouts and TLS.
	HTTP *http.Server

	// tls is Config.TLS: HTTP.TLSConfig is the net/http's to change as it serves.
	tls    *tls.Config
	ownsDB bool
}

// New assembles a server. It opens the store unless cfg.DB is set.
func New(ctx context.Context, cfg Config) (*Server, error) {
	s := &Server{DB: cfg.DB, Catalog: cfg.Catalog}
	if s.Catalog == nil {
		s.Catalog = quota.DefaultCatalog()
	}
	if s.DB == nil {
		sc := cfg.Store
		if sc.Options.Now == nil {
			sc.Options.Now = cfg.Now
		}
		db, err := OpenStore(ctx, sc)
		if err != nil {
			return nil, err
		}
		s.DB, s.ownsDB = db, true
	}
	s.Registry = prometheus.NewRegistry()
	s.Registry.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	for name, pool := range s.DB.Pools() {
		s.Registry.MustRegister(collectors.NewDBStatsCollector(pool, "imagequota_"+name))
	}
	s.Service = &vm.Service{Store: s.DB, Catalog: s.Catalog, DefaultMax: cfg.DefaultMax, BuildTime: cfg.BuildTime, Now: cfg.Now}
	s.API = zcapi.NewServer(zcapi.Config{
		Auth: s.DB, Actions: s.Service.Actions(), Logger: cfg.Logger, Registry: s.Registry,
		Ready: s.DB.Ping, Now: cfg.Now, RequestTimeout: cfg.RequestTimeout,
		RateLimit: cfg.RateLimit, RateBurst: cfg.RateBurst,
	})
	s.HTTP = s.API.HTTPServer(cfg.Timeouts)
	s.HTTP.TLSConfig, s.tls = cfg.TLS, cfg.TLS
	return s, nil
}

// URL is the base URL of the server on ln: https:// with TLS, else http://.
func (s *Server) URL(ln net.Listener) string {
	if s.tls != nil {
		return "https://" + ln.Addr().String()
	}
	return "http://" + ln.Addr().String()
}

// Serve serves on ln (over TLS when configured) until Shutdown or Close,
// after which it returns http.ErrServerClosed.
func (s *Server) Serve(ln net.Listener) error {
	if s.tls != nil {
		ln = tls.NewListener(ln, s.HTTP.TLSConfig)
	}
	return s.HTTP.Serve(ln)
}

// Shutdown stops accepting connections and waits, as long as ctx allows, for
// the requests in flight to be answered.
func (s *Server) Shutdown(ctx context.Context) error { return s.HTTP.Shutdown(ctx) }

// Close stops serving at once, closing the listeners and connections, and
// closes the store if the server opened it.
func (s *Server) Close() error {
	err := s.HTTP.Close()
	if s.ownsDB {
		err = errors.Join(err, s.DB.Close())
	}
	return err
}
