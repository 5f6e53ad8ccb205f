//go:build !linux

package sqlite

// walHeaderSize is the size of the WAL-index header (see shm_linux.go).
const walHeaderSize = 96

// walHeader is not mapped on this system: every check of the read cache
// queries the database.
type walHeader struct{}

func mapWALHeader(string) *walHeader { return nil }

func (*walHeader) read(*[walHeaderSize]byte) bool { return false }

func (*walHeader) close() {}

func walChangeCounter(*[walHeaderSize]byte) uint32 { return 0 }
