package store

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// engineOnly matches what only one engine has: catalogues, pragmas, advisory
// locks, the WAL-index file, change counters, drivers. Such machinery lives
// in the engine packages (internal/store/sqlite, internal/store/postgres).
var engineOnly = regexp.MustCompile(`sqlite_master|sqlite_schema|pg_catalog|pg_class|pg_namespace|PRAGMA|pg_advisory|pg_stat_|data_version|-shm|current_schema|modernc\.org|jackc/pgx`)

// TestDomainSQLIsEngineNeutral: no file of package store names one
// engine's machinery; the engines' packages, and open.go that picks one,
// are where it goes.
func TestDomainSQLIsEngineNeutral(t *testing.T) {
	files, err := filepath.Glob("*.go")
	if err != nil {
		t.Fatal(err)
	}
	checked := 0
	for _, f := range files {
		if strings.HasSuffix(f, "_test.go") {
			continue
		}
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		checked++
		for i, line := range strings.Split(string(b), "\n") {
			if m := engineOnly.FindString(line); m != "" {
				t.Errorf("%s:%d names %q, which belongs in an engine's package: %s", f, i+1, m, strings.TrimSpace(line))
			}
		}
	}
	if checked < 10 {
		t.Fatalf("checked %d files of package store; the test is not looking where it should", checked)
	}
}
