package quota

import (
	"math"
	"strings"
	"testing"
	"time"
)

func TestActiveOverrides(t *testing.T) {
	t.Parallel()
	now := time.Date(2026, 12, 1, 10, 0, 0, 0, time.UTC)
	at := func(d time.Duration) *time.Time { x := now.Add(d); return &x }
	ovs := []LimitOverride{
		{MaxCount: 1},
		{AccountID: "a", MaxCount: 2, ExpiresAt: at(time.Hour)},
		{AccountID: "a", LocationID: "l", MaxCount: 3, ExpiresAt: at(0)},
		{LocationID: "l", MaxCount: 4, ExpiresAt: at(-time.Second)},
	}
	got := ActiveOverrides(ovs, now)
	if len(got) != 2 || got[0].MaxCount != 1 || got[1].MaxCount != 2 {
		t.Fatalf("ActiveOverrides = %+v; want the one without expiry and the one ending later", got)
	}
	if max, src := ResolveLimit(got, "a", "l", 5); max != 2 || src != SourceAccount {
		t.Fatalf("resolved %d (%s); want 2 (account)", max, src)
	}
	if all := ActiveOverrides(ovs[:2], now); &all[0] != &ovs[0] {
		t.Fatalf("ActiveOverrides copied a list where every override applies")
	}
	e := EffectiveLimit(got, "a", "l", 5)
	if e.Scope == nil || e.Scope.ExpiresAt == nil || !e.Scope.ExpiresAt.Equal(now.Add(time.Hour)) {
		t.Fatalf("EffectiveLimit scope %+v; want the account override with its expiry", e.Scope)
	}
}

func TestUtilization(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		count, max int
		want       float64
	}{{0, 5, 0}, {5, 5, 1}, {3, 2, 1.5}, {0, 0, 0}, {1, 0, math.Inf(1)}} {
		if got := Utilization(tc.count, tc.max); got != tc.want {
			t.Errorf("Utilization(%d, %d) = %v, want %v", tc.count, tc.max, got, tc.want)
		}
	}
}

func TestCheckOverride(t *testing.T) {
	t.Parallel()
	now := time.Now()
	past, future := now.Add(-time.Second), now.Add(time.Second)
	for _, tc := range []struct {
		o    LimitOverride
		code string
	}{
		{LimitOverride{MaxCount: 1}, ""},
		{LimitOverride{MaxCount: 1, ExpiresAt: &future, Reason: "ok"}, ""},
		{LimitOverride{MaxCount: 1, ExpiresAt: &past}, CodeInvalidParameterValue},
		{LimitOverride{MaxCount: 1, ExpiresAt: &now}, CodeInvalidParameterValue},
		{LimitOverride{MaxCount: -1}, CodeLessMinimum},
		{LimitOverride{MaxCount: 1, Reason: strings.Repeat("x", MaxReasonLen+1)}, CodeExceedLength},
		{LimitOverride{MaxCount: 1, Reason: "a\x00"}, CodeInvalidParameterValue},
	} {
		if got := ErrorCode(CheckOverride(tc.o, now)); got != tc.code {
			t.Errorf("CheckOverride(%+v) = %q, want %q", tc.o, got, tc.code)
		}
	}
}
