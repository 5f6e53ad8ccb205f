package e2e

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/imagequota/imagequota/client"
	"github.com/imagequota/imagequota/internal/quota"
	"github.com/imagequota/imagequota/internal/testkit"
	"github.com/imagequota/imagequota/internal/testkit/pgtest"
	"github.com/imagequota/imagequota/internal/usagemetrics"
	"github.com/imagequota/imagequota/internal/webhook"
	"github.com/imagequota/imagequota/operatorapi"
	"github.com/imagequota/imagequota/vmapi"
)

// loc is a location label.
func loc(name, location string) string { return name + `{location="` + location + `"}` }

// wantSeries fails for each series of want whose value differs in got
// (absent counts as a difference).
func wantSeries(t *testing.T, when string, got map[string]float64, want map[string]float64) {
	t.Helper()
	for k, w := range want {
		if g, ok := got[k]; !ok || g != w {
			t.Errorf("%s: %s = %v (present %v), want %v", when, k, g, ok, w)
		}
	}
}

// metricsEnv is a server with per-account series capped at two accounts,
// a webhook that refuses every event, and clients that sign with its clock.
type metricsEnv struct {
	srv   *testkit.Server
	clock *testkit.Clock
	op    *client.Operator
}

func setupMetrics(t *testing.T, dbURL string, o usagemetrics.Options) *metricsEnv {
	t.Helper()
	refuse := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusServiceUnavailable)
	}))
	t.Cleanup(refuse.Close)
	clock := testkit.NewClock(time.Now().UTC().Truncate(time.Second))
	srv := testkit.Start(t, testkit.Options{DBURL: dbURL, Now: clock.Now, Metrics: o,
		Webhook: &webhook.Config{URL: refuse.URL, Secret: []byte("metrics-test"), RetryMin: time.Hour}})
	e := &metricsEnv{srv: srv, clock: clock, op: srv.NewOperator(t, quota.RoleAdmin)}
	e.op.Now = clock.Now
	return e
}

// account makes an account with an instance in each location, signing
// with the server's clock; images fills them as asked.
func (e *metricsEnv) account(t *testing.T, images map[string]int) (testkit.Account, map[string]string) {
	t.Helper()
	a := e.srv.NewAccount(t)
	a.Client.Now = e.clock.Now
	insts := map[string]string{}
	for location, n := range images {
		insts[location] = e.srv.NewInstance(t, a.ID, location).ID
		for i := range n {
			e.create(t, a, insts[location], fmt.Sprintf("img-%d", i))
		}
	}
	return a, insts
}

func (e *metricsEnv) create(t *testing.T, a testkit.Account, instance, name string) error {
	t.Helper()
	_, err := a.Client.CreateImage(t.Context(), &vmapi.CreateImageRequest{InstanceID: &instance, ImageName: &name})
	if err != nil && apiCode(err) != quota.CodeImageQuotaExceeded {
		t.Fatalf("CreateImage(%s, %s): %v", instance, name, err)
	}
	return err
}

func ptr[T any](v T) *T { return &v }

// apiCode is the error code of a client call's error ("" for none).
func apiCode(err error) string {
	var ce *client.Error
	if errors.As(err, &ce) {
		return ce.Code
	}
	if err != nil {
		return err.Error()
	}
	return ""
}

// testMetricsFigures: signed requests move the figures of /metrics: images
// that reach a limit an operator set count the account at its limit; a
// refused admission counts a refusal in its location; a quota request is
// counted PENDING and ages with the clock; the webhook's refused events
// wait in the outbox; the per-account series hold the two accounts closest
// to their limits and say how many were left out.
func testMetricsFigures(t *testing.T, dbURL string) {
	e := setupMetrics(t, dbURL, usagemetrics.Options{TTL: -1, PerAccount: true, MaxAccounts: 2})
	ctx := context.Background()
	const tokyo, singapore, frankfurt = "jp-tokyo-1a", "sg-singapore-1a", "de-frankfurt-9a"

	before := testkit.Metrics(t, e.srv.URL)
	wantSeries(t, "an empty store", before, map[string]float64{
		loc("imagequota_location_images", tokyo): 0, loc("imagequota_location_limit_sum", tokyo): 0,
		loc("imagequota_location_accounts_at_limit", tokyo): 0, loc("imagequota_image_quota_refusals_total", tokyo): 0,
		`imagequota_quota_requests{state="PENDING"}`: 0, "imagequota_account_quota_omitted_accounts": 0,
	})

	a, aInst := e.account(t, nil)
	if _, err := e.op.SetImageQuota(ctx, &operatorapi.SetImageQuotaRequest{AccountID: &a.ID, ZoneID: ptr(tokyo), MaxCount: ptr(2)}); err != nil {
		t.Fatalf("SetImageQuota: %v", err)
	}
	aInst[tokyo] = e.srv.NewInstance(t, a.ID, tokyo).ID
	for i := range 2 {
		if err := e.create(t, a, aInst[tokyo], fmt.Sprintf("a-%d", i)); err != nil {
			t.Fatalf("create %d of 2: %v", i+1, err)
		}
	}
	if err := e.create(t, a, aInst[tokyo], "a-over"); apiCode(err) != quota.CodeImageQuotaExceeded {
		t.Fatalf("a third image under a limit of 2: %v", err)
	}
	b, _ := e.account(t, map[string]int{singapore: 4}) // 4 of 5: near
	c, _ := e.account(t, map[string]int{singapore: 1}) // 1 of 5
	if _, err := c.Client.CreateImageQuotaRequest(ctx, &vmapi.CreateImageQuotaRequestRequest{
		ZoneID: ptr(frankfurt), DesiredMaxCount: ptr(9), Reason: ptr("more builds")}); err != nil {
		t.Fatalf("CreateImageQuotaRequest: %v", err)
	}

	got := testkit.Metrics(t, e.srv.URL)
	wantSeries(t, "after the requests", got, map[string]float64{
		loc("imagequota_location_images", tokyo):                  2,
		loc("imagequota_location_accounts", tokyo):                1,
		loc("imagequota_location_limit_sum", tokyo):               2,
		loc("imagequota_location_accounts_at_limit", tokyo):       1,
		loc("imagequota_location_accounts_near_limit", tokyo):     1,
		loc("imagequota_location_images", singapore):              5,
		loc("imagequota_location_accounts", singapore):            2,
		loc("imagequota_location_limit_sum", singapore):           10,
		loc("imagequota_location_accounts_at_limit", singapore):   0,
		loc("imagequota_location_accounts_near_limit", singapore): 1,
		loc("imagequota_location_images", frankfurt):              0,
		loc("imagequota_image_quota_refusals_total", tokyo):       1,
		loc("imagequota_image_quota_refusals_total", singapore):   0,
		`imagequota_quota_requests{state="PENDING"}`:              1,
		`imagequota_quota_requests{state="APPROVED"}`:             0,
		`imagequota_quota_requests_oldest_pending_age_seconds`:    0,
		// The per-account series: a (2 of 2) and b (4 of 5), not c.
		`imagequota_account_quota{account="` + a.ID + `",location="` + tokyo + `",type="used"}`:     2,
		`imagequota_account_quota{account="` + a.ID + `",location="` + tokyo + `",type="hard"}`:     2,
		`imagequota_account_quota{account="` + b.ID + `",location="` + singapore + `",type="used"}`: 4,
		`imagequota_account_quota{account="` + b.ID + `",location="` + singapore + `",type="hard"}`: 5,
		"imagequota_account_quota_omitted_accounts":                                                 1,
	})
	for k := range got {
		if strings.Contains(k, `account="`+c.ID+`"`) {
			t.Errorf("/metrics has %s, of an account beyond the cap", k)
		}
	}

	// The events (a's limit reached, c's request) are refused by the
	// webhook, the first once (the deliverer then waits for its retry), and
	// wait in the outbox: every replica reads the same backlog from the
	// store.
	deadline := time.Now().Add(30 * time.Second)
	for {
		got = testkit.Metrics(t, e.srv.URL)
		if got["imagequota_webhook_outbox_failing_events"] == 1 || time.Now().After(deadline) {
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	wantSeries(t, "after the webhook refused an event", got, map[string]float64{
		"imagequota_webhook_outbox_events":                                                            2,
		"imagequota_webhook_outbox_failing_events":                                                    1,
		`imagequota_webhook_deliveries_total{result="failed",type="` + quota.EventLimitReached + `"}`: 1,
	})

	// Two hours on, the request and the event are two hours old.
	e.clock.Advance(2 * time.Hour)
	wantSeries(t, "two hours on", testkit.Metrics(t, e.srv.URL), map[string]float64{
		"imagequota_quota_requests_oldest_pending_age_seconds": 7200,
		"imagequota_webhook_outbox_oldest_event_age_seconds":   7200,
	})
}

func TestMetricsFiguresSQLite(t *testing.T) {
	parallel(t)
	testMetricsFigures(t, testkit.SQLiteURL(t))
}

func TestMetricsFiguresPostgres(t *testing.T) {
	parallel(t)
	testMetricsFigures(t, pgtest.NewSchema(t))
}

// TestMetricsCached: within the TTL a scrape serves the figures computed
// before, however the store changed; the refusals, counted as they happen,
// move at once.
func TestMetricsCached(t *testing.T) {
	parallel(t)
	e := setupMetrics(t, testkit.SQLiteURL(t), usagemetrics.Options{TTL: time.Hour})
	const tokyo = "jp-tokyo-1a"
	a, inst := e.account(t, map[string]int{tokyo: 1})
	first := testkit.Metrics(t, e.srv.URL)
	wantSeries(t, "first scrape", first, map[string]float64{loc("imagequota_location_images", tokyo): 1})
	for i := range 5 {
		e.create(t, a, inst[tokyo], fmt.Sprintf("more-%d", i))
	}
	wantSeries(t, "within the TTL", testkit.Metrics(t, e.srv.URL), map[string]float64{
		loc("imagequota_location_images", tokyo):                  1,
		loc("imagequota_image_quota_refusals_total", tokyo):       1,
		"imagequota_quota_figures_last_refresh_timestamp_seconds": first["imagequota_quota_figures_last_refresh_timestamp_seconds"],
	})
	for k := range first {
		if strings.HasPrefix(k, "imagequota_account_quota") {
			t.Errorf("/metrics has %s without --metrics-per-account", k)
		}
	}
}
