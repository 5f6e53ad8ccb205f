package main

import (
	"bytes"
	"fmt"
	"os"
	"strconv"
	"syscall"
	"time"

	"github.com/imagequota/imagequota/internal/store"
)

// cost is what a measured run took of this process (generator and in-process
// server together, on the same cores) and, for an in-process SQLite server,
// what its writer did.
type cost struct {
	cpu       time.Duration // user + system CPU time of the process
	written   int64         // bytes the process caused to be written to storage
	writtenOK bool          // whether written could be read (/proc/self/io)
	commits   uint64        // SQLite write transactions, PostgreSQL groups
	writes    uint64        // writes they carried
	pg        time.Duration // CPU time of the PostgreSQL backends of the store
	pgOK      bool          // whether pg was measured
}

// takeCost reads the process's counters, and db's when it is not nil.
func takeCost(db *store.DB) cost {
	var u cost
	var ru syscall.Rusage
	if syscall.Getrusage(syscall.RUSAGE_SELF, &ru) == nil {
		u.cpu = time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
	}
	if b, err := os.ReadFile("/proc/self/io"); err == nil {
		for line := range bytes.SplitSeq(b, []byte("\n")) {
			if v, ok := bytes.CutPrefix(line, []byte("write_bytes: ")); ok {
				u.written, err = strconv.ParseInt(string(v), 10, 64)
				u.writtenOK = err == nil
			}
		}
	}
	if db != nil {
		u.commits, u.writes = db.BatchStats()
	}
	return u
}

// since returns what was used from before to u.
func (u cost) since(before cost) cost {
	return cost{
		cpu:       u.cpu - before.cpu,
		written:   u.written - before.written,
		writtenOK: u.writtenOK && before.writtenOK,
		commits:   u.commits - before.commits,
		writes:    u.writes - before.writes,
	}
}

// perPair describes c as notes of a run of pairs create+delete pairs:
// process CPU per pair (generator included), on SQLite bytes written per
// pair, and writes per commit where writes are committed together (SQLite's
// batches, PostgreSQL's groups).
func (c cost) perPair(pairs int64) []string {
	if pairs <= 0 {
		return nil
	}
	notes := []string{fmt.Sprintf("process CPU %.0fµs/pair, generator included", float64(c.cpu.Microseconds())/float64(pairs))}
	// On PostgreSQL (pgOK) the database's own writes are another process's.
	if c.writtenOK && !c.pgOK && c.commits > 0 {
		notes = append(notes, fmt.Sprintf("%.1f KiB written/pair", float64(c.written)/1024/float64(pairs)))
	}
	if c.commits == 0 {
		return notes
	}
	return append(notes, fmt.Sprintf("%.1f writes/commit", float64(c.writes)/float64(c.commits)))
}

// perOp describes, per op (a request or a pair), the CPU that a run of n
// ops took of this process (server and generator), the same for the
// baseline's run of bn ops (generator and a bare server: the server's own
// share is about the difference) and, when measured, of the store's
// PostgreSQL backends.
func (c cost) perOp(op string, n int64, base cost, bn int64) []string {
	if n <= 0 || bn <= 0 {
		return nil
	}
	us := func(d time.Duration, n int64) float64 { return float64(d.Microseconds()) / float64(n) }
	s := fmt.Sprintf("CPU µs/%s: process %.0f (baseline's %.0f)", op, us(c.cpu, n), us(base.cpu, bn))
	if c.pgOK {
		s += fmt.Sprintf(", PostgreSQL %.0f", us(c.pg, n))
	}
	return []string{s}
}
