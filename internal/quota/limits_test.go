package quota_test

import (
	"math/rand/v2"
	"testing"

	"github.com/imagequota/imagequota/internal/quota"
)

func TestResolveLimit(t *testing.T) {
	t.Parallel()
	const acc, other, loc, elsewhere = "acc-1", "acc-2", "sa-jeddah-1a", "jp-tokyo-1a"
	def := quota.LimitOverride{MaxCount: 11}
	byLoc := quota.LimitOverride{LocationID: loc, MaxCount: 12}
	byAcc := quota.LimitOverride{AccountID: acc, MaxCount: 13}
	exact := quota.LimitOverride{AccountID: acc, LocationID: loc, MaxCount: 14}
	// Overrides of other scopes, which must never apply to (acc, loc).
	noise := []quota.LimitOverride{
		{AccountID: other, MaxCount: 91},
		{AccountID: other, LocationID: loc, MaxCount: 92},
		{LocationID: elsewhere, MaxCount: 93},
		{AccountID: acc, LocationID: elsewhere, MaxCount: 94},
	}
	tests := []struct {
		name       string
		overrides  []quota.LimitOverride
		fallback   int
		wantMax    int
		wantSource string
	}{
		{"nothing set", nil, 5, 5, quota.SourceServerDefault},
		{"only other scopes", noise, 7, 7, quota.SourceServerDefault},
		{"stored default", []quota.LimitOverride{def}, 5, 11, quota.SourceDefault},
		{"location beats default", []quota.LimitOverride{def, byLoc}, 5, 12, quota.SourceLocation},
		{"account beats location", []quota.LimitOverride{def, byLoc, byAcc}, 5, 13, quota.SourceAccount},
		{"account+location beats all", []quota.LimitOverride{def, byLoc, byAcc, exact}, 5, 14, quota.SourceAccountLocation},
		{"account+location alone", []quota.LimitOverride{exact}, 5, 14, quota.SourceAccountLocation},
		{"account without default", []quota.LimitOverride{byAcc}, 5, 13, quota.SourceAccount},
		{"location without default", []quota.LimitOverride{byLoc}, 5, 12, quota.SourceLocation},
		{"noise around default", append([]quota.LimitOverride{def}, noise...), 5, 11, quota.SourceDefault},
		{"noise around every level", append([]quota.LimitOverride{def, byLoc, byAcc, exact}, noise...), 5, 14, quota.SourceAccountLocation},
		{"zero is a limit", []quota.LimitOverride{def, {AccountID: acc, LocationID: loc, MaxCount: 0}}, 5, 0, quota.SourceAccountLocation},
		{"zero default", []quota.LimitOverride{{MaxCount: 0}}, 5, 0, quota.SourceDefault},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			// The answer must not depend on the order the store returns rows in.
			rng := rand.New(rand.NewPCG(1, 2))
			for range 20 {
				o := append([]quota.LimitOverride(nil), tt.overrides...)
				rng.Shuffle(len(o), func(i, j int) { o[i], o[j] = o[j], o[i] })
				gotMax, gotSource := quota.ResolveLimit(o, acc, loc, tt.fallback)
				if gotMax != tt.wantMax || gotSource != tt.wantSource {
					t.Fatalf("ResolveLimit(%v) = %d, %q; want %d, %q", o, gotMax, gotSource, tt.wantMax, tt.wantSource)
				}
			}
		})
	}
}

func TestCheckLimit(t *testing.T) {
	t.Parallel()
	tests := []struct {
		n    int
		code string
	}{
		{-1, quota.CodeLessMinimum},
		{0, ""},
		{5, ""},
		{quota.MaxLimit, ""},
		{quota.MaxLimit + 1, quota.CodeExceedMaximum},
	}
	for _, tt := range tests {
		err := quota.CheckLimit(tt.n)
		if got := codeOf(err); got != tt.code {
			t.Errorf("CheckLimit(%d) = %v; want code %q", tt.n, err, tt.code)
		}
	}
}

// codeOf returns the code of a *quota.Error, "" for nil, and fails loudly for
// anything else by returning its text.
func codeOf(err error) string {
	if err == nil {
		return ""
	}
	if e, ok := quota.AsError(err); ok {
		return e.Code
	}
	return "not a *quota.Error: " + err.Error()
}
