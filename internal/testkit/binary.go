package testkit

import (
	"flag"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
)

var (
	// mainRan is set by Main: only then is there someone to remove the binary.
	mainRan bool

	binaryOnce sync.Once
	binaryDir  string
	binaryPath string
	binaryErr  error
)

// Main runs the tests of a package that runs the imagequota binary; call it
// from the package's TestMain. When the tests end it removes the binary
// Binary built and the file MasterKeyFile wrote. With the race detector on, the binaries the tests start do
// not sleep a second at exit, as the detector's default has every process
// exiting 0 do, and the tests start many.
//
// A run of the whole package needs the binary, so it is built while the
// first tests run rather than by the first test that asks for it, with the
// others that need it waiting behind.
func Main(m *testing.M) {
	mainRan = true
	if raceEnabled {
		os.Setenv("GORACE", withoutExitSleep(os.Getenv("GORACE")))
	}
	flag.Parse()
	built := make(chan struct{})
	if f := flag.Lookup("test.run"); f != nil && f.Value.String() == "" {
		go func() {
			defer close(built)
			binaryOnce.Do(build)
		}()
	} else {
		close(built)
	}
	m.Run()
	<-built
	for _, dir := range []string{binaryDir, keyFileDir} {
		if dir != "" {
			os.RemoveAll(dir)
		}
	}
}

// withoutExitSleep adds atexit_sleep_ms=0 to the race detector's options
// unless they set it already.
func withoutExitSleep(options string) string {
	if strings.Contains(options, "atexit_sleep_ms=") {
		return options
	}
	return strings.TrimSpace(options + " atexit_sleep_ms=0")
}

// Binary builds the imagequota command once per test process (with the race
// detector when the tests run with it) and returns its path. The package's
// TestMain must call Main, which removes it when the tests end.
func Binary(t testing.TB) string {
	t.Helper()
	if !mainRan {
		t.Fatal("testkit.Binary: the package's TestMain must call testkit.Main, which removes the binary after the tests")
	}
	binaryOnce.Do(build)
	if binaryErr != nil {
		t.Fatalf("building imagequota: %v", binaryErr)
	}
	return binaryPath
}

// build builds the imagequota command into a new temporary directory.
func build() {
	binaryDir, binaryErr = os.MkdirTemp("", "imagequota-bin-")
	if binaryErr != nil {
		return
	}
	binaryPath = filepath.Join(binaryDir, "imagequota")
	args := []string{"build", "-o", binaryPath}
	if raceEnabled {
		args = append(args, "-race")
	}
	out, err := exec.Command("go", append(args, "github.com/imagequota/imagequota/cmd/imagequota")...).CombinedOutput()
	if err != nil {
		binaryErr = &buildError{out: string(out), err: err}
	}
}

type buildError struct {
	out string
	err error
}

func (e *buildError) Error() string { return e.err.Error() + "\n" + e.out }
