package store

import (
	"strings"
	"testing"
)

func TestParseURL(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		raw, engine, path, redacted, err string
	}{
		{raw: "postgres://u:secret@h:5432/db?sslmode=disable", engine: EnginePostgres, redacted: "postgres://u:xxxxx@h:5432/db?sslmode=disable"},
		{raw: "postgresql://h/db", engine: EnginePostgres, redacted: "postgresql://h/db"},
		{raw: "sqlite:/tmp/x.db", engine: EngineSQLite, path: "/tmp/x.db", redacted: "sqlite:/tmp/x.db"},
		{raw: "file:rel/x.db", engine: EngineSQLite, path: "rel/x.db", redacted: "sqlite:rel/x.db"},
		{raw: "./data/imagequota.db", engine: EngineSQLite, path: "./data/imagequota.db"},
		{raw: "", err: "no database given"},
		{raw: "sqlite:", err: "no file path"},
		{raw: "sqlite:/x.db?mode=ro", err: "must not contain"},
		{raw: "postgress://h/db", err: `scheme "postgress" is not supported`},
		{raw: "mysql://foo", err: "postgres://"},
	} {
		u, err := ParseURL(tc.raw)
		if tc.err != "" {
			if err == nil || !strings.Contains(err.Error(), tc.err) {
				t.Errorf("ParseURL(%q) = %+v, %v; want an error containing %q", tc.raw, u, err, tc.err)
			}
			continue
		}
		if err != nil || u.Engine != tc.engine || u.Path != tc.path {
			t.Errorf("ParseURL(%q) = %+v, %v; want engine %s path %q", tc.raw, u, err, tc.engine, tc.path)
			continue
		}
		if tc.redacted != "" && u.Redacted() != tc.redacted {
			t.Errorf("ParseURL(%q).Redacted() = %q, want %q", tc.raw, u.Redacted(), tc.redacted)
		}
	}
}
