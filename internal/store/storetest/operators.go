package storetest

import (
	"bytes"
	"crypto/rand"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/imagequota/imagequota/internal/quota"
	"github.com/imagequota/imagequota/internal/secrets"
	"github.com/imagequota/imagequota/internal/store"
)

// testOperators: operators and their keys, apart from tenants' keys, their
// state changes audited without secrets, and their passwords re-sealed by a
// master key rotation.
func testOperators(t *testing.T, open func(t *testing.T, now func() time.Time) *store.DB) {
	e := setupClocked(t, open)
	ctx := t.Context()
	db := e.db
	tenantKey, err := db.CreateAccessKey(ctx, e.acct.ID)
	if err != nil {
		t.Fatal(err)
	}
	_, _, err = db.CreateOperator(ctx, "x", "root", quota.AdminActor)
	wantCode(t, "CreateOperator with an unknown role", err, quota.CodeInvalidParameterValue)
	_, _, err = db.CreateOperator(ctx, " ", quota.RoleAdmin, quota.AdminActor)
	wantCode(t, "CreateOperator without a name", err, quota.CodeMissingParameter)

	op, k1, err := db.CreateOperator(ctx, "alice", quota.RoleAdmin, quota.AdminActor)
	if err != nil {
		t.Fatalf("CreateOperator: %v", err)
	}
	if !strings.HasPrefix(op.ID, "opr-") || op.Role != quota.RoleAdmin || op.Name != "alice" || op.Disabled {
		t.Fatalf("operator = %+v", op)
	}
	if !quota.IsOperatorKeyID(k1.ID) || quota.IsOperatorKeyID(tenantKey.ID) || k1.Secret == "" || k1.OperatorID != op.ID {
		t.Fatalf("operator key = %+v (tenant key %s)", k1, tenantKey.ID)
	}
	e.clock.Add(time.Second) // lists are oldest first
	ro, roKey, err := db.CreateOperator(ctx, "auditor", quota.RoleReadonly, quota.AdminActor)
	if err != nil {
		t.Fatal(err)
	}
	c, err := db.OperatorKeyCredential(ctx, k1.ID)
	if err != nil || c.AccountID != op.ID || c.Secret != k1.Secret || c.Role != quota.RoleAdmin || c.Disabled || c.AccountDisabled {
		t.Fatalf("OperatorKeyCredential = %+v, %v", c, err)
	}
	// Each kind of key is unknown to the other's lookup.
	_, err = db.AccessKeyCredential(ctx, k1.ID)
	wantCode(t, "AccessKeyCredential of an operator key", err, quota.CodeSignatureFailure)
	_, err = db.OperatorKeyCredential(ctx, tenantKey.ID)
	wantCode(t, "OperatorKeyCredential of a tenant key", err, quota.CodeSignatureFailure)

	k2, err := db.CreateOperatorKey(ctx, op.ID, quota.AdminActor)
	if err != nil || k2.ID == k1.ID || !quota.IsOperatorKeyID(k2.ID) {
		t.Fatalf("CreateOperatorKey = %+v, %v", k2, err)
	}
	_, err = db.CreateOperatorKey(ctx, "opr-missing", quota.AdminActor)
	wantCode(t, "CreateOperatorKey of an unknown operator", err, quota.CodeOperatorNotFound)
	if keys, err := db.ListOperatorKeys(ctx, op.ID); err != nil || len(keys) != 2 {
		t.Fatalf("ListOperatorKeys = %+v, %v; want 2", keys, err)
	}
	if keys, err := db.ListOperatorKeys(ctx, ""); err != nil || len(keys) != 3 {
		t.Fatalf("ListOperatorKeys of all = %+v, %v; want 3", keys, err)
	}

	if err := db.SetOperatorKeyDisabled(ctx, k1.ID, true, quota.AdminActor); err != nil {
		t.Fatal(err)
	}
	if c, err := db.OperatorKeyCredential(ctx, k1.ID); err != nil || !c.Disabled {
		t.Fatalf("disabled key's credential = %+v, %v", c, err)
	}
	if c, err := db.OperatorKeyCredential(ctx, k2.ID); err != nil || c.Disabled || c.AccountDisabled {
		t.Fatalf("other key's credential = %+v, %v", c, err)
	}
	if err := db.SetOperatorDisabled(ctx, op.ID, true, quota.AdminActor); err != nil {
		t.Fatal(err)
	}
	if c, err := db.OperatorKeyCredential(ctx, k2.ID); err != nil || !c.AccountDisabled {
		t.Fatalf("key of a disabled operator = %+v, %v", c, err)
	}
	wantCode(t, "disable unknown operator", db.SetOperatorDisabled(ctx, "opr-missing", true, quota.AdminActor), quota.CodeOperatorNotFound)
	wantCode(t, "disable unknown operator key", db.SetOperatorKeyDisabled(ctx, "OPKMISSING", true, quota.AdminActor), quota.CodeAccessKeyNotFound)
	ops, err := db.ListOperators(ctx)
	if err != nil || len(ops) != 2 || ops[0].ID != op.ID || !ops[0].Disabled || ops[1].ID != ro.ID || ops[1].Role != quota.RoleReadonly {
		t.Fatalf("ListOperators = %+v, %v", ops, err)
	}

	got := []string{}
	for _, r := range audit(t, db, quota.AuditFilter{}) {
		if !strings.Contains(r.Action, "Operator") {
			continue
		}
		if r.AccountID != "" || strings.Contains(jsonOf(t, r.After), k1.Secret) || strings.Contains(jsonOf(t, r.After), k2.Secret) {
			t.Fatalf("operator record %+v: under an account, or with a secret", r)
		}
		got = append(got, r.Action+" "+r.Target)
	}
	want := []string{"CreateOperator " + op.ID, "CreateOperatorKey " + k1.ID, "CreateOperator " + ro.ID,
		"CreateOperatorKey " + roKey.ID, "CreateOperatorKey " + k2.ID, "DisableOperatorKey " + k1.ID, "DisableOperator " + op.ID}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("operator records = %q, want %q", got, want)
	}
}

// testOperatorKeysSealed: operator key passwords are sealed with the master
// key, checked by CheckSecrets and re-sealed by RotateSecrets.
func testOperatorKeysSealed(t *testing.T, open func(t *testing.T, now func() time.Time) *store.DB) {
	e := setupClocked(t, open)
	ctx := t.Context()
	db := e.db
	first := newBox(t)
	db.SetSecrets(first)
	_, k, err := db.CreateOperator(ctx, "ops", quota.RoleAdmin, quota.AdminActor)
	if err != nil {
		t.Fatal(err)
	}
	if err := db.CheckSecrets(ctx); err != nil {
		t.Fatalf("CheckSecrets: %v", err)
	}
	other := newBox(t)
	db.SetSecrets(other)
	if err := db.CheckSecrets(ctx); err == nil {
		t.Fatalf("CheckSecrets with another master key passed")
	}
	db.SetSecrets(first)
	next := newBox(t)
	if _, err := db.RotateSecrets(ctx, next, quota.AdminActor); err != nil {
		t.Fatalf("RotateSecrets: %v", err)
	}
	if c, err := db.OperatorKeyCredential(ctx, k.ID); err != nil || c.Secret != k.Secret {
		t.Fatalf("operator key after rotation = %+v, %v", c, err)
	}
	if err := db.CheckSecrets(ctx); err != nil {
		t.Fatalf("CheckSecrets after rotation: %v", err)
	}
	recs := auditOf(t, db, quota.AuditFilter{}, "RotateMasterKey")
	if len(recs) != 1 || field(t, recs[0].After, "operatorKeys") != "1" {
		t.Fatalf("RotateMasterKey record = %+v", recs)
	}
}

func newBox(t *testing.T) *secrets.Box {
	t.Helper()
	key := make([]byte, 32)
	_, _ = rand.Read(key)
	b, err := secrets.New(bytes.Clone(key))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// testAuditFilters: audit records selected by time range, action and the
// last record of a previous page.
func testAuditFilters(t *testing.T, open func(t *testing.T, now func() time.Time) *store.DB) {
	e := setupClocked(t, open) // CreateAccount, CreateInstance at t0
	ctx := t.Context()
	t0 := e.clock.Now()
	e.clock.Add(time.Minute)
	if _, err := e.db.SetLimit(ctx, quota.LimitOverride{AccountID: e.acct.ID, MaxCount: 3}, quota.AdminActor); err != nil {
		t.Fatal(err)
	}
	e.clock.Add(time.Minute)
	if _, err := e.db.UnsetLimit(ctx, e.acct.ID, "", quota.AdminActor); err != nil {
		t.Fatal(err)
	}
	all := audit(t, e.db, quota.AuditFilter{AccountID: e.acct.ID})
	if len(all) != 4 {
		t.Fatalf("records = %+v, want 4", all)
	}
	actions := func(recs []quota.AuditRecord) []string {
		out := []string{}
		for _, r := range recs {
			out = append(out, r.Action)
		}
		return out
	}
	for _, tc := range []struct {
		name string
		f    quota.AuditFilter
		want []string
	}{
		{"until", quota.AuditFilter{Until: t0.Add(time.Minute)}, []string{"CreateAccount", "CreateInstance"}},
		{"since and until", quota.AuditFilter{Since: t0.Add(time.Minute), Until: t0.Add(2 * time.Minute)}, []string{"SetLimit"}},
		{"action", quota.AuditFilter{Action: "UnsetLimit"}, []string{"UnsetLimit"}},
		{"after", quota.AuditFilter{AfterID: all[1].ID}, []string{"SetLimit", "UnsetLimit"}},
		{"after, limit", quota.AuditFilter{AfterID: all[0].ID, Limit: 1}, []string{"CreateInstance"}},
	} {
		tc.f.AccountID = e.acct.ID
		if got := actions(audit(t, e.db, tc.f)); !reflect.DeepEqual(got, tc.want) {
			t.Errorf("ListAudit(%s) = %v, want %v", tc.name, got, tc.want)
		}
	}
}
