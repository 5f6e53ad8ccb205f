package quota_test

import (
	"slices"
	"strings"
	"testing"

	"github.com/imagequota/imagequota/internal/quota"
)

func TestDefaultCatalog(t *testing.T) {
	t.Parallel()
	c := quota.DefaultCatalog()
	enabled := c.Enabled()
	if len(enabled) != 21 {
		t.Fatalf("default catalogue has %d enabled locations; want 21", len(enabled))
	}
	ids := make([]string, len(enabled))
	for i, l := range enabled {
		ids[i] = l.ID
		if l.Name == "" || l.SupportNetworkType == "" {
			t.Errorf("location %+v lacks a name or a network type", l)
		}
	}
	if !slices.IsSorted(ids) {
		t.Errorf("Enabled() is not ascending by id: %v", ids)
	}
}

func testCatalog(t *testing.T) *quota.Catalog {
	t.Helper()
	c, err := quota.NewCatalog([]quota.Location{
		{ID: "HKG-A", Name: "Hong Kong"},
		{ID: "zz-closed-1a", Name: "Closed", Disabled: true},
		{ID: "FRA-A", Name: "Frankfurt"},
		{ID: "de-frankfurt-9a", Name: "Frankfurt 9"},
	})
	if err != nil {
		t.Fatalf("NewCatalog: %v", err)
	}
	return c
}

func TestCatalogLookup(t *testing.T) {
	t.Parallel()
	c := testCatalog(t)
	tests := []struct {
		id string
		ok bool
	}{
		{"FRA-A", true},
		{"HKG-A", true},
		{"de-frankfurt-9a", true},
		{"fra-a", false}, // ids are case-sensitive
		{"zz-closed-1a", false},
		{"", false},
		{"nowhere", false},
	}
	for _, tt := range tests {
		if _, ok := c.Lookup(tt.id); ok != tt.ok {
			t.Errorf("Lookup(%q) ok = %v; want %v", tt.id, ok, tt.ok)
		}
	}
	if got := len(c.All()); got != 4 {
		t.Errorf("All() has %d locations; want 4 (disabled included)", got)
	}
}

func TestCatalogResolve(t *testing.T) {
	t.Parallel()
	c := testCatalog(t)
	region := func(ids ...string) quota.LocationFilter { return quota.LocationFilter{Param: "regionIds", IDs: ids} }
	zone := func(ids ...string) quota.LocationFilter { return quota.LocationFilter{Param: "zoneIds", IDs: ids} }
	tooMany := make([]string, quota.MaxIDsPerRequest+1)
	for i := range tooMany {
		tooMany[i] = "FRA-A"
	}
	tests := []struct {
		name    string
		filters []quota.LocationFilter
		want    []string
		code    string   // the error code, when it is refused
		names   []string // what the error message must name
	}{
		{name: "no filter is every enabled location ascending", want: []string{"FRA-A", "HKG-A", "de-frankfurt-9a"}},
		{name: "empty filters are every enabled location", filters: []quota.LocationFilter{region(), zone()}, want: []string{"FRA-A", "HKG-A", "de-frankfurt-9a"}},
		{name: "request order", filters: []quota.LocationFilter{zone("de-frankfurt-9a", "FRA-A")}, want: []string{"de-frankfurt-9a", "FRA-A"}},
		{name: "duplicates once", filters: []quota.LocationFilter{zone("HKG-A", "FRA-A", "HKG-A")}, want: []string{"HKG-A", "FRA-A"}},
		{name: "union in filter order", filters: []quota.LocationFilter{region("HKG-A"), zone("FRA-A", "HKG-A")}, want: []string{"HKG-A", "FRA-A"}},
		{name: "only the second filter", filters: []quota.LocationFilter{region(), zone("FRA-A")}, want: []string{"FRA-A"}},
		{name: "many repeats of one id", filters: []quota.LocationFilter{zone(tooMany[1:]...)}, want: []string{"FRA-A"}},
		{name: "unknown", filters: []quota.LocationFilter{zone("FRA-A", "xx-nowhere-1a")}, code: quota.CodeZoneNotFound, names: []string{"zoneIds", "xx-nowhere-1a"}},
		{name: "disabled", filters: []quota.LocationFilter{zone("zz-closed-1a")}, code: quota.CodeZoneNotFound, names: []string{"zoneIds", "zz-closed-1a"}},
		{name: "case matters", filters: []quota.LocationFilter{zone("fra-a")}, code: quota.CodeZoneNotFound, names: []string{"fra-a"}},
		{name: "empty id", filters: []quota.LocationFilter{zone("FRA-A", "")}, code: quota.CodeLessLength, names: []string{"zoneIds.1"}},
		{name: "long id", filters: []quota.LocationFilter{zone(strings.Repeat("a", 65))}, code: quota.CodeExceedLength, names: []string{"zoneIds.0", "64"}},
		{name: "NUL in id", filters: []quota.LocationFilter{zone("FRA\x00A")}, code: quota.CodeInvalidParameterValue, names: []string{"zoneIds.0", "NUL"}},
		{name: "too many ids", filters: []quota.LocationFilter{zone(tooMany...)}, code: quota.CodeExceedLength, names: []string{"zoneIds", "100"}},
		{name: "the first filter's unknown id before the second's bad one", filters: []quota.LocationFilter{region("nowhere"), zone("")}, code: quota.CodeZoneNotFound, names: []string{"regionIds", "nowhere"}},
		{name: "the first filter's bad id before its unknown one", filters: []quota.LocationFilter{region("nowhere", "")}, code: quota.CodeLessLength, names: []string{"regionIds.1"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			locs, err := c.Resolve(quota.CodeZoneNotFound, tt.filters...)
			if tt.code != "" {
				e, ok := quota.AsError(err)
				if !ok || e.Code != tt.code {
					t.Fatalf("Resolve(%v) error = %v; want %s", tt.filters, err, tt.code)
				}
				for _, n := range tt.names {
					if !strings.Contains(e.Message, n) {
						t.Errorf("message %q does not name %q", e.Message, n)
					}
				}
				return
			}
			if err != nil {
				t.Fatalf("Resolve(%v): %v", tt.filters, err)
			}
			var got []string
			for _, l := range locs {
				got = append(got, l.ID)
			}
			if !slices.Equal(got, tt.want) {
				t.Errorf("Resolve(%v) = %v; want %v", tt.filters, got, tt.want)
			}
		})
	}
}

// TestCatalogResolveAllAllocates nothing: it answers every DescribeImageQuota
// without a filter.
func TestCatalogResolveAllAllocates(t *testing.T) {
	c := quota.DefaultCatalog()
	var none []string
	allocs := testing.AllocsPerRun(100, func() {
		locs, err := c.Resolve(quota.CodeRegionNotFound,
			quota.LocationFilter{Param: "regionIds", IDs: none}, quota.LocationFilter{Param: "zoneIds", IDs: none})
		if err != nil || len(locs) != 21 {
			t.Fatalf("Resolve() = %d locations, %v", len(locs), err)
		}
	})
	if allocs != 0 {
		t.Errorf("Resolve without ids allocates %v times; want 0", allocs)
	}
}

func TestNewCatalogRejects(t *testing.T) {
	t.Parallel()
	long := strings.Repeat("a", 64)
	tests := []struct {
		name string
		locs []quota.Location
	}{
		{"none", nil},
		{"empty id", []quota.Location{{ID: "", Name: "x"}}},
		{"id too long", []quota.Location{{ID: long, Name: "x"}}},
		{"id with space", []quota.Location{{ID: "fr a", Name: "x"}}},
		{"id with underscore", []quota.Location{{ID: "fr_a", Name: "x"}}},
		{"id starting with dash", []quota.Location{{ID: "-fra", Name: "x"}}},
		{"no name", []quota.Location{{ID: "fra"}}},
		{"duplicate", []quota.Location{{ID: "fra", Name: "x"}, {ID: "fra", Name: "y"}}},
	}
	for _, tt := range tests {
		if _, err := quota.NewCatalog(tt.locs); err == nil {
			t.Errorf("%s: NewCatalog(%+v) succeeded; want an error", tt.name, tt.locs)
		}
	}
	if _, err := quota.NewCatalog([]quota.Location{{ID: long[:63], Name: "x"}, {ID: "FRA-A", Name: "y"}}); err != nil {
		t.Errorf("NewCatalog with a 63-character id and an upper-case id: %v", err)
	}
}

func TestParseCatalog(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		in      string
		enabled int
		wantErr bool
	}{
		{"valid", `{"locations":[{"id":"FRA-A","name":"Frankfurt"},{"id":"x-1","name":"X","disabled":true}]}`, 1, false},
		{"unknown field", `{"locations":[{"id":"FRA-A","name":"Frankfurt","bogus":1}]}`, 0, true},
		{"trailing data", `{"locations":[{"id":"FRA-A","name":"Frankfurt"}]} {}`, 0, true},
		{"not json", `locations`, 0, true},
		{"no locations", `{"locations":[]}`, 0, true},
	}
	for _, tt := range tests {
		c, err := quota.ParseCatalog(strings.NewReader(tt.in))
		if (err != nil) != tt.wantErr {
			t.Errorf("%s: ParseCatalog error = %v; want error %v", tt.name, err, tt.wantErr)
			continue
		}
		if err == nil && len(c.Enabled()) != tt.enabled {
			t.Errorf("%s: %d enabled locations; want %d", tt.name, len(c.Enabled()), tt.enabled)
		}
	}
}
