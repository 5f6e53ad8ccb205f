// Package gctune sets the garbage collector's target for a serving process.
//
// imagequota's live heap is a few MiB (the read cache, prepared statements,
// one buffer per connection), so with Go's default GOGC=100 the collector
// runs whenever the heap reaches its 4 MiB floor: about 200 times a second
// under 30,000 requests/s, each cycle scanning every connection's stack and
// costing about 10% of the CPU and part of the tail latency. A target of 400
// raises the floor to 16 MiB and cuts the cycles by four or more, for a few
// MiB of memory.
package gctune

import (
	"runtime/debug"
	"strconv"
)

// ServerPercent is the GC target (as GOGC) of a serving process when the
// environment does not set GOGC.
const ServerPercent = 400

// ForServer sets the collector's target to ServerPercent unless env (the
// process environment) holds GOGC, which the runtime has then applied
// already; GOMEMLIMIT applies either way. It returns the target in force, as
// GOGC spells it, and a function that restores the previous one.
func ForServer(env map[string]string) (gogc string, restore func()) {
	if v, ok := env["GOGC"]; ok {
		return v, func() {}
	}
	old := debug.SetGCPercent(ServerPercent)
	return strconv.Itoa(ServerPercent), func() { debug.SetGCPercent(old) }
}
