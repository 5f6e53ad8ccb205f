package e2e

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/imagequota/imagequota/client"
	"github.com/imagequota/imagequota/internal/quota"
	"github.com/imagequota/imagequota/internal/testkit/pgtest"
	"github.com/imagequota/imagequota/operatorapi"
	"github.com/imagequota/imagequota/vmapi"
)

// TestReplicasQuotaRequest: two `imagequota serve` replicas on one
// PostgreSQL database, both delivering to one webhook. An account asks for
// more on one replica, the other lists the request, an operator approves it
// with an expiry on the operator API of the other, and both replicas'
// DescribeImageQuota show the raise at once; each event reaches the
// receiver once, from whichever replica.
func TestReplicasQuotaRequest(t *testing.T) {
	parallel(t)
	dbURL := pgtest.NewSchema(t)
	acct, key := binTenant(t, dbURL)
	secretFile := filepath.Join(t.TempDir(), "webhook.secret")
	if err := os.WriteFile(secretFile, bytes.Clone(hookSecret), 0o600); err != nil {
		t.Fatal(err)
	}
	recv := newHookReceiver(t, time.Now)
	var replicas []*pgServer
	var clients []*client.Client
	for i := range 2 {
		r := pgServeOf(t, replicaBinary(t, i), dbURL, "--db-max-conns", "4", "--webhook-url", recv.srv.URL, "--webhook-secret-file", secretFile)
		replicas = append(replicas, r)
		clients = append(clients, pgConnClient(r.URL, key.ID, key.Secret, time.Minute))
	}
	ctx := context.Background()
	const tokyo = "jp-tokyo-1a"

	made, err := clients[0].CreateImageQuotaRequest(ctx, &vmapi.CreateImageQuotaRequestRequest{ZoneID: client.String(tokyo),
		DesiredMaxCount: client.Int(12), Reason: client.String("a launch")})
	if err != nil || made.State != vmapi.QuotaRequestPending {
		t.Fatalf("CreateImageQuotaRequest on replica 0 = %+v, %v", made, err)
	}
	list, err := clients[1].DescribeImageQuotaRequests(ctx, &vmapi.DescribeImageQuotaRequestsRequest{States: []string{vmapi.QuotaRequestPending}})
	if err != nil || list.TotalCount != 1 || list.DataSet[0].QuotaRequestID != made.QuotaRequestID || list.DataSet[0].CurrentMaxCount != 5 {
		t.Fatalf("replica 1 lists %+v, %v; want the PENDING request", list, err)
	}
	_, err = clients[1].CreateImageQuotaRequest(ctx, &vmapi.CreateImageQuotaRequestRequest{ZoneID: client.String(tokyo), DesiredMaxCount: client.Int(20)})
	mustCode(t, err, quota.CodeQuotaRequestOpen)

	// An operator approves it on the other replica, with an expiry.
	var opKey struct{ AccessKeyID, AccessKeyPassword string }
	pgAdmin(t, dbURL, &opKey, "operator", "create", "--name", "support", "--role", "admin")
	op := client.NewOperator(replicas[1].URL, opKey.AccessKeyID, opKey.AccessKeyPassword)
	pending, err := op.DescribeQuotaRequests(ctx, &operatorapi.DescribeQuotaRequestsRequest{States: []string{vmapi.QuotaRequestPending}})
	if err != nil || pending.TotalCount != 1 || pending.DataSet[0].AccountID != acct {
		t.Fatalf("the operator's PENDING requests = %+v, %v", pending, err)
	}
	expires := time.Now().Add(30 * 24 * time.Hour).UTC().Truncate(time.Second)
	if _, err := op.ApproveQuotaRequest(ctx, &operatorapi.ApproveQuotaRequestRequest{QuotaRequestID: &made.QuotaRequestID,
		ExpiresAt: client.String(expires.Format(time.RFC3339)), Comment: client.String("approved")}); err != nil {
		t.Fatalf("ApproveQuotaRequest: %v", err)
	}
	for i, c := range clients {
		if count, max := quotaCount(t, c, tokyo); count != 0 || max != 12 {
			t.Fatalf("replica %d: DescribeImageQuota in %s = %d of %d, want 0 of 12", i, tokyo, count, max)
		}
	}
	list, err = clients[1].DescribeImageQuotaRequests(ctx, &vmapi.DescribeImageQuotaRequestsRequest{QuotaRequestIDs: []string{made.QuotaRequestID}})
	if err != nil || len(list.DataSet) != 1 || list.DataSet[0].State != vmapi.QuotaRequestApproved || list.DataSet[0].ExpiresAt == nil ||
		*list.DataSet[0].ExpiresAt != quota.WireTime(expires) || list.DataSet[0].GrantedMaxCount == nil || *list.DataSet[0].GrantedMaxCount != 12 {
		t.Fatalf("replica 1 describes the approved request as %+v, %v", list, err)
	}

	got := recv.received(2)
	if got[0].Type != quota.EventQuotaRequestCreated || got[1].Type != quota.EventQuotaRequestApproved ||
		str(got[1].Data["quotaRequestId"]) != made.QuotaRequestID || str(got[1].Data["expiresAt"]) != quota.WireTime(expires) {
		t.Fatalf("events = %+v", got)
	}
	recv.mu.Lock()
	defer recv.mu.Unlock()
	for id, n := range recv.seen {
		if n != 1 {
			t.Fatalf("event %s delivered %d times", id, n)
		}
	}
}

// tenantKey is an access key as `imagequota admin key create` prints it.
type tenantKey struct {
	ID     string `json:"accessKeyId"`
	Secret string `json:"accessKeyPassword"`
}

// binTenant creates the store at dbURL with the imagequota binary's migrate,
// and an account with a key in it with its admin commands.
func binTenant(t *testing.T, dbURL string) (accountID string, key tenantKey) {
	t.Helper()
	if r := pgRun(t, "migrate", "--db", dbURL); r.code != 0 {
		t.Fatalf("migrate: exit %d\n%s", r.code, r.stderr)
	}
	var acct struct {
		ID string `json:"accountId"`
	}
	pgAdmin(t, dbURL, &acct, "account", "create", "--name", "tenant")
	pgAdmin(t, dbURL, &key, "key", "create", "--account", acct.ID)
	return acct.ID, key
}
