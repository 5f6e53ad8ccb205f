package store

import (
	"errors"
	"fmt"
	"net/url"
	"regexp"
	"strings"
)

// Engines a store URL can name.
const (
	EngineSQLite   = "sqlite"
	EnginePostgres = "postgres"
)

// URL is a parsed store location: a SQLite file or a PostgreSQL database.
type URL struct {
	// Engine is EngineSQLite or EnginePostgres.
	Engine string
	// Path is the SQLite file (Engine EngineSQLite).
	Path string
	// DSN is the PostgreSQL connection URL (Engine EnginePostgres).
	DSN string
}

// hasScheme matches a URL that names a scheme with "scheme://".
var hasScheme = regexp.MustCompile(`^[A-Za-z][A-Za-z0-9+.-]*://`)

// ParseURL reads a store URL: "postgres://…" or "postgresql://…" for
// PostgreSQL; "sqlite:PATH", "file:PATH" or a plain path for SQLite. Any
// other scheme is an error that names the accepted ones, so that a typing
// mistake never opens a new, empty SQLite file instead.
func ParseURL(raw string) (URL, error) {
	switch {
	case raw == "":
		return URL{}, errors.New("store: no database given")
	case strings.HasPrefix(raw, "postgres://"), strings.HasPrefix(raw, "postgresql://"):
		if _, err := url.Parse(raw); err != nil {
			return URL{}, fmt.Errorf("store: database URL: %v", redactError(err))
		}
		return URL{Engine: EnginePostgres, DSN: raw}, nil
	case strings.HasPrefix(raw, "sqlite:"), strings.HasPrefix(raw, "file:"):
		path := strings.TrimPrefix(strings.TrimPrefix(raw, "sqlite:"), "file:")
		return sqliteURL(path)
	case hasScheme.MatchString(raw):
		scheme, _, _ := strings.Cut(raw, "://")
		return URL{}, fmt.Errorf("store: database URL scheme %q is not supported: use postgres://… (or postgresql://…) for PostgreSQL, or sqlite:PATH (or a plain path) for SQLite", scheme)
	default:
		return sqliteURL(raw)
	}
}

func sqliteURL(path string) (URL, error) {
	if path == "" {
		return URL{}, errors.New("store: sqlite: no file path given")
	}
	if strings.ContainsAny(path, "?#") {
		return URL{}, fmt.Errorf("store: sqlite path %q must not contain '?' or '#'", path)
	}
	return URL{Engine: EngineSQLite, Path: path}, nil
}

// String is the URL in the form ParseURL reads.
func (u URL) String() string {
	if u.Engine == EnginePostgres {
		return u.DSN
	}
	return "sqlite:" + u.Path
}

// Redacted is String with any password hidden, for logs and messages.
func (u URL) Redacted() string {
	if u.Engine != EnginePostgres {
		return u.String()
	}
	p, err := url.Parse(u.DSN)
	if err != nil {
		return "postgres://(unparsable URL)"
	}
	return p.Redacted()
}

// redactError keeps a password that url.Parse quotes out of its error.
func redactError(err error) error {
	var ue *url.Error
	if errors.As(err, &ue) {
		return errors.New(ue.Err.Error())
	}
	return err
}
