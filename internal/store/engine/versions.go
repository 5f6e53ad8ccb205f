package engine

import (
	"context"
	"database/sql"
	"strings"
)

// ReadVersions reads the versions of scopes from cache_versions on q, with
// statements rebound by rebind; a scope without a row has version 0.
func ReadVersions(ctx context.Context, q interface {
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
}, rebind func(string) string, scopes []string) (map[string]int64, error) {
	out := make(map[string]int64, len(scopes))
	for _, s := range scopes {
		out[s] = 0
	}
	for len(scopes) > 0 {
		n := min(len(scopes), 500)
		args := make([]any, n)
		for i, s := range scopes[:n] {
			args[i] = s
		}
		rows, err := q.QueryContext(ctx, rebind(`SELECT scope, version FROM cache_versions WHERE scope IN (`+Placeholders(n)+`)`), args...)
		if err != nil {
			return nil, err
		}
		for rows.Next() {
			var s string
			var v int64
			if err := rows.Scan(&s, &v); err != nil {
				rows.Close()
				return nil, err
			}
			out[s] = v
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return nil, err
		}
		scopes = scopes[n:]
	}
	return out, nil
}

// Placeholders returns n '?' placeholders separated by commas.
func Placeholders(n int) string {
	return strings.TrimSuffix(strings.Repeat("?,", n), ",")
}
