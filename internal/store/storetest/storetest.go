// Package storetest is the store conformance suite: one set of tests that
// every engine of package store must pass, so that SQLite and PostgreSQL
// behave the same behind quota.Store. It also holds the fault-injection TCP
// proxy the outage tests put between a server and PostgreSQL.
package storetest

import (
	"context"
	"encoding/json"
	"fmt"
	"reflect"
	"sort"
	"testing"
	"time"

	"github.com/imagequota/imagequota/internal/quota"
	"github.com/imagequota/imagequota/internal/store"
)

// Run runs the whole suite. open must return a new, empty, migrated store
// each time it is called (it is called once per test, from that test's
// goroutine) and close it when the test ends.
func Run(t *testing.T, open func(t *testing.T) *store.DB) {
	tests := []struct {
		name string
		fn   func(t *testing.T, open func(t *testing.T) *store.DB)
	}{
		{"Ping", testPing},
		{"Accounts", testAccounts},
		{"AccessKeys", testAccessKeys},
		{"Tokens", testTokens},
		{"Limits", testLimits},
		{"LimitResolution", testLimitResolution},
		{"Instances", testInstances},
		{"CreateImage", testCreateImage},
		{"QuotaErrorListsAtMostTenImages", testQuotaErrorTruncated},
		{"ClientToken", testClientToken},
		{"ListImages", testListImages},
		{"ModifyImages", testModifyImages},
		{"DeleteImages", testDeleteImages},
		{"Usage", testUsage},
		{"ListUsage", testListUsage},
		{"Audit", testAudit},
		{"IdentityChangesAudited", testIdentityChangesAudited},
		{"PruneAudit", testPruneAudit},
		{"PruneAuditInBatches", testPruneAuditInBatches},
		{"ConcurrentPrunesTakeTurns", testConcurrentPrunes},
		{"PruneAuditWhileWriting", testPruneAuditWhileWriting},
		{"RetainAudit", testRetainAudit},
		{"ConcurrentCreatesNeverOverAdmit", testConcurrentAdmission},
		{"ConcurrentClientTokenCreatesOneImage", testConcurrentClientToken},
		{"NULNeverInternal", testNULNeverInternal},
		{"MasterKeyClaimedOnce", testMasterKeyClaimedOnce},
		{"ReplayedWriteDoneOnce", testReplayedWriteDoneOnce},
		{"ConcurrentReplaysDoneOnce", testConcurrentReplays},
		{"QuotaRequestLifecycle", testQuotaRequestLifecycle},
		{"QuotaRequestRules", testQuotaRequestRules},
		{"QuotaRequestGrant", testQuotaRequestGrant},
		{"EventsRecorded", testEventsRecorded},
		{"OutboxClaims", testOutboxClaims},
		{"ConcurrentClaims", testConcurrentClaims},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			tc.fn(t, open)
		})
	}
}

// Locations used by the suite (the store itself does not check them).
const (
	tokyo     = "jp-tokyo-1a"
	singapore = "sg-singapore-1a"
	frankfurt = "de-frankfurt-9a"
)

// env is one test's store with one account that has an instance in Tokyo.
type env struct {
	db   *store.DB
	acct quota.Account
	inst quota.Instance
}

// setup opens a store and creates an account with an instance in Tokyo.
func setup(t *testing.T, open func(t *testing.T) *store.DB) *env {
	t.Helper()
	e := &env{db: open(t)}
	e.acct = newAccount(t, e.db, "main")
	e.inst = newInstance(t, e.db, e.acct.ID, tokyo)
	return e
}

func newAccount(t *testing.T, db *store.DB, name string) quota.Account {
	t.Helper()
	a, err := db.CreateAccount(t.Context(), name)
	if err != nil {
		t.Fatalf("CreateAccount(%q): %v", name, err)
	}
	return a
}

func newInstance(t *testing.T, db *store.DB, accountID, location string) quota.Instance {
	t.Helper()
	in, err := db.CreateInstance(t.Context(), quota.Instance{
		AccountID: accountID, LocationID: location, DiskGB: 40, OSCategory: "Ubuntu", OSType: "linux", OSVersion: "22.04",
	})
	if err != nil {
		t.Fatalf("CreateInstance(%s, %s): %v", accountID, location, err)
	}
	return in
}

// input is a CreateImage input for instance in with a server default of max.
func input(in quota.Instance, name string, max int) quota.CreateImageInput {
	return quota.CreateImageInput{
		AccountID: in.AccountID, InstanceID: in.ID, Name: name, DefaultMax: max,
		Now: time.Now(), Actor: quota.Actor{Name: "AKTEST", RequestID: "req-" + name},
	}
}

// mustCreate creates an image that must be admitted.
func mustCreate(t *testing.T, db *store.DB, in quota.CreateImageInput) quota.Image {
	t.Helper()
	img, replayed, err := db.CreateImage(t.Context(), in)
	if err != nil {
		t.Fatalf("CreateImage(%s, %q): %v", in.InstanceID, in.Name, err)
	}
	if replayed {
		t.Fatalf("CreateImage(%s, %q): replayed on a first create", in.InstanceID, in.Name)
	}
	return img
}

// wantCode fails unless err carries code ("" means no error).
func wantCode(t *testing.T, what string, err error, code string) {
	t.Helper()
	if got := quota.ErrorCode(err); got != code {
		t.Fatalf("%s: error %v (code %q), want code %q", what, err, got, code)
	}
}

// count returns the account's image count in location.
func count(t *testing.T, db *store.DB, accountID, location string) int {
	t.Helper()
	u, err := db.Usage(t.Context(), accountID)
	if err != nil {
		t.Fatalf("Usage(%s): %v", accountID, err)
	}
	return u.Counts[location]
}

// imageIDs lists the ids of the account's images, oldest first.
func imageIDs(t *testing.T, db *store.DB, accountID string, ids []string, location string) []string {
	t.Helper()
	imgs, err := db.ListImages(t.Context(), accountID, ids, location)
	if err != nil {
		t.Fatalf("ListImages(%s, %v, %q): %v", accountID, ids, location, err)
	}
	out := []string{}
	for _, im := range imgs {
		out = append(out, im.ID)
	}
	return out
}

func sameSet(a, b []string) bool {
	a, b = append([]string(nil), a...), append([]string(nil), b...)
	sort.Strings(a)
	sort.Strings(b)
	return reflect.DeepEqual(a, b)
}

// audit returns the account's audit records.
func audit(t *testing.T, db *store.DB, f quota.AuditFilter) []quota.AuditRecord {
	t.Helper()
	recs, err := db.ListAudit(t.Context(), f)
	if err != nil {
		t.Fatalf("ListAudit(%+v): %v", f, err)
	}
	return recs
}

// jsonOf renders an audit before/after value as compact JSON ("null" for none).
func jsonOf(t *testing.T, v any) string {
	t.Helper()
	if v == nil {
		return "null"
	}
	if raw, ok := v.(json.RawMessage); ok {
		var x any
		if err := json.Unmarshal(raw, &x); err != nil {
			t.Fatalf("audit value %s is not JSON: %v", raw, err)
		}
		v = x
	}
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatalf("marshal %v: %v", v, err)
	}
	return string(b)
}

// field returns one key of an audit before/after object, as JSON.
func field(t *testing.T, v any, key string) string {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal([]byte(jsonOf(t, v)), &m); err != nil {
		t.Fatalf("audit value %s is not an object: %v", jsonOf(t, v), err)
	}
	return jsonOf(t, m[key])
}

func ptr[T any](v T) *T { return &v }

func intOrNil(p *int) string {
	if p == nil {
		return "nil"
	}
	return fmt.Sprint(*p)
}

func strOrNil(p *string) string {
	if p == nil {
		return "nil"
	}
	return fmt.Sprintf("%q", *p)
}

func testPing(t *testing.T, open func(t *testing.T) *store.DB) {
	db := open(t)
	if err := db.Ping(t.Context()); err != nil {
		t.Fatalf("Ping: %v", err)
	}
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	if err := db.Ping(ctx); err == nil {
		t.Fatalf("Ping with a cancelled context succeeded")
	}
	if e := db.Engine(); e != "sqlite" && e != "postgres" {
		t.Fatalf("Engine() = %q", e)
	}
	if len(db.Pools()) == 0 {
		t.Fatalf("Pools() is empty")
	}
}
