package pgtest

import (
	"context"
	"net/url"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"
)

func TestCreateAndDrop(t *testing.T) {
	t.Parallel()
	server := Server(t)
	ctx := t.Context()
	dbURL, drop, err := Create(ctx, server, "imagequota_pgtest")
	if err != nil {
		t.Fatal(err)
	}
	u, err := url.Parse(dbURL)
	if err != nil {
		t.Fatal(err)
	}
	name := strings.TrimPrefix(u.Path, "/")
	if !strings.HasPrefix(name, "imagequota_pgtest_") {
		t.Errorf("database %q lacks the prefix", name)
	}
	conn, err := pgx.Connect(ctx, dbURL)
	if err != nil {
		t.Fatalf("connecting to the new database: %v", err)
	}
	var got string
	if err := conn.QueryRow(ctx, "SELECT current_database()").Scan(&got); err != nil || got != name {
		t.Errorf("current_database() = %q, %v; want %q", got, err, name)
	}
	// The session left open must not keep the database from being dropped.
	if err := drop(ctx); err != nil {
		t.Fatal(err)
	}
	conn.Close(context.Background())
	if exists := databaseExists(t, server, name); exists {
		t.Errorf("database %s still exists after drop", name)
	}
}

func TestNewDatabaseIsDroppedWhenTheTestEnds(t *testing.T) {
	t.Parallel()
	server := Server(t)
	var name string
	t.Run("inner", func(t *testing.T) {
		u, err := url.Parse(NewDatabase(t))
		if err != nil {
			t.Fatal(err)
		}
		name = strings.TrimPrefix(u.Path, "/")
		if !databaseExists(t, server, name) {
			t.Fatalf("database %s does not exist", name)
		}
	})
	if databaseExists(t, server, name) {
		t.Errorf("database %s outlived its test", name)
	}
}

func TestCreateRefusesANameThatIsNotAnIdentifier(t *testing.T) {
	t.Parallel()
	for name, create := range map[string]func(context.Context, string, string) (string, func(context.Context) error, error){
		"Create": Create, "CreateSchema": CreateSchema,
	} {
		for _, p := range []string{"", "Upper", "a-b", "x; DROP DATABASE postgres", "1abc"} {
			if _, _, err := create(t.Context(), "postgres://127.0.0.1:1/postgres", p); err == nil {
				t.Errorf("%s accepted the prefix %q", name, p)
			}
		}
	}
}

func databaseExists(t *testing.T, server, name string) bool {
	t.Helper()
	return exists(t, server, "SELECT count(*) FROM pg_database WHERE datname = $1", name)
}

func schemaExists(t *testing.T, server, name string) bool {
	t.Helper()
	return exists(t, server, "SELECT count(*) FROM pg_namespace WHERE nspname = $1", name)
}

// exists runs query, a count of the rows naming name, on server.
func exists(t *testing.T, server, query, name string) bool {
	t.Helper()
	conn, err := pgx.Connect(t.Context(), server)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(context.Background())
	var n int
	if err := conn.QueryRow(t.Context(), query, name).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n == 1
}

func TestNewSchemaHoldsTheTablesAndIsDroppedWhenTheTestEnds(t *testing.T) {
	t.Parallel()
	server := Server(t)
	var name string
	var conn *pgx.Conn
	t.Run("inner", func(t *testing.T) {
		schemaURL := NewSchema(t)
		u, err := url.Parse(schemaURL)
		if err != nil {
			t.Fatal(err)
		}
		name = u.Query().Get("search_path")
		if !strings.HasPrefix(name, "imagequota_test_") {
			t.Fatalf("search_path %q is not a test schema (URL %s)", name, schemaURL)
		}
		conn, err = pgx.Connect(context.Background(), schemaURL)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := conn.Exec(t.Context(), "CREATE TABLE t (id int)"); err != nil {
			t.Fatal(err)
		}
		var in string
		if err := conn.QueryRow(t.Context(), "SELECT schemaname FROM pg_tables WHERE tablename = 't' AND schemaname = current_schema()").Scan(&in); err != nil || in != name {
			t.Fatalf("the table is in schema %q (%v), not %q", in, err, name)
		}
		// A session left idle in a transaction that holds a lock on the
		// table, still open when the test ends, must not keep the schema
		// from being dropped.
		if _, err := conn.Exec(t.Context(), "BEGIN; LOCK TABLE t"); err != nil {
			t.Fatal(err)
		}
	})
	if conn != nil {
		defer conn.Close(context.Background())
	}
	if schemaExists(t, server, name) {
		t.Errorf("schema %s outlived its test", name)
	}
}
