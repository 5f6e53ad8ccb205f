package e2e

import (
	"flag"
	"runtime"
	"strconv"
	"testing"

	"github.com/imagequota/imagequota/internal/testkit"
)

// The tests run in parallel, in two kinds:
//
//   - parallelFirst: the few that take longest on their own (killing and
//     restarting servers, a browser, a lock held on purpose, hundreds of bad
//     requests). They start together as soon as the parallel tests are
//     released, so that none of them is left for the end of the run.
//   - parallel: every other test. They share slots (twice GOMAXPROCS, or
//     -parallel when given), taking the next free one as the others end.
//
// Parallel subtests call parallelSub and share slots of their own, so that
// a test waiting for its subtests never holds a slot they need.
//
// Without the slots, go test would release its parallel tests in no
// particular order, and a long test released last would set the run's
// length. Most of these tests spend much of their time waiting rather than
// computing: for the processes they start to listen and to exit, for a
// lock held on purpose, for PostgreSQL to end an idle transaction. Every
// test has its own store, ports and temporary directory.
var testSlots, subtestSlots chan struct{}

func TestMain(m *testing.M) {
	flag.Parse()
	slots := 2 * runtime.GOMAXPROCS(0)
	flag.Visit(func(f *flag.Flag) {
		if f.Name == "test.parallel" {
			slots, _ = strconv.Atoi(f.Value.String())
			slots = max(slots, 1)
		}
	})
	// The slots below bound the tests, -parallel when given. go test's own
	// bound is lifted: it would release the parallel tests in no particular
	// order, and, counting a test that waits for a slot or for its
	// subtests as running, it could leave the subtests that test waits for
	// no room to run.
	_ = flag.Set("test.parallel", "1000")
	testSlots, subtestSlots = make(chan struct{}, slots), make(chan struct{}, slots)
	testkit.Main(m)
}

// parallel runs t in parallel with the other tests, in one of the slots the
// tests share.
func parallel(t *testing.T) {
	t.Helper()
	t.Parallel()
	take(t, testSlots)
}

// parallelFirst runs t in parallel with the other tests, from the moment the
// parallel tests are released, without waiting for a slot: for the few tests
// that take longest.
func parallelFirst(t *testing.T) {
	t.Helper()
	t.Parallel()
}

// parallelSub runs the subtest t in parallel with its siblings, in one of the
// slots the subtests share.
func parallelSub(t *testing.T) {
	t.Helper()
	t.Parallel()
	take(t, subtestSlots)
}

func take(t *testing.T, slots chan struct{}) {
	slots <- struct{}{}
	t.Cleanup(func() { <-slots })
}
