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

// A build is one build of the imagequota command, done at most once per test
// process.
type build struct {
	race bool // with the race detector
	once sync.Once
	path string
	err  error
}

var (
	// mainRan is set by Main: only then is there someone to remove the binaries.
	mainRan bool

	// binaryDir holds the binaries: race/imagequota and plain/imagequota,
	// so that both carry the command's own name.
	binaryDirOnce sync.Once
	binaryDir     string
	binaryDirErr  error

	// raceBuild is what Binary returns; plainBuild what Tool returns. Without
	// the race detector they are the same build.
	raceBuild  = &build{race: raceEnabled}
	plainBuild = func() *build {
		if raceEnabled {
			return &build{}
		}
		return raceBuild
	}()
)

// Main runs the tests of a package that runs the imagequota binary; call it
// from the package's TestMain. When the tests end it removes the binaries
// Binary and Tool built and the file MasterKeyFile wrote. With the race
// detector on, neither the tests' process nor the binaries it starts sleep a
// second at exit, as the detector's default has every process exiting 0 do,
// and the tests start many.
//
// A run of the whole package needs the binaries, so they are built (at the
// same time) while the first tests run rather than by the first test that
// asks for one, with the others that need it waiting behind.
func Main(m *testing.M) {
	withoutOwnExitSleep()
	mainRan = true
	if raceEnabled {
		os.Setenv("GORACE", withoutExitSleep(os.Getenv("GORACE")))
	}
	// A TestMain may have parsed the flags and changed some (e2e's sets
	// -test.parallel): parsing them again would undo that.
	if !flag.Parsed() {
		flag.Parse()
	}
	var built sync.WaitGroup
	if f := flag.Lookup("test.run"); f != nil && f.Value.String() == "" {
		for _, b := range uniqueBuilds() {
			built.Go(b.do)
		}
	}
	m.Run()
	built.Wait()
	for _, dir := range []string{binaryDir, keyFileDir} {
		if dir != "" {
			os.RemoveAll(dir)
		}
	}
}

// uniqueBuilds is the race build and, when it is another, the plain one.
func uniqueBuilds() []*build {
	if plainBuild == raceBuild {
		return []*build{raceBuild}
	}
	return []*build{raceBuild, plainBuild}
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
// detector when the tests run with it) and returns its path. Use it for the
// processes whose own code a test exercises at length: the servers a test
// talks to. The package's TestMain must call Main, which removes it when the
// tests end.
func Binary(t testing.TB) string {
	t.Helper()
	return raceBuild.get(t, "Binary")
}

// Tool builds the imagequota command once per test process without the race
// detector and returns its path: for the commands a test runs to their end
// (migrate, admin, call, backup, restore, version, and a serve that must
// refuse to start), each of which the race detector's runtime would make
// several times dearer to start while it would watch no concurrent code.
// Without the race detector it is Binary's binary. The package's TestMain
// must call Main, which removes it when the tests end.
func Tool(t testing.TB) string {
	t.Helper()
	return plainBuild.get(t, "Tool")
}

func (b *build) get(t testing.TB, name string) string {
	t.Helper()
	if !mainRan {
		t.Fatalf("testkit.%s: the package's TestMain must call testkit.Main, which removes the binary after the tests", name)
	}
	b.once.Do(b.build)
	if b.err != nil {
		t.Fatalf("building imagequota: %v", b.err)
	}
	return b.path
}

func (b *build) do() { b.once.Do(b.build) }

// build builds the imagequota command into the binaries' temporary directory.
func (b *build) build() {
	binaryDirOnce.Do(func() { binaryDir, binaryDirErr = os.MkdirTemp("", "imagequota-bin-") })
	if binaryDirErr != nil {
		b.err = binaryDirErr
		return
	}
	// go run keeps the executables it links in the build cache (go build -o
	// links again every time: seconds of CPU per binary), and with -exec cp
	// it copies the executable to b.path instead of running it.
	sub, args := "plain", []string{"run"}
	if b.race {
		sub, args = "race", append(args, "-race")
	}
	dir := filepath.Join(binaryDir, sub)
	if b.err = os.Mkdir(dir, 0o755); b.err != nil {
		return
	}
	b.path = filepath.Join(dir, "imagequota")
	out, err := exec.Command("go", append(args, "-exec", "cp", "github.com/imagequota/imagequota/cmd/imagequota", b.path)...).CombinedOutput()
	if err != nil {
		b.err = &buildError{out: string(out), err: err}
	}
}

type buildError struct {
	out string
	err error
}

func (e *buildError) Error() string { return e.err.Error() + "\n" + e.out }
