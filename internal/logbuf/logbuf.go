// Package logbuf buffers a log stream and writes it out at short intervals.
//
// A request log writes one line per request; written straight to a file or
// pipe that is one write system call per request, about a tenth of the
// server's CPU at tens of thousands of requests a second. A Writer collects
// the lines and writes them together every interval (or when its buffer is
// full), so lines reach the output at most one interval late. Lines written
// in the last interval before a crash may be lost; Close writes out the rest.
//
// The write system calls are made by a goroutine of the Writer's own, on a
// buffer that no line is being added to: a line only takes a lock for as
// long as it takes to copy it. Two buffers take turns; a line that finds
// both full (the output is slower than the lines come) waits for the write
// out in progress, so no line is ever dropped.
package logbuf

import (
	"io"
	"sync"
	"time"
)

// DefaultInterval is how late a line may reach the output.
const DefaultInterval = 100 * time.Millisecond

// bufferSize is the most a Writer's buffer holds before it is written out.
const bufferSize = 64 << 10

// Writer is an io.Writer that buffers what it is given and writes it out
// every interval. It is safe for concurrent use; each Write is kept whole.
type Writer struct {
	w io.Writer

	mu    sync.Mutex
	room  *sync.Cond // signalled when a write out ends
	cur   []byte     // the lines being collected
	out   []byte     // handed to the writing goroutine; nil when none is
	spare []byte     // the other buffer, nil while it is out
	err   error      // the first error writing out; later writes fail with it
	// closed: Close was called; later writes fail.
	closed bool
	// waiting counts the writes waiting for room now; waited, those that
	// ever did.
	waiting int
	waited  uint64

	kick    chan struct{}   // a full buffer was handed over
	flushes chan chan error // Flush's requests
	stop    chan struct{}
	done    chan struct{}
}

// New returns a Writer onto w that writes out every interval (DefaultInterval
// when interval is not positive).
func New(w io.Writer, interval time.Duration) *Writer {
	if interval <= 0 {
		interval = DefaultInterval
	}
	b := &Writer{w: w, cur: make([]byte, 0, bufferSize), spare: make([]byte, 0, bufferSize),
		kick: make(chan struct{}, 1), flushes: make(chan chan error), stop: make(chan struct{}), done: make(chan struct{})}
	b.room = sync.NewCond(&b.mu)
	go b.run(interval)
	return b
}

// run is the goroutine that writes out.
func (b *Writer) run(interval time.Duration) {
	defer close(b.done)
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-b.kick:
			b.writeOut(false)
		case <-t.C:
			b.writeOut(true)
		case reply := <-b.flushes:
			reply <- b.writeOut(true)
		case <-b.stop:
			b.writeOut(true)
			return
		}
	}
}

// writeOut writes out the buffer handed over, if any, and then, when all is
// true, what is being collected. It returns the Writer's error.
func (b *Writer) writeOut(all bool) error {
	for {
		b.mu.Lock()
		if b.out == nil && all && len(b.cur) > 0 {
			b.out, b.cur, b.spare = b.cur, b.spare[:0], nil
			all = false
		}
		out := b.out
		b.mu.Unlock()
		if out == nil {
			b.mu.Lock()
			defer b.mu.Unlock()
			return b.err
		}
		_, err := b.w.Write(out)
		b.mu.Lock()
		b.out, b.spare = nil, out[:0]
		if err != nil && b.err == nil {
			b.err = err
		}
		b.room.Broadcast()
		b.mu.Unlock()
	}
}

// Write buffers p. A p that does not fit in the buffer's free space hands
// the buffer over to be written out first, so p is never split between two
// writes unless it is larger than the buffer itself. It waits only when
// both buffers are full.
func (b *Writer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	for {
		if b.err != nil {
			return 0, b.err
		}
		if b.closed {
			return 0, io.ErrClosedPipe
		}
		if len(b.cur) == 0 || len(b.cur)+len(p) <= bufferSize {
			break
		}
		if b.spare != nil {
			b.out, b.cur, b.spare = b.cur, b.spare[:0], nil
			select {
			case b.kick <- struct{}{}:
			default:
			}
			break
		}
		b.waiting++
		b.waited++
		b.room.Wait()
		b.waiting--
	}
	b.cur = append(b.cur, p...)
	return len(p), nil
}

// Waited returns how many writes had to wait for the output because both
// buffers were full: lines slowed down, never dropped.
func (b *Writer) Waited() uint64 {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.waited
}

// Flush writes out what the Writer holds, and returns once it is written.
func (b *Writer) Flush() error {
	reply := make(chan error, 1)
	select {
	case b.flushes <- reply:
		return <-reply
	case <-b.done:
		b.mu.Lock()
		defer b.mu.Unlock()
		return b.err
	}
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
	b.room.Broadcast()
	b.mu.Unlock()
	close(b.stop)
	<-b.done
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.err
}
