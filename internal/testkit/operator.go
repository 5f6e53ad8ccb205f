package testkit

import (
	"context"
	"testing"

	"github.com/imagequota/imagequota/client"
	"github.com/imagequota/imagequota/internal/quota"
	"github.com/imagequota/imagequota/internal/store"
)

// NewOperator creates an operator with role in db and returns its key and a
// client of the operator API at endpoint.
func NewOperator(t testing.TB, db *store.DB, endpoint, role string) (*client.Operator, quota.OperatorKey) {
	t.Helper()
	_, k, err := db.CreateOperator(context.Background(), t.Name(), role, quota.AdminActor)
	if err != nil {
		t.Fatalf("create operator: %v", err)
	}
	return client.NewOperator(endpoint, k.ID, k.Secret), k
}

// NewOperator creates an operator with role and returns a client of the
// server's operator API.
func (s *Server) NewOperator(t testing.TB, role string) *client.Operator {
	t.Helper()
	op, _ := NewOperator(t, s.DB, s.URL, role)
	return op
}
