package quota_test

import (
	"testing"

	"github.com/imagequota/imagequota/internal/quota"
)

func TestEffectiveLimit(t *testing.T) {
	t.Parallel()
	const acc, loc = "acc-1", "jp-tokyo-1a"
	def := quota.LimitOverride{MaxCount: 11}
	byLoc := quota.LimitOverride{LocationID: loc, MaxCount: 12}
	byAcc := quota.LimitOverride{AccountID: acc, MaxCount: 13}
	exact := quota.LimitOverride{AccountID: acc, LocationID: loc, MaxCount: 14}
	other := quota.LimitOverride{AccountID: "acc-2", MaxCount: 15}
	tests := []struct {
		name      string
		overrides []quota.LimitOverride
		want      *quota.LimitOverride // the scope in effect; nil for the server default
		wantMax   int
	}{
		{"server default", []quota.LimitOverride{other}, nil, 5},
		{"stored default", []quota.LimitOverride{def, other}, &def, 11},
		{"location", []quota.LimitOverride{def, byLoc}, &byLoc, 12},
		{"account", []quota.LimitOverride{def, byLoc, byAcc}, &byAcc, 13},
		{"account+location", []quota.LimitOverride{def, byLoc, byAcc, exact}, &exact, 14},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			e := quota.EffectiveLimit(tt.overrides, acc, loc, 5)
			max, source := quota.ResolveLimit(tt.overrides, acc, loc, 5)
			if e.MaxCount != max || e.Source != source || e.MaxCount != tt.wantMax {
				t.Fatalf("EffectiveLimit = %d from %s; ResolveLimit = %d from %s; want %d", e.MaxCount, e.Source, max, source, tt.wantMax)
			}
			if tt.want == nil {
				if e.Scope != nil {
					t.Fatalf("Scope = %+v, want none", *e.Scope)
				}
				for _, o := range []quota.LimitOverride{def, byLoc, byAcc, exact} {
					if e.From(o.AccountID, o.LocationID) {
						t.Errorf("From(%q, %q) with no override in effect", o.AccountID, o.LocationID)
					}
				}
				return
			}
			if e.Scope == nil || *e.Scope != *tt.want {
				t.Fatalf("Scope = %v, want %+v", e.Scope, *tt.want)
			}
			for _, o := range []quota.LimitOverride{def, byLoc, byAcc, exact} {
				if got, want := e.From(o.AccountID, o.LocationID), o == *tt.want; got != want {
					t.Errorf("From(%q, %q) = %v, want %v", o.AccountID, o.LocationID, got, want)
				}
			}
		})
	}
}
