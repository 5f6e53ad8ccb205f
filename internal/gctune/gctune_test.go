package gctune

import (
	"runtime/debug"
	"testing"
)

// These tests change the process's GC target, so they do not run in parallel.

func TestForServerSetsTheTargetAndRestoresIt(t *testing.T) {
	before := debug.SetGCPercent(123)
	defer debug.SetGCPercent(before)

	gogc, restore := ForServer(map[string]string{"HOME": "/root"})
	if gogc != "400" {
		t.Errorf("gogc = %q, want 400", gogc)
	}
	if got := debug.SetGCPercent(ServerPercent); got != ServerPercent {
		t.Errorf("GC target %d after ForServer, want %d", got, ServerPercent)
	}
	restore()
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
