// Package gctune sets the garbage collector's target for a serving process.
//
// imagequota's live heap is a few MiB (prepared statements, one buffer per
// connection, the read cache of a few thousand accounts), so with Go's
// default GOGC=100 the heap goal sits at the runtime's 4 MiB floor and the
// collector runs every 2 MiB or so of allocation: about 200 times a second
// under 30,000 requests/s, each cycle scanning every connection's stack and
// costing a tenth of the CPU and part of the tail latency.
//
// ForServer raises the goal to at least HeapFloor while the live heap is
// small, by setting GOGC from the live heap once a second; once the live
// heap is large enough (HeapFloor/2 and more) GOGC is the default 100 again,
// so a large read cache does not multiply the memory a raised GOGC would.
package gctune

import (
	"runtime/debug"
	"runtime/metrics"
	"sync"
	"time"
)

// HeapFloor is the smallest heap goal ForServer aims for.
const HeapFloor = 32 << 20

// Bounds of the GOGC ForServer sets.
const (
	minPercent = 100
	maxPercent = 3200
)

// Interval is how often ForServer looks at the live heap.
const Interval = time.Second

// Describe is how ForServer's own setting is reported (as GOGC would be).
const Describe = "auto (heap goal at least 32 MiB)"

// PercentFor returns the GOGC that makes the heap goal, live×(1+GOGC/100),
// at least HeapFloor: at least 100, at most 3200.
func PercentFor(live uint64) int {
	if live == 0 {
		return maxPercent
	}
	p := int((HeapFloor*100+live-1)/live) - 100
	return min(max(p, minPercent), maxPercent)
}

// liveHeap reads the live heap (the bytes marked by the last cycle).
func liveHeap(s []metrics.Sample) uint64 {
	metrics.Read(s)
	if s[0].Value.Kind() != metrics.KindUint64 {
		return 0
	}
	return s[0].Value.Uint64()
}

// ForServer keeps the heap goal at least HeapFloor unless env (the process
// environment) holds GOGC, which the runtime has then applied already;
// GOMEMLIMIT applies either way. It returns the setting in force, as GOGC
// spells it or Describe, and a function that stops the adjustment and
// restores the previous GOGC.
func ForServer(env map[string]string) (gogc string, restore func()) {
	if v, ok := env["GOGC"]; ok {
		return v, func() {}
	}
	sample := []metrics.Sample{{Name: "/gc/heap/live:bytes"}}
	last := PercentFor(liveHeap(sample))
	old := debug.SetGCPercent(last)
	stop, done := make(chan struct{}), make(chan struct{})
	go func() {
		defer close(done)
		t := time.NewTicker(Interval)
		defer t.Stop()
		for {
			select {
			case <-stop:
				return
			case <-t.C:
				if p := PercentFor(liveHeap(sample)); p != last {
					debug.SetGCPercent(p)
					last = p
				}
			}
		}
	}()
	var once sync.Once
	return Describe, func() {
		once.Do(func() {
			close(stop)
			<-done
			debug.SetGCPercent(old)
		})
	}
}
