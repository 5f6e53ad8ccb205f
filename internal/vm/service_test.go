package vm_test

import (
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/imagequota/imagequota/internal/quota"
	"github.com/imagequota/imagequota/internal/store"
	"github.com/imagequota/imagequota/internal/vm"
	"github.com/imagequota/imagequota/internal/zcapi"
	"github.com/imagequota/imagequota/vmapi"
)

// The test catalogue: three enabled locations and a disabled one.
const (
	fra    = "FRA-A"
	hkg    = "HKG-A"
	jed    = "sa-jeddah-1a"
	closed = "zz-closed-1a"
)

// clock is a time the test moves by hand.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *clock) Add(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

// env is a vm service over a real SQLite store with two accounts, each with
// an instance in every location of the catalogue (the disabled one included).
type env struct {
	db    *store.DB
	svc   *vm.Service
	clock *clock
	acct  string // the account the tests act as
	other string // an account whose images must never show
	// inst holds each account's instance id per location.
	inst map[string]map[string]string
}

func setup(t *testing.T) *env {
	t.Helper()
	ctx := t.Context()
	clk := &clock{t: time.Date(2026, 4, 1, 12, 0, 0, 0, time.UTC)}
	db, err := store.Open(ctx, "sqlite:"+filepath.Join(t.TempDir(), "db"), store.Options{Now: clk.Now})
	if err != nil {
		t.Fatalf("open store: %v", err)
	}
	t.Cleanup(func() { db.Close() })
	cat, err := quota.NewCatalog([]quota.Location{
		{ID: fra, Name: "Frankfurt"}, {ID: hkg, Name: "Hong Kong"}, {ID: jed, Name: "Jeddah"},
		{ID: closed, Name: "Closed", Disabled: true},
	})
	if err != nil {
		t.Fatal(err)
	}
	e := &env{
		db:    db,
		svc:   &vm.Service{Store: db, Catalog: cat, DefaultMax: quota.DefaultMaxCount, Now: clk.Now},
		clock: clk,
		inst:  map[string]map[string]string{},
	}
	for _, name := range []string{"tenant", "other"} {
		a, err := db.CreateAccount(ctx, name)
		if err != nil {
			t.Fatal(err)
		}
		e.inst[a.ID] = map[string]string{}
		for _, loc := range []string{fra, hkg, jed, closed} {
			in, err := db.CreateInstance(ctx, quota.Instance{
				AccountID: a.ID, LocationID: loc, DiskGB: 40, OSCategory: "Ubuntu", OSType: "linux", OSVersion: "22.04",
			})
			if err != nil {
				t.Fatal(err)
			}
			e.inst[a.ID][loc] = in.ID
		}
		if name == "tenant" {
			e.acct = a.ID
		} else {
			e.other = a.ID
		}
	}
	return e
}

// call is what zcapi hands a handler for a request of account.
func call(account string) *zcapi.Call {
	return &zcapi.Call{RequestID: "T00000000-0000-4000-8000-000000000000", Version: vmapi.VersionCurrent, AccountID: account, Actor: "AKIDTEST"}
}

// create makes an image of account in loc and returns its id; images made one
// after the other are a second apart, so "oldest first" is their order. A
// building image stays CREATING for an hour.
func (e *env) create(t *testing.T, account, loc, name string, building bool) string {
	t.Helper()
	e.clock.Add(time.Second)
	svc := *e.svc
	if building {
		svc.BuildTime = time.Hour
	}
	out, err := svc.CreateImage(t.Context(), call(account), &vmapi.CreateImageRequest{InstanceID: ptr(e.inst[account][loc]), ImageName: ptr(name)})
	if err != nil {
		t.Fatalf("CreateImage(%s in %s): %v", name, loc, err)
	}
	return out.ImageID
}

// setLimit stores an override; "acct" as its account stands for e.acct.
func (e *env) setLimit(t *testing.T, o quota.LimitOverride) {
	t.Helper()
	if o.AccountID == "acct" {
		o.AccountID = e.acct
	}
	if _, err := e.db.SetLimit(t.Context(), o, quota.AdminActor); err != nil {
		t.Fatalf("SetLimit(%+v): %v", o, err)
	}
}

// count is DescribeImageQuota's answer for one location.
func (e *env) count(t *testing.T, loc string) (count, max int) {
	t.Helper()
	out, err := e.svc.DescribeImageQuota(t.Context(), call(e.acct), &vmapi.DescribeImageQuotaRequest{ZoneIDs: []string{loc}})
	if err != nil || len(out.Images) != 1 {
		t.Fatalf("DescribeImageQuota(%s) = %+v, %v", loc, out, err)
	}
	return out.Images[0].Count, out.Images[0].MaxCount
}

func ptr[T any](v T) *T { return &v }

// checkErr compares err with the code wanted ("" for none) and checks that
// its message names each of names.
func checkErr(t *testing.T, err error, code string, names ...string) {
	t.Helper()
	if code == "" {
		if err != nil {
			t.Fatalf("error %v; want none", err)
		}
		return
	}
	e, ok := quota.AsError(err)
	if !ok || e.Code != code {
		t.Fatalf("error %v; want code %s", err, code)
	}
	for _, n := range names {
		if !strings.Contains(e.Message, n) {
			t.Errorf("message %q does not name %q", e.Message, n)
		}
	}
}

func TestCreateImageAdmission(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name     string
		limits   []quota.LimitOverride // "acct" stands for the test account
		existing map[string]int        // images made first, per location
		others   int                   // images of the other account in FRA-A
		loc      string                // where the image is made
		code     string
		names    []string // what the quota error must name
	}{
		{name: "below the server default", existing: map[string]int{fra: 4}, loc: fra},
		{name: "at the server default", existing: map[string]int{fra: 5}, loc: fra,
			code: quota.CodeImageQuotaExceeded, names: []string{"location " + fra, "count 5, maxCount 5"}},
		{name: "other locations do not count", existing: map[string]int{fra: 5, jed: 4}, loc: hkg},
		{name: "other accounts do not count", others: 5, loc: fra},
		{name: "a stored default", limits: []quota.LimitOverride{{MaxCount: 1}}, existing: map[string]int{hkg: 1}, loc: hkg,
			code: quota.CodeImageQuotaExceeded, names: []string{"location " + hkg, "count 1, maxCount 1"}},
		{name: "a location's limit", limits: []quota.LimitOverride{{LocationID: fra, MaxCount: 2}}, existing: map[string]int{fra: 2, hkg: 2}, loc: fra,
			code: quota.CodeImageQuotaExceeded, names: []string{"count 2, maxCount 2"}},
		{name: "a location's limit elsewhere", limits: []quota.LimitOverride{{LocationID: fra, MaxCount: 2}}, existing: map[string]int{hkg: 2}, loc: hkg},
		{name: "the account's limit beats the location's", limits: []quota.LimitOverride{{LocationID: fra, MaxCount: 2}, {AccountID: "acct", MaxCount: 3}},
			existing: map[string]int{fra: 2}, loc: fra},
		{name: "account and location beat all", limits: []quota.LimitOverride{{MaxCount: 9}, {AccountID: "acct", MaxCount: 9}, {AccountID: "acct", LocationID: fra, MaxCount: 1}},
			existing: map[string]int{fra: 1}, loc: fra, code: quota.CodeImageQuotaExceeded, names: []string{"count 1, maxCount 1"}},
		{name: "a limit of zero", limits: []quota.LimitOverride{{AccountID: "acct", MaxCount: 0}}, loc: jed,
			code: quota.CodeImageQuotaExceeded, names: []string{"location " + jed, "count 0, maxCount 0"}},
		{name: "a limit lowered below the count", existing: map[string]int{fra: 3}, limits: []quota.LimitOverride{{AccountID: "acct", LocationID: fra, MaxCount: 1}}, loc: fra,
			code: quota.CodeImageQuotaExceeded, names: []string{"count 3, maxCount 1"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			e := setup(t)
			var made []string
			for _, loc := range []string{fra, hkg, jed} {
				for i := range tt.existing[loc] {
					id := e.create(t, e.acct, loc, "img-"+strconv.Itoa(i), false)
					if loc == tt.loc {
						made = append(made, id)
					}
				}
			}
			for i := range tt.others {
				e.create(t, e.other, fra, "other-"+strconv.Itoa(i), false)
			}
			for _, o := range tt.limits {
				e.setLimit(t, o)
			}
			before, max := e.count(t, tt.loc)
			out, err := e.svc.CreateImage(t.Context(), call(e.acct), &vmapi.CreateImageRequest{
				InstanceID: ptr(e.inst[e.acct][tt.loc]), ImageName: ptr("new-image"),
			})
			checkErr(t, err, tt.code, append(tt.names, made...)...)
			after, _ := e.count(t, tt.loc)
			if err != nil {
				if after != before {
					t.Errorf("a refused create changed the count from %d to %d", before, after)
				}
				return
			}
			if before >= max || after != before+1 || !strings.HasPrefix(out.ImageID, "img-") || out.ImageName != "new-image" {
				t.Errorf("create at count %d of %d gave %+v and count %d", before, max, out, after)
			}
		})
	}
}

// TestCreateImageAtTheLimit fills a location to its limit one image at a
// time, then frees one place.
func TestCreateImageAtTheLimit(t *testing.T) {
	t.Parallel()
	e := setup(t)
	e.setLimit(t, quota.LimitOverride{AccountID: "acct", LocationID: hkg, MaxCount: 3})
	var ids []string
	for range 3 {
		ids = append(ids, e.create(t, e.acct, hkg, "fill", false))
	}
	req := &vmapi.CreateImageRequest{InstanceID: ptr(e.inst[e.acct][hkg]), ImageName: ptr("one-more")}
	_, err := e.svc.CreateImage(t.Context(), call(e.acct), req)
	checkErr(t, err, quota.CodeImageQuotaExceeded, append([]string{"The custom image quota of location HKG-A is used up: count 3, maxCount 3. Images counted: "}, ids...)...)
	if _, err := e.svc.DeleteImages(t.Context(), call(e.acct), &vmapi.DeleteImagesRequest{ImageIDs: ids[1:2]}); err != nil {
		t.Fatal(err)
	}
	if _, err := e.svc.CreateImage(t.Context(), call(e.acct), req); err != nil {
		t.Fatalf("CreateImage after a delete freed a place: %v", err)
	}
	if count, max := e.count(t, hkg); count != 3 || max != 3 {
		t.Errorf("count %d of %d; want 3 of 3", count, max)
	}
}

func TestCreateImageRequests(t *testing.T) {
	t.Parallel()
	e := setup(t)
	inst := e.inst[e.acct][fra]
	tests := []struct {
		name  string
		in    vmapi.CreateImageRequest
		code  string
		names []string
	}{
		{name: "valid", in: vmapi.CreateImageRequest{InstanceID: ptr(inst), ImageName: ptr("web_1.0-a"), ImageDescription: ptr("a web server"), ClientToken: ptr("token-valid")}},
		{name: "Chinese name", in: vmapi.CreateImageRequest{InstanceID: ptr(inst), ImageName: ptr("镜像")}},
		{name: "no instance", in: vmapi.CreateImageRequest{ImageName: ptr("x")}, code: quota.CodeMissingParameter, names: []string{"instanceId"}},
		{name: "empty instance", in: vmapi.CreateImageRequest{InstanceID: ptr(""), ImageName: ptr("x")}, code: quota.CodeLessLength, names: []string{"instanceId"}},
		{name: "no name", in: vmapi.CreateImageRequest{InstanceID: ptr(inst)}, code: quota.CodeMissingParameter, names: []string{"imageName"}},
		{name: "empty name", in: vmapi.CreateImageRequest{InstanceID: ptr(inst), ImageName: ptr("")}, code: quota.CodeLessLength, names: []string{"imageName"}},
		{name: "long name", in: vmapi.CreateImageRequest{InstanceID: ptr(inst), ImageName: ptr(strings.Repeat("a", 25))}, code: quota.CodeExceedLength, names: []string{"imageName", "24"}},
		{name: "name with a space", in: vmapi.CreateImageRequest{InstanceID: ptr(inst), ImageName: ptr("a b")}, code: quota.CodePatternError, names: []string{"imageName"}},
		{name: "long description", in: vmapi.CreateImageRequest{InstanceID: ptr(inst), ImageName: ptr("x"), ImageDescription: ptr(strings.Repeat("d", 256))}, code: quota.CodeExceedLength, names: []string{"imageDescription"}},
		{name: "client token with a space", in: vmapi.CreateImageRequest{InstanceID: ptr(inst), ImageName: ptr("x"), ClientToken: ptr("a b")}, code: quota.CodePatternError, names: []string{"clientToken"}},
		{name: "unknown instance", in: vmapi.CreateImageRequest{InstanceID: ptr("ins-nowhere"), ImageName: ptr("x")}, code: quota.CodeInstanceNotFound, names: []string{"ins-nowhere"}},
		{name: "another account's instance", in: vmapi.CreateImageRequest{InstanceID: ptr(e.inst[e.other][fra]), ImageName: ptr("x")}, code: quota.CodeInstanceNotFound, names: []string{e.inst[e.other][fra]}},
		{name: "instance in a disabled location", in: vmapi.CreateImageRequest{InstanceID: ptr(e.inst[e.acct][closed]), ImageName: ptr("x")}, code: quota.CodeRegionNotFound, names: []string{closed}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			out, err := e.svc.CreateImage(t.Context(), call(e.acct), &tt.in)
			checkErr(t, err, tt.code, tt.names...)
			if err == nil && out.ImageName != *tt.in.ImageName {
				t.Errorf("CreateImage named the image %q; want %q", out.ImageName, *tt.in.ImageName)
			}
		})
	}
}

func TestCreateImageClientToken(t *testing.T) {
	t.Parallel()
	e := setup(t)
	req := vmapi.CreateImageRequest{InstanceID: ptr(e.inst[e.acct][jed]), ImageName: ptr("once"), ClientToken: ptr("retry-1")}
	first, err := e.svc.CreateImage(t.Context(), call(e.acct), &req)
	if err != nil {
		t.Fatal(err)
	}
	again, err := e.svc.CreateImage(t.Context(), call(e.acct), &req)
	if err != nil || *again != *first {
		t.Fatalf("a retry with the same token = %+v, %v; want %+v", again, err, first)
	}
	if count, _ := e.count(t, jed); count != 1 {
		t.Errorf("count %d after a create and its retry; want 1", count)
	}
	changed := req
	changed.ImageName = ptr("twice")
	_, err = e.svc.CreateImage(t.Context(), call(e.acct), &changed)
	checkErr(t, err, quota.CodeInvalidParameterValue, "retry-1")
	// Another account's token is its own.
	if _, err := e.svc.CreateImage(t.Context(), call(e.other), &vmapi.CreateImageRequest{
		InstanceID: ptr(e.inst[e.other][jed]), ImageName: ptr("once"), ClientToken: ptr("retry-1"),
	}); err != nil {
		t.Errorf("the same token in another account: %v", err)
	}
}

func TestDescribeImageQuota(t *testing.T) {
	t.Parallel()
	e := setup(t)
	for range 2 {
		e.create(t, e.acct, fra, "f", false)
	}
	e.create(t, e.acct, hkg, "h", true) // CREATING counts too
	e.create(t, e.other, jed, "o", false)
	e.setLimit(t, quota.LimitOverride{LocationID: fra, MaxCount: 3})
	e.setLimit(t, quota.LimitOverride{AccountID: "acct", LocationID: hkg, MaxCount: 7})

	type row struct {
		loc        string
		count, max int
	}
	tooMany := make([]string, quota.MaxIDsPerRequest+1)
	for i := range tooMany {
		tooMany[i] = fra
	}
	tests := []struct {
		name    string
		account string // empty for the test account
		in      vmapi.DescribeImageQuotaRequest
		want    []row
		code    string
		names   []string
	}{
		{name: "every enabled location, ascending", want: []row{{fra, 2, 3}, {hkg, 1, 7}, {jed, 0, 5}}},
		{name: "empty filters", in: vmapi.DescribeImageQuotaRequest{RegionIDs: []string{}, ZoneIDs: []string{}}, want: []row{{fra, 2, 3}, {hkg, 1, 7}, {jed, 0, 5}}},
		{name: "one zone", in: vmapi.DescribeImageQuotaRequest{ZoneIDs: []string{hkg}}, want: []row{{hkg, 1, 7}}},
		{name: "one region", in: vmapi.DescribeImageQuotaRequest{RegionIDs: []string{jed}}, want: []row{{jed, 0, 5}}},
		{name: "request order", in: vmapi.DescribeImageQuotaRequest{ZoneIDs: []string{jed, fra}}, want: []row{{jed, 0, 5}, {fra, 2, 3}}},
		{name: "union, regions first, each once", in: vmapi.DescribeImageQuotaRequest{RegionIDs: []string{hkg, hkg}, ZoneIDs: []string{fra, hkg}}, want: []row{{hkg, 1, 7}, {fra, 2, 3}}},
		{name: "another account", account: "other", in: vmapi.DescribeImageQuotaRequest{ZoneIDs: []string{jed, hkg}}, want: []row{{jed, 1, 5}, {hkg, 0, 5}}},
		{name: "unknown zone", in: vmapi.DescribeImageQuotaRequest{ZoneIDs: []string{fra, "xx-nowhere-1a"}}, code: quota.CodeRegionNotFound, names: []string{"zoneIds", "xx-nowhere-1a"}},
		{name: "unknown region", in: vmapi.DescribeImageQuotaRequest{RegionIDs: []string{"nowhere"}}, code: quota.CodeRegionNotFound, names: []string{"regionIds", "nowhere"}},
		{name: "disabled zone", in: vmapi.DescribeImageQuotaRequest{ZoneIDs: []string{closed}}, code: quota.CodeRegionNotFound, names: []string{closed}},
		{name: "ids are case-sensitive", in: vmapi.DescribeImageQuotaRequest{ZoneIDs: []string{"fra-a"}}, code: quota.CodeRegionNotFound, names: []string{"fra-a"}},
		{name: "empty id", in: vmapi.DescribeImageQuotaRequest{ZoneIDs: []string{fra, ""}}, code: quota.CodeLessLength, names: []string{"zoneIds.1"}},
		{name: "too many ids", in: vmapi.DescribeImageQuotaRequest{ZoneIDs: tooMany}, code: quota.CodeExceedLength, names: []string{"zoneIds", "100"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			account := e.acct
			if tt.account == "other" {
				account = e.other
			}
			out, err := e.svc.DescribeImageQuota(t.Context(), call(account), &tt.in)
			checkErr(t, err, tt.code, tt.names...)
			if err != nil {
				return
			}
			if len(out.Images) != len(tt.want) || len(out.ImageRegionQuota) != len(tt.want) {
				t.Fatalf("answer %+v; want %+v", out, tt.want)
			}
			for i, w := range tt.want {
				img, reg := out.Images[i], out.ImageRegionQuota[i]
				if img != (vmapi.ImageQuotaInfo{ZoneID: w.loc, RegionID: w.loc, Count: w.count, MaxCount: w.max}) {
					t.Errorf("images[%d] = %+v; want %+v", i, img, w)
				}
				if reg != (vmapi.ImageRegionQuota{RegionID: w.loc, Count: strconv.Itoa(w.count), MaxCount: strconv.Itoa(w.max)}) {
					t.Errorf("imageRegionQuota[%d] = %+v; want %+v", i, reg, w)
				}
			}
		})
	}
}

func TestDescribeImages(t *testing.T) {
	t.Parallel()
	e := setup(t)
	web1 := e.create(t, e.acct, fra, "web-1", false)
	web2 := e.create(t, e.acct, fra, "Web-2", false)
	db1 := e.create(t, e.acct, hkg, "db-1", true)
	theirs := e.create(t, e.other, fra, "web-other", false)
	custom := ptr(quota.ImageTypeCustom)
	public := ptr(quota.ImageTypePublic)

	tests := []struct {
		name  string
		in    vmapi.DescribeImagesRequest
		total int
		ids   []string // the page's custom image ids, in order
		names []string // the page's image names, when ids is nil
		code  string
		msg   []string
	}{
		{name: "custom images, oldest first", in: vmapi.DescribeImagesRequest{ImageType: custom}, total: 3, ids: []string{web1, web2, db1}},
		{name: "image type in lower case", in: vmapi.DescribeImagesRequest{ImageType: ptr("custom_image")}, total: 3, ids: []string{web1, web2, db1}},
		{name: "one zone", in: vmapi.DescribeImagesRequest{ImageType: custom, ZoneID: ptr(fra)}, total: 2, ids: []string{web1, web2}},
		{name: "one region", in: vmapi.DescribeImagesRequest{ImageType: custom, RegionID: ptr(hkg)}, total: 1, ids: []string{db1}},
		{name: "zone and region alike", in: vmapi.DescribeImagesRequest{ImageType: custom, ZoneID: ptr(hkg), RegionID: ptr(hkg)}, total: 1, ids: []string{db1}},
		{name: "name, any case", in: vmapi.DescribeImagesRequest{ImageType: custom, ImageName: ptr("WEB")}, total: 2, ids: []string{web1, web2}},
		{name: "status", in: vmapi.DescribeImagesRequest{ImageStatus: ptr(quota.StatusCreating)}, total: 1, ids: []string{db1}},
		{name: "available, custom", in: vmapi.DescribeImagesRequest{ImageType: custom, ImageStatus: ptr("available")}, total: 2, ids: []string{web1, web2}},
		{name: "ids, repeated, in store order", in: vmapi.DescribeImagesRequest{ImageIDs: []string{db1, web1, db1}}, total: 2, ids: []string{web1, db1}},
		{name: "another account's id", in: vmapi.DescribeImagesRequest{ImageIDs: []string{theirs}}, total: 0, ids: []string{}},
		{name: "a page", in: vmapi.DescribeImagesRequest{ImageType: custom, PageSize: ptr(2), PageNum: ptr(2)}, total: 3, ids: []string{db1}},
		{name: "the first page", in: vmapi.DescribeImagesRequest{ImageType: custom, PageSize: ptr(2)}, total: 3, ids: []string{web1, web2}},
		{name: "past the last page", in: vmapi.DescribeImagesRequest{ImageType: custom, PageNum: ptr(3), PageSize: ptr(2)}, total: 3, ids: []string{}},
		{name: "public images of a zone", in: vmapi.DescribeImagesRequest{ImageType: public, ZoneID: ptr(hkg)}, total: 6,
			names: []string{"Ubuntu 20.04", "Ubuntu 22.04", "Debian 12", "CentOS 7.9", "Windows Server 2019", "Windows Server 2022"}},
		{name: "os type", in: vmapi.DescribeImagesRequest{OSType: ptr("WINDOWS"), ZoneID: ptr(fra)}, total: 2, names: []string{"Windows Server 2019", "Windows Server 2022"}},
		{name: "category, custom then public", in: vmapi.DescribeImagesRequest{Category: ptr("ubuntu"), ZoneID: ptr(fra)}, total: 4,
			names: []string{"web-1", "Web-2", "Ubuntu 20.04", "Ubuntu 22.04"}},
		{name: "everything, the default page", total: 3 + 3*6, names: append([]string{"web-1", "Web-2", "db-1"},
			"Ubuntu 20.04", "Ubuntu 22.04", "Debian 12", "CentOS 7.9", "Windows Server 2019", "Windows Server 2022",
			"Ubuntu 20.04", "Ubuntu 22.04", "Debian 12", "CentOS 7.9", "Windows Server 2019", "Windows Server 2022",
			"Ubuntu 20.04", "Ubuntu 22.04", "Debian 12", "CentOS 7.9", "Windows Server 2019")},

		{name: "page size 0", in: vmapi.DescribeImagesRequest{PageSize: ptr(0)}, code: quota.CodeLessMinimum, msg: []string{"pageSize"}},
		{name: "page size 1001", in: vmapi.DescribeImagesRequest{PageSize: ptr(1001)}, code: quota.CodeExceedMaximum, msg: []string{"pageSize", "1000"}},
		{name: "page 0", in: vmapi.DescribeImagesRequest{PageNum: ptr(0)}, code: quota.CodeLessMinimum, msg: []string{"pageNum"}},
		{name: "unknown image type", in: vmapi.DescribeImagesRequest{ImageType: ptr("SHARED_IMAGE")}, code: quota.CodeInvalidParameterValue, msg: []string{"imageType", "SHARED_IMAGE"}},
		{name: "long unknown status", in: vmapi.DescribeImagesRequest{ImageStatus: ptr(strings.Repeat("x", 100))}, code: quota.CodeInvalidParameterValue, msg: []string{"imageStatus", strings.Repeat("x", 64) + "…"}},
		{name: "unknown zone", in: vmapi.DescribeImagesRequest{ZoneID: ptr("nowhere")}, code: quota.CodeZoneNotFound, msg: []string{"zoneId", "nowhere"}},
		{name: "disabled region", in: vmapi.DescribeImagesRequest{RegionID: ptr(closed)}, code: quota.CodeRegionNotFound, msg: []string{"regionId", closed}},
		{name: "zone and region differ", in: vmapi.DescribeImagesRequest{ZoneID: ptr(fra), RegionID: ptr(hkg)}, code: quota.CodeInvalidParameterValue, msg: []string{fra, hkg}},
		{name: "empty image id", in: vmapi.DescribeImagesRequest{ImageIDs: []string{""}}, code: quota.CodeLessLength, msg: []string{"imageIds.0"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			out, err := e.svc.DescribeImages(t.Context(), call(e.acct), &tt.in)
			checkErr(t, err, tt.code, tt.msg...)
			if err != nil {
				return
			}
			if out.TotalCount != tt.total {
				t.Errorf("totalCount %d; want %d", out.TotalCount, tt.total)
			}
			var ids, names []string
			for _, im := range out.DataSet {
				if im.ImageType == quota.ImageTypeCustom {
					ids = append(ids, im.ImageID)
				}
				names = append(names, im.ImageName)
			}
			if tt.ids != nil && (!slices.Equal(ids, tt.ids) || len(ids) != len(out.DataSet)) {
				t.Errorf("page %v (%v); want the custom images %v", ids, names, tt.ids)
			}
			if tt.names != nil && !slices.Equal(names, tt.names) {
				t.Errorf("page %q; want %q", names, tt.names)
			}
		})
	}

	t.Run("fields", func(t *testing.T) {
		t.Parallel()
		out, err := e.svc.DescribeImages(t.Context(), call(e.acct), &vmapi.DescribeImagesRequest{ImageIDs: []string{db1}})
		if err != nil || len(out.DataSet) != 1 {
			t.Fatalf("DescribeImages(%s) = %+v, %v", db1, out, err)
		}
		want := vmapi.ImageInfo{
			ImageID: db1, ImageName: "db-1", ImageType: quota.ImageTypeCustom, ImageSize: "40", ImageVersion: "22.04",
			ImageStatus: quota.StatusCreating, Category: "Ubuntu", OSType: "linux", ZoneID: hkg, RegionID: hkg,
		}
		if got := out.DataSet[0]; got != want {
			t.Errorf("image %+v; want %+v", got, want)
		}
	})
}

func TestDescribeImage(t *testing.T) {
	t.Parallel()
	e := setup(t)
	mine := e.create(t, e.acct, jed, "mine", false)
	theirs := e.create(t, e.other, jed, "theirs", false)
	pub := quota.PublicImages(jed)[0]
	hidden := quota.PublicImages(closed)[0]
	tests := []struct {
		name string
		id   *string
		want string // the name of the image found; empty for none
		code string
	}{
		{name: "custom", id: ptr(mine), want: "mine"},
		{name: "public", id: ptr(pub.ID), want: pub.Name},
		{name: "another account's", id: ptr(theirs)},
		{name: "public in a disabled location", id: ptr(hidden.ID)},
		{name: "unknown", id: ptr("img-nowhere")},
		{name: "no id", code: quota.CodeMissingParameter},
		{name: "empty id", id: ptr(""), code: quota.CodeLessLength},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			out, err := e.svc.DescribeImage(t.Context(), call(e.acct), &vmapi.DescribeImageRequest{ImageID: tt.id})
			checkErr(t, err, tt.code)
			switch {
			case err != nil:
			case tt.want == "" && out != nil:
				t.Errorf("found %+v; want nothing (a null response)", out)
			case tt.want != "" && (out == nil || out.ImageName != tt.want || out.ImageID != *tt.id):
				t.Errorf("found %+v; want %s %q", out, *tt.id, tt.want)
			}
		})
	}
}

func TestModifyAndDeleteImages(t *testing.T) {
	t.Parallel()
	// Each case acts on a fresh store holding the test account's images a and
	// b (AVAILABLE) and c (CREATING) in FRA-A, and the other account's x.
	type step struct {
		modify *vmapi.ModifyImagesAttributesRequest
		delete *vmapi.DeleteImagesRequest
		code   string
		names  []string
	}
	type want struct {
		names map[string]string  // what remains of a, b and c: its name
		descs map[string]*string // and its description, when it changed
	}
	tests := []struct {
		name  string
		later bool // an hour later, when c is built
		steps []step
		want  want
	}{
		{name: "rename one", steps: []step{{modify: &vmapi.ModifyImagesAttributesRequest{ImageIDs: []string{"a"}, ImageName: ptr("renamed")}}},
			want: want{names: map[string]string{"a": "renamed", "b": "b", "c": "c"}}},
		{name: "describe two", steps: []step{{modify: &vmapi.ModifyImagesAttributesRequest{ImageIDs: []string{"a", "c"}, ImageDescription: ptr("built nightly")}}},
			want: want{names: map[string]string{"a": "a", "b": "b", "c": "c"}, descs: map[string]*string{"a": ptr("built nightly"), "c": ptr("built nightly")}}},
		{name: "modify all or none", steps: []step{{modify: &vmapi.ModifyImagesAttributesRequest{ImageIDs: []string{"a", "img-nowhere"}, ImageName: ptr("renamed")},
			code: quota.CodeImageNotFound, names: []string{"img-nowhere"}}},
			want: want{names: map[string]string{"a": "a", "b": "b", "c": "c"}}},
		{name: "modify another account's image", steps: []step{{modify: &vmapi.ModifyImagesAttributesRequest{ImageIDs: []string{"x"}, ImageName: ptr("mine")},
			code: quota.CodeImageNotFound, names: []string{"x"}}},
			want: want{names: map[string]string{"a": "a", "b": "b", "c": "c"}}},
		{name: "modify nothing", steps: []step{{modify: &vmapi.ModifyImagesAttributesRequest{ImageIDs: []string{"a", "c"}}}},
			want: want{names: map[string]string{"a": "a", "b": "b", "c": "c"}}},
		{name: "modify nothing of an unknown image", steps: []step{{modify: &vmapi.ModifyImagesAttributesRequest{ImageIDs: []string{"a", "img-nowhere"}},
			code: quota.CodeImageNotFound, names: []string{"img-nowhere"}}},
			want: want{names: map[string]string{"a": "a", "b": "b", "c": "c"}}},
		{name: "modify nothing of another account's image", steps: []step{{modify: &vmapi.ModifyImagesAttributesRequest{ImageIDs: []string{"x"}},
			code: quota.CodeImageNotFound, names: []string{"x"}}},
			want: want{names: map[string]string{"a": "a", "b": "b", "c": "c"}}},
		{name: "modify nothing of a deleted image", steps: []step{
			{delete: &vmapi.DeleteImagesRequest{ImageIDs: []string{"a"}}},
			{modify: &vmapi.ModifyImagesAttributesRequest{ImageIDs: []string{"a"}}, code: quota.CodeImageNotFound, names: []string{"a"}},
		}, want: want{names: map[string]string{"b": "b", "c": "c"}}},
		{name: "modify nothing without ids", steps: []step{{modify: &vmapi.ModifyImagesAttributesRequest{}, code: quota.CodeMissingParameter, names: []string{"imageIds"}}},
			want: want{names: map[string]string{"a": "a", "b": "b", "c": "c"}}},
		{name: "modify with a bad name", steps: []step{{modify: &vmapi.ModifyImagesAttributesRequest{ImageIDs: []string{"a"}, ImageName: ptr("no spaces")}, code: quota.CodePatternError}},
			want: want{names: map[string]string{"a": "a", "b": "b", "c": "c"}}},
		{name: "modify an image twice in one request", steps: []step{{modify: &vmapi.ModifyImagesAttributesRequest{ImageIDs: []string{"a", "a"}, ImageName: ptr("z")},
			code: quota.CodeInvalidParameterValue, names: []string{"more than once"}}},
			want: want{names: map[string]string{"a": "a", "b": "b", "c": "c"}}},
		{name: "modify without ids", steps: []step{{modify: &vmapi.ModifyImagesAttributesRequest{ImageName: ptr("z")}, code: quota.CodeMissingParameter, names: []string{"imageIds"}}},
			want: want{names: map[string]string{"a": "a", "b": "b", "c": "c"}}},
		{name: "delete one", steps: []step{{delete: &vmapi.DeleteImagesRequest{ImageIDs: []string{"a"}}}},
			want: want{names: map[string]string{"b": "b", "c": "c"}}},
		{name: "delete two", steps: []step{{delete: &vmapi.DeleteImagesRequest{ImageIDs: []string{"b", "a"}}}},
			want: want{names: map[string]string{"c": "c"}}},
		{name: "delete twice", steps: []step{
			{delete: &vmapi.DeleteImagesRequest{ImageIDs: []string{"a"}}},
			{delete: &vmapi.DeleteImagesRequest{ImageIDs: []string{"a"}}, code: quota.CodeImageNotFound, names: []string{"a"}},
		}, want: want{names: map[string]string{"b": "b", "c": "c"}}},
		{name: "delete all or none", steps: []step{{delete: &vmapi.DeleteImagesRequest{ImageIDs: []string{"a", "img-nowhere"}}, code: quota.CodeImageNotFound, names: []string{"img-nowhere"}}},
			want: want{names: map[string]string{"a": "a", "b": "b", "c": "c"}}},
		{name: "delete a CREATING image", steps: []step{{delete: &vmapi.DeleteImagesRequest{ImageIDs: []string{"a", "c"}}, code: quota.CodeImageStatus, names: []string{"c", "CREATING"}}},
			want: want{names: map[string]string{"a": "a", "b": "b", "c": "c"}}},
		{name: "delete another account's image", steps: []step{{delete: &vmapi.DeleteImagesRequest{ImageIDs: []string{"x"}}, code: quota.CodeImageNotFound, names: []string{"x"}}},
			want: want{names: map[string]string{"a": "a", "b": "b", "c": "c"}}},
		{name: "delete an empty list", steps: []step{{delete: &vmapi.DeleteImagesRequest{ImageIDs: []string{}}, code: quota.CodeLessLength, names: []string{"imageIds"}}},
			want: want{names: map[string]string{"a": "a", "b": "b", "c": "c"}}},
		{name: "delete without ids", steps: []step{{delete: &vmapi.DeleteImagesRequest{}, code: quota.CodeMissingParameter, names: []string{"imageIds"}}},
			want: want{names: map[string]string{"a": "a", "b": "b", "c": "c"}}},
		{name: "delete once built", later: true, steps: []step{{delete: &vmapi.DeleteImagesRequest{ImageIDs: []string{"c"}}}},
			want: want{names: map[string]string{"a": "a", "b": "b"}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			e := setup(t)
			ids := map[string]string{
				"a": e.create(t, e.acct, fra, "a", false),
				"b": e.create(t, e.acct, fra, "b", false),
				"c": e.create(t, e.acct, fra, "c", true),
				"x": e.create(t, e.other, fra, "x", false),
			}
			real := func(names []string) []string {
				out := make([]string, len(names))
				for i, n := range names {
					if id, ok := ids[n]; ok {
						n = id
					}
					out[i] = n
				}
				return out
			}
			if tt.later {
				e.clock.Add(time.Hour)
			}
			for i, s := range tt.steps {
				var err error
				if s.modify != nil {
					in := *s.modify
					if in.ImageIDs != nil {
						in.ImageIDs = real(in.ImageIDs)
					}
					_, err = e.svc.ModifyImagesAttributes(t.Context(), call(e.acct), &in)
				} else {
					in := *s.delete
					if in.ImageIDs != nil {
						in.ImageIDs = real(in.ImageIDs)
					}
					_, err = e.svc.DeleteImages(t.Context(), call(e.acct), &in)
				}
				t.Logf("step %d", i+1)
				checkErr(t, err, s.code, real(s.names)...)
			}
			out, err := e.svc.DescribeImages(t.Context(), call(e.acct), &vmapi.DescribeImagesRequest{ImageType: ptr(quota.ImageTypeCustom)})
			if err != nil {
				t.Fatal(err)
			}
			got := map[string]string{}
			for _, im := range out.DataSet {
				for k, id := range ids {
					if id == im.ImageID {
						got[k] = im.ImageName
						want := tt.want.descs[k]
						if (want == nil) != (im.ImageDescription == nil) || want != nil && *want != *im.ImageDescription {
							t.Errorf("image %s has the description %v; want %v", k, im.ImageDescription, want)
						}
					}
				}
			}
			if len(got) != len(tt.want.names) || len(got) != out.TotalCount {
				t.Errorf("images %v (total %d); want %v", got, out.TotalCount, tt.want.names)
			}
			for k, n := range tt.want.names {
				if got[k] != n {
					t.Errorf("image %s is named %q; want %q", k, got[k], n)
				}
			}
			if count, _ := e.count(t, fra); count != len(tt.want.names) {
				t.Errorf("FRA-A counts %d images; want %d", count, len(tt.want.names))
			}
		})
	}
}

// TestModifyNothing: ModifyImagesAttributes with neither imageName nor
// imageDescription, as the Terraform provider sends it when a description is
// removed, succeeds and writes nothing: the image keeps its attributes and
// the audit trail gets no record. The message for an image the account does
// not have is the one a change of it gets.
func TestModifyNothing(t *testing.T) {
	t.Parallel()
	e := setup(t)
	ctx := t.Context()
	id := e.create(t, e.acct, fra, "web", false)
	others := e.create(t, e.other, fra, "theirs", false)
	if _, err := e.svc.ModifyImagesAttributes(ctx, call(e.acct), &vmapi.ModifyImagesAttributesRequest{
		ImageIDs: []string{id}, ImageDescription: ptr("kept"),
	}); err != nil {
		t.Fatal(err)
	}
	audit := func() int {
		t.Helper()
		recs, err := e.db.ListAudit(ctx, quota.AuditFilter{AccountID: e.acct})
		if err != nil {
			t.Fatal(err)
		}
		return len(recs)
	}
	before := audit()

	if _, err := e.svc.ModifyImagesAttributes(ctx, call(e.acct), &vmapi.ModifyImagesAttributesRequest{ImageIDs: []string{id}}); err != nil {
		t.Fatalf("ModifyImagesAttributes without attributes: %v", err)
	}
	imgs, err := e.db.ListImages(ctx, e.acct, []string{id}, "")
	if err != nil || len(imgs) != 1 {
		t.Fatalf("ListImages: %v, %v", imgs, err)
	}
	if imgs[0].Name != "web" || imgs[0].Description == nil || *imgs[0].Description != "kept" {
		t.Errorf("image after a modify of nothing: name %q, description %v; want web, kept", imgs[0].Name, imgs[0].Description)
	}
	if got := audit(); got != before {
		t.Errorf("a modify of nothing added %d audit records", got-before)
	}

	for _, missing := range []string{"img-nowhere", others} {
		_, noop := e.svc.ModifyImagesAttributes(ctx, call(e.acct), &vmapi.ModifyImagesAttributesRequest{ImageIDs: []string{id, missing}})
		_, change := e.svc.ModifyImagesAttributes(ctx, call(e.acct), &vmapi.ModifyImagesAttributesRequest{ImageIDs: []string{id, missing}, ImageName: ptr("x")})
		checkErr(t, noop, quota.CodeImageNotFound, missing)
		if noop == nil || change == nil || noop.Error() != change.Error() {
			t.Errorf("%s: a modify of nothing answers %v; a change answers %v", missing, noop, change)
		}
	}
	if got := audit(); got != before {
		t.Errorf("refused modifies added %d audit records", got-before)
	}
}

func TestDescribeRegionsAndZones(t *testing.T) {
	t.Parallel()
	e := setup(t)
	ctx := t.Context()
	tests := []struct {
		name string
		ids  []string // the filter of both
		want []string
		code [2]string // the error codes of DescribeRegions and DescribeZones
	}{
		{name: "all enabled", want: []string{fra, hkg, jed}},
		{name: "some, in request order", ids: []string{jed, fra, jed}, want: []string{jed, fra}},
		{name: "disabled", ids: []string{closed}, code: [2]string{quota.CodeRegionNotFound, quota.CodeZoneNotFound}},
		{name: "unknown", ids: []string{fra, "nowhere"}, code: [2]string{quota.CodeRegionNotFound, quota.CodeZoneNotFound}},
	}
	for _, tt := range tests {
		regions, err := e.svc.DescribeRegions(ctx, call(e.acct), &vmapi.DescribeRegionsRequest{RegionIDs: tt.ids})
		checkErr(t, err, tt.code[0])
		zones, zerr := e.svc.DescribeZones(ctx, call(e.acct), &vmapi.DescribeZonesRequest{ZoneIDs: tt.ids})
		checkErr(t, zerr, tt.code[1])
		if err != nil || zerr != nil {
			continue
		}
		var r, z []string
		for _, x := range regions.Regions {
			r = append(r, x.RegionID)
		}
		for _, x := range zones.ZoneSet {
			z = append(z, x.ZoneID)
			if x.RegionID != x.ZoneID {
				t.Errorf("%s: zone %+v lies in region %q", tt.name, x, x.RegionID)
			}
		}
		if !slices.Equal(r, tt.want) || !slices.Equal(z, tt.want) {
			t.Errorf("%s: regions %v, zones %v; want %v", tt.name, r, z, tt.want)
		}
	}
}

// TestCreateImageUnderALimitOfZero: with no place at all, the refusal
// says so without an empty list of images counted.
func TestCreateImageUnderALimitOfZero(t *testing.T) {
	t.Parallel()
	e := setup(t)
	e.setLimit(t, quota.LimitOverride{AccountID: "acct", LocationID: hkg, MaxCount: 0})
	req := &vmapi.CreateImageRequest{InstanceID: ptr(e.inst[e.acct][hkg]), ImageName: ptr("none")}
	_, err := e.svc.CreateImage(t.Context(), call(e.acct), req)
	checkErr(t, err, quota.CodeImageQuotaExceeded, "The custom image quota of location HKG-A is used up: count 0, maxCount 0.")
	if err != nil && strings.Contains(err.Error(), "Images counted") {
		t.Errorf("the refusal lists images where there are none: %v", err)
	}
}
