package e2e

import (
	"context"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/imagequota/imagequota/client"
	"github.com/imagequota/imagequota/internal/quota"
	"github.com/imagequota/imagequota/internal/testkit"
	"github.com/imagequota/imagequota/vmapi"
)

const (
	locTokyo    = "jp-tokyo-1a"
	locJeddah   = "sa-jeddah-1a"
	locSaoPaulo = "br-saopaulo-1a"
	locRiyadh   = "sa-riyadh-1a"
)

// sortedKeys returns the sorted keys of m.
func sortedKeys(m map[string]any) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	slices.Sort(out)
	return out
}

// quotaRow is one location of a DescribeImageQuota answer, read from both lists.
type quotaRow struct {
	id       string
	count    int
	maxCount int
}

// quotaRows checks the "response" of DescribeImageQuota field by field, with
// the JSON types of the raw body, and returns its rows.
func quotaRows(t *testing.T, resp map[string]any) []quotaRow {
	t.Helper()
	if got := sortedKeys(resp); !slices.Equal(got, []string{"imageRegionQuota", "images", "requestId"}) {
		t.Fatalf("response keys %v; want images, imageRegionQuota, requestId", got)
	}
	images, ok1 := resp["images"].([]any)
	regions, ok2 := resp["imageRegionQuota"].([]any)
	if !ok1 || !ok2 {
		t.Fatalf("images %T and imageRegionQuota %T must both be JSON arrays", resp["images"], resp["imageRegionQuota"])
	}
	if len(images) != len(regions) {
		t.Fatalf("images has %d entries, imageRegionQuota %d", len(images), len(regions))
	}
	rows := make([]quotaRow, len(images))
	for i := range images {
		im, _ := images[i].(map[string]any)
		rq, _ := regions[i].(map[string]any)
		if got := sortedKeys(im); !slices.Equal(got, []string{"count", "maxCount", "regionId", "zoneId"}) {
			t.Fatalf("images[%d] keys %v; want count, maxCount, regionId, zoneId", i, got)
		}
		if got := sortedKeys(rq); !slices.Equal(got, []string{"count", "maxCount", "regionId"}) {
			t.Fatalf("imageRegionQuota[%d] keys %v; want count, maxCount, regionId", i, got)
		}
		zone, ok1 := im["zoneId"].(string)
		region, ok2 := im["regionId"].(string)
		count, ok3 := im["count"].(float64)
		maxCount, ok4 := im["maxCount"].(float64)
		if !ok1 || !ok2 || !ok3 || !ok4 {
			t.Fatalf("images[%d] = %v; want zoneId, regionId strings and count, maxCount numbers", i, im)
		}
		sRegion, ok1 := rq["regionId"].(string)
		sCount, ok2 := rq["count"].(string)
		sMax, ok3 := rq["maxCount"].(string)
		if !ok1 || !ok2 || !ok3 {
			t.Fatalf("imageRegionQuota[%d] = %v; want regionId, count, maxCount all strings", i, rq)
		}
		if zone != region || sRegion != zone {
			t.Fatalf("row %d names zoneId %q, regionId %q and imageRegionQuota regionId %q; want one location", i, zone, region, sRegion)
		}
		if count != float64(int(count)) || maxCount != float64(int(maxCount)) {
			t.Fatalf("images[%d] counts %v, %v are not integers", i, count, maxCount)
		}
		if sCount != strconv.Itoa(int(count)) || sMax != strconv.Itoa(int(maxCount)) {
			t.Fatalf("row %d: images says %v/%v, imageRegionQuota %q/%q", i, count, maxCount, sCount, sMax)
		}
		rows[i] = quotaRow{id: zone, count: int(count), maxCount: int(maxCount)}
	}
	return rows
}

// describeQuota asks DescribeImageQuota for account a with a raw body and returns its rows.
func (e *env) describeQuota(t *testing.T, a testkit.Account, body string) []quotaRow {
	t.Helper()
	return quotaRows(t, e.send(t, e.callAs(a, "DescribeImageQuota", body)).wantOK(t))
}

func rowIDs(rows []quotaRow) []string {
	out := make([]string, len(rows))
	for i, r := range rows {
		out[i] = r.id
	}
	return out
}

func enabledIDs(c *quota.Catalog) []string {
	var out []string
	for _, l := range c.Enabled() {
		out = append(out, l.ID)
	}
	return out
}

func TestDescribeImageQuotaFields(t *testing.T) {
	parallel(t)
	e := setup(t, testkit.Options{})
	e.createImages(t, e.acct, locTokyo, 2)
	e.createImages(t, e.acct, locJeddah, 1)

	rows := e.describeQuota(t, e.acct, `{"zoneIds":["`+locTokyo+`","`+locJeddah+`","`+locSaoPaulo+`"]}`)
	want := []quotaRow{{locTokyo, 2, 5}, {locJeddah, 1, 5}, {locSaoPaulo, 0, 5}}
	if !slices.Equal(rows, want) {
		t.Errorf("rows %+v; want %+v", rows, want)
	}

	// The typed client reads the same answer.
	out, err := e.acct.Client.DescribeImageQuota(context.Background(), &vmapi.DescribeImageQuotaRequest{ZoneIDs: []string{locTokyo, locJeddah, locSaoPaulo}})
	if err != nil {
		t.Fatal(err)
	}
	for i, w := range want {
		im, rq := out.Images[i], out.ImageRegionQuota[i]
		if im.ZoneID != w.id || im.RegionID != w.id || im.Count != w.count || im.MaxCount != w.maxCount ||
			rq.RegionID != w.id || rq.Count != strconv.Itoa(w.count) || rq.MaxCount != strconv.Itoa(w.maxCount) {
			t.Errorf("client row %d: %+v %+v; want %+v", i, im, rq, w)
		}
	}
}

func TestDescribeImageQuotaSelection(t *testing.T) {
	parallel(t)
	e := setup(t, testkit.Options{Catalog: catalogWithClosed(t)})
	all := enabledIDs(e.srv.Catalog)
	if len(all) != 21 || !slices.IsSorted(all) || slices.Contains(all, "zz-closed-1a") {
		t.Fatalf("enabled locations %v; want the 21 default ones, ascending", all)
	}
	tests := []struct {
		name string
		body string
		want []string
	}{
		{"empty body", ``, all},
		{"empty object", `{}`, all},
		{"empty regionIds", `{"regionIds":[]}`, all},
		{"empty zoneIds", `{"zoneIds":[]}`, all},
		{"both empty", `{"regionIds":[],"zoneIds":[]}`, all},
		{"null filters", `{"regionIds":null,"zoneIds":null}`, all},
		{"regionIds in request order", `{"regionIds":["` + locRiyadh + `","` + locSaoPaulo + `","` + locTokyo + `"]}`, []string{locRiyadh, locSaoPaulo, locTokyo}},
		{"zoneIds in request order", `{"zoneIds":["` + locTokyo + `","` + locRiyadh + `","` + locSaoPaulo + `"]}`, []string{locTokyo, locRiyadh, locSaoPaulo}},
		{"duplicates once", `{"regionIds":["` + locTokyo + `","` + locTokyo + `","` + locSaoPaulo + `","` + locTokyo + `"]}`, []string{locTokyo, locSaoPaulo}},
		{"union", `{"regionIds":["` + locTokyo + `"],"zoneIds":["` + locSaoPaulo + `"]}`, []string{locTokyo, locSaoPaulo}},
		{"union with overlap", `{"regionIds":["` + locTokyo + `","` + locJeddah + `"],"zoneIds":["` + locJeddah + `","` + locSaoPaulo + `","` + locTokyo + `"]}`, []string{locTokyo, locJeddah, locSaoPaulo}},
		{"empty regionIds, zoneIds set", `{"regionIds":[],"zoneIds":["` + locRiyadh + `"]}`, []string{locRiyadh}},
		{"one location", `{"regionIds":["` + locJeddah + `"]}`, []string{locJeddah}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			parallelSub(t)
			rows := e.describeQuota(t, e.acct, tt.body)
			if got := rowIDs(rows); !slices.Equal(got, tt.want) {
				t.Errorf("locations %v; want %v", got, tt.want)
			}
			for _, r := range rows {
				if r.count != 0 || r.maxCount != quota.DefaultMaxCount {
					t.Errorf("row %+v; want count 0, maxCount %d", r, quota.DefaultMaxCount)
				}
			}
		})
	}
}

func TestLocations(t *testing.T) {
	parallel(t)
	e := setup(t, testkit.Options{Catalog: catalogWithClosed(t)})
	all := enabledIDs(e.srv.Catalog)

	regions := e.send(t, e.call("DescribeRegions", `{}`)).wantOK(t)
	list, _ := regions["regions"].([]any)
	var got []string
	for _, r := range list {
		m, _ := r.(map[string]any)
		if k := sortedKeys(m); !slices.Equal(k, []string{"regionId", "regionName"}) {
			t.Fatalf("region %v: keys %v; want regionId, regionName", m, k)
		}
		id, _ := m["regionId"].(string)
		if name, _ := m["regionName"].(string); name == "" {
			t.Errorf("region %v has no name", m)
		}
		got = append(got, id)
	}
	if !slices.Equal(got, all) {
		t.Errorf("DescribeRegions lists %v; want %v", got, all)
	}

	zones := e.send(t, e.call("DescribeZones", `{"zoneIds":["`+locTokyo+`","`+locSaoPaulo+`","`+locTokyo+`"]}`)).wantOK(t)
	set, _ := zones["zoneSet"].([]any)
	got = nil
	for _, z := range set {
		m, _ := z.(map[string]any)
		want := []string{"regionId", "supportCpuPassThrough", "supportIpv6", "supportNetworkType", "supportSecurityGroup", "zoneId", "zoneName"}
		if k := sortedKeys(m); !slices.Equal(k, want) {
			t.Fatalf("zone %v: keys %v; want %v", m, k, want)
		}
		_, b1 := m["supportSecurityGroup"].(bool)
		_, b2 := m["supportIpv6"].(bool)
		_, b3 := m["supportCpuPassThrough"].(bool)
		_, s1 := m["supportNetworkType"].(string)
		name, s2 := m["zoneName"].(string)
		if !b1 || !b2 || !b3 || !s1 || !s2 || name == "" || m["zoneId"] != m["regionId"] {
			t.Errorf("zone %v: wrong field types or a zoneId unlike its regionId", m)
		}
		got = append(got, m["zoneId"].(string))
	}
	if !slices.Equal(got, []string{locTokyo, locSaoPaulo}) {
		t.Errorf("DescribeZones lists %v; want %v (request order, duplicates once)", got, []string{locTokyo, locSaoPaulo})
	}

	zones = e.send(t, e.call("DescribeZones", ``)).wantOK(t)
	if set, _ := zones["zoneSet"].([]any); len(set) != len(all) {
		t.Errorf("DescribeZones without a filter lists %d zones; want %d", len(set), len(all))
	}
}

func TestDescribeImageQuotaCounts(t *testing.T) {
	parallel(t)
	e := setup(t, testkit.Options{})
	ctx := context.Background()
	body := `{"regionIds":["` + locTokyo + `","` + locJeddah + `","` + locSaoPaulo + `"]}`
	counts := func() []int {
		var out []int
		for _, r := range e.describeQuota(t, e.acct, body) {
			out = append(out, r.count)
		}
		return out
	}
	if got := counts(); !slices.Equal(got, []int{0, 0, 0}) {
		t.Fatalf("counts before any image %v; want 0 0 0", got)
	}
	inTokyo := e.createImages(t, e.acct, locTokyo, 3)
	inJeddah := e.createImages(t, e.acct, locJeddah, 1)
	if got := counts(); !slices.Equal(got, []int{3, 1, 0}) {
		t.Fatalf("counts %v; want 3 1 0", got)
	}
	if err := e.acct.Client.DeleteImages(ctx, &vmapi.DeleteImagesRequest{ImageIDs: inTokyo[:1]}); err != nil {
		t.Fatal(err)
	}
	if got := counts(); !slices.Equal(got, []int{2, 1, 0}) {
		t.Fatalf("counts after deleting one image in %s: %v; want 2 1 0", locTokyo, got)
	}
	if err := e.acct.Client.DeleteImages(ctx, &vmapi.DeleteImagesRequest{ImageIDs: append(inJeddah, inTokyo[1])}); err != nil {
		t.Fatal(err)
	}
	if got := counts(); !slices.Equal(got, []int{1, 0, 0}) {
		t.Fatalf("counts after deleting two more: %v; want 1 0 0", got)
	}
	// The full answer agrees for every location.
	for _, r := range e.describeQuota(t, e.acct, `{}`) {
		want := 0
		if r.id == locTokyo {
			want = 1
		}
		if r.count != want {
			t.Errorf("all locations: %s count %d; want %d", r.id, r.count, want)
		}
	}
}

// TestCreatingImagesCount checks that images still being built count.
func TestCreatingImagesCount(t *testing.T) {
	parallel(t)
	e := setup(t, testkit.Options{BuildTime: time.Hour})
	ids := e.createImages(t, e.acct, locTokyo, 2)
	list, err := e.acct.Client.DescribeImages(context.Background(), &vmapi.DescribeImagesRequest{ImageIDs: ids})
	if err != nil {
		t.Fatal(err)
	}
	for _, im := range list.DataSet {
		if im.ImageStatus != quota.StatusCreating {
			t.Fatalf("image %s is %s; want %s", im.ImageID, im.ImageStatus, quota.StatusCreating)
		}
	}
	if rows := e.describeQuota(t, e.acct, `{"zoneIds":["`+locTokyo+`"]}`); rows[0].count != 2 {
		t.Errorf("count %d with two CREATING images; want 2", rows[0].count)
	}
}

// TestLimitResolution sets and unsets overrides at all four levels and checks
// that DescribeImageQuota always shows the most specific one.
func TestLimitResolution(t *testing.T) {
	parallel(t)
	e := setup(t, testkit.Options{DefaultMax: 7})
	other := e.newAccount()
	ctx := context.Background()
	a, b := e.acct.ID, other.ID
	set := func(acc, loc string, n int) func() error {
		return func() error {
			_, err := e.srv.DB.SetLimit(ctx, quota.LimitOverride{AccountID: acc, LocationID: loc, MaxCount: n}, quota.AdminActor)
			return err
		}
	}
	unset := func(acc, loc string) func() error {
		return func() error {
			_, err := e.srv.DB.UnsetLimit(ctx, acc, loc, quota.AdminActor)
			return err
		}
	}
	body := `{"regionIds":["` + locTokyo + `","` + locJeddah + `"]}`
	steps := []struct {
		name   string
		change func() error
		// maxCount in locTokyo and locJeddah for account a, then for account b.
		want [4]int
	}{
		// The server records the default it is given as the stored default.
		{"server default", nil, [4]int{7, 7, 7, 7}},
		{"stored default", set("", "", 3), [4]int{3, 3, 3, 3}},
		{"location", set("", locTokyo, 4), [4]int{4, 3, 4, 3}},
		{"account", set(a, "", 6), [4]int{6, 6, 4, 3}},
		{"account+location", set(a, locTokyo, 9), [4]int{9, 6, 4, 3}},
		{"zero for the other account somewhere", set(b, locJeddah, 0), [4]int{9, 6, 4, 0}},
		{"account+location raised", set(a, locTokyo, 11), [4]int{11, 6, 4, 0}},
		{"unset account+location", unset(a, locTokyo), [4]int{6, 6, 4, 0}},
		{"unset account", unset(a, ""), [4]int{4, 3, 4, 0}},
		{"unset location", unset("", locTokyo), [4]int{3, 3, 3, 0}},
		{"unset stored default", unset("", ""), [4]int{5, 5, 5, 0}},
		{"unset the rest", unset(b, locJeddah), [4]int{5, 5, 5, 5}},
	}
	for _, s := range steps {
		if s.change != nil {
			if err := s.change(); err != nil {
				t.Fatalf("%s: %v", s.name, err)
			}
		}
		var got [4]int
		for i, acct := range []testkit.Account{e.acct, other} {
			rows := e.describeQuota(t, acct, body)
			got[2*i], got[2*i+1] = rows[0].maxCount, rows[1].maxCount
		}
		if got != s.want {
			t.Errorf("%s: maxCount (a@locTokyo, a@locJeddah, b@locTokyo, b@locJeddah) = %v; want %v", s.name, got, s.want)
		}
	}
}

func TestServerDefaultLimit(t *testing.T) {
	parallel(t)
	tests := []struct {
		name       string
		defaultMax int
		want       int
	}{
		{"built-in default", 0, quota.DefaultMaxCount},
		{"configured default", 9, 9},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			parallelSub(t)
			e := setup(t, testkit.Options{DefaultMax: tt.defaultMax})
			rows := e.describeQuota(t, e.acct, `{}`)
			if len(rows) != 21 {
				t.Fatalf("%d rows; want 21", len(rows))
			}
			for _, r := range rows {
				if r.maxCount != tt.want {
					t.Errorf("%s maxCount %d; want %d", r.id, r.maxCount, tt.want)
				}
			}
		})
	}
}

// TestLoweredLimit checks that count may exceed a lowered maxCount, and that
// creating is refused until enough images are deleted.
func TestLoweredLimit(t *testing.T) {
	parallel(t)
	e := setup(t, testkit.Options{})
	ctx := context.Background()
	ids := e.createImages(t, e.acct, locTokyo, 3)
	if _, err := e.srv.DB.SetLimit(ctx, quota.LimitOverride{AccountID: e.acct.ID, LocationID: locTokyo, MaxCount: 2}, quota.AdminActor); err != nil {
		t.Fatal(err)
	}
	body := `{"zoneIds":["` + locTokyo + `"]}`
	if rows := e.describeQuota(t, e.acct, body); rows[0].count != 3 || rows[0].maxCount != 2 {
		t.Fatalf("row %+v; want count 3 over maxCount 2", rows[0])
	}
	create := func() error {
		inst := e.srv.NewInstance(t, e.acct.ID, locTokyo)
		_, err := e.acct.Client.CreateImage(ctx, &vmapi.CreateImageRequest{InstanceID: client.String(inst.ID), ImageName: client.String("more")})
		return err
	}
	for _, step := range []struct {
		deleteFirst int
		count       string
	}{{0, "3"}, {1, "2"}} {
		if step.deleteFirst > 0 {
			if err := e.acct.Client.DeleteImages(ctx, &vmapi.DeleteImagesRequest{ImageIDs: ids[:step.deleteFirst]}); err != nil {
				t.Fatal(err)
			}
			ids = ids[step.deleteFirst:]
		}
		ae := apiError(t, create())
		if ae.HTTPStatus != 400 || ae.Code != quota.CodeImageQuotaExceeded {
			t.Fatalf("create at count %s: %v; want 400 %s", step.count, ae, quota.CodeImageQuotaExceeded)
		}
		for _, n := range []string{locTokyo, step.count, "2"} {
			if !strings.Contains(ae.Message, n) {
				t.Errorf("message %q does not name %q", ae.Message, n)
			}
		}
	}
	if err := e.acct.Client.DeleteImages(ctx, &vmapi.DeleteImagesRequest{ImageIDs: ids[:1]}); err != nil {
		t.Fatal(err)
	}
	if err := create(); err != nil {
		t.Fatalf("create at count 1 of 2: %v", err)
	}
	if rows := e.describeQuota(t, e.acct, body); rows[0].count != 2 || rows[0].maxCount != 2 {
		t.Errorf("row %+v; want count 2, maxCount 2", rows[0])
	}
}
