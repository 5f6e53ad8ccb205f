package sqlite

import (
	"bytes"
	"encoding/binary"
	"os"
	"runtime/debug"
	"syscall"
)

// The WAL-index header: the first 96 bytes of a WAL database's -shm file
// are two copies of a 48-byte header that SQLite rewrites (second copy
// first) on every commit, by any connection of any process, before COMMIT
// returns; its change counter, frame count, salts and checksum make it
// differ after every commit. A reader that finds the two copies different is
// looking at a commit in progress.
const walHeaderSize = 96

const (
	walIndexVersion = 3007000 // WALINDEX_MAX_VERSION, the header's first field
	walHeaderChange = 8       // offset of iChange, the change counter
	walHeaderIsInit = 12      // offset of isInit, 1 once the header is valid
)

// walHeader is a read-only mapping of the start of a -shm file.
//
// It keeps its descriptor open until close: closing any descriptor of a file
// drops every POSIX lock the process holds on it, SQLite's locks on the -shm
// file included. Without them another process opening the store (an admin
// command, a backup) finds the -shm file unused, resets it, and no longer
// sees this process's readers.
type walHeader struct {
	mem []byte
	f   *os.File
}

// mapWALHeader maps the header of the -shm file at path, or returns nil when
// it cannot (no file, too short, mmap refused): the caller then always
// queries.
func mapWALHeader(path string) *walHeader {
	f, err := os.Open(path)
	if err != nil {
		return nil
	}
	st, err := f.Stat()
	if err != nil || !st.Mode().IsRegular() || st.Size() < walHeaderSize {
		f.Close()
		return nil
	}
	mem, err := syscall.Mmap(int(f.Fd()), 0, walHeaderSize, syscall.PROT_READ, syscall.MAP_SHARED)
	if err != nil {
		f.Close()
		return nil
	}
	return &walHeader{mem: mem, f: f}
}

// read copies the header into dst and reports whether it looks like a
// complete, valid one (both copies equal, initialised, known version).
func (h *walHeader) read(dst *[walHeaderSize]byte) (ok bool) {
	// A fault (the file truncated under the mapping) reads as "unusable".
	defer debug.SetPanicOnFault(debug.SetPanicOnFault(true))
	defer func() {
		if recover() != nil {
			ok = false
		}
	}()
	copy(dst[:], h.mem)
	return bytes.Equal(dst[:48], dst[48:]) && dst[walHeaderIsInit] == 1 &&
		binary.NativeEndian.Uint32(dst[:4]) == walIndexVersion
}

// close unmaps the header and closes its descriptor, dropping the process's
// locks on the -shm file: only once the store's connections are closed.
func (h *walHeader) close() {
	_ = syscall.Munmap(h.mem)
	_ = h.f.Close()
}

// walChangeCounter is the header's iChange: SQLite adds one to it with every
// commit and every restart of the WAL.
func walChangeCounter(h *[walHeaderSize]byte) uint32 {
	return binary.NativeEndian.Uint32(h[walHeaderChange:])
}
