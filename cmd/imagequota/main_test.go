package main

import (
	"testing"

	"github.com/imagequota/imagequota/internal/testkit"
)

// TestMain builds the command for the tests that run it as a process
// (testkit.Binary for serve, testkit.Tool for the one-shot commands) and
// removes it after them.
func TestMain(m *testing.M) { testkit.Main(m) }
