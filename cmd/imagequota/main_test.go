package main

import (
	"testing"

	"github.com/imagequota/imagequota/internal/testkit"
)

// TestMain builds the command for the tests that run it as a process
// (testkit.Binary for a server the test talks to, testkit.Tool for the
// commands run to their end) and removes it after them.
func TestMain(m *testing.M) { testkit.Main(m) }
