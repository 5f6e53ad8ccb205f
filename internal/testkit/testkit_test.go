package testkit_test

import (
	"context"
	"testing"

	"github.com/imagequota/imagequota/internal/store"
	"github.com/imagequota/imagequota/internal/testkit"
)

// TestSQLiteURLInAnyTestName: a store opens whatever the test is called, a
// '#' in its name included (t.TempDir keeps it; it drops a '?'), and in a
// second subtest of the same name.
func TestSQLiteURLInAnyTestName(t *testing.T) {
	for _, name := range []string{"plain", "a#b", "what?", "plain"} {
		t.Run(name, func(t *testing.T) {
			db := testkit.OpenStore(t, testkit.SQLiteURL(t), store.Options{})
			if err := db.Ping(context.Background()); err != nil {
				t.Fatalf("the store at %s: %v", t.Name(), err)
			}
		})
	}
}
