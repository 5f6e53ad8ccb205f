package e2e

import (
	"testing"

	"github.com/imagequota/imagequota/internal/testkit"
)

func TestMain(m *testing.M) { testkit.Main(m) }
