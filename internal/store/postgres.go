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

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/stdlib"

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
func (postgresDialect) lock(ctx context.Context, tx txn, key string) error {
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
		case pe.Code == "22021", pe.Code == "22P05":
			// A NUL (or a character the database encoding lacks) in a value:
			// PostgreSQL text cannot hold it, SQLite can.
			return &quota.Error{Code: quota.CodeInvalidParameterValue, Message: "A parameter contains a character that cannot be stored (such as NUL)."}
		case pe.Code == "40001", pe.Code == "40P01", pe.Code == "55P03", pe.Code == "57014",
			strings.HasPrefix(pe.Code, "08"), strings.HasPrefix(pe.Code, "53"), strings.HasPrefix(pe.Code, "57P"):
			return &quota.Error{Code: quota.CodeUnavailable, Message: "The database is unavailable; retry shortly."}
		}
		return err
	}
	var ne net.Error
	var ce *pgconn.ConnectError
	if errors.As(err, &ce) || errors.As(err, &ne) || errors.Is(err, driver.ErrBadConn) || errors.Is(err, sql.ErrConnDone) ||
		errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, context.DeadlineExceeded) ||
		pgconn.SafeToRetry(err) || pgconn.Timeout(err) {
		return &quota.Error{Code: quota.CodeUnavailable, Message: "The database is unavailable; retry shortly."}
	}
	return err
}

var postgresMigrations = loadMigrations("postgres")

func (postgresDialect) migrations() []migration { return postgresMigrations }

// Connection bounds. A database that stops answering must turn into quick
// SERVICE_TEMPORARY_UNAVAILABLE answers, not into requests that hang: a new
// connection gives up after postgresConnectTimeout (unless the URL sets
// connect_timeout), and TCP keepalives find a peer that vanished without
// closing its connections. Queries on a live connection are bounded by the
// caller's context (the request deadline).
const (
	postgresConnectTimeout = 3 * time.Second
	postgresKeepAliveIdle  = 15 * time.Second
	postgresKeepAliveIntvl = 5 * time.Second
	postgresKeepAliveCount = 3
)

func openPostgres(ctx context.Context, url string, opts Options) (*DB, error) {
	cfg, err := pgx.ParseConfig(url)
	if err != nil {
		return nil, fmt.Errorf("store: %w", err)
	}
	if cfg.ConnectTimeout <= 0 {
		cfg.ConnectTimeout = postgresConnectTimeout
	}
	dialer := &net.Dialer{
		Timeout: cfg.ConnectTimeout,
		KeepAliveConfig: net.KeepAliveConfig{
			Enable: true, Idle: postgresKeepAliveIdle, Interval: postgresKeepAliveIntvl, Count: postgresKeepAliveCount,
		},
	}
	cfg.DialFunc = dialer.DialContext
	// Admission counts rows after taking an advisory lock, so each statement
	// must see what was committed before it: READ COMMITTED, whatever the
	// server's or the database's default isolation is.
	if cfg.RuntimeParams == nil {
		cfg.RuntimeParams = map[string]string{}
	}
	cfg.RuntimeParams["default_transaction_isolation"] = "read committed"
	if cfg.RuntimeParams["application_name"] == "" {
		cfg.RuntimeParams["application_name"] = "imagequota"
	}
	db := stdlib.OpenDB(*cfg)
	n := opts.MaxConns
	if n <= 0 {
		n = 16
	}
	db.SetMaxOpenConns(n)
	db.SetMaxIdleConns(n)
	db.SetConnMaxIdleTime(5 * time.Minute)
	// The driver's own error says why (refused, unknown host, password
	// rejected…); it never includes the password.
	if err := db.PingContext(ctx); err != nil {
		db.Close()
		return nil, fmt.Errorf("store: connecting to PostgreSQL: %w", err)
	}
	return &DB{d: postgresDialect{}, w: db, r: db, now: opts.Now, afterCheck: opts.AfterAdmissionCheck, box: opts.Secrets, queries: map[string]string{},
		cache: newReadCache(postgresVersions(db))}, nil
}
