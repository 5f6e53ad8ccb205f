//go:build unix

package testkit

import (
	"os"
	"strings"
	"syscall"
)

// withoutOwnExitSleep starts the tests' process again, once, with
// atexit_sleep_ms=0 in GORACE, when the race detector is on and GORACE does
// not set it. The detector's runtime reads GORACE when the process starts,
// and by default sleeps a second before a process exits 0: a second added
// to every run of the package. Should the new start fail, the tests run in
// this process, with the sleep.
func withoutOwnExitSleep() {
	if !raceEnabled || strings.Contains(os.Getenv("GORACE"), "atexit_sleep_ms=") {
		return
	}
	exe, err := os.Executable()
	if err != nil {
		return
	}
	// Main sets the same value for the binaries the tests start, so it
	// stays set should the new start fail.
	os.Setenv("GORACE", withoutExitSleep(os.Getenv("GORACE")))
	_ = syscall.Exec(exe, os.Args, os.Environ())
}
