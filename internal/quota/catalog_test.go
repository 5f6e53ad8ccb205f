package quota_test

import (
	"slices"
	"strings"
	"testing"

	"imagequota/internal/quota"
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
	tests := []struct {
		name    string
		ids     []string
		want    []string
		wantErr string // an id the error message must name
	}{
		{"empty is every enabled location ascending", nil, []string{"FRA-A", "HKG-A", "de-frankfurt-9a"}, ""},
		{"request order", []string{"de-frankfurt-9a", "FRA-A"}, []string{"de-frankfurt-9a", "FRA-A"}, ""},
		{"duplicates once", []string{"HKG-A", "FRA-A", "HKG-A"}, []string{"HKG-A", "FRA-A"}, ""},
		{"unknown", []string{"FRA-A", "xx-nowhere-1a"}, nil, "xx-nowhere-1a"},
		{"disabled", []string{"zz-closed-1a"}, nil, "zz-closed-1a"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			locs, err := c.Resolve(tt.ids, quota.CodeZoneNotFound, "zoneIds")
			if tt.wantErr != "" {
				e, ok := quota.AsError(err)
				if !ok || e.Code != quota.CodeZoneNotFound || !strings.Contains(e.Message, tt.wantErr) || !strings.Contains(e.Message, "zoneIds") {
					t.Fatalf("Resolve(%v) error = %v; want %s naming zoneIds and %q", tt.ids, err, quota.CodeZoneNotFound, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("Resolve(%v): %v", tt.ids, err)
			}
			var got []string
			for _, l := range locs {
				got = append(got, l.ID)
			}
			if !slices.Equal(got, tt.want) {
				t.Errorf("Resolve(%v) = %v; want %v", tt.ids, got, tt.want)
			}
		})
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
