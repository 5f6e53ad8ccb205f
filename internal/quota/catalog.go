package quota

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"regexp"
	"sort"
)

// Location is one place where custom images are kept and counted. The same id
// serves as a regionId (seed) and as a zoneId (published clients).
type Location struct {
	ID                    string `json:"id"`
	Name                  string `json:"name"`
	Disabled              bool   `json:"disabled,omitempty"`
	SupportSecurityGroup  bool   `json:"supportSecurityGroup"`
	SupportNetworkType    string `json:"supportNetworkType"`
	SupportIPv6           bool   `json:"supportIpv6"`
	SupportCPUPassThrough bool   `json:"supportCpuPassThrough"`
}

// Catalog is the set of known locations. It is immutable after construction
// and safe for concurrent use.
type Catalog struct {
	all     []Location // ascending by id
	enabled []Location // the enabled ones of all, in the same order
	byID    map[string]Location
}

var defaultLocations = [][2]string{
	{"br-saopaulo-1a", "São Paulo"},
	{"mx-mexicocity-1a", "Mexico City"},
	{"us-losangeles-1a", "Los Angeles"},
	{"us-washington-1a", "Washington D.C."},
	{"vn-hanoi-1a", "Hanoi"},
	{"hk-hongkong-1a", "Hong Kong"},
	{"in-kolkata-1a", "Kolkata"},
	{"au-melbourne-1a", "Melbourne"},
	{"in-mumbai-1a", "Mumbai"},
	{"in-newdelhi-1a", "New Delhi"},
	{"sg-singapore-1a", "Singapore"},
	{"tw-taipei-1a", "Taipei"},
	{"jp-tokyo-1a", "Tokyo"},
	{"de-frankfurt-9a", "Frankfurt"},
	{"tr-istanbul-1a", "Istanbul"},
	{"sa-jeddah-1a", "Jeddah"},
	{"gb-london-1a", "London"},
	{"ru-moscow-1a", "Moscow"},
	{"fr-paris-1a", "Paris"},
	{"sa-riyadh-1a", "Riyadh"},
	{"ch-zurich-1a", "Zurich"},
}

// DefaultCatalog returns the built-in catalogue of 21 locations.
func DefaultCatalog() *Catalog {
	locs := make([]Location, 0, len(defaultLocations))
	for _, l := range defaultLocations {
		locs = append(locs, Location{
			ID: l[0], Name: l[1],
			SupportSecurityGroup: true, SupportNetworkType: "PRIMARY_AND_SECONDARY",
			SupportIPv6: true, SupportCPUPassThrough: false,
		})
	}
	c, err := NewCatalog(locs)
	if err != nil {
		panic(err) // the built-in data is valid; a test proves it
	}
	return c
}

// locationIDPattern admits the built-in ids (sa-jeddah-1a) and the upper-case
// zone ids of the published clients (FRA-A, HKG-A). Ids are case-sensitive.
var locationIDPattern = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9-]{0,62}$`)

// MaxCatalogLocations bounds the size of a catalogue file.
const MaxCatalogLocations = 1000

// NewCatalog validates locs and builds a catalogue from them.
func NewCatalog(locs []Location) (*Catalog, error) {
	if len(locs) == 0 {
		return nil, fmt.Errorf("catalog: no locations")
	}
	if len(locs) > MaxCatalogLocations {
		return nil, fmt.Errorf("catalog: %d locations, at most %d", len(locs), MaxCatalogLocations)
	}
	c := &Catalog{byID: make(map[string]Location, len(locs))}
	for i, l := range locs {
		if !locationIDPattern.MatchString(l.ID) {
			return nil, fmt.Errorf("catalog: location %d: id %q must be 1-63 letters, digits or '-'", i, l.ID)
		}
		if l.Name == "" || len(l.Name) > 128 {
			return nil, fmt.Errorf("catalog: location %q: name must be 1-128 bytes", l.ID)
		}
		if _, dup := c.byID[l.ID]; dup {
			return nil, fmt.Errorf("catalog: location %q appears twice", l.ID)
		}
		c.byID[l.ID] = l
		c.all = append(c.all, l)
	}
	sort.Slice(c.all, func(i, j int) bool { return c.all[i].ID < c.all[j].ID })
	for _, l := range c.all {
		if !l.Disabled {
			c.enabled = append(c.enabled, l)
		}
	}
	return c, nil
}

// catalogFile is the JSON form of a catalogue file.
type catalogFile struct {
	Locations []Location `json:"locations"`
}

// ParseCatalog reads a catalogue from JSON: {"locations":[{"id":…,"name":…,"disabled":false,…}]}.
func ParseCatalog(r io.Reader) (*Catalog, error) {
	data, err := io.ReadAll(io.LimitReader(r, 4<<20+1))
	if err != nil {
		return nil, fmt.Errorf("catalog: %w", err)
	}
	if len(data) > 4<<20 {
		return nil, fmt.Errorf("catalog: file larger than 4 MiB")
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	var f catalogFile
	if err := dec.Decode(&f); err != nil {
		return nil, fmt.Errorf("catalog: %w", err)
	}
	if dec.More() {
		return nil, fmt.Errorf("catalog: trailing data after the JSON object")
	}
	return NewCatalog(f.Locations)
}

// LoadCatalog reads a catalogue file; an empty path gives the default.
func LoadCatalog(path string) (*Catalog, error) {
	if path == "" {
		return DefaultCatalog(), nil
	}
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("catalog: %w", err)
	}
	defer f.Close()
	return ParseCatalog(f)
}

// Lookup returns the enabled location with this id.
func (c *Catalog) Lookup(id string) (Location, bool) {
	l, ok := c.byID[id]
	if !ok || l.Disabled {
		return Location{}, false
	}
	return l, true
}

// Enabled returns the enabled locations, ascending by id.
func (c *Catalog) Enabled() []Location { return append([]Location(nil), c.enabled...) }

// EnabledShared returns the enabled locations, ascending by id, without
// copying them: the caller must not modify the slice. It is for the answer
// of every DescribeImageQuota.
func (c *Catalog) EnabledShared() []Location { return c.enabled[:len(c.enabled):len(c.enabled)] }

// All returns every location, disabled ones included, ascending by id.
func (c *Catalog) All() []Location { return append([]Location(nil), c.all...) }

// LocationFilter is one request parameter that names locations.
type LocationFilter struct {
	Param string // the parameter's name, for messages
	IDs   []string
}

// Resolve is how a request's location filters become locations: the ids in
// request order, filter after filter, each location once. When no filter
// names an id, it is every enabled location, ascending by id, in the
// catalogue's own slice, which the caller must not modify. A filter's ids are
// checked (CheckIDs) before any of them is looked up; an id that is unknown
// or disabled is an error with code notFound naming the parameter and the id.
func (c *Catalog) Resolve(notFound string, filters ...LocationFilter) ([]Location, error) {
	n := 0
	for _, f := range filters {
		n += len(f.IDs)
	}
	if n == 0 {
		return c.EnabledShared(), nil
	}
	out := make([]Location, 0, n)
	for _, f := range filters {
		if err := CheckIDs(f.Param, f.IDs); err != nil {
			return nil, err
		}
	next:
		for _, id := range f.IDs {
			for _, l := range out {
				if l.ID == id {
					continue next
				}
			}
			l, ok := c.Lookup(id)
			if !ok {
				return nil, Errorf(notFound, "%s: location %q does not exist or is not available.", f.Param, id)
			}
			out = append(out, l)
		}
	}
	return out, nil
}
