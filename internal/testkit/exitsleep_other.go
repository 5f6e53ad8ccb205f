//go:build !unix

package testkit

// withoutOwnExitSleep does nothing where a process cannot replace itself:
// the race detector's second of sleep at exit stays.
func withoutOwnExitSleep() {}
