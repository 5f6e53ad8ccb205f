// Package usagemetrics serves the quota figures on /metrics: per location,
// the custom images, the sum of the limits in effect, and the accounts at
// and near their limits; the quota requests by state; the webhook's
// backlog; and, when asked for, per-account series capped to the accounts
// closest to their limits. The figures are read from the store, so every
// replica on one database reports the same ones; they are computed when
// /metrics is scraped, at most once per TTL however many scrapes come at
// once, and never on an API request's path. It also counts the admissions
// refused for the image quota, per location.
package usagemetrics

import (
	"context"
	"log/slog"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/imagequota/imagequota/internal/quota"
)

// Source is what the figures are read from: package store's DB.
type Source interface {
	// QuotaFigures returns the figures of every location with images and
	// of each of locations, with fallback as the limit where no override
	// applies.
	QuotaFigures(ctx context.Context, locations []string, fallback int) ([]quota.LocationFigures, error)
	QuotaRequestFigures(ctx context.Context) (quota.RequestFigures, error)
	OutboxFigures(ctx context.Context) (quota.OutboxFigures, error)
	// UsageReport is read for the per-account series only.
	UsageReport(ctx context.Context, f quota.UsageReportFilter) ([]quota.UsageReportRow, int, error)
}

// Defaults of Options.
const (
	DefaultTTL         = 15 * time.Second
	DefaultMaxAccounts = 1000
	// refreshTimeout bounds one computation of the figures.
	refreshTimeout = 10 * time.Second
)

// Options are what an operator tunes (serve's --metrics-* flags).
type Options struct {
	// TTL is how long computed figures are served before a scrape
	// computes them again: 0 means DefaultTTL, a negative value every
	// scrape (concurrent scrapes still share one computation).
	TTL time.Duration
	// PerAccount adds the per-account series (imagequota_account_quota).
	PerAccount bool
	// MaxAccounts caps the accounts of the per-account series: over it,
	// those closest to their limits are exported. 0 means DefaultMaxAccounts.
	MaxAccounts int
}

// Config is what a Collector is made from.
type Config struct {
	Source Source
	// Locations are always reported, with zeros where no account has
	// images (the catalogue's); locations with images are reported too.
	Locations []string
	// DefaultMax is the limit where no override applies (the vm
	// service's fallback).
	DefaultMax int
	Options
	// Now is the store's clock, for the ages; nil means time.Now.
	Now    func() time.Time
	Logger *slog.Logger
}

// Collector is a prometheus.Collector of the figures. Make it with New and
// register it with Register.
type Collector struct {
	cfg Config

	refused *prometheus.CounterVec
	errors  prometheus.Counter

	mu       sync.Mutex
	last     *snapshot
	lastTry  time.Time     // monotonic: when the last computation began
	inFlight chan struct{} // closed when the computation under way ends
}

// snapshot is one computation of the figures.
type snapshot struct {
	locations []quota.LocationFigures
	requests  quota.RequestFigures
	outbox    quota.OutboxFigures
	// accounts are the per-account rows exported; omitted the accounts
	// left out by the cap.
	accounts []quota.UsageReportRow
	omitted  int
	// at is the wall-clock time it was computed; took how long it took.
	at   time.Time
	took time.Duration
}

// New makes a collector from cfg.
func New(cfg Config) *Collector {
	if cfg.TTL == 0 {
		cfg.TTL = DefaultTTL
	}
	if cfg.MaxAccounts <= 0 {
		cfg.MaxAccounts = DefaultMaxAccounts
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	c := &Collector{
		cfg: cfg,
		refused: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "imagequota_image_quota_refusals_total",
			Help: "CreateImage admissions refused with LIMIT_EXCEEDED_IMAGE_QUOTA, by location, counted by this process.",
		}, []string{"location"}),
		errors: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "imagequota_quota_figures_refresh_errors_total",
			Help: "Computations of the quota figures that failed (the last figures computed are served meanwhile).",
		}),
	}
	for _, l := range cfg.Locations {
		c.refused.WithLabelValues(l)
	}
	return c
}

// Register registers the collector and its counters with reg.
func (c *Collector) Register(reg prometheus.Registerer) error {
	for _, m := range []prometheus.Collector{c, c.refused, c.errors} {
		if err := reg.Register(m); err != nil {
			return err
		}
	}
	return nil
}

// QuotaRefused counts an admission refused for the image quota in
// locationID (a location of the catalogue: the admission checks it first).
func (c *Collector) QuotaRefused(locationID string) {
	c.refused.WithLabelValues(locationID).Inc()
}

var (
	locationLabel = []string{"location"}

	descImages = prometheus.NewDesc("imagequota_location_images",
		"Custom images in the location.", locationLabel, nil)
	descAccounts = prometheus.NewDesc("imagequota_location_accounts",
		"Accounts with at least one custom image in the location.", locationLabel, nil)
	descLimitSum = prometheus.NewDesc("imagequota_location_limit_sum",
		"Sum of the limits in effect in the location of the accounts with images there.", locationLabel, nil)
	descAtLimit = prometheus.NewDesc("imagequota_location_accounts_at_limit",
		"Accounts whose count in the location has reached their limit there.", locationLabel, nil)
	descNearLimit = prometheus.NewDesc("imagequota_location_accounts_near_limit",
		"Accounts whose count in the location is at least 80% of their limit there (those at it included).", locationLabel, nil)
	descRequests = prometheus.NewDesc("imagequota_quota_requests",
		"Quota requests by state.", []string{"state"}, nil)
	descPendingAge = prometheus.NewDesc("imagequota_quota_requests_oldest_pending_age_seconds",
		"Age of the oldest PENDING quota request; 0 when none is pending.", nil, nil)
	descOutbox = prometheus.NewDesc("imagequota_webhook_outbox_events",
		"Events recorded for the webhook and not delivered yet.", nil, nil)
	descOutboxFailing = prometheus.NewDesc("imagequota_webhook_outbox_failing_events",
		"Events not delivered yet whose delivery failed at least once.", nil, nil)
	descOutboxAge = prometheus.NewDesc("imagequota_webhook_outbox_oldest_event_age_seconds",
		"Age of the oldest event not delivered yet; 0 when none waits.", nil, nil)
	descAccountQuota = prometheus.NewDesc("imagequota_account_quota",
		"Per account and location with images: used (the count) and hard (the limit in effect); only with --metrics-per-account, capped by --metrics-max-accounts.",
		[]string{"account", "location", "type"}, nil)
	descOmitted = prometheus.NewDesc("imagequota_account_quota_omitted_accounts",
		"Accounts with images left out of imagequota_account_quota by the cap (those farthest from their limits).", nil, nil)
	descRefreshed = prometheus.NewDesc("imagequota_quota_figures_last_refresh_timestamp_seconds",
		"When the quota figures served were computed (Unix time).", nil, nil)
	descTook = prometheus.NewDesc("imagequota_quota_figures_refresh_duration_seconds",
		"How long the last computation of the quota figures took.", nil, nil)
)

// Describe sends the descriptions of the figures.
func (c *Collector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{descImages, descAccounts, descLimitSum, descAtLimit, descNearLimit, descRequests,
		descPendingAge, descOutbox, descOutboxFailing, descOutboxAge, descRefreshed, descTook} {
		ch <- d
	}
	if c.cfg.PerAccount {
		ch <- descAccountQuota
		ch <- descOmitted
	}
}

// Collect sends the figures, computing them first if those at hand are
// older than the TTL.
func (c *Collector) Collect(ch chan<- prometheus.Metric) {
	s := c.figures()
	if s == nil {
		// No computation has succeeded yet: the errors counter says why.
		return
	}
	gauge := func(d *prometheus.Desc, v float64, labels ...string) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.GaugeValue, v, labels...)
	}
	for _, f := range s.locations {
		gauge(descImages, float64(f.Images), f.LocationID)
		gauge(descAccounts, float64(f.Accounts), f.LocationID)
		gauge(descLimitSum, float64(f.LimitSum), f.LocationID)
		gauge(descAtLimit, float64(f.AtLimit), f.LocationID)
		gauge(descNearLimit, float64(f.NearLimit), f.LocationID)
	}
	for _, st := range quota.RequestStates {
		gauge(descRequests, float64(s.requests.ByState[st]), string(st))
	}
	now := c.cfg.Now()
	gauge(descPendingAge, age(now, s.requests.OldestPending))
	gauge(descOutbox, float64(s.outbox.Events))
	gauge(descOutboxFailing, float64(s.outbox.FailingEvents))
	gauge(descOutboxAge, age(now, s.outbox.Oldest))
	gauge(descRefreshed, float64(s.at.UnixNano())/1e9)
	gauge(descTook, s.took.Seconds())
	if c.cfg.PerAccount {
		for _, r := range s.accounts {
			gauge(descAccountQuota, float64(r.Count), r.AccountID, r.LocationID, "used")
			gauge(descAccountQuota, float64(r.Effective.MaxCount), r.AccountID, r.LocationID, "hard")
		}
		gauge(descOmitted, float64(s.omitted))
	}
}

// age is how long before now t was, in seconds; 0 for the zero time.
func age(now, t time.Time) float64 {
	if t.IsZero() {
		return 0
	}
	return max(now.Sub(t).Seconds(), 0)
}

// figures returns the figures to serve: those at hand while younger than
// the TTL, else new ones. One computation at a time: a scrape that comes
// while one is under way waits for it and serves its result.
func (c *Collector) figures() *snapshot {
	c.mu.Lock()
	for {
		if c.lastTry != (time.Time{}) && c.cfg.TTL > 0 && time.Since(c.lastTry) < c.cfg.TTL && c.inFlight == nil {
			s := c.last
			c.mu.Unlock()
			return s
		}
		if c.inFlight == nil {
			break
		}
		wait := c.inFlight
		c.mu.Unlock()
		<-wait
		c.mu.Lock()
		if c.cfg.TTL <= 0 {
			// Every scrape computes, but those that waited for one share it.
			s := c.last
			c.mu.Unlock()
			return s
		}
	}
	done := make(chan struct{})
	c.inFlight, c.lastTry = done, time.Now()
	c.mu.Unlock()

	s, err := c.compute()

	c.mu.Lock()
	if err != nil {
		// The figures at hand are served until the next try, one TTL on.
		c.errors.Inc()
		c.cfg.Logger.Error("computing the quota figures for /metrics failed", "error", err.Error())
	} else {
		c.last = s
	}
	c.inFlight = nil
	close(done)
	s = c.last
	c.mu.Unlock()
	return s
}

// compute reads the figures from the store.
func (c *Collector) compute() (*snapshot, error) {
	ctx, cancel := context.WithTimeout(context.Background(), refreshTimeout)
	defer cancel()
	start := time.Now()
	s := &snapshot{at: start}
	var err error
	if s.locations, err = c.cfg.Source.QuotaFigures(ctx, c.cfg.Locations, c.cfg.DefaultMax); err != nil {
		return nil, err
	}
	if s.requests, err = c.cfg.Source.QuotaRequestFigures(ctx); err != nil {
		return nil, err
	}
	if s.outbox, err = c.cfg.Source.OutboxFigures(ctx); err != nil {
		return nil, err
	}
	if c.cfg.PerAccount {
		rows, _, err := c.cfg.Source.UsageReport(ctx, quota.UsageReportFilter{OrderBy: quota.OrderByUtilization, DefaultMax: c.cfg.DefaultMax})
		if err != nil {
			return nil, err
		}
		s.accounts, s.omitted = closest(rows, c.cfg.MaxAccounts)
	}
	s.took = time.Since(start)
	return s, nil
}

// closest keeps, of rows in the order of their utilization (highest first),
// those of the first max accounts to appear, each account with all its
// rows, and counts the accounts left out.
func closest(rows []quota.UsageReportRow, max int) (kept []quota.UsageReportRow, omitted int) {
	chosen := map[string]bool{}
	for _, r := range rows {
		in, seen := chosen[r.AccountID]
		if !seen {
			in = len(chosen)-omitted < max
			chosen[r.AccountID] = in
			if !in {
				omitted++
			}
		}
		if in {
			kept = append(kept, r)
		}
	}
	return kept, omitted
}
