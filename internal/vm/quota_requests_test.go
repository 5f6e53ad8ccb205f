package vm_test

import (
	"encoding/json"
	"slices"
	"testing"
	"time"

	"github.com/imagequota/imagequota/internal/quota"
	"github.com/imagequota/imagequota/vmapi"
)

// TestCreateImageQuotaRequestChecks: each bad parameter gets its code, in
// the order the parameters are checked, and nothing is recorded.
func TestCreateImageQuotaRequestChecks(t *testing.T) {
	t.Parallel()
	e := setup(t)
	for _, tc := range []struct {
		name string
		in   vmapi.CreateImageQuotaRequestRequest
		code string
	}{
		{"no zone", vmapi.CreateImageQuotaRequestRequest{DesiredMaxCount: ptr(9)}, quota.CodeMissingParameter},
		{"empty zone", vmapi.CreateImageQuotaRequestRequest{ZoneID: ptr(""), DesiredMaxCount: ptr(9)}, quota.CodeLessLength},
		{"unknown zone", vmapi.CreateImageQuotaRequestRequest{ZoneID: ptr("xx-nowhere-1a"), DesiredMaxCount: ptr(9)}, quota.CodeZoneNotFound},
		{"disabled zone", vmapi.CreateImageQuotaRequestRequest{ZoneID: ptr(closed), DesiredMaxCount: ptr(9)}, quota.CodeZoneNotFound},
		{"no desired count", vmapi.CreateImageQuotaRequestRequest{ZoneID: ptr(fra)}, quota.CodeMissingParameter},
		{"desired 0", vmapi.CreateImageQuotaRequestRequest{ZoneID: ptr(fra), DesiredMaxCount: ptr(0)}, quota.CodeLessMinimum},
		{"desired too large", vmapi.CreateImageQuotaRequestRequest{ZoneID: ptr(fra), DesiredMaxCount: ptr(quota.MaxLimit + 1)}, quota.CodeExceedMaximum},
		{"desired not above", vmapi.CreateImageQuotaRequestRequest{ZoneID: ptr(fra), DesiredMaxCount: ptr(5)}, quota.CodeQuotaRequestDesiredCount},
		{"reason too long", vmapi.CreateImageQuotaRequestRequest{ZoneID: ptr(fra), DesiredMaxCount: ptr(9), Reason: ptr(string(make([]rune, 256)))}, quota.CodeExceedLength},
		{"reason with NUL", vmapi.CreateImageQuotaRequestRequest{ZoneID: ptr(fra), DesiredMaxCount: ptr(9), Reason: ptr("a\x00b")}, quota.CodeInvalidParameterValue},
		{"client token with a space", vmapi.CreateImageQuotaRequestRequest{ZoneID: ptr(fra), DesiredMaxCount: ptr(9), ClientToken: ptr("a b")}, quota.CodePatternError},
	} {
		_, err := e.svc.CreateImageQuotaRequest(t.Context(), call(e.acct), &tc.in)
		if got := quota.ErrorCode(err); got != tc.code {
			t.Errorf("%s: %v (code %q), want %s", tc.name, err, got, tc.code)
		}
	}
	out, err := e.svc.DescribeImageQuotaRequests(t.Context(), call(e.acct), &vmapi.DescribeImageQuotaRequestsRequest{})
	if err != nil || out.TotalCount != 0 || out.DataSet == nil || len(out.DataSet) != 0 {
		t.Fatalf("after refused requests, DescribeImageQuotaRequests = %+v, %v; want none, as []", out, err)
	}
}

// TestImageQuotaRequests: a request as the account sees it, by its wire
// names and types; the policy; cancelling; the filters; another account's
// requests never show.
func TestImageQuotaRequests(t *testing.T) {
	t.Parallel()
	e := setup(t)
	ctx := t.Context()
	made, err := e.svc.CreateImageQuotaRequest(ctx, call(e.acct), &vmapi.CreateImageQuotaRequestRequest{
		ZoneID: ptr(fra), DesiredMaxCount: ptr(12), Reason: ptr("a launch"),
	})
	if err != nil || made.State != "PENDING" || made.QuotaRequestID == "" {
		t.Fatalf("CreateImageQuotaRequest = %+v, %v", made, err)
	}
	out, err := e.svc.DescribeImageQuotaRequests(ctx, call(e.acct), &vmapi.DescribeImageQuotaRequestsRequest{})
	if err != nil || out.TotalCount != 1 {
		t.Fatalf("DescribeImageQuotaRequests = %+v, %v", out, err)
	}
	b, _ := json.Marshal(out.DataSet[0])
	want := `{"quotaRequestId":"` + made.QuotaRequestID + `","zoneId":"FRA-A","currentMaxCount":5,"desiredMaxCount":12,"grantedMaxCount":null,` +
		`"state":"PENDING","reason":"a launch","comment":"","createdAt":"2026-04-01T12:00:00Z","decidedAt":null,"expiresAt":null}`
	if string(b) != want {
		t.Fatalf("request = %s\nwant      %s", b, want)
	}
	// The policy approves at once what it covers.
	e.clock.Add(time.Second)
	svc := *e.svc
	svc.Policy = quota.AutoApproval{UpTo: 10}
	auto, err := svc.CreateImageQuotaRequest(ctx, call(e.acct), &vmapi.CreateImageQuotaRequestRequest{ZoneID: ptr(hkg), DesiredMaxCount: ptr(10)})
	if err != nil || auto.State != "APPROVED" {
		t.Fatalf("a request the policy covers = %+v, %v; want APPROVED", auto, err)
	}
	if _, max := e.count(t, hkg); max != 10 {
		t.Fatalf("maxCount in %s after the policy's approval = %d, want 10", hkg, max)
	}

	e.clock.Add(time.Minute)
	if _, err := e.svc.CancelImageQuotaRequest(ctx, call(e.acct), &vmapi.CancelImageQuotaRequestRequest{QuotaRequestID: &made.QuotaRequestID}); err != nil {
		t.Fatalf("CancelImageQuotaRequest: %v", err)
	}
	_, err = e.svc.CancelImageQuotaRequest(ctx, call(e.acct), &vmapi.CancelImageQuotaRequestRequest{QuotaRequestID: &made.QuotaRequestID})
	if quota.ErrorCode(err) != quota.CodeQuotaRequestState {
		t.Fatalf("cancelling twice: %v; want %s", err, quota.CodeQuotaRequestState)
	}
	_, err = e.svc.CancelImageQuotaRequest(ctx, call(e.other), &vmapi.CancelImageQuotaRequestRequest{QuotaRequestID: &auto.QuotaRequestID})
	if quota.ErrorCode(err) != quota.CodeQuotaRequestNotFound {
		t.Fatalf("cancelling another account's request: %v; want %s", err, quota.CodeQuotaRequestNotFound)
	}
	if _, err := e.svc.CancelImageQuotaRequest(ctx, call(e.acct), &vmapi.CancelImageQuotaRequestRequest{}); quota.ErrorCode(err) != quota.CodeMissingParameter {
		t.Fatalf("cancelling without an id: %v", err)
	}

	for _, tc := range []struct {
		name string
		in   vmapi.DescribeImageQuotaRequestsRequest
		ids  []string
		code string
	}{
		{"all", vmapi.DescribeImageQuotaRequestsRequest{}, []string{made.QuotaRequestID, auto.QuotaRequestID}, ""},
		{"cancelled", vmapi.DescribeImageQuotaRequestsRequest{States: []string{"CANCELLED"}}, []string{made.QuotaRequestID}, ""},
		{"by id", vmapi.DescribeImageQuotaRequestsRequest{QuotaRequestIDs: []string{auto.QuotaRequestID}}, []string{auto.QuotaRequestID}, ""},
		{"second page", vmapi.DescribeImageQuotaRequestsRequest{PageNum: ptr(2), PageSize: ptr(1)}, []string{auto.QuotaRequestID}, ""},
		{"bad state", vmapi.DescribeImageQuotaRequestsRequest{States: []string{"pending"}}, nil, quota.CodeInvalidParameterValue},
		{"page 0", vmapi.DescribeImageQuotaRequestsRequest{PageNum: ptr(0)}, nil, quota.CodeLessMinimum},
		{"page too large", vmapi.DescribeImageQuotaRequestsRequest{PageSize: ptr(1001)}, nil, quota.CodeExceedMaximum},
		{"empty id", vmapi.DescribeImageQuotaRequestsRequest{QuotaRequestIDs: []string{""}}, nil, quota.CodeLessLength},
	} {
		out, err := e.svc.DescribeImageQuotaRequests(ctx, call(e.acct), &tc.in)
		if quota.ErrorCode(err) != tc.code {
			t.Errorf("%s: %v, want code %q", tc.name, err, tc.code)
			continue
		}
		if err != nil {
			continue
		}
		var ids []string
		for _, r := range out.DataSet {
			ids = append(ids, r.QuotaRequestID)
		}
		if out.TotalCount < len(ids) || !slices.Equal(ids, tc.ids) {
			t.Errorf("%s: %d in all, %v; want %v", tc.name, out.TotalCount, ids, tc.ids)
		}
	}
	out, err = e.svc.DescribeImageQuotaRequests(ctx, call(e.other), &vmapi.DescribeImageQuotaRequestsRequest{})
	if err != nil || out.TotalCount != 0 {
		t.Fatalf("another account sees %+v, %v", out, err)
	}
}
