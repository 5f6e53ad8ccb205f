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
