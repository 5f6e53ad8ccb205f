package store

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
	"fmt"
	"hash/fnv"
	"io"
	"net"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5/pgconn"
	_ "github.com/jackc/pgx/v5/stdlib" // registers the "pgx" database/sql driver

	"imagequota/internal/quota"
)

type postgresDialect struct{}

func (postgresDialect) name() string { return "postgres" }

// rebind turns '?' placeholders into $1, $2, … (no query here has a '?' in a literal).
func (postgresDialect) rebind(q string) string {
	var b strings.Builder
	n := 0
	for _, r := range q {
		if r == '?' {
			n++
			b.WriteString("$" + strconv.Itoa(n))
			continue
		}
		b.WriteRune(r)
	}
	return b.String()
}

// lock takes a transaction-scoped advisory lock on key: transactions on any
// connection of any replica that lock the same key run one after the other.
func (postgresDialect) lock(ctx context.Context, tx *sql.Tx, key string) error {
	h := fnv.New64a()
	h.Write([]byte(key))
	_, err := tx.ExecContext(ctx, `SELECT pg_advisory_xact_lock($1)`, int64(h.Sum64()))
	return err
}

func (postgresDialect) interpret(err error) error {
	if err == nil {
		return nil
	}
	if _, ok := quota.AsError(err); ok {
		return err
	}
	var pe *pgconn.PgError
	if errors.As(err, &pe) {
		switch {
		case pe.Code == "23505":
			return &quota.Error{Code: quota.CodeConflict, Message: "The resource already exists."}
		case pe.Code == "40001", pe.Code == "40P01", pe.Code == "55P03", pe.Code == "57014",
			strings.HasPrefix(pe.Code, "08"), strings.HasPrefix(pe.Code, "53"), strings.HasPrefix(pe.Code, "57P"):
			return &quota.Error{Code: quota.CodeUnavailable, Message: "The database is unavailable; retry shortly."}
		}
		return err
	}
	var ne net.Error
	var ce *pgconn.ConnectError
	if errors.As(err, &ce) || errors.As(err, &ne) || errors.Is(err, driver.ErrBadConn) ||
		errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, context.DeadlineExceeded) ||
		pgconn.SafeToRetry(err) || pgconn.Timeout(err) {
		return &quota.Error{Code: quota.CodeUnavailable, Message: "The database is unavailable; retry shortly."}
	}
	return err
}

var postgresMigrations = loadMigrations("postgres")

func (postgresDialect) migrations() []migration { return postgresMigrations }

func openPostgres(ctx context.Context, url string, opts Options) (*DB, error) {
	db, err := sql.Open("pgx", url)
	if err != nil {
		return nil, fmt.Errorf("store: %w", err)
	}
	n := opts.MaxConns
	if n <= 0 {
		n = 16
	}
	db.SetMaxOpenConns(n)
	db.SetMaxIdleConns(n)
	db.SetConnMaxIdleTime(5 * time.Minute)
	s := &DB{d: postgresDialect{}, w: db, r: db, now: opts.Now, queries: map[string]string{}}
	if err := s.Ping(ctx); err != nil {
		db.Close()
		return nil, fmt.Errorf("store: %w", err)
	}
	return s, nil
}
