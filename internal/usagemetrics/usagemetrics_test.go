package usagemetrics_test

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/imagequota/imagequota/internal/quota"
	"github.com/imagequota/imagequota/internal/store"
	"github.com/imagequota/imagequota/internal/testkit"
	"github.com/imagequota/imagequota/internal/usagemetrics"
)

// stalled is a real store whose QuotaFigures waits for release, counting
// its calls, and whose OutboxFigures fails while fail is set.
type stalled struct {
	*store.DB
	calls   atomic.Int32
	entered chan struct{}
	release chan struct{}
	fail    atomic.Bool
}

func (s *stalled) QuotaFigures(ctx context.Context, locations []string, fallback int) ([]quota.LocationFigures, error) {
	s.calls.Add(1)
	s.entered <- struct{}{}
	<-s.release
	return s.DB.QuotaFigures(ctx, locations, fallback)
}

func (s *stalled) OutboxFigures(ctx context.Context) (quota.OutboxFigures, error) {
	if s.fail.Load() {
		return quota.OutboxFigures{}, errors.New("injected outage")
	}
	return s.DB.OutboxFigures(ctx)
}

func setup(t *testing.T, ttl time.Duration) (*stalled, *prometheus.Registry) {
	t.Helper()
	db := testkit.OpenStore(t, testkit.SQLiteURL(t), store.Options{})
	src := &stalled{DB: db, entered: make(chan struct{}, 100), release: make(chan struct{})}
	c := usagemetrics.New(usagemetrics.Config{Source: src, Locations: []string{"jp-tokyo-1a"}, DefaultMax: 5, Options: usagemetrics.Options{TTL: ttl}})
	reg := prometheus.NewRegistry()
	if err := c.Register(reg); err != nil {
		t.Fatal(err)
	}
	return src, reg
}

// gathered is the value of each series of family name, by its labels.
func gathered(t *testing.T, reg *prometheus.Registry, name string) map[string]float64 {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]float64{}
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
		for _, m := range mf.GetMetric() {
			v := m.GetGauge().GetValue() + m.GetCounter().GetValue()
			out[fmt.Sprint(m.GetLabel())] = v
		}
	}
	return out
}

// TestConcurrentScrapesShareOneComputation: scrapes that come while the
// figures are being computed wait for that computation instead of starting
// their own.
func TestConcurrentScrapesShareOneComputation(t *testing.T) {
	t.Parallel()
	src, reg := setup(t, time.Hour)
	var wg sync.WaitGroup
	first := make(chan error, 1)
	wg.Add(1)
	go func() {
		defer wg.Done()
		_, err := reg.Gather()
		first <- err
	}()
	<-src.entered // the first scrape is computing
	const others = 8
	errs := make(chan error, others)
	for range others {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, err := reg.Gather()
			errs <- err
		}()
	}
	// The others are waiting (or will find the computation under way):
	// none of them has entered the store.
	select {
	case <-src.entered:
		t.Fatal("a second computation began while one was under way")
	default:
	}
	close(src.release)
	wg.Wait()
	close(errs)
	if err := <-first; err != nil {
		t.Fatal(err)
	}
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	// Each of the others waited for the first computation or, coming
	// after it ended, found its figures within the TTL.
	if n := src.calls.Load(); n != 1 {
		t.Fatalf("%d computations for %d scrapes, want 1", n, 1+others)
	}
}

// TestFailedComputationKeepsTheLastFigures: while the store fails, the
// figures last computed are served and each failure is counted.
func TestFailedComputationKeepsTheLastFigures(t *testing.T) {
	t.Parallel()
	src, reg := setup(t, -1)
	close(src.release)
	if got := gathered(t, reg, "imagequota_location_images"); len(got) != 1 {
		t.Fatalf("imagequota_location_images: %v", got)
	}
	src.fail.Store(true)
	if got := gathered(t, reg, "imagequota_location_images"); len(got) != 1 {
		t.Fatalf("while failing: imagequota_location_images %v; want the last ones", got)
	}
	// That scrape's failure was counted (a scrape gathers the counter and
	// the figures side by side: its own failure may come after it).
	if got := gathered(t, reg, "imagequota_quota_figures_refresh_errors_total"); len(got) != 1 || got["[]"] < 1 {
		t.Fatalf("refresh errors = %v, want at least 1", got)
	}
}

// TestClosest: the accounts kept are the first max to appear, each with all
// its rows; the others are counted.
func TestClosest(t *testing.T) {
	t.Parallel()
	row := func(acct, loc string) quota.UsageReportRow {
		return quota.UsageReportRow{AccountID: acct, LocationID: loc}
	}
	rows := []quota.UsageReportRow{row("a", "x"), row("b", "x"), row("a", "y"), row("c", "x"), row("b", "y"), row("d", "z")}
	for _, tc := range []struct {
		max     int
		kept    string
		omitted int
	}{
		{1, "[a/x a/y]", 3},
		{2, "[a/x b/x a/y b/y]", 2},
		{4, "[a/x b/x a/y c/x b/y d/z]", 0},
		{10, "[a/x b/x a/y c/x b/y d/z]", 0},
	} {
		kept, omitted := usagemetrics.Closest(rows, tc.max)
		var names []string
		for _, r := range kept {
			names = append(names, r.AccountID+"/"+r.LocationID)
		}
		if fmt.Sprint(names) != tc.kept || omitted != tc.omitted {
			t.Errorf("Closest(max %d) = %v, %d omitted; want %s, %d", tc.max, names, omitted, tc.kept, tc.omitted)
		}
	}
}
