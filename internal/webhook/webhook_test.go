package webhook_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/imagequota/imagequota/internal/quota"
	"github.com/imagequota/imagequota/internal/store"
	"github.com/imagequota/imagequota/internal/testkit"
	"github.com/imagequota/imagequota/internal/webhook"
)

var secret = []byte("whsec-test")

// TestSign: the signature is the documented HMAC (this one computed with
// `printf '%s' '1700000000.{"id":"evt-1"}' | openssl dgst -sha256 -hmac whsec-test`).
func TestSign(t *testing.T) {
	t.Parallel()
	body := []byte(`{"id":"evt-1"}`)
	at := time.Unix(1700000000, 0)
	got := webhook.Sign(secret, at, body)
	if want := "t=1700000000,v1=c48966fef1a0aa4f266aac2237f9a7f257ab024d57102dbd8119b8616a18240f"; got != want {
		t.Fatalf("Sign = %s, want %s", got, want)
	}
	for _, tc := range []struct {
		name   string
		secret []byte
		header string
		body   []byte
		now    time.Time
		tol    time.Duration
		ok     bool
	}{
		{"as signed", secret, got, body, at, time.Minute, true},
		{"any age", secret, got, body, at.Add(time.Hour), 0, true},
		{"spaces and a second signature", secret, "t=1700000000, v1=00, v1=" + got[len("t=1700000000,v1="):], body, at, 0, true},
		{"body changed", secret, got, []byte(`{"id":"evt-2"}`), at, 0, false},
		{"other secret", []byte("other"), got, body, at, 0, false},
		{"too old", secret, got, body, at.Add(6 * time.Minute), 5 * time.Minute, false},
		{"timestamp changed", secret, strings.Replace(got, "1700000000", "1700000001", 1), body, at, 0, false},
		{"no signature", secret, "t=1700000000", body, at, 0, false},
		{"garbage", secret, "nonsense", body, at, 0, false},
	} {
		err := webhook.Verify(tc.secret, tc.header, tc.body, tc.now, tc.tol)
		if (err == nil) != tc.ok {
			t.Errorf("%s: Verify = %v, want ok %v", tc.name, err, tc.ok)
		}
	}
}

// receiver is a webhook endpoint that checks every delivery and records the
// events, answering with the statuses of fail first.
type receiver struct {
	t   *testing.T
	srv *httptest.Server

	mu       sync.Mutex
	fail     []int // statuses to answer, in turn, before 200
	failFor  string
	got      []webhook.Payload
	attempts map[string]int
	arrived  chan struct{}
}

func newReceiver(t *testing.T) *receiver {
	r := &receiver{t: t, attempts: map[string]int{}, arrived: make(chan struct{}, 1000)}
	r.srv = httptest.NewServer(http.HandlerFunc(r.serve))
	t.Cleanup(r.srv.Close)
	return r
}

func (r *receiver) serve(w http.ResponseWriter, req *http.Request) {
	body, _ := io.ReadAll(req.Body)
	if err := webhook.Verify(secret, req.Header.Get(webhook.SignatureHeader), body, time.Now(), 5*time.Minute); err != nil {
		r.t.Errorf("delivery with a bad signature: %v", err)
	}
	var p webhook.Payload
	if err := json.Unmarshal(body, &p); err != nil || req.Header.Get("Content-Type") != "application/json" ||
		req.Header.Get(webhook.EventIDHeader) != p.ID {
		r.t.Errorf("delivery %q (Content-Type %q, event id %q): %v", body, req.Header.Get("Content-Type"), req.Header.Get(webhook.EventIDHeader), err)
	}
	r.mu.Lock()
	r.attempts[p.ID]++
	status := http.StatusOK
	if len(r.fail) > 0 && (r.failFor == "" || r.failFor == p.ID) {
		status, r.fail = r.fail[0], r.fail[1:]
	}
	if status == http.StatusOK {
		r.got = append(r.got, p)
	}
	r.mu.Unlock()
	w.WriteHeader(status)
	r.arrived <- struct{}{}
}

// wait waits until n events were received (a minute at most: the machine
// may be busy, and the test is about what arrives, not when).
func (r *receiver) wait(n int) []webhook.Payload {
	r.t.Helper()
	deadline := time.After(time.Minute)
	for {
		r.mu.Lock()
		got := slices.Clone(r.got)
		r.mu.Unlock()
		if len(got) >= n {
			return got
		}
		select {
		case <-r.arrived:
		case <-deadline:
			r.t.Fatalf("%d events received after a minute, want %d", len(got), n)
		}
	}
}

// env is a store recording events, an account, and a receiver.
type env struct {
	db   *store.DB
	acct quota.Account
	recv *receiver
	reg  *prometheus.Registry
	logs *testkit.SyncBuffer
	// running is set once a deliverer runs.
	running bool
}

func setup(t *testing.T) *env {
	t.Helper()
	e := &env{db: testkit.OpenStore(t, testkit.SQLiteURL(t), store.Options{}), recv: newReceiver(t), reg: prometheus.NewRegistry(), logs: &testkit.SyncBuffer{}}
	e.db.RecordEvents(true)
	var err error
	if e.acct, err = e.db.CreateAccount(t.Context(), "hooked"); err != nil {
		t.Fatal(err)
	}
	return e
}

// ask records a quota_request.created event per location.
func (e *env) ask(t *testing.T, locations ...string) []string {
	t.Helper()
	var ids []string
	for _, loc := range locations {
		r, _, err := e.db.CreateQuotaRequest(t.Context(), quota.CreateQuotaRequestInput{AccountID: e.acct.ID, LocationID: loc,
			DesiredMaxCount: 9, DefaultMax: 5, Actor: quota.Actor{Name: "AKTEST"}})
		if err != nil {
			t.Fatal(err)
		}
		ids = append(ids, r.ID)
	}
	return ids
}

// run starts a deliverer with cfg (URL and secret filled in) until the test
// ends or the returned function stops it.
func (e *env) run(t *testing.T, cfg webhook.Config) (stop func()) {
	t.Helper()
	cfg.URL, cfg.Secret = e.recv.srv.URL, secret
	// The first deliverer's metrics go to e.reg, the others' nowhere.
	var reg prometheus.Registerer
	if !e.running {
		reg, e.running = e.reg, true
	}
	d := webhook.New(cfg, e.db, slog.New(slog.NewJSONHandler(e.logs, nil)), reg)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		d.Run(ctx)
	}()
	var once sync.Once
	stop = func() {
		once.Do(func() {
			cancel()
			<-done
		})
	}
	t.Cleanup(stop)
	return stop
}

func requestIDs(t *testing.T, ps []webhook.Payload) []string {
	t.Helper()
	var out []string
	for _, p := range ps {
		var d quota.QuotaRequestEvent
		if err := json.Unmarshal(p.Data, &d); err != nil {
			t.Fatalf("event data %s: %v", p.Data, err)
		}
		out = append(out, d.QuotaRequestID)
	}
	return out
}

// TestDeliverInOrder: events recorded before and after the deliverer starts
// arrive once each, in order, as documented, and leave the outbox.
func TestDeliverInOrder(t *testing.T) {
	t.Parallel()
	e := setup(t)
	ids := e.ask(t, "l-1", "l-2")
	e.run(t, webhook.Config{Poll: time.Hour})
	ids = append(ids, e.ask(t, "l-3", "l-4")...)
	got := e.recv.wait(4)
	if !slices.Equal(requestIDs(t, got), ids) {
		t.Fatalf("delivered %v; want %v in order", requestIDs(t, got), ids)
	}
	for _, p := range got {
		if p.Type != quota.EventQuotaRequestCreated || !strings.HasPrefix(p.ID, "evt-") {
			t.Fatalf("payload %+v", p)
		}
		if _, err := time.Parse(time.RFC3339, p.Time); err != nil || !strings.HasSuffix(p.Time, "Z") {
			t.Fatalf("time %q is not RFC 3339 in UTC: %v", p.Time, err)
		}
	}
	waitOutbox(t, e.db, 0)
	if n := deliveries(t, e.reg, quota.EventQuotaRequestCreated, "delivered"); n != 4 {
		t.Fatalf("imagequota_webhook_deliveries_total{delivered} = %v, want 4", n)
	}
	if !strings.Contains(e.logs.String(), `"msg":"webhook delivered"`) {
		t.Fatalf("no delivery logged:\n%s", e.logs.String())
	}
}

// deliveries reads imagequota_webhook_deliveries_total{type, result} from reg.
func deliveries(t *testing.T, reg *prometheus.Registry, typ, result string) float64 {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() != "imagequota_webhook_deliveries_total" {
			continue
		}
		for _, m := range mf.GetMetric() {
			got := map[string]string{}
			for _, l := range m.GetLabel() {
				got[l.GetName()] = l.GetValue()
			}
			if got["type"] == typ && got["result"] == result {
				return m.GetCounter().GetValue()
			}
		}
	}
	t.Fatalf("no imagequota_webhook_deliveries_total{type=%q,result=%q}", typ, result)
	return 0
}

// waitOutbox waits until the outbox holds n events, the others reported
// delivered (a minute at most), and returns them.
func waitOutbox(t *testing.T, db *store.DB, n int) []store.PendingEvent {
	t.Helper()
	for range 600 {
		evs, err := db.PendingEvents(t.Context())
		if err != nil {
			t.Fatal(err)
		}
		if len(evs) == n {
			return evs
		}
		time.Sleep(100 * time.Millisecond)
	}
	t.Fatalf("the outbox does not hold %d events after a minute", n)
	return nil
}

// TestRetryWhileReceiverDown: while the receiver fails, the deliverer
// retries with backoff, keeps the order, counts and logs the failures, and
// delivers everything once the receiver is back.
func TestRetryWhileReceiverDown(t *testing.T) {
	t.Parallel()
	e := setup(t)
	e.recv.fail = []int{http.StatusServiceUnavailable, http.StatusServiceUnavailable, http.StatusBadGateway}
	ids := e.ask(t, "l-1", "l-2", "l-3")
	e.run(t, webhook.Config{Poll: 10 * time.Millisecond, RetryMin: time.Millisecond, RetryMax: 4 * time.Millisecond})
	got := e.recv.wait(3)
	if !slices.Equal(requestIDs(t, got), ids) {
		t.Fatalf("delivered %v; want %v in order", requestIDs(t, got), ids)
	}
	e.recv.mu.Lock()
	first := e.recv.attempts[got[0].ID]
	e.recv.mu.Unlock()
	if first != 4 {
		t.Fatalf("the first event took %d attempts, want 4 (three failures)", first)
	}
	if n := deliveries(t, e.reg, quota.EventQuotaRequestCreated, "failed"); n != 3 {
		t.Fatalf("imagequota_webhook_deliveries_total{failed} = %v, want 3", n)
	}
	if n := strings.Count(e.logs.String(), `"msg":"webhook delivery failed"`); n != 3 {
		t.Fatalf("%d failures logged, want 3:\n%s", n, e.logs.String())
	}
	waitOutbox(t, e.db, 0)
}

// TestRefusedEventDoesNotHoldOthers: an event the receiver refuses (a 4xx)
// is retried on its own; the events after it are delivered meanwhile.
func TestRefusedEventDoesNotHoldOthers(t *testing.T) {
	t.Parallel()
	e := setup(t)
	ids := e.ask(t, "l-1", "l-2", "l-3")
	pend, err := e.db.PendingEvents(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	e.recv.fail, e.recv.failFor = []int{400, 400}, pend[0].ID
	e.run(t, webhook.Config{Poll: 10 * time.Millisecond, RetryMin: time.Hour})
	got := e.recv.wait(2)
	if !slices.Equal(requestIDs(t, got), ids[1:]) {
		t.Fatalf("delivered %v; want %v while the first is refused", requestIDs(t, got), ids[1:])
	}
	left := waitOutbox(t, e.db, 1)
	if left[0].ID != pend[0].ID || left[0].Attempts != 1 || left[0].LastError != "HTTP 400" {
		t.Fatalf("outbox = %+v; want the refused event, one attempt", left)
	}
}

// TestStopAndResume: a deliverer stopped while the receiver is down leaves
// every event in the outbox, and another one delivers them all.
func TestStopAndResume(t *testing.T) {
	t.Parallel()
	e := setup(t)
	e.recv.fail = []int{503}
	ids := e.ask(t, "l-1", "l-2")
	stop := e.run(t, webhook.Config{Poll: 10 * time.Millisecond, RetryMin: time.Hour})
	<-e.recv.arrived
	stop()
	left, err := e.db.PendingEvents(t.Context())
	if err != nil || len(left) != 2 {
		t.Fatalf("outbox after a stop = %+v, %v; want both events", left, err)
	}
	// The next deliverer finds them due once their retry comes: here at once.
	makeDue(t, e.db)
	e.run(t, webhook.Config{Poll: 10 * time.Millisecond})
	if got := e.recv.wait(2); !slices.Equal(requestIDs(t, got), ids) {
		t.Fatalf("delivered %v; want %v", requestIDs(t, got), ids)
	}
}

// makeDue makes every event in the outbox due now (a retry that came due).
func makeDue(t *testing.T, db *store.DB) {
	t.Helper()
	c, err := db.ClaimEvents(t.Context(), 100, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	var ids []string
	for _, e := range c.Events {
		ids = append(ids, e.ID)
	}
	if err := db.ReleaseEvents(t.Context(), c.Token, ids, 0); err != nil {
		t.Fatal(err)
	}
}

// TestTwoDeliverersDeliverOnce: two deliverers on one outbox (two replicas)
// deliver each event once.
func TestTwoDeliverersDeliverOnce(t *testing.T) {
	t.Parallel()
	e := setup(t)
	e.run(t, webhook.Config{Poll: 5 * time.Millisecond, Batch: 2})
	e.run(t, webhook.Config{Poll: 5 * time.Millisecond, Batch: 2})
	var locs []string
	for i := range 20 {
		locs = append(locs, fmt.Sprintf("l-%d", i))
	}
	ids := e.ask(t, locs...)
	got := e.recv.wait(len(ids))
	if !sameSet(requestIDs(t, got), ids) {
		t.Fatalf("delivered %v; want each of %v once", requestIDs(t, got), ids)
	}
	waitOutbox(t, e.db, 0)
	e.recv.mu.Lock()
	defer e.recv.mu.Unlock()
	for id, n := range e.recv.attempts {
		if n != 1 {
			t.Fatalf("event %s delivered %d times", id, n)
		}
	}
}

func sameSet(a, b []string) bool {
	a, b = slices.Clone(a), slices.Clone(b)
	slices.Sort(a)
	slices.Sort(b)
	return slices.Equal(a, b)
}

// TestRetryIn: the wait doubles from RetryMin up to RetryMax.
func TestRetryIn(t *testing.T) {
	t.Parallel()
	c := webhook.Config{RetryMin: time.Second, RetryMax: 10 * time.Second}
	var got []time.Duration
	for a := 1; a <= 6; a++ {
		got = append(got, c.RetryIn(a))
	}
	want := []time.Duration{time.Second, 2 * time.Second, 4 * time.Second, 8 * time.Second, 10 * time.Second, 10 * time.Second}
	if !slices.Equal(got, want) {
		t.Fatalf("RetryIn(1…6) = %v, want %v", got, want)
	}
}
