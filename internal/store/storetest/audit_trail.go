package storetest

import (
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/imagequota/imagequota/internal/quota"
	"github.com/imagequota/imagequota/internal/store"
)

// auditOf returns the records f selects whose action is one of actions.
func auditOf(t *testing.T, db *store.DB, f quota.AuditFilter, actions ...string) []quota.AuditRecord {
	t.Helper()
	out := []quota.AuditRecord{}
	for _, r := range audit(t, db, f) {
		if slices.Contains(actions, r.Action) {
			out = append(out, r)
		}
	}
	return out
}

// testIdentityChangesAudited: every change to accounts, access keys, tokens
// and instances has an audit record by the actor it was made for, with the
// state before and after and never a secret; a refused change has none.
func testIdentityChangesAudited(t *testing.T, open func(t *testing.T) *store.DB) {
	db := open(t)
	ctx := t.Context()
	actor := quota.Actor{Name: "ops", RequestID: "req-identity"}
	must := func(what string, err error) {
		t.Helper()
		if err != nil {
			t.Fatalf("%s: %v", what, err)
		}
	}
	acct, err := db.CreateAccountAs(ctx, "audited", actor)
	must("CreateAccountAs", err)
	key, err := db.CreateAccessKeyAs(ctx, acct.ID, actor)
	must("CreateAccessKeyAs", err)
	must("SetAccessKeyDisabledAs(true)", db.SetAccessKeyDisabledAs(ctx, key.ID, true, actor))
	must("SetAccessKeyDisabledAs(false)", db.SetAccessKeyDisabledAs(ctx, key.ID, false, actor))
	token, exp, err := db.CreateTokenAs(ctx, acct.ID, time.Hour, actor)
	must("CreateTokenAs", err)
	must("SetAccountDisabledAs(true)", db.SetAccountDisabledAs(ctx, acct.ID, true, actor))
	must("SetAccountDisabledAs(true) again", db.SetAccountDisabledAs(ctx, acct.ID, true, actor))
	must("SetAccountDisabledAs(false)", db.SetAccountDisabledAs(ctx, acct.ID, false, actor))
	inst, err := db.CreateInstanceAs(ctx, quota.Instance{ID: "ins-audited", AccountID: acct.ID, LocationID: tokyo, DiskGB: 80,
		OSCategory: "Debian", OSType: "linux", OSVersion: "12"}, actor)
	must("CreateInstanceAs", err)
	must("DeleteInstanceAs", db.DeleteInstanceAs(ctx, inst.ID, actor))

	// Refused changes record nothing.
	for _, tc := range []struct {
		name string
		err  error
		code string
	}{
		{"key for unknown account", func() error { _, err := db.CreateAccessKeyAs(ctx, "acc-missing", actor); return err }(), quota.CodeAccountNotFound},
		{"token for unknown account", func() error { _, _, err := db.CreateTokenAs(ctx, "acc-missing", time.Hour, actor); return err }(), quota.CodeAccountNotFound},
		{"disable unknown key", db.SetAccessKeyDisabledAs(ctx, "AKNOSUCHKEY", true, actor), quota.CodeAccessKeyNotFound},
		{"disable unknown account", db.SetAccountDisabledAs(ctx, "acc-missing", true, actor), quota.CodeAccountNotFound},
		{"instance for unknown account", func() error {
			_, err := db.CreateInstanceAs(ctx, quota.Instance{AccountID: "acc-missing", LocationID: tokyo, DiskGB: 1}, actor)
			return err
		}(), quota.CodeAccountNotFound},
		{"duplicate instance", func() error {
			_, err := db.CreateInstanceAs(ctx, quota.Instance{ID: "ins-dup", AccountID: acct.ID, LocationID: tokyo, DiskGB: 1}, actor)
			if err == nil {
				_, err = db.CreateInstanceAs(ctx, quota.Instance{ID: "ins-dup", AccountID: acct.ID, LocationID: tokyo, DiskGB: 1}, actor)
			}
			return err
		}(), quota.CodeConflict},
		{"delete unknown instance", db.DeleteInstanceAs(ctx, "ins-missing", actor), quota.CodeInstanceNotFound},
	} {
		wantCode(t, tc.name, tc.err, tc.code)
	}

	tokenRef := "token:" + store.TokenHash(token)[:8]
	if got := store.TokenRef(token); got != tokenRef {
		t.Fatalf("TokenRef = %q, want %q", got, tokenRef)
	}
	disabled := func(b bool) string {
		if b {
			return `{"disabled":true}`
		}
		return `{"disabled":false}`
	}
	want := []struct{ action, target, before, after string }{
		{"CreateAccount", acct.ID, "null", `{"accountId":"` + acct.ID + `","disabled":false,"name":"audited"}`},
		{"CreateAccessKey", key.ID, "null", `{"accessKeyId":"` + key.ID + `","accountId":"` + acct.ID + `","disabled":false}`},
		{"DisableAccessKey", key.ID, disabled(false), disabled(true)},
		{"EnableAccessKey", key.ID, disabled(true), disabled(false)},
		{"CreateToken", tokenRef, "null", `{"accountId":"` + acct.ID + `","expiresAt":"` + exp.UTC().Format(time.RFC3339Nano) + `"}`},
		{"DisableAccount", acct.ID, disabled(false), disabled(true)},
		{"DisableAccount", acct.ID, disabled(true), disabled(true)},
		{"EnableAccount", acct.ID, disabled(true), disabled(false)},
		{"CreateInstance", inst.ID, "null", `{"accountId":"` + acct.ID + `","diskGb":80,"instanceId":"ins-audited","location":"` + tokyo + `","osCategory":"Debian","osType":"linux","osVersion":"12"}`},
		{"DeleteInstance", inst.ID, `{"accountId":"` + acct.ID + `","diskGb":80,"instanceId":"ins-audited","location":"` + tokyo + `","osCategory":"Debian","osType":"linux","osVersion":"12"}`, "null"},
		{"CreateInstance", "ins-dup", "null", `{"accountId":"` + acct.ID + `","diskGb":1,"instanceId":"ins-dup","location":"` + tokyo + `","osCategory":"","osType":"","osVersion":""}`},
	}
	recs := audit(t, db, quota.AuditFilter{})
	if len(recs) != len(want) {
		t.Fatalf("%d audit records, want %d: %+v", len(recs), len(want), recs)
	}
	for i, w := range want {
		r := recs[i]
		if r.Action != w.action || r.Target != w.target || jsonOf(t, r.Before) != w.before || jsonOf(t, r.After) != w.after ||
			r.Actor != actor.Name || r.RequestID != actor.RequestID || r.AccountID != acct.ID {
			t.Errorf("audit record %d = %+v\n before %s\n after  %s\nwant %+v", i, r, jsonOf(t, r.Before), jsonOf(t, r.After), w)
		}
		for _, secret := range []string{key.Secret, token, store.TokenHash(token)} {
			if s := r.Target + jsonOf(t, r.Before) + jsonOf(t, r.After); strings.Contains(s, secret) {
				t.Errorf("audit record %d (%s) holds a secret: %s", i, r.Action, s)
			}
		}
	}

	// The methods without an actor are the operator's.
	other := newAccount(t, db, "operator's")
	if _, err := db.CreateAccessKey(ctx, other.ID); err != nil {
		t.Fatalf("CreateAccessKey: %v", err)
	}
	for _, r := range audit(t, db, quota.AuditFilter{AccountID: other.ID}) {
		if r.Actor != quota.AdminActor.Name || r.RequestID != "" {
			t.Errorf("%s without an actor is recorded as %q (request %q), want %q", r.Action, r.Actor, r.RequestID, quota.AdminActor.Name)
		}
	}
}
