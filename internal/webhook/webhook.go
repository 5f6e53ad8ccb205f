// Package webhook delivers the store's events to one HTTP endpoint. Each
// event is POSTed as the JSON object {id, type, time, data}, signed with
// HMAC-SHA256 over its timestamp and body (Sign, Verify), at least once:
// while the receiver fails, it is retried with exponential backoff, and the
// event stays in the store's outbox — across restarts — until a delivery
// succeeds. Delivery happens outside every store transaction: events are
// claimed from the outbox for a lease, sent, then reported delivered or
// failed, so a deliverer that stops mid-way leaves them to the next one.
package webhook

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/imagequota/imagequota/internal/quota"
)

// SignatureHeader carries "t=UNIX,v1=HEX": HEX is the hex HMAC-SHA256, keyed
// with the webhook secret, of UNIX + "." + the body.
const SignatureHeader = "X-Imagequota-Signature"

// EventIDHeader carries the event's id, the same at every delivery of it, so
// that a receiver can drop a repeat before it reads the body.
const EventIDHeader = "X-Imagequota-Event-Id"

// Sign returns the signature header of body sent at t.
func Sign(secret []byte, t time.Time, body []byte) string {
	ts := strconv.FormatInt(t.Unix(), 10)
	return "t=" + ts + ",v1=" + hex.EncodeToString(mac(secret, ts, body))
}

func mac(secret []byte, ts string, body []byte) []byte {
	m := hmac.New(sha256.New, secret)
	m.Write([]byte(ts))
	m.Write([]byte{'.'})
	m.Write(body)
	return m.Sum(nil)
}

// ErrSignature is a signature header that does not match.
var ErrSignature = errors.New("webhook: the signature does not match")

// Verify checks a signature header of body, as a receiver would, and that
// its timestamp is within tolerance of now (any age when tolerance is 0).
func Verify(secret []byte, header string, body []byte, now time.Time, tolerance time.Duration) error {
	var ts string
	var sigs [][]byte
	for _, part := range strings.Split(header, ",") {
		k, v, _ := strings.Cut(strings.TrimSpace(part), "=")
		switch k {
		case "t":
			ts = v
		case "v1":
			if b, err := hex.DecodeString(v); err == nil {
				sigs = append(sigs, b)
			}
		}
	}
	unix, err := strconv.ParseInt(ts, 10, 64)
	if err != nil || len(sigs) == 0 {
		return fmt.Errorf("webhook: malformed signature header %q", quota.Truncate(header, 128))
	}
	if tolerance > 0 {
		if d := now.Sub(time.Unix(unix, 0)); d > tolerance || d < -tolerance {
			return fmt.Errorf("webhook: the signature's timestamp is %v away from now", d.Round(time.Second))
		}
	}
	want := mac(secret, ts, body)
	for _, s := range sigs {
		if hmac.Equal(s, want) {
			return nil
		}
	}
	return ErrSignature
}

// Payload is an event as it is delivered.
type Payload struct {
	ID   string `json:"id"`
	Type string `json:"type"`
	// Time is when the change happened: RFC 3339 in UTC.
	Time string          `json:"time"`
	Data json.RawMessage `json:"data"`
}

// Body encodes e as it is delivered.
func Body(e quota.Event) ([]byte, error) {
	return json.Marshal(Payload{ID: e.ID, Type: e.Type, Time: quota.WireTime(e.Time), Data: e.Data})
}

// Store is the outbox a Deliverer works from.
type Store interface {
	// ClaimEvents claims up to max due events, oldest first, for lease.
	ClaimEvents(ctx context.Context, max int, lease time.Duration) (quota.EventClaim, error)
	EventDelivered(ctx context.Context, id string) error
	// EventFailed counts a failed attempt and makes the event due in retryIn.
	EventFailed(ctx context.Context, token, id string, retryIn time.Duration, reason string) error
	// ReleaseEvents gives events back unattempted, due in retryIn.
	ReleaseEvents(ctx context.Context, token string, ids []string, retryIn time.Duration) error
	// EventsRecorded is signalled when this process committed new events.
	EventsRecorded() <-chan struct{}
}

// Config says where and how events are delivered. Zero durations and sizes
// take the defaults given.
type Config struct {
	// URL receives every event (http or https).
	URL string
	// Secret keys the signatures.
	Secret []byte
	// Poll is how often the outbox is looked at for events that other
	// replicas recorded and for retries that came due: 1 s.
	Poll time.Duration
	// RetryMin is the wait after a first failure, doubled after each
	// further one up to RetryMax: 1 s and 10 min.
	RetryMin, RetryMax time.Duration
	// Timeout bounds one delivery: 10 s.
	Timeout time.Duration
	// Lease is how long a claim holds its events: 1 min. A delivery is
	// begun only with a Timeout of the lease left.
	Lease time.Duration
	// Batch is how many events one claim takes: 16.
	Batch int
	// Client sends the requests; nil means one that follows no redirects.
	Client *http.Client
	// Now is the clock of the signatures' timestamps; nil means time.Now.
	Now func() time.Time
}

func (c *Config) defaults() {
	set := func(d *time.Duration, v time.Duration) {
		if *d <= 0 {
			*d = v
		}
	}
	set(&c.Poll, time.Second)
	set(&c.RetryMin, time.Second)
	set(&c.RetryMax, 10*time.Minute)
	set(&c.Timeout, 10*time.Second)
	set(&c.Lease, time.Minute)
	c.Lease = max(c.Lease, 2*c.Timeout)
	if c.Batch <= 0 {
		c.Batch = 16
	}
	if c.Client == nil {
		c.Client = &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	}
	if c.Now == nil {
		c.Now = time.Now
	}
}

// RetryIn is the wait before the next attempt after the failed one number
// attempt (1 for the first).
func (c *Config) RetryIn(attempt int) time.Duration {
	d := c.RetryMin
	for i := 1; i < attempt && d < c.RetryMax; i++ {
		d *= 2
	}
	return min(d, c.RetryMax)
}

// Deliverer delivers the events of one store to one endpoint.
type Deliverer struct {
	cfg   Config
	store Store
	log   *slog.Logger
	m     *metrics
}

// New makes a deliverer; its metrics go to reg. Run starts it.
func New(cfg Config, st Store, logger *slog.Logger, reg prometheus.Registerer) *Deliverer {
	cfg.defaults()
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	return &Deliverer{cfg: cfg, store: st, log: logger, m: newMetrics(reg)}
}

// Run delivers events until ctx ends: at once, whenever this process records
// some, and every Poll.
func (d *Deliverer) Run(ctx context.Context) {
	poll := time.NewTicker(d.cfg.Poll)
	defer poll.Stop()
	for {
		if pause := d.deliverDue(ctx); pause > 0 {
			// The receiver is unavailable: nothing more is sent until the
			// retry of what it failed, so that the events recorded
			// meanwhile do not overtake those.
			t := time.NewTimer(pause)
			select {
			case <-ctx.Done():
				t.Stop()
				return
			case <-t.C:
			}
			continue
		}
		select {
		case <-ctx.Done():
			return
		case <-d.store.EventsRecorded():
		case <-poll.C:
		}
	}
}

// deliverDue delivers the events that are due, a claim at a time, until none
// is left or the receiver is found unavailable; then it returns how long
// until the retry.
func (d *Deliverer) deliverDue(ctx context.Context) (pause time.Duration) {
	for ctx.Err() == nil {
		// The lease ends no sooner than this, by this process's own
		// monotonic clock, whatever the store's clock says.
		leaseEnd := time.Now().Add(d.cfg.Lease)
		c, err := d.store.ClaimEvents(ctx, d.cfg.Batch, d.cfg.Lease)
		if err != nil {
			if ctx.Err() == nil {
				d.storeError("claim", err)
			}
			return 0
		}
		if len(c.Events) == 0 {
			return 0
		}
		if done, pause := d.deliverClaim(ctx, c, leaseEnd); !done {
			return pause
		}
	}
	return 0
}

// deliverClaim delivers a claim's events in order. It stops at a failure that
// says the receiver is unavailable, giving the rest back to be tried with
// it, and returns whether it got through them all, or else how long until
// that retry.
func (d *Deliverer) deliverClaim(ctx context.Context, c quota.EventClaim, leaseEnd time.Time) (done bool, pause time.Duration) {
	for i, e := range c.Events {
		// Past the lease another deliverer may take the event: begin only
		// what can end before.
		if ctx.Err() != nil || time.Now().Add(d.cfg.Timeout).After(leaseEnd) {
			d.release(c, c.Events[i:], 0)
			return false, 0
		}
		res := d.deliver(ctx, e)
		if res.err == nil {
			// Reported even as the deliverer stops; if it cannot be, the
			// claim lapses and the event is sent again: at least once.
			d.report("delivered", func(ctx context.Context) error { return d.store.EventDelivered(ctx, e.ID) })
			continue
		}
		if res.status == 0 && ctx.Err() != nil {
			// Stopped before an answer: not the receiver's failure.
			d.release(c, c.Events[i:], 0)
			return false, 0
		}
		retryIn := d.cfg.RetryIn(e.Attempts + 1)
		d.report("failed", func(ctx context.Context) error {
			return d.store.EventFailed(ctx, c.Token, e.ID, retryIn, res.err.Error())
		})
		if res.unavailable {
			d.release(c, c.Events[i+1:], retryIn)
			return false, retryIn
		}
	}
	return true, 0
}

// release gives events back to the outbox, due in retryIn.
func (d *Deliverer) release(c quota.EventClaim, events []quota.Event, retryIn time.Duration) {
	if len(events) == 0 {
		return
	}
	ids := make([]string, len(events))
	for i, e := range events {
		ids[i] = e.ID
	}
	// If this fails, their claim lapses instead.
	d.report("release", func(ctx context.Context) error { return d.store.ReleaseEvents(ctx, c.Token, ids, retryIn) })
}

// report tells the outbox how deliveries went, with a context of its own: it
// also runs as the deliverer stops.
func (d *Deliverer) report(op string, fn func(ctx context.Context) error) {
	ctx, cancel := context.WithTimeout(context.Background(), reportTimeout)
	defer cancel()
	if err := fn(ctx); err != nil {
		d.storeError(op, err)
	}
}

// reportTimeout bounds a report to the outbox.
const reportTimeout = 5 * time.Second

func (d *Deliverer) storeError(op string, err error) {
	d.m.storeErrors.WithLabelValues(op).Inc()
	d.log.Error("webhook: the outbox could not be "+opText[op], "error", err.Error())
}

var opText = map[string]string{"claim": "read", "delivered": "updated after a delivery",
	"failed": "updated after a failed delivery", "release": "updated to give events back"}

// outcome is what one delivery came to.
type outcome struct {
	status int
	err    error
	// unavailable: the receiver could not be reached, or said it cannot
	// take events now (5xx, 429), so the events after this one would fail too.
	unavailable bool
}

// deliver sends one event and logs and counts the outcome.
func (d *Deliverer) deliver(ctx context.Context, e quota.Event) outcome {
	start := time.Now()
	res := d.send(ctx, e)
	elapsed := time.Since(start)
	d.m.latency.Observe(elapsed.Seconds())
	attrs := []any{"event_id", e.ID, "type", e.Type, "attempt", e.Attempts + 1, "status", res.status,
		"latency_ms", float64(elapsed.Microseconds()) / 1000}
	if res.err == nil {
		d.m.deliveries.WithLabelValues(e.Type, "delivered").Inc()
		d.log.Info("webhook delivered", attrs...)
		return res
	}
	if res.status == 0 && ctx.Err() != nil {
		return res
	}
	d.m.deliveries.WithLabelValues(e.Type, "failed").Inc()
	d.log.Warn("webhook delivery failed", append(attrs, "error", res.err.Error(), "retry_in", d.cfg.RetryIn(e.Attempts+1).String())...)
	return res
}

func (d *Deliverer) send(ctx context.Context, e quota.Event) outcome {
	body, err := Body(e)
	if err != nil {
		return outcome{err: err}
	}
	ctx, cancel := context.WithTimeout(ctx, d.cfg.Timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, d.cfg.URL, bytes.NewReader(body))
	if err != nil {
		return outcome{err: err}
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", "imagequota-webhook")
	req.Header.Set(EventIDHeader, e.ID)
	req.Header.Set(SignatureHeader, Sign(d.cfg.Secret, d.cfg.Now(), body))
	resp, err := d.cfg.Client.Do(req)
	if err != nil {
		return outcome{err: err, unavailable: true}
	}
	// Read a little of the answer, so that the connection can be kept.
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 4<<10))
	resp.Body.Close()
	res := outcome{status: resp.StatusCode}
	if resp.StatusCode/100 != 2 {
		res.err = fmt.Errorf("HTTP %d", resp.StatusCode)
		res.unavailable = resp.StatusCode >= 500 || resp.StatusCode == http.StatusTooManyRequests
	}
	return res
}

type metrics struct {
	deliveries  *prometheus.CounterVec
	latency     prometheus.Histogram
	storeErrors *prometheus.CounterVec
}

func newMetrics(reg prometheus.Registerer) *metrics {
	m := &metrics{
		deliveries: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "imagequota_webhook_deliveries_total",
			Help: "Webhook deliveries by event type and result (delivered or failed).",
		}, []string{"type", "result"}),
		latency: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "imagequota_webhook_delivery_duration_seconds",
			Help:    "Time to deliver one event, successfully or not.",
			Buckets: []float64{.001, .005, .01, .05, .1, .5, 1, 2.5, 5, 10},
		}),
		storeErrors: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "imagequota_webhook_outbox_errors_total",
			Help: "Failures to claim events from the outbox or to report on them, by operation.",
		}, []string{"op"}),
	}
	if reg != nil {
		reg.MustRegister(m.deliveries, m.latency, m.storeErrors)
	}
	for _, t := range quota.EventTypes {
		for _, r := range []string{"delivered", "failed"} {
			m.deliveries.WithLabelValues(t, r)
		}
	}
	for op := range opText {
		m.storeErrors.WithLabelValues(op)
	}
	return m
}
