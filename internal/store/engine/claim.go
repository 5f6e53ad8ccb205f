package engine

import "sync/atomic"

// Claim settles who owns a queued write: the engine's writer, which starts
// it, or its caller, whose deadline passed first and who abandons it.
// Whichever comes first wins. The zero Claim is queued.
type Claim struct{ state atomic.Int32 }

const (
	claimQueued int32 = iota
	claimStarted
	claimAbandoned
)

// Start claims the write for the writer; false when its caller abandoned it.
func (c *Claim) Start() bool {
	return c.state.CompareAndSwap(claimQueued, claimStarted) || c.state.Load() == claimStarted
}

// Abandon gives the write up for its caller; false when the writer has
// already started it.
func (c *Claim) Abandon() bool { return c.state.CompareAndSwap(claimQueued, claimAbandoned) }
