package console_test

import (
	"context"
	"fmt"
	"net/http"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/imagequota/imagequota/internal/quota"
	"github.com/imagequota/imagequota/internal/testkit"
)

// metricsOf reads a server's per-location series from /metrics.
func metricsOf(t *testing.T, base string) map[string]int64 {
	t.Helper()
	out := map[string]int64{}
	for series, v := range testkit.Metrics(t, base) {
		if strings.HasPrefix(series, "imagequota_location_") {
			out[series] = int64(v)
		}
	}
	return out
}

var (
	locationRowRE = regexp.MustCompile(`<tr><td>[^<]*<code class="id">([^<]+)</code></td>` +
		`<td class="num">(\d+)</td><td class="num">(\d+)</td><td class="num">(\d+)</td><td class="num">(\d+)</td><td class="num">(\d+)</td></tr>`)
	cardRE = regexp.MustCompile(`id="(total-images|at-limit|near-limit)">(\d+)<`)
)

// TestConsoleOverviewIsMetrics: the overview's figures of each location
// (custom images, accounts with images, the sum of their limits, those at
// their limit and those at 80% of it or more, the ones at it included) and
// its totals are the ones /metrics serves, with overrides of every scope,
// one of them 0 and one ended, and say so on the page.
func TestConsoleOverviewIsMetrics(t *testing.T) {
	t.Parallel()
	clock := testkit.NewClock(time.Now().UTC().Truncate(time.Second))
	srv := testkit.Start(t, testkit.Options{Console: true, Now: clock.Now})
	ctx := context.Background()
	db := srv.DB
	_, key := testkit.NewOperator(t, db, srv.URL, quota.RoleReadonly)

	images := func(accountID, loc string, n int) {
		t.Helper()
		inst := srv.NewInstance(t, accountID, loc)
		for i := range n {
			if _, _, err := db.CreateImage(ctx, quota.CreateImageInput{AccountID: accountID, InstanceID: inst.ID, Name: fmt.Sprintf("img-%d", i),
				DefaultMax: 1000, Now: clock.Now(), Actor: quota.Actor{Name: "seed"}}); err != nil {
				t.Fatal(err)
			}
		}
	}
	setLimit := func(o quota.LimitOverride) {
		t.Helper()
		if _, err := db.SetLimit(ctx, o, quota.AdminActor); err != nil {
			t.Fatalf("SetLimit(%+v): %v", o, err)
		}
	}
	a, b, c, d := srv.NewAccount(t), srv.NewAccount(t), srv.NewAccount(t), srv.NewAccount(t)
	const tokyo, singapore, frankfurt, london = "jp-tokyo-1a", "sg-singapore-1a", "de-frankfurt-9a", "gb-london-1a"
	images(a.ID, tokyo, 4)     // 4 of its own 4: at the limit
	images(a.ID, singapore, 1) // 1 of the default
	images(b.ID, tokyo, 4)     // 4 of the stored default 5: 80%
	images(c.ID, tokyo, 2)     // 2 of its account's 2: at the limit
	images(c.ID, singapore, 3) // over it
	images(d.ID, singapore, 1) // 1 of 0
	images(d.ID, frankfurt, 8) // 8 of the location's 10, once its own 8 has ended
	images(d.ID, london, 3)    // 3 of the default
	ends := clock.Now().Add(time.Hour)
	for _, o := range []quota.LimitOverride{
		{MaxCount: 5},
		{AccountID: a.ID, LocationID: tokyo, MaxCount: 4},
		{AccountID: c.ID, MaxCount: 2},
		{AccountID: d.ID, LocationID: singapore, MaxCount: 0},
		{LocationID: frankfurt, MaxCount: 10},
		{AccountID: d.ID, LocationID: frankfurt, MaxCount: 8, ExpiresAt: &ends},
	} {
		setLimit(o)
	}
	clock.Advance(2 * time.Hour)

	w := newWeb(t, srv.URL)
	w.mustSignIn(key.ID, key.Secret)
	ov := w.get("/console/")
	wantPage(t, "the overview", ov, http.StatusOK, "at ≥ 80% of their limit (those at it included)", "≥ 80% (at limit included)", "Sum of their limits")
	m := metricsOf(t, srv.URL)

	rows := locationRowRE.FindAllStringSubmatch(ov.body, -1)
	if len(rows) != len(srv.Catalog.Enabled()) {
		t.Fatalf("the overview lists %d locations, want the %d enabled:\n%s", len(rows), len(srv.Catalog.Enabled()), text(ov.body))
	}
	var total, at, near int64
	seen := map[string]bool{}
	for _, r := range rows {
		loc := r[1]
		seen[loc] = true
		for i, name := range []string{"images", "accounts", "limit_sum", "accounts_at_limit", "accounts_near_limit"} {
			series := `imagequota_location_` + name + `{location="` + loc + `"}`
			want, ok := m[series]
			if !ok {
				t.Fatalf("/metrics has no %s", series)
			}
			if got, _ := strconv.ParseInt(r[2+i], 10, 64); got != want {
				t.Errorf("%s: the overview says %d, /metrics %d", series, got, want)
			}
		}
		total += m[`imagequota_location_images{location="`+loc+`"}`]
		at += m[`imagequota_location_accounts_at_limit{location="`+loc+`"}`]
		near += m[`imagequota_location_accounts_near_limit{location="`+loc+`"}`]
	}
	for _, loc := range []string{tokyo, singapore, frankfurt, london} {
		if !seen[loc] {
			t.Errorf("the overview does not list %s", loc)
		}
	}
	// Worked out by hand: at their limit a and c in Tokyo, c and d in
	// Singapore; at 80% or more those, b in Tokyo and d in Frankfurt.
	if total != 26 || at != 4 || near != 6 {
		t.Errorf("/metrics: %d images, %d at their limit, %d at 80%% or more; want 26, 4, 6", total, at, near)
	}
	cards := map[string]string{}
	for _, c := range cardRE.FindAllStringSubmatch(ov.body, -1) {
		cards[c[1]] = c[2]
	}
	for id, want := range map[string]int64{"total-images": total, "at-limit": at, "near-limit": near} {
		if cards[id] != strconv.FormatInt(want, 10) {
			t.Errorf("the overview's #%s = %q, /metrics says %d", id, cards[id], want)
		}
	}
}
