package logbuf

import (
	"bytes"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"
)

// sink records every write it is given.
type sink struct {
	mu     sync.Mutex
	writes [][]byte
	fail   error
}

func (s *sink) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.fail != nil {
		return 0, s.fail
	}
	s.writes = append(s.writes, bytes.Clone(p))
	return len(p), nil
}

func (s *sink) text() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return string(bytes.Join(s.writes, nil))
}

func (s *sink) count() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.writes)
}

func TestLinesAreWrittenTogetherAndWhole(t *testing.T) {
	out := &sink{}
	w := New(out, time.Hour) // only Flush, a full buffer and Close write out
	var wg sync.WaitGroup
	const goroutines, lines = 8, 2000
	for g := range goroutines {
		wg.Go(func() {
			for i := range lines {
				fmt.Fprintf(w, "{\"g\":%d,\"i\":%d,\"pad\":%q}\n", g, i, strings.Repeat("x", i%97))
			}
		})
	}
	wg.Wait()
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	seen := map[string]bool{}
	for _, line := range strings.Split(strings.TrimSuffix(out.text(), "\n"), "\n") {
		var g, i int
		var pad string
		if _, err := fmt.Sscanf(line, "{\"g\":%d,\"i\":%d,\"pad\":%q}", &g, &i, &pad); err != nil || pad != strings.Repeat("x", i%97) {
			t.Fatalf("line %q is not whole: %v", line, err)
		}
		seen[line] = true
	}
	if len(seen) != goroutines*lines {
		t.Errorf("%d distinct lines written, want %d", len(seen), goroutines*lines)
	}
	for _, p := range out.writes {
		if len(p) > bufferSize || !bytes.HasSuffix(p, []byte("\n")) {
			t.Fatalf("a write of %d bytes that does not end a line", len(p))
		}
	}
	if n := out.count(); n >= goroutines*lines/10 {
		t.Errorf("%d writes for %d lines: not buffered", n, goroutines*lines)
	}
}

func TestWritesOutEveryInterval(t *testing.T) {
	out := &sink{}
	w := New(out, 10*time.Millisecond)
	defer w.Close()
	if _, err := w.Write([]byte("one\n")); err != nil {
		t.Fatal(err)
	}
	// The ticker writes it out without Flush or Close.
	deadline := time.Now().Add(10 * time.Second)
	for out.text() != "one\n" {
		if time.Now().After(deadline) {
			t.Fatalf("not written out: %q", out.text())
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func TestErrorsStickAndCloseEndsWrites(t *testing.T) {
	boom := errors.New("disk full")
	out := &sink{fail: boom}
	w := New(out, time.Hour)
	if _, err := w.Write([]byte("held\n")); err != nil {
		t.Fatalf("a buffered write failed: %v", err)
	}
	if err := w.Flush(); !errors.Is(err, boom) {
		t.Fatalf("Flush = %v, want %v", err, boom)
	}
	if _, err := w.Write([]byte("later\n")); !errors.Is(err, boom) {
		t.Errorf("Write after a failed write-out = %v, want %v", err, boom)
	}
	if err := w.Close(); !errors.Is(err, boom) {
		t.Errorf("Close = %v, want %v", err, boom)
	}

	ok := &sink{}
	w = New(ok, time.Hour)
	fmt.Fprint(w, "last\n")
	if err := w.Close(); err != nil || ok.text() != "last\n" {
		t.Fatalf("Close = %v, wrote %q", err, ok.text())
	}
	if err := w.Close(); err != nil {
		t.Errorf("second Close = %v", err)
	}
	if _, err := w.Write([]byte("after\n")); err == nil {
		t.Error("Write after Close succeeded")
	}
}

// gated blocks every write until the test lets it through.
type gated struct {
	sink
	entered chan struct{}
	release chan struct{}
}

func (g *gated) Write(p []byte) (int, error) {
	g.entered <- struct{}{}
	<-g.release
	return g.sink.Write(p)
}

// TestFullBuffersWaitForTheOutput: while the output is stuck, lines go on
// being taken until both buffers are full; the next line waits for the
// output instead of being dropped, and every line reaches it in order.
func TestFullBuffersWaitForTheOutput(t *testing.T) {
	out := &gated{entered: make(chan struct{}), release: make(chan struct{})}
	w := New(out, time.Hour)
	line := []byte(strings.Repeat("x", 1023) + "\n")
	perBuffer := bufferSize / len(line)
	// One buffer's worth, then one more line: the first buffer is handed
	// over, and its write out is stuck in the output.
	for range perBuffer + 1 {
		if _, err := w.Write(line); err != nil {
			t.Fatal(err)
		}
	}
	<-out.entered
	// The second buffer fills while the first is stuck.
	for range perBuffer - 1 {
		if _, err := w.Write(line); err != nil {
			t.Fatal(err)
		}
	}
	wrote := make(chan struct{})
	go func() {
		defer close(wrote)
		if _, err := fmt.Fprintf(w, "last\n"); err != nil {
			t.Error(err)
		}
	}()
	// It waits: taken, it would be a third buffer's worth.
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(time.Millisecond) {
		w.mu.Lock()
		waiting := w.waiting
		w.mu.Unlock()
		if waiting == 1 {
			break
		}
		select {
		case <-wrote:
			t.Fatal("a line was taken with both buffers full and the output stuck")
		default:
		}
		if time.Now().After(deadline) {
			t.Fatal("the line neither waits nor was taken")
		}
	}
	// Let the writes through: the stuck one, then the second buffer, which
	// frees room for the waiting line.
	go func() {
		for range out.entered {
			out.release <- struct{}{}
		}
	}()
	out.release <- struct{}{}
	<-wrote
	if n := w.Waited(); n != 1 {
		t.Errorf("Waited = %d, want 1", n)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	close(out.entered)
	want := strings.Repeat(string(line), 2*perBuffer) + "last\n"
	if got := out.text(); got != want {
		t.Fatalf("wrote %d bytes, want %d: lines lost or out of order", len(got), len(want))
	}
}
