package e2e

import (
	"context"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/imagequota/imagequota/client"
	"github.com/imagequota/imagequota/internal/quota"
	"github.com/imagequota/imagequota/internal/testkit"
	"github.com/imagequota/imagequota/operatorapi"
	"github.com/imagequota/imagequota/vmapi"
)

// TestOperatorDecidesQuotaRequests: on the operator API, an admin operator
// lists the PENDING requests (of every account, or of one), approves one
// with another count than asked and an expiry, and denies one with a
// comment; the tenants see the decisions and the raise; a readonly
// operator may list but not decide; the documented refusals.
func TestOperatorDecidesQuotaRequests(t *testing.T) {
	parallel(t)
	ctx := context.Background()
	srv := testkit.Start(t, testkit.Options{})
	admin := srv.NewOperator(t, quota.RoleAdmin)
	ro := srv.NewOperator(t, quota.RoleReadonly)
	alice, bob := srv.NewAccount(t), srv.NewAccount(t)
	ask := func(a testkit.Account, zone string, desired int) string {
		t.Helper()
		r, err := a.Client.CreateImageQuotaRequest(ctx, &vmapi.CreateImageQuotaRequestRequest{ZoneID: client.String(zone), DesiredMaxCount: client.Int(desired),
			Reason: client.String("a launch")})
		if err != nil {
			t.Fatalf("CreateImageQuotaRequest: %v", err)
		}
		return r.QuotaRequestID
	}
	a1 := ask(alice, "jp-tokyo-1a", 20)
	b1 := ask(bob, "jp-tokyo-1a", 8)

	for _, op := range []*client.Operator{admin, ro} {
		all, err := op.DescribeQuotaRequests(ctx, &operatorapi.DescribeQuotaRequestsRequest{States: []string{"PENDING"}})
		if err != nil || all.TotalCount != 2 || all.DataSet[0].QuotaRequestID != a1 || all.DataSet[1].QuotaRequestID != b1 ||
			all.DataSet[0].AccountID != alice.ID || all.DataSet[1].AccountID != bob.ID {
			t.Fatalf("DescribeQuotaRequests PENDING = %+v, %v; want %s of %s and %s of %s", all, err, a1, alice.ID, b1, bob.ID)
		}
	}
	one, err := admin.DescribeQuotaRequests(ctx, &operatorapi.DescribeQuotaRequestsRequest{AccountID: &bob.ID})
	if err != nil || one.TotalCount != 1 || one.DataSet[0].QuotaRequestID != b1 || one.DataSet[0].Reason != "a launch" || one.DataSet[0].DecidedBy != "" {
		t.Fatalf("DescribeQuotaRequests of %s = %+v, %v", bob.ID, one, err)
	}

	_, err = ro.ApproveQuotaRequest(ctx, &operatorapi.ApproveQuotaRequestRequest{QuotaRequestID: &a1})
	wantAPICode(t, "readonly ApproveQuotaRequest", err, http.StatusUnauthorized, quota.CodeUnauthorizedOperation)
	_, err = ro.DenyQuotaRequest(ctx, &operatorapi.DenyQuotaRequestRequest{QuotaRequestID: &a1, Comment: client.String("no")})
	wantAPICode(t, "readonly DenyQuotaRequest", err, http.StatusUnauthorized, quota.CodeUnauthorizedOperation)

	expires := time.Now().Add(7 * 24 * time.Hour).UTC().Truncate(time.Second)
	approved, err := admin.ApproveQuotaRequest(ctx, &operatorapi.ApproveQuotaRequestRequest{QuotaRequestID: &a1, GrantedMaxCount: client.Int(12),
		ExpiresAt: client.String(expires.Format(time.RFC3339)), Comment: client.String("12 for a week")})
	if err != nil || approved.State != "APPROVED" || approved.GrantedMaxCount == nil || *approved.GrantedMaxCount != 12 || approved.DesiredMaxCount != 20 ||
		approved.ExpiresAt == nil || *approved.ExpiresAt != expires.Format(time.RFC3339) || approved.Comment != "12 for a week" ||
		approved.DecidedAt == nil || !strings.HasPrefix(approved.DecidedBy, "operator:") {
		t.Fatalf("ApproveQuotaRequest = %+v, %v", approved, err)
	}
	if _, max := quotaCount(t, alice.Client, "jp-tokyo-1a"); max != 12 {
		t.Fatalf("alice's maxCount after the approval = %d, want the granted 12", max)
	}
	over, err := admin.DescribeImageQuotaOverrides(ctx, &operatorapi.DescribeImageQuotaOverridesRequest{AccountID: &alice.ID})
	if err != nil || over.TotalCount != 1 || over.DataSet[0].MaxCount != 12 || over.DataSet[0].ExpiresAt == nil || over.DataSet[0].Reason != "quota request "+a1 {
		t.Fatalf("alice's overrides = %+v, %v; want 12 until %s for the request", over, err, expires)
	}

	for _, tc := range []struct {
		name   string
		call   func() error
		status int
		code   string
	}{
		{"deny without a comment", func() error {
			_, err := admin.DenyQuotaRequest(ctx, &operatorapi.DenyQuotaRequestRequest{QuotaRequestID: &b1})
			return err
		}, 400, quota.CodeMissingParameter},
		{"deny with an empty comment", func() error {
			_, err := admin.DenyQuotaRequest(ctx, &operatorapi.DenyQuotaRequestRequest{QuotaRequestID: &b1, Comment: client.String(" ")})
			return err
		}, 400, quota.CodeLessLength},
		{"approve again", func() error {
			_, err := admin.ApproveQuotaRequest(ctx, &operatorapi.ApproveQuotaRequestRequest{QuotaRequestID: &a1})
			return err
		}, 409, quota.CodeQuotaRequestState},
		{"approve an unknown request", func() error {
			_, err := admin.ApproveQuotaRequest(ctx, &operatorapi.ApproveQuotaRequestRequest{QuotaRequestID: client.String("qr-0000000000000000")})
			return err
		}, 404, quota.CodeQuotaRequestNotFound},
		{"an expiry in the past", func() error {
			_, err := admin.ApproveQuotaRequest(ctx, &operatorapi.ApproveQuotaRequestRequest{QuotaRequestID: &b1, ExpiresAt: client.String("2020-01-01T00:00:00Z")})
			return err
		}, 400, quota.CodeInvalidParameterValue},
		{"an expiry that is not a time", func() error {
			_, err := admin.ApproveQuotaRequest(ctx, &operatorapi.ApproveQuotaRequestRequest{QuotaRequestID: &b1, ExpiresAt: client.String("next week")})
			return err
		}, 400, quota.CodeInvalidParameterValue},
		{"a granted count below 0", func() error {
			_, err := admin.ApproveQuotaRequest(ctx, &operatorapi.ApproveQuotaRequestRequest{QuotaRequestID: &b1, GrantedMaxCount: client.Int(-1)})
			return err
		}, 400, quota.CodeLessMinimum},
		{"an unknown state", func() error {
			_, err := admin.DescribeQuotaRequests(ctx, &operatorapi.DescribeQuotaRequestsRequest{States: []string{"OPEN"}})
			return err
		}, 400, quota.CodeInvalidParameterValue},
		{"an unknown account", func() error {
			_, err := admin.DescribeQuotaRequests(ctx, &operatorapi.DescribeQuotaRequestsRequest{AccountID: client.String("acc-missing")})
			return err
		}, 404, quota.CodeAccountNotFound},
	} {
		wantAPICode(t, tc.name, tc.call(), tc.status, tc.code)
	}

	denied, err := admin.DenyQuotaRequest(ctx, &operatorapi.DenyQuotaRequestRequest{QuotaRequestID: &b1, Comment: client.String("use another zone")})
	if err != nil || denied.State != "DENIED" || denied.GrantedMaxCount != nil || denied.Comment != "use another zone" {
		t.Fatalf("DenyQuotaRequest = %+v, %v", denied, err)
	}
	if _, max := quotaCount(t, bob.Client, "jp-tokyo-1a"); max != 5 {
		t.Fatalf("bob's maxCount after the denial = %d, want 5", max)
	}
	seen, err := bob.Client.DescribeImageQuotaRequests(ctx, &vmapi.DescribeImageQuotaRequestsRequest{})
	if err != nil || len(seen.DataSet) != 1 || seen.DataSet[0].State != "DENIED" || seen.DataSet[0].Comment != "use another zone" {
		t.Fatalf("bob sees %+v, %v", seen, err)
	}
	if pending, err := ro.DescribeQuotaRequests(ctx, &operatorapi.DescribeQuotaRequestsRequest{States: []string{"PENDING"}}); err != nil || pending.TotalCount != 0 {
		t.Fatalf("PENDING after both decisions = %+v, %v", pending, err)
	}

	// Both decisions are audited by the operator, with the limit the approval set.
	recs, err := srv.DB.ListAudit(ctx, quota.AuditFilter{Action: "ApproveQuotaRequest"})
	if err != nil || len(recs) != 1 || recs[0].Actor != approved.DecidedBy || recs[0].Target != a1 || recs[0].AccountID != alice.ID {
		t.Fatalf("ApproveQuotaRequest records = %+v, %v", recs, err)
	}
	sets, err := srv.DB.ListAudit(ctx, quota.AuditFilter{AccountID: alice.ID, Action: "SetLimit"})
	if err != nil || len(sets) != 1 || sets[0].Actor != approved.DecidedBy || sets[0].RequestID != recs[0].RequestID {
		t.Fatalf("the approval's SetLimit record = %+v, %v; want it by %s in request %s", sets, err, approved.DecidedBy, recs[0].RequestID)
	}
}
