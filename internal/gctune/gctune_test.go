package gctune

import (
	"runtime/debug"
	"testing"
)

func TestPercentFor(t *testing.T) {
	for _, tt := range []struct {
		live uint64
		want int
	}{
		{0, maxPercent},
		{512 << 10, maxPercent}, // 0.5 MiB: the goal is at its most 33 × 0.5 MiB
		{2 << 20, 1500},         // 2 MiB × 16 = 32 MiB
		{4 << 20, 700},          // 4 MiB × 8
		{5 << 20, 540},          // 5 MiB × 6.4 = 32 MiB
		{3 << 20, 967},          // rounded up: 3 MiB × 10.67 ≥ 32 MiB
		{16 << 20, minPercent},  // 16 MiB × 2 = 32 MiB
		{100 << 20, minPercent}, // large heaps keep the default
		{HeapFloor * 10, minPercent},
	} {
		got := PercentFor(tt.live)
		if got != tt.want {
			t.Errorf("PercentFor(%d) = %d, want %d", tt.live, got, tt.want)
		}
		if tt.live > 0 && got < maxPercent && tt.live*uint64(100+got)/100 < HeapFloor {
			t.Errorf("PercentFor(%d) = %d leaves the goal under the floor", tt.live, got)
		}
	}
}

// These tests change the process's GC target, so they do not run in parallel.

func TestForServerSetsTheTargetAndRestoresIt(t *testing.T) {
	before := debug.SetGCPercent(123)
	defer debug.SetGCPercent(before)

	gogc, restore := ForServer(map[string]string{"HOME": "/root"})
	if gogc != Describe {
		t.Errorf("gogc = %q, want %q", gogc, Describe)
	}
	// The test binary's live heap is small: the target is raised.
	if got := debug.SetGCPercent(-1); got <= 100 {
		t.Errorf("GC target %d after ForServer, want above 100 for a small heap", got)
	}
	restore()
	restore() // a second call is harmless
	if got := debug.SetGCPercent(123); got != 123 {
		t.Errorf("GC target %d after restore, want 123", got)
	}
}

func TestForServerLeavesGOGCFromTheEnvironment(t *testing.T) {
	before := debug.SetGCPercent(150)
	defer debug.SetGCPercent(before)

	gogc, restore := ForServer(map[string]string{"GOGC": "150"})
	if gogc != "150" {
		t.Errorf("gogc = %q, want the environment's 150", gogc)
	}
	if got := debug.SetGCPercent(150); got != 150 {
		t.Errorf("GC target %d, want the environment's 150 untouched", got)
	}
	restore()
	if got := debug.SetGCPercent(before); got != 150 {
		t.Errorf("GC target %d after restore, want 150 untouched", got)
	}
}
