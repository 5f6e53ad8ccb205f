package quota_test

import (
	"bytes"
	"regexp"
	"slices"
	"testing"

	"github.com/imagequota/imagequota/internal/quota"
)

// fuzzLocationID is the id rule a parsed catalogue must satisfy.
var fuzzLocationID = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9-]{0,62}$`)

// FuzzParseCatalog feeds arbitrary bytes to ParseCatalog: it never panics, and
// a catalogue it accepts has unique, valid ids and names, is sorted, and
// answers Lookup for exactly its enabled locations. The committed corpus is in
// testdata/fuzz/FuzzParseCatalog.
func FuzzParseCatalog(f *testing.F) {
	for _, seed := range []string{
		`{"locations":[{"id":"sa-jeddah-1a","name":"Jeddah"}]}`,
		`{"locations":[{"id":"FRA-A","name":"Frankfurt","supportSecurityGroup":true,"supportNetworkType":"PRIMARY","supportIpv6":true,"supportCpuPassThrough":false},{"id":"zz-closed-1a","name":"Closed","disabled":true}]}`,
		`{"locations":[]}`,
		`{"locations":[{"id":"a","name":"A"},{"id":"a","name":"A again"}]}`,
		`{"locations":[{"id":"-a","name":"A"}]}`,
		`{"locations":[{"id":"a","name":""}]}`,
		`{"locations":[{"id":"a","name":"A","extra":1}]}`,
		`{"locations":[{"id":"a","name":"A"}]} {}`,
		`{"locations":[{"ID":"a","NAME":"A"}]}`,
		`{"locations":null}`,
		`{"locations":[{"id":"a\u0000","name":"A"}]}`,
		`{"locations":[{"id":"a","name":"A","disabled":"yes"}]}`,
		`[]`,
		``,
	} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		c, err := quota.ParseCatalog(bytes.NewReader(data))
		if err != nil {
			if c != nil {
				t.Fatalf("ParseCatalog returned a catalogue and the error %v", err)
			}
			return
		}
		all := c.All()
		if len(all) == 0 || len(all) > quota.MaxCatalogLocations {
			t.Fatalf("accepted a catalogue of %d locations", len(all))
		}
		ids := make([]string, len(all))
		seen := map[string]bool{}
		for i, l := range all {
			ids[i] = l.ID
			if !fuzzLocationID.MatchString(l.ID) {
				t.Errorf("accepted the invalid id %q", l.ID)
			}
			if l.Name == "" || len(l.Name) > 128 {
				t.Errorf("location %q: accepted the name %q", l.ID, l.Name)
			}
			if seen[l.ID] {
				t.Errorf("id %q appears twice", l.ID)
			}
			seen[l.ID] = true
			got, ok := c.Lookup(l.ID)
			switch {
			case l.Disabled && ok:
				t.Errorf("Lookup(%q) finds a disabled location", l.ID)
			case !l.Disabled && !ok:
				t.Errorf("Lookup(%q) does not find an enabled location", l.ID)
			case !l.Disabled && got != l:
				t.Errorf("Lookup(%q) = %+v; want %+v", l.ID, got, l)
			}
		}
		if !slices.IsSorted(ids) {
			t.Errorf("All() is not ascending by id: %q", ids)
		}
		var enabled []string
		for _, l := range all {
			if !l.Disabled {
				enabled = append(enabled, l.ID)
			}
		}
		var gotEnabled []string
		for _, l := range c.Enabled() {
			gotEnabled = append(gotEnabled, l.ID)
		}
		if !slices.Equal(gotEnabled, enabled) {
			t.Errorf("Enabled() = %q; want %q", gotEnabled, enabled)
		}
		// Resolve with no ids is every enabled location; with enabled ids (one
		// of them twice), those locations once each.
		locs, err := c.Resolve(quota.CodeRegionNotFound)
		if err != nil || len(locs) != len(enabled) {
			t.Errorf("Resolve(nil) = %d locations, %v; want %d", len(locs), err, len(enabled))
		}
		if len(enabled) > 0 {
			some := enabled[:min(len(enabled), quota.MaxIDsPerRequest-1)]
			locs, err := c.Resolve(quota.CodeRegionNotFound, quota.LocationFilter{Param: "regionIds", IDs: append(slices.Clone(some), some[0])})
			if err != nil || len(locs) != len(some) {
				t.Errorf("Resolve(enabled ids) = %d locations, %v; want %d", len(locs), err, len(some))
			}
		}
	})
}
