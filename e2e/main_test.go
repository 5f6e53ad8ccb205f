package e2e

import (
	"testing"

	"imagequota/internal/testkit"
)

func TestMain(m *testing.M) { testkit.Main(m) }
