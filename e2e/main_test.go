package e2e

import (
	"flag"
	"runtime"
	"strconv"
	"testing"

	"github.com/imagequota/imagequota/internal/testkit"
)

// TestMain runs twice as many tests at once as go test's default (GOMAXPROCS),
// unless -parallel is given. Most of these tests spend much of their time
// waiting rather than computing: for the processes they start to listen and
// to exit, for a lock held on purpose, for PostgreSQL to end an idle
// transaction. Every test has its own store, ports and temporary directory.
func TestMain(m *testing.M) {
	flag.Parse()
	given := false
	flag.Visit(func(f *flag.Flag) { given = given || f.Name == "test.parallel" })
	if !given {
		_ = flag.Set("test.parallel", strconv.Itoa(2*runtime.GOMAXPROCS(0)))
	}
	testkit.Main(m)
}
