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

	"github.com/imagequota/imagequota/internal/console"
	"github.com/imagequota/imagequota/internal/operator"
	"github.com/imagequota/imagequota/internal/quota"
	"github.com/imagequota/imagequota/internal/store"
	"github.com/imagequota/imagequota/internal/usagemetrics"
	"github.com/imagequota/imagequota/internal/vm"
	"github.com/imagequota/imagequota/internal/webhook"
	"github.com/imagequota/imagequota/internal/zcapi"
)

// StoreConfig says which store to open and how.
type StoreConfig struct {
	// URL names the database (see store.ParseURL).
	URL store.URL
	// Options tune the store.
	Options store.Options
	// Create lets a SQLite store that does not exist yet be created (SQLite
	// migrates as it opens). Without it, or Migrate, a store that does not
	// exist — a SQLite file that is absent, a PostgreSQL database that was
	// never migrated — is refused with a *NoStoreError, so that a mistyped
	// location is reported instead of becoming a new, empty store.
	Create bool
	// Migrate applies pending migrations when the store opens, creating
	// the store if need be. Without it a store whose schema is behind is
	// refused with a *SchemaBehindError: the schema of a shared database
	// changes when a rollout says so, with `imagequota migrate`, never
	// because a replica started.
	Migrate bool
	// MasterKey, when set, is where the key that seals access key passwords
	// comes from (in place of Options.Secrets); see UseMasterKey. It is
	// read only once the store is known to exist with a current schema, so
	// that a start that fails generates no key file.
	MasterKey *MasterKey
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

// NoStoreError refuses a store that does not exist: a SQLite file that is
// absent, or a PostgreSQL database that was never migrated.
type NoStoreError struct {
	URL store.URL
}

func (e *NoStoreError) Error() string {
	if e.URL.Engine == store.EnginePostgres {
		return fmt.Sprintf("the database %s has no imagequota schema yet (every migration is pending: it is behind this binary)", e.URL.Redacted())
	}
	return fmt.Sprintf("there is no store at %s", e.URL.Path)
}

// Open opens the store c names, refusing one that does not exist unless
// c.Create or c.Migrate says to create it. It neither checks the schema nor
// loads the master key: that is OpenStore.
func Open(ctx context.Context, c StoreConfig) (*store.DB, error) {
	create := c.Create || c.Migrate
	if !create {
		// Opening a SQLite file creates it: look before.
		ok, err := store.Exists(c.URL)
		if err != nil {
			return nil, err
		}
		if !ok {
			return nil, &NoStoreError{URL: c.URL}
		}
	}
	db, err := store.Open(ctx, c.URL.String(), c.Options)
	if err != nil {
		return nil, err
	}
	if !create && c.URL.Engine == store.EnginePostgres {
		ok, err := db.HasSchema(ctx)
		if err == nil && !ok {
			err = &NoStoreError{URL: c.URL}
		}
		if err != nil {
			db.Close()
			return nil, err
		}
	}
	return db, nil
}

// OpenStore opens the store c names (see Open), migrated or refused as
// c.Migrate says, with its master key.
func OpenStore(ctx context.Context, c StoreConfig) (*store.DB, error) {
	db, err := Open(ctx, c)
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
	return UseMasterKey(ctx, db, *c.MasterKey)
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
	// DefaultMax, when set, is recorded in the store as the server-wide limit
	// (the override of no account and no location, as `imagequota admin
	// quota set --max N` sets it) by ServeActor, unless the store holds it
	// already. The limit in effect lives in the store, where every replica
	// and admin command reads it; where no override applies at all, it is
	// quota.DefaultMaxCount.
	DefaultMax *int
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

	// AuditRetention is how long the audit trail keeps its records; the
	// server prunes it at once and then every hour until it is closed.
	// The zero value keeps everything.
	AuditRetention store.AuditRetention

	// SweepInterval is how often the server records the ends of expired
	// overrides (operator.Service.Sweep) until it is closed; 0 means every
	// minute.
	SweepInterval time.Duration
	// AutoApprove approves the quota requests it covers as they are made.
	AutoApprove quota.AutoApproval
	// Webhook, when set, makes the store record events and delivers them
	// to Webhook.URL from New until Close. Its clock defaults to Now.
	Webhook *webhook.Config
	// Metrics tunes the quota figures served on /metrics.
	Metrics usagemetrics.Options
	// Console serves the operator console under /console/ of the same
	// listener (package console).
	Console bool
}

// auditRetentionEvery is how often a server prunes its audit trail.
const auditRetentionEvery = time.Hour

// Server is an assembled server, ready to serve on a listener.
type Server struct {
	DB      *store.DB
	Catalog *quota.Catalog
	Service *vm.Service
	API     *zcapi.Server
	// Operator is the operator service, served by OperatorAPI on its path
	// of API's listener.
	Operator    *operator.Service
	OperatorAPI *zcapi.Server
	// Console is the operator console, served under /console/ of API's
	// listener; nil unless Config.Console.
	Console  *console.Console
	Registry *prometheus.Registry
	// Figures serves the quota figures on /metrics, from the store.
	Figures *usagemetrics.Collector
	// HTTP serves API's handler with the configured timeouts and TLS.
	HTTP *http.Server

	// tls is Config.TLS: HTTP.TLSConfig is the net/http's to change as it serves.
	tls    *tls.Config
	ownsDB bool
	// stopRetention stops the audit retention, and retention is closed once it stopped.
	stopRetention context.CancelFunc
	retention     chan struct{}
	// stopSweep stops the expiry sweep, and swept is closed once it stopped.
	stopSweep context.CancelFunc
	swept     chan struct{}
	// stopWebhook stops the delivery of events, and webhookDone is closed once it stopped.
	stopWebhook context.CancelFunc
	webhookDone chan struct{}
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
	logger := cfg.Logger
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	if cfg.DefaultMax != nil {
		if err := recordDefaultMax(ctx, s.DB, *cfg.DefaultMax, logger); err != nil {
			if s.ownsDB {
				s.DB.Close()
			}
			return nil, err
		}
	}
	s.Registry = prometheus.NewRegistry()
	s.Registry.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	for name, pool := range s.DB.Pools() {
		s.Registry.MustRegister(collectors.NewDBStatsCollector(pool, "imagequota_"+name))
	}
	s.Service = &vm.Service{Store: s.DB, Catalog: s.Catalog, DefaultMax: quota.DefaultMaxCount, BuildTime: cfg.BuildTime, Now: cfg.Now,
		Policy: cfg.AutoApprove}
	if err := s.registerFigures(cfg, logger); err != nil {
		if s.ownsDB {
			s.DB.Close()
		}
		return nil, err
	}
	s.API = zcapi.NewServer(zcapi.Config{
		Auth: s.DB, Actions: s.Service.Actions(), Logger: cfg.Logger, Registry: s.Registry,
		Ready: s.DB.Ping, Now: cfg.Now, RequestTimeout: cfg.RequestTimeout,
		RateLimit: cfg.RateLimit, RateBurst: cfg.RateBurst,
		Credentials: operator.TenantCredentials(),
	})
	// The operator API: on its own path of the same listener, to operator keys only.
	s.Operator = &operator.Service{Store: s.DB, Catalog: s.Catalog, DefaultMax: quota.DefaultMaxCount, Now: cfg.Now, Logger: cfg.Logger}
	s.OperatorAPI = zcapi.NewServer(zcapi.Config{
		Auth: s.Operator.Auth(), Credentials: operator.Credentials(), Actions: s.Operator.Actions(),
		Logger: cfg.Logger, Registry: s.Registry, MetricPrefix: "imagequota_operator",
		Ready: s.DB.Ping, Now: cfg.Now, RequestTimeout: cfg.RequestTimeout,
		RateLimit: cfg.RateLimit, RateBurst: cfg.RateBurst,
	})
	s.API.Mount(s.OperatorAPI)
	s.HTTP = s.API.HTTPServer(cfg.Timeouts)
	if cfg.Console {
		if err := s.serveConsole(cfg, logger); err != nil {
			if s.ownsDB {
				s.DB.Close()
			}
			return nil, err
		}
	}
	s.HTTP.TLSConfig, s.tls = cfg.TLS, cfg.TLS
	s.retainAudit(cfg.AuditRetention, logger)
	s.sweep(cfg.SweepInterval)
	if cfg.Webhook != nil {
		s.deliverEvents(*cfg.Webhook, cfg.Now, logger)
	}
	return s, nil
}

// registerFigures serves the store's quota figures on /metrics, and counts
// the vm service's refusals for the quota there.
func (s *Server) registerFigures(cfg Config, logger *slog.Logger) error {
	var locs []string
	for _, l := range s.Catalog.All() {
		locs = append(locs, l.ID)
	}
	s.Figures = usagemetrics.New(usagemetrics.Config{Source: s.DB, Locations: locs, DefaultMax: s.Service.DefaultMax,
		Options: cfg.Metrics, Now: cfg.Now, Logger: logger})
	s.Service.QuotaRefused = s.Figures.QuotaRefused
	return s.Figures.Register(s.Registry)
}

// serveConsole serves the operator console on the console's paths of the
// listener, the API on every other.
func (s *Server) serveConsole(cfg Config, logger *slog.Logger) error {
	c, err := console.New(console.Config{Store: s.DB, Operator: s.Operator, Catalog: s.Catalog, Logger: logger, Now: cfg.Now,
		RequestTimeout: cfg.RequestTimeout})
	if err != nil {
		return err
	}
	s.Console = c
	api := s.HTTP.Handler
	s.HTTP.Handler = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if console.Handles(r.URL.Path) {
			c.ServeHTTP(w, r)
			return
		}
		api.ServeHTTP(w, r)
	})
	return nil
}

// sweep records the ends of expired overrides on a goroutine, every
// interval from now until Close.
func (s *Server) sweep(interval time.Duration) {
	if interval <= 0 {
		interval = time.Minute
	}
	ctx, cancel := context.WithCancel(context.Background())
	s.stopSweep, s.swept = cancel, make(chan struct{})
	go func() {
		defer close(s.swept)
		s.Operator.SweepEvery(ctx, interval)
	}()
}

// recordDefaultMax makes n the store's server-wide limit unless it is already.
func recordDefaultMax(ctx context.Context, db *store.DB, n int, logger *slog.Logger) error {
	limits, err := db.ListLimits(ctx)
	if err != nil {
		return err
	}
	for _, l := range limits {
		// One that expires is replaced by one that does not.
		if l.AccountID == "" && l.LocationID == "" && l.MaxCount == n && l.ExpiresAt == nil {
			return nil
		}
	}
	prev, err := db.SetLimit(ctx, quota.LimitOverride{MaxCount: n}, ServeActor)
	if err != nil {
		return fmt.Errorf("recording the default limit %d: %w", n, err)
	}
	logger.Info("default limit recorded in the store", "maxCount", n, "previous", prev)
	return nil
}

// retainAudit prunes the audit trail to r on a goroutine, from now until Close.
func (s *Server) retainAudit(r store.AuditRetention, logger *slog.Logger) {
	if !r.Enabled() {
		return
	}
	ctx, cancel := context.WithCancel(context.Background())
	s.stopRetention, s.retention = cancel, make(chan struct{})
	go func() {
		defer close(s.retention)
		s.DB.RetainAuditEvery(ctx, r, auditRetentionEvery, func(res store.AuditPruned, err error) {
			switch {
			case err != nil:
				logger.Warn("audit retention: pruning failed; it is tried again in an hour", "retention", r.String(), "error", err)
			case res.Removed > 0:
				logger.Info("audit retention: pruned audit records", "retention", r.String(), "removed", res.Removed, "transactions", res.Transactions)
			default:
				logger.Debug("audit retention: nothing to prune", "retention", r.String())
			}
		})
	}()
}

// deliverEvents makes the store record events and delivers them to c.URL on
// a goroutine, from now until Close.
func (s *Server) deliverEvents(c webhook.Config, now func() time.Time, logger *slog.Logger) {
	if c.Now == nil {
		c.Now = now
	}
	s.DB.RecordEvents(true)
	d := webhook.New(c, s.DB, logger, s.Registry)
	ctx, cancel := context.WithCancel(context.Background())
	s.stopWebhook, s.webhookDone = cancel, make(chan struct{})
	go func() {
		defer close(s.webhookDone)
		d.Run(ctx)
	}()
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
	if s.stopRetention != nil {
		// A prune in progress ends before the store closes under it.
		s.stopRetention()
		<-s.retention
	}
	s.stopSweep()
	<-s.swept
	if s.stopWebhook != nil {
		// A delivery in progress gives its events back before the store closes.
		s.stopWebhook()
		<-s.webhookDone
	}
	if s.ownsDB {
		err = errors.Join(err, s.DB.Close())
	}
	return err
}
