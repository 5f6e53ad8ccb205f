package postgres

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
	"fmt"
	"io"
	"net"
	"syscall"
	"testing"

	"github.com/jackc/pgx/v5/pgconn"

	"github.com/imagequota/imagequota/internal/quota"
)

// TestPostgresInterpret: driver errors that mean "the database is not
// there right now" become SERVICE_TEMPORARY_UNAVAILABLE, a unique violation
// becomes a conflict, and anything else stays an internal error.
func TestPostgresInterpret(t *testing.T) {
	t.Parallel()
	refused := &net.OpError{Op: "dial", Net: "tcp", Err: syscall.ECONNREFUSED}
	_, connectErr := pgconn.Connect(context.Background(), "postgres://nobody@127.0.0.1:1/x?connect_timeout=1")
	tests := []struct {
		name string
		err  error
		code string
	}{
		{"nil", nil, ""},
		{"quota error kept", quota.Errorf(quota.CodeImageNotFound, "gone"), quota.CodeImageNotFound},
		{"wrapped quota error kept", fmt.Errorf("x: %w", quota.Errorf(quota.CodeImageStatus, "busy")), quota.CodeImageStatus},
		{"unique violation", &pgconn.PgError{Code: "23505"}, quota.CodeConflict},
		{"serialization failure", &pgconn.PgError{Code: "40001"}, quota.CodeUnavailable},
		{"deadlock", &pgconn.PgError{Code: "40P01"}, quota.CodeUnavailable},
		{"lock not available", &pgconn.PgError{Code: "55P03"}, quota.CodeUnavailable},
		{"statement timeout", &pgconn.PgError{Code: "57014"}, quota.CodeUnavailable},
		{"admin shutdown", &pgconn.PgError{Code: "57P01"}, quota.CodeUnavailable},
		{"cannot connect now", &pgconn.PgError{Code: "57P03"}, quota.CodeUnavailable},
		{"connection failure", &pgconn.PgError{Code: "08006"}, quota.CodeUnavailable},
		{"too many connections", &pgconn.PgError{Code: "53300"}, quota.CodeUnavailable},
		{"syntax error", &pgconn.PgError{Code: "42601"}, quota.CodeInternal},
		{"undefined table", &pgconn.PgError{Code: "42P01"}, quota.CodeInternal},
		{"NUL in a value", &pgconn.PgError{Code: "22021"}, quota.CodeInvalidParameterValue},
		{"untranslatable character", &pgconn.PgError{Code: "22P05"}, quota.CodeInvalidParameterValue},
		{"numeric out of range", &pgconn.PgError{Code: "22003"}, quota.CodeInternal},
		{"connect error", connectErr, quota.CodeUnavailable},
		{"net error", refused, quota.CodeUnavailable},
		{"connection reset", &net.OpError{Op: "read", Net: "tcp", Err: syscall.ECONNRESET}, quota.CodeUnavailable},
		{"bad connection", driver.ErrBadConn, quota.CodeUnavailable},
		{"connection done", sql.ErrConnDone, quota.CodeUnavailable},
		{"EOF", io.EOF, quota.CodeUnavailable},
		{"unexpected EOF", fmt.Errorf("receive: %w", io.ErrUnexpectedEOF), quota.CodeUnavailable},
		{"deadline", context.DeadlineExceeded, quota.CodeUnavailable},
		{"other", errors.New("something else"), quota.CodeInternal},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			got := interpret(tc.err)
			if code := quota.ErrorCode(got); code != tc.code {
				t.Fatalf("interpret(%v) = %v (code %q), want code %q", tc.err, got, code, tc.code)
			}
			if e, ok := quota.AsError(got); ok && e.Code == quota.CodeUnavailable && e.Message == "" {
				t.Fatalf("interpret(%v) has no message", tc.err)
			}
		})
	}
}
