package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/imagequota/imagequota/client"
	"github.com/imagequota/imagequota/internal/quota"
	"github.com/imagequota/imagequota/internal/testkit"
	"github.com/imagequota/imagequota/internal/webhook"
	"github.com/imagequota/imagequota/operatorapi"
	"github.com/imagequota/imagequota/vmapi"
)

var hookSecret = []byte("e2e webhook secret")

// hookReceiver is a webhook endpoint. It checks every delivery against the
// documented form — signature, headers, {id, type, time, data} — records
// the events it accepts, and answers 503 while down.
type hookReceiver struct {
	t *testing.T
	// now is the sender's clock, that a signature's timestamp must match.
	now func() time.Time
	srv *httptest.Server

	mu       sync.Mutex
	down     bool
	attempts int // deliveries seen, accepted or not
	refused  int
	events   []hookEvent
	seen     map[string]int // deliveries accepted, by event id
	arrived  chan struct{}
}

// hookEvent is one delivery as received.
type hookEvent struct {
	ID, Type, Time string
	Data           map[string]json.RawMessage
}

func newHookReceiver(t *testing.T, now func() time.Time) *hookReceiver {
	r := &hookReceiver{t: t, now: now, seen: map[string]int{}, arrived: make(chan struct{}, 1)}
	r.srv = httptest.NewServer(http.HandlerFunc(r.serve))
	t.Cleanup(r.srv.Close)
	return r
}

func (r *hookReceiver) serve(w http.ResponseWriter, req *http.Request) {
	body, err := io.ReadAll(req.Body)
	if err != nil {
		w.WriteHeader(http.StatusBadRequest)
		return
	}
	defer func() {
		select {
		case r.arrived <- struct{}{}:
		default:
		}
	}()
	r.mu.Lock()
	r.attempts++
	if r.down {
		r.refused++
		r.mu.Unlock()
		w.WriteHeader(http.StatusServiceUnavailable)
		return
	}
	r.mu.Unlock()
	if err := webhook.Verify(hookSecret, req.Header.Get("X-Imagequota-Signature"), body, r.now(), 5*time.Minute); err != nil {
		r.t.Errorf("a delivery's signature: %v (header %q)", err, req.Header.Get("X-Imagequota-Signature"))
	}
	if req.Method != http.MethodPost || req.Header.Get("Content-Type") != "application/json" {
		r.t.Errorf("delivery by %s with Content-Type %q", req.Method, req.Header.Get("Content-Type"))
	}
	var top map[string]json.RawMessage
	if err := json.Unmarshal(body, &top); err != nil || len(top) != 4 {
		r.t.Errorf("delivery body %s: want exactly id, type, time and data (%v)", body, err)
	}
	var ev hookEvent
	if err := json.Unmarshal(body, &ev); err != nil || ev.ID == "" || ev.Type == "" || !wireTime.MatchString(`"`+ev.Time+`"`) || ev.Data == nil {
		r.t.Errorf("delivery body %s (%v)", body, err)
	}
	if got := req.Header.Get("X-Imagequota-Event-Id"); got != ev.ID {
		r.t.Errorf("X-Imagequota-Event-Id %q, body id %q", got, ev.ID)
	}
	r.mu.Lock()
	r.seen[ev.ID]++
	if r.seen[ev.ID] == 1 {
		r.events = append(r.events, ev)
	}
	r.mu.Unlock()
	w.WriteHeader(http.StatusNoContent)
}

func (r *hookReceiver) setDown(down bool) {
	r.mu.Lock()
	r.down = down
	r.mu.Unlock()
}

// waitFor waits until cond holds on the receiver's state (two minutes at
// most: the test is about what arrives, not how soon).
func (r *hookReceiver) waitFor(what string, cond func(r *hookReceiver) bool) {
	r.t.Helper()
	deadline := time.After(2 * time.Minute)
	for {
		r.mu.Lock()
		ok := cond(r)
		r.mu.Unlock()
		if ok {
			return
		}
		select {
		case <-r.arrived:
		case <-time.After(100 * time.Millisecond):
		case <-deadline:
			r.mu.Lock()
			defer r.mu.Unlock()
			r.t.Fatalf("%s: not within two minutes; %d attempts, events %v", what, r.attempts, r.types())
		}
	}
}

// received waits for n distinct events and returns them in arrival order.
func (r *hookReceiver) received(n int) []hookEvent {
	r.t.Helper()
	r.waitFor(fmt.Sprintf("%d events", n), func(r *hookReceiver) bool { return len(r.events) >= n })
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Clone(r.events)
}

func (r *hookReceiver) types() []string {
	var out []string
	for _, e := range r.events {
		out = append(out, e.Type)
	}
	return out
}

// dataKeys are the documented fields of each event type's data.
var dataKeys = map[string][]string{
	quota.EventQuotaRequestCreated: requestEventKeys, quota.EventQuotaRequestApproved: requestEventKeys,
	quota.EventQuotaRequestDenied: requestEventKeys, quota.EventQuotaRequestCancelled: requestEventKeys,
	quota.EventLimitReached:    {"accountId", "zoneId", "count", "maxCount", "imageId"},
	quota.EventOverrideExpired: {"accountId", "zoneId", "maxCount", "expiresAt", "reason"},
}

var requestEventKeys = []string{"quotaRequestId", "accountId", "zoneId", "currentMaxCount", "desiredMaxCount", "grantedMaxCount",
	"state", "reason", "comment", "createdAt", "decidedAt", "decidedBy", "expiresAt"}

// checkData checks that ev's data has exactly the documented fields and the
// values want gives (as JSON).
func checkData(t *testing.T, ev hookEvent, want map[string]string) {
	t.Helper()
	var keys []string
	for k := range ev.Data {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	wantKeys := slices.Clone(dataKeys[ev.Type])
	sort.Strings(wantKeys)
	if !slices.Equal(keys, wantKeys) {
		t.Errorf("%s data has %v, want %v", ev.Type, keys, wantKeys)
	}
	for k, v := range want {
		if got := string(ev.Data[k]); got != v {
			t.Errorf("%s data %s = %s, want %s", ev.Type, k, got, v)
		}
	}
}

func q(s string) string { return `"` + s + `"` }

// runningClock is the wall clock, moved forward by hand: the outbox
// schedules retries by the store's clock, so it must run.
type runningClock struct{ ahead atomic.Int64 }

func (c *runningClock) Now() time.Time { return time.Now().UTC().Add(time.Duration(c.ahead.Load())) }

func (c *runningClock) Advance(d time.Duration) { c.ahead.Add(int64(d)) }

// TestWebhookEvents: every kind of event reaches the receiver exactly as
// documented and signed, in order, also when the receiver is down for a
// while at first; failures and deliveries show in the metrics and the log.
func TestWebhookEvents(t *testing.T) {
	parallel(t)
	clock := &runningClock{}
	recv := newHookReceiver(t, clock.Now)
	recv.setDown(true)
	e := setup(t, testkit.Options{Now: clock.Now, Webhook: &webhook.Config{URL: recv.srv.URL, Secret: hookSecret,
		Poll: 20 * time.Millisecond, RetryMin: 10 * time.Millisecond, RetryMax: 40 * time.Millisecond}})
	ctx := context.Background()
	acct := e.acct
	acct.Client.Now = clock.Now
	const tokyo, singapore, frankfurt = "jp-tokyo-1a", "sg-singapore-1a", "de-frankfurt-9a"
	ask := func(zone string, desired int) string {
		t.Helper()
		r, err := acct.Client.CreateImageQuotaRequest(ctx, &vmapi.CreateImageQuotaRequestRequest{ZoneID: client.String(zone), DesiredMaxCount: client.Int(desired), Reason: client.String("more")})
		if err != nil {
			t.Fatalf("CreateImageQuotaRequest(%s, %d): %v", zone, desired, err)
		}
		return r.QuotaRequestID
	}

	op := e.srv.NewOperator(t, quota.RoleAdmin)
	op.Now = clock.Now
	approved := ask(tokyo, 6)
	expires := clock.Now().Add(time.Hour).Truncate(time.Second)
	decision, err := op.ApproveQuotaRequest(ctx, &operatorapi.ApproveQuotaRequestRequest{QuotaRequestID: &approved,
		ExpiresAt: client.String(expires.Format(time.RFC3339)), Comment: client.String("ok")})
	if err != nil {
		t.Fatal(err)
	}
	// The receiver is down for the first deliveries: they are retried.
	recv.waitFor("three refused deliveries", func(r *hookReceiver) bool { return r.refused >= 3 })
	recv.setDown(false)

	denied := ask(singapore, 8)
	if _, err := op.DenyQuotaRequest(ctx, &operatorapi.DenyQuotaRequestRequest{QuotaRequestID: &denied, Comment: client.String("not now")}); err != nil {
		t.Fatal(err)
	}
	cancelled := ask(frankfurt, 9)
	if err := acct.Client.CancelImageQuotaRequest(ctx, &vmapi.CancelImageQuotaRequestRequest{QuotaRequestID: &cancelled}); err != nil {
		t.Fatal(err)
	}
	imgs := e.createImages(t, acct, tokyo, 6)
	_, err = acct.Client.CreateImage(ctx, &vmapi.CreateImageRequest{InstanceID: client.String(e.srv.NewInstance(t, acct.ID, tokyo).ID), ImageName: client.String("seventh")})
	mustCode(t, err, quota.CodeImageQuotaExceeded)
	// Everything so far is delivered (and signed) before the clock moves.
	recv.received(7)
	clock.Advance(time.Hour)
	// Listing the overrides records the end of the expired one (if the
	// server's own sweep has not already).
	if over, err := op.DescribeImageQuotaOverrides(ctx, &operatorapi.DescribeImageQuotaOverridesRequest{AccountID: &acct.ID}); err != nil || over.TotalCount != 0 {
		t.Fatalf("the account's overrides after the expiry = %+v, %v; want none", over, err)
	}

	got := recv.received(8)
	want := []string{quota.EventQuotaRequestCreated, quota.EventQuotaRequestApproved, quota.EventQuotaRequestCreated, quota.EventQuotaRequestDenied,
		quota.EventQuotaRequestCreated, quota.EventQuotaRequestCancelled, quota.EventLimitReached, quota.EventOverrideExpired}
	gotTypes := make([]string, 0, len(got))
	for _, ev := range got {
		gotTypes = append(gotTypes, ev.Type)
	}
	if !slices.Equal(gotTypes, want) {
		t.Fatalf("events = %v, want %v", gotTypes, want)
	}
	// A request's event says what DescribeImageQuotaRequests says of it.
	described := map[string]vmapi.QuotaRequestInfo{}
	list, err := acct.Client.DescribeImageQuotaRequests(ctx, &vmapi.DescribeImageQuotaRequestsRequest{})
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range list.DataSet {
		described[r.QuotaRequestID] = r
	}
	js := func(v any) string {
		b, _ := json.Marshal(v)
		return string(b)
	}
	request := func(id string, m map[string]string) map[string]string {
		r := described[id]
		out := map[string]string{"quotaRequestId": q(id), "accountId": q(acct.ID), "zoneId": q(r.ZoneID), "currentMaxCount": "5",
			"desiredMaxCount": js(r.DesiredMaxCount), "reason": `"more"`, "createdAt": q(r.CreatedAt)}
		for k, v := range m {
			out[k] = v
		}
		return out
	}
	checkData(t, got[0], request(approved, map[string]string{"state": `"PENDING"`, "grantedMaxCount": "null", "decidedAt": "null",
		"decidedBy": `""`, "expiresAt": "null", "comment": `""`}))
	checkData(t, got[1], request(approved, map[string]string{"state": `"APPROVED"`, "grantedMaxCount": "6", "decidedAt": js(described[approved].DecidedAt),
		"decidedBy": q(decision.DecidedBy), "expiresAt": q(quota.WireTime(expires)), "comment": `"ok"`}))
	checkData(t, got[2], request(denied, map[string]string{"state": `"PENDING"`}))
	checkData(t, got[3], request(denied, map[string]string{"state": `"DENIED"`, "grantedMaxCount": "null", "comment": `"not now"`,
		"decidedBy": q(decision.DecidedBy), "decidedAt": js(described[denied].DecidedAt)}))
	checkData(t, got[4], request(cancelled, map[string]string{"state": `"PENDING"`}))
	checkData(t, got[5], request(cancelled, map[string]string{"state": `"CANCELLED"`, "decidedBy": q(acct.Key.ID)}))
	checkData(t, got[6], map[string]string{"accountId": q(acct.ID), "zoneId": q(tokyo), "count": "6", "maxCount": "6", "imageId": q(imgs[5])})
	checkData(t, got[7], map[string]string{"accountId": q(acct.ID), "zoneId": q(tokyo), "maxCount": "6", "expiresAt": q(quota.WireTime(expires)),
		"reason": q("quota request " + approved)})
	if got[0].Time != described[approved].CreatedAt || got[1].Time != *described[approved].DecidedAt {
		t.Errorf("event times %s and %s, want the request's createdAt %s and decidedAt %s", got[0].Time, got[1].Time,
			described[approved].CreatedAt, *described[approved].DecidedAt)
	}
	if when, err := time.Parse(time.RFC3339, got[7].Time); err != nil || when.Before(expires) {
		t.Errorf("override_expired at %s, before the expiry %s (%v)", got[7].Time, expires, err)
	}
	recv.mu.Lock()
	for id, n := range recv.seen {
		if n != 1 {
			t.Errorf("event %s accepted %d times", id, n)
		}
	}
	recv.mu.Unlock()

	// Deliveries and failures are counted (once the last delivery's answer
	// is in) and logged.
	metrics := waitMetrics(t, e.srv.URL,
		`imagequota_webhook_deliveries_total{result="delivered",type="quota_request.created"} 3`,
		`imagequota_webhook_deliveries_total{result="delivered",type="quota.override_expired"} 1`)
	if !strings.Contains(metrics, `imagequota_webhook_deliveries_total{result="failed",type="quota_request.created"}`) ||
		strings.Contains(metrics, `imagequota_webhook_deliveries_total{result="failed",type="quota_request.created"} 0`) {
		t.Errorf("/metrics counts no failed delivery:\n%s", metrics)
	}
	logs := e.srv.Logs()
	if !strings.Contains(logs, `"msg":"webhook delivery failed"`) || !strings.Contains(logs, `"msg":"webhook delivered"`) {
		t.Errorf("the log lacks the deliveries:\n%s", logs)
	}
}

// waitMetrics reads /metrics until it has every one of lines (a minute at
// most), and returns it.
func waitMetrics(t *testing.T, base string, lines ...string) string {
	t.Helper()
	for range 600 {
		resp, err := http.Get(base + "/metrics")
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if !slices.ContainsFunc(lines, func(l string) bool { return !strings.Contains(string(b), l) }) {
			return string(b)
		}
		time.Sleep(100 * time.Millisecond)
	}
	t.Fatalf("/metrics lacks one of %v after a minute", lines)
	return ""
}

// TestWebhookSurvivesRestart: an event the receiver could not take is kept
// by the server across a restart, and delivered once the receiver is back;
// the binary's flags set it up.
func TestWebhookSurvivesRestart(t *testing.T) {
	parallelFirst(t)
	dir := t.TempDir()
	dbURL := "sqlite:" + filepath.Join(dir, "imagequota.db")
	_, key := binTenant(t, dbURL)
	secretFile := filepath.Join(dir, "webhook.secret")
	if err := os.WriteFile(secretFile, append(bytes.Clone(hookSecret), '\n'), 0o600); err != nil {
		t.Fatal(err)
	}
	recv := newHookReceiver(t, time.Now)
	recv.setDown(true)
	serve := func() *binServer {
		return startBinServer(t, pgCleanEnv(), []string{"serve", "--db", dbURL, "--addr", "127.0.0.1:0",
			"--webhook-url", recv.srv.URL + "/hooks", "--webhook-secret-file", secretFile}, time.Minute)
	}

	first := serve()
	c := pgConnClient(first.URL, key.ID, key.Secret, time.Minute)
	ctx := context.Background()
	made, err := c.CreateImageQuotaRequest(ctx, &vmapi.CreateImageQuotaRequestRequest{ZoneID: client.String("jp-tokyo-1a"), DesiredMaxCount: client.Int(7)})
	if err != nil {
		t.Fatal(err)
	}
	// Two refusals: the first was answered, and its failure recorded, before the second.
	recv.waitFor("two refused deliveries", func(r *hookReceiver) bool { return r.refused >= 2 })
	stopBin(t, first)
	if !strings.Contains(first.stderr.String(), `"msg":"webhook delivery failed"`) {
		t.Errorf("the first server logged no failed delivery:\n%s", first.stderr.String())
	}

	recv.setDown(false)
	second := serve()
	got := recv.received(1)
	if got[0].Type != quota.EventQuotaRequestCreated || str(got[0].Data["quotaRequestId"]) != made.QuotaRequestID {
		t.Fatalf("after the restart the receiver got %+v; want the request's creation", got)
	}
	// And the server goes on delivering what happens next.
	c = pgConnClient(second.URL, key.ID, key.Secret, time.Minute)
	if err := c.CancelImageQuotaRequest(ctx, &vmapi.CancelImageQuotaRequestRequest{QuotaRequestID: &made.QuotaRequestID}); err != nil {
		t.Fatal(err)
	}
	if got := recv.received(2); got[1].Type != quota.EventQuotaRequestCancelled {
		t.Fatalf("events = %+v", got)
	}
	recv.mu.Lock()
	defer recv.mu.Unlock()
	if !reflect.DeepEqual(recv.seen, map[string]int{got[0].ID: 1, recv.events[1].ID: 1}) {
		t.Fatalf("accepted deliveries by event: %v; want each event once", recv.seen)
	}
}

// stopBin stops an `imagequota serve` process with SIGINT and waits for it.
func stopBin(t *testing.T, s *binServer) {
	t.Helper()
	if err := s.cmd.Process.Signal(os.Interrupt); err != nil {
		t.Fatal(err)
	}
	select {
	case <-s.exited:
	case <-time.After(time.Minute):
		t.Fatalf("imagequota serve did not stop within a minute of SIGINT:\n%s", s.stderr.String())
	}
	if !s.state.Success() {
		t.Fatalf("imagequota serve exited with %v:\n%s", s.state, s.stderr.String())
	}
}
