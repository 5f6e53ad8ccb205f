package quota

import (
	"reflect"
	"testing"
)

// TestPairCountsFigures: the histogram's accounts take the location's or
// the default limit, the accounts with an override of their own take
// theirs; a limit of 0 counts its accounts at and near it; the locations
// asked for come first, with zeros.
func TestPairCountsFigures(t *testing.T) {
	t.Parallel()
	p := PairCounts{
		Overrides: []LimitOverride{
			{MaxCount: 4},
			{LocationID: "x", MaxCount: 10},
			{AccountID: "own", LocationID: "y", MaxCount: 0},
			{AccountID: "own", MaxCount: 2},
		},
		Shared: []CountBucket{
			{LocationID: "x", Count: 8, Accounts: 3}, // 80% of 10: near
			{LocationID: "x", Count: 1, Accounts: 5},
			{LocationID: "y", Count: 4, Accounts: 2}, // at the default of 4
		},
		Own: []LocationUsage{
			{AccountID: "own", LocationID: "x", Count: 2}, // at its own 2
			{AccountID: "own", LocationID: "y", Count: 1}, // over its own 0
		},
	}
	want := []LocationFigures{
		{LocationID: "z"},
		{LocationID: "x", Images: 8*3 + 5 + 2, Accounts: 9, LimitSum: 10*8 + 2, AtLimit: 1, NearLimit: 4},
		{LocationID: "y", Images: 8 + 1, Accounts: 3, LimitSum: 8, AtLimit: 3, NearLimit: 3},
	}
	if got := p.Figures([]string{"z"}, 5); !reflect.DeepEqual(got, want) {
		t.Errorf("Figures =\n%+v\nwant\n%+v", got, want)
	}
	// Without overrides, the server's default applies to all.
	if got := (PairCounts{Shared: []CountBucket{{LocationID: "x", Count: 5, Accounts: 2}}}).Figures(nil, 5); !reflect.DeepEqual(got,
		[]LocationFigures{{LocationID: "x", Images: 10, Accounts: 2, LimitSum: 10, AtLimit: 2, NearLimit: 2}}) {
		t.Errorf("Figures under the server default = %+v", got)
	}
}
