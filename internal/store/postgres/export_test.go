package postgres

import "sync/atomic"

// HoldGroups makes e's group writers wait, each with the first write it
// took, until release is called: the writes queued meanwhile go together in
// the next group. held is the number of writers waiting, queued that of the
// writes waiting for a writer.
func HoldGroups(e *Engine) (held, queued func() int, release func()) {
	var n atomic.Int32
	gate := make(chan struct{})
	f := func() {
		n.Add(1)
		<-gate
	}
	e.groups.gate.Store(&f)
	return func() int { return int(n.Load()) }, func() int { return len(e.groups.queue) },
		func() {
			e.groups.gate.Store(nil)
			close(gate)
		}
}

// RunAlone is the number of e's writes that ran again alone after their
// group.
func RunAlone(e *Engine) uint64 { return e.groups.alone.Load() }

// GroupWriters is the number of groups in flight at once.
const GroupWriters = groupWriters
