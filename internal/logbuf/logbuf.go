// Package logbuf buffers a log stream and writes it out at short intervals.
//
// A request log writes one line per request; written straight to a file or
// pipe that is one write system call per request, about a tenth of the
// server's CPU at tens of thousands of requests a second. A Writer collects
// the lines and writes them together every interval (or when its buffer is
// full), so lines reach the output at most one interval late. Lines written
// in the last interval before a crash may be lost; Close writes out the rest.
package logbuf

import (
	"bufio"
	"io"
	"sync"
	"time"
)

// DefaultInterval is how late a line may reach the output.
const DefaultInterval = 100 * time.Millisecond

// bufferSize is the most a Writer holds before it writes out.
const bufferSize = 64 << 10

// Writer is an io.Writer that buffers what it is given and writes it out
// every interval. It is safe for concurrent use; each Write is kept whole.
type Writer struct {
	mu     sync.Mutex
	buf    *bufio.Writer
	err    error // the first error writing out; later writes fail with it
	stop   chan struct{}
	done   chan struct{}
	closed bool
}

// New returns a Writer onto w that writes out every interval (DefaultInterval
// when interval is not positive).
func New(w io.Writer, interval time.Duration) *Writer {
	if interval <= 0 {
		interval = DefaultInterval
	}
	b := &Writer{buf: bufio.NewWriterSize(w, bufferSize), stop: make(chan struct{}), done: make(chan struct{})}
	go b.run(interval)
	return b
}

func (b *Writer) run(interval time.Duration) {
	defer close(b.done)
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-t.C:
			_ = b.Flush()
		case <-b.stop:
			return
		}
	}
}

// Write buffers p. A p that does not fit in the buffer's free space makes
// the Writer write out what it holds first, so p is never split between
// two writes unless it is larger than the buffer itself.
func (b *Writer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.err != nil {
		return 0, b.err
	}
	if b.closed {
		return 0, io.ErrClosedPipe
	}
	if len(p) > b.buf.Available() && b.buf.Buffered() > 0 {
		if err := b.buf.Flush(); err != nil {
			b.err = err
			return 0, err
		}
	}
	n, err := b.buf.Write(p)
	if err != nil {
		b.err = err
	}
	return n, err
}

// Flush writes out what the Writer holds.
func (b *Writer) Flush() error {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.err != nil {
		return b.err
	}
	if err := b.buf.Flush(); err != nil {
		b.err = err
	}
	return b.err
}

// Close writes out what the Writer holds and stops it; later writes fail.
// It does not close the underlying writer.
func (b *Writer) Close() error {
	b.mu.Lock()
	if b.closed {
		b.mu.Unlock()
		return nil
	}
	b.closed = true
	b.mu.Unlock()
	close(b.stop)
	<-b.done
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.err != nil {
		return b.err
	}
	return b.buf.Flush()
}
