package main

import (
	"testing"

	"github.com/imagequota/imagequota/internal/testkit"
)

// TestMain builds the command once for the tests that run it as a process
// (testkit.Binary) and removes it after them.
func TestMain(m *testing.M) { testkit.Main(m) }
