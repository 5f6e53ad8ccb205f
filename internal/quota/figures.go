package quota

import "time"

// LocationFigures are the quota figures of one location, over the accounts
// that have at least one custom image there.
type LocationFigures struct {
	LocationID string
	// Images is the number of custom images in the location.
	Images int64
	// Accounts is the number of accounts with images there.
	Accounts int64
	// LimitSum is the sum of those accounts' limits in effect there.
	LimitSum int64
	// AtLimit counts those accounts whose count has reached their limit;
	// NearLimit those whose count is at least NearLimitPercent of it (the
	// accounts at their limit included).
	AtLimit   int64
	NearLimit int64
}

// NearLimitPercent is the share of its limit from which an account counts
// as near it in LocationFigures.
const NearLimitPercent = 80

// AddPairs adds k accounts with count images each, under a limit of max, to
// f. A count is never 0: an account without images is not counted.
func (f *LocationFigures) AddPairs(count, max int, k int64) {
	f.Images += int64(count) * k
	f.Accounts += k
	f.LimitSum += int64(max) * k
	if count >= max {
		f.AtLimit += k
	}
	if count*100 >= max*NearLimitPercent {
		f.NearLimit += k
	}
}

// PairCounts is what the figures of every location are worked out from,
// as a store reads them in one statement: the overrides in effect, and the
// (account, location) pairs with images. The pairs of the accounts with no
// override of their own, whose limit in a location is the same for all of
// them, come as a histogram, so that their number does not grow with the
// number of accounts; the pairs of the accounts with an override of their
// own come one by one.
type PairCounts struct {
	// Overrides are the overrides in effect.
	Overrides []LimitOverride
	// Shared are the histogram of the pairs of the accounts without an
	// override of their own: Accounts accounts with Count images in
	// LocationID.
	Shared []CountBucket
	// Own are the pairs of the accounts with an override of their own.
	Own []LocationUsage
}

// CountBucket is a bar of a histogram of pairs: Accounts accounts have
// Count images each in LocationID.
type CountBucket struct {
	LocationID string
	Count      int
	Accounts   int64
}

// Figures works out the figures of each location of p, with ResolveLimit
// and fallback as the limit where no override applies, in the order of
// locations first seen. Locations of locations (a catalogue's, say) come
// first, with zero figures where no account has images.
func (p PairCounts) Figures(locations []string, fallback int) []LocationFigures {
	var out []LocationFigures
	index := map[string]int{}
	at := func(loc string) *LocationFigures {
		i, ok := index[loc]
		if !ok {
			i = len(out)
			index[loc] = i
			out = append(out, LocationFigures{LocationID: loc})
		}
		return &out[i]
	}
	for _, l := range locations {
		at(l)
	}
	// The overrides that apply to an account without one of its own.
	var shared []LimitOverride
	for _, o := range p.Overrides {
		if o.AccountID == "" {
			shared = append(shared, o)
		}
	}
	for _, b := range p.Shared {
		// No account id is empty: with none, only the location-wide and
		// default overrides can apply.
		max, _ := ResolveLimit(shared, "", b.LocationID, fallback)
		at(b.LocationID).AddPairs(b.Count, max, b.Accounts)
	}
	for _, u := range p.Own {
		max, _ := ResolveLimit(p.Overrides, u.AccountID, u.LocationID, fallback)
		at(u.LocationID).AddPairs(u.Count, max, 1)
	}
	return out
}

// RequestFigures are the quota requests by state, with the creation time
// of the oldest one still PENDING (zero when none is).
type RequestFigures struct {
	ByState       map[RequestState]int64
	OldestPending time.Time
}

// OutboxFigures are the events waiting to be delivered to the webhook: how
// many, how many of them have failed at least once, and when the oldest was
// recorded (zero when none waits).
type OutboxFigures struct {
	Events        int64
	FailingEvents int64
	Oldest        time.Time
}
