package e2e

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/imagequota/imagequota/client"
	"github.com/imagequota/imagequota/internal/quota"
	"github.com/imagequota/imagequota/internal/testkit"
	"github.com/imagequota/imagequota/operatorapi"
	"github.com/imagequota/imagequota/vmapi"
)

var quotaRequestIDPattern = regexp.MustCompile(`^qr-[0-9a-f]{16}$`)

// requestInfo decodes DescribeImageQuotaRequests' raw answer, checking that
// every item has exactly the documented fields with their JSON types.
func requestInfo(t *testing.T, r reply) (total int, items []map[string]json.RawMessage) {
	t.Helper()
	resp := r.wantOK(t)
	if n, ok := resp["totalCount"].(float64); ok {
		total = int(n)
	} else {
		t.Fatalf("totalCount %v is not a number", resp["totalCount"])
	}
	var raw struct {
		DataSet []map[string]json.RawMessage `json:"dataSet"`
	}
	if err := json.Unmarshal(r.fields["response"], &raw); err != nil || raw.DataSet == nil {
		t.Fatalf("dataSet of %s: %v", r.fields["response"], err)
	}
	types := map[string]string{
		"quotaRequestId": "string", "zoneId": "string", "currentMaxCount": "number", "desiredMaxCount": "number",
		"grantedMaxCount": "number|null", "state": "string", "reason": "string", "comment": "string",
		"createdAt": "time", "decidedAt": "time|null", "expiresAt": "time|null",
	}
	for _, item := range raw.DataSet {
		if len(item) != len(types) {
			t.Fatalf("item %v has %d fields, want exactly %d", item, len(item), len(types))
		}
		for k, want := range types {
			v, ok := item[k]
			if !ok {
				t.Fatalf("item lacks %s: %v", k, item)
			}
			if got := jsonKind(v); !slices.Contains(strings.Split(want, "|"), got) {
				t.Fatalf("%s = %s is a %s, want %s", k, v, got, want)
			}
		}
	}
	return total, raw.DataSet
}

// wireTime matches a time as the API writes it: RFC 3339 in UTC, to the second.
var wireTime = regexp.MustCompile(`^"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ"$`)

func jsonKind(v json.RawMessage) string {
	switch s := string(v); {
	case s == "null":
		return "null"
	case wireTime.MatchString(s):
		return "time"
	case strings.HasPrefix(s, `"`):
		return "string"
	case regexp.MustCompile(`^-?\d+$`).MatchString(s):
		return "number"
	}
	return "other"
}

func str(v json.RawMessage) string {
	var s string
	_ = json.Unmarshal(v, &s)
	return s
}

// TestQuotaRequestsOnTheWire: the Support path as an account sees it, in
// both versions: asking for more, the documented refusals, the request
// described exactly as documented, an operator's approval with an expiry
// raising DescribeImageQuota's maxCount, and cancelling.
func TestQuotaRequestsOnTheWire(t *testing.T) {
	parallel(t)
	e := setup(t, testkit.Options{})
	const tokyo, singapore = "jp-tokyo-1a", "sg-singapore-1a"

	ask := e.call("CreateImageQuotaRequest", `{"zoneId":"jp-tokyo-1a","desiredMaxCount":12,"reason":"a launch","clientToken":"launch-1"}`)
	first := e.send(t, ask)
	made := first.wantOK(t)
	id, _ := made["quotaRequestId"].(string)
	if !quotaRequestIDPattern.MatchString(id) || made["state"] != "PENDING" || len(made) != 3 {
		t.Fatalf("CreateImageQuotaRequest answered %v; want requestId, quotaRequestId and state PENDING", made)
	}
	// A retry of the same signed request, and a new one with the same client
	// token, answer the same request.
	if again := e.send(t, ask).wantOK(t); again["quotaRequestId"] != id {
		t.Fatalf("the same request again answered %v, want %s", again, id)
	}
	e.now = e.now.Add(time.Second)
	if again := e.send(t, e.call("CreateImageQuotaRequest", `{"zoneId":"jp-tokyo-1a","desiredMaxCount":12,"reason":"a launch","clientToken":"launch-1"}`)).wantOK(t); again["quotaRequestId"] != id {
		t.Fatalf("the same client token answered %v, want %s", again, id)
	}

	for _, tc := range []struct {
		name, body string
		status     int
		code       string
		names      []string
	}{
		{"a second open request", `{"zoneId":"jp-tokyo-1a","desiredMaxCount":20}`, 409, quota.CodeQuotaRequestOpen, []string{id, tokyo}},
		{"not above the limit", `{"zoneId":"sg-singapore-1a","desiredMaxCount":5}`, 400, quota.CodeQuotaRequestDesiredCount, []string{"5", singapore}},
		{"no zone", `{"desiredMaxCount":9}`, 400, quota.CodeMissingParameter, []string{"zoneId"}},
		{"unknown zone", `{"zoneId":"xx-nowhere-1a","desiredMaxCount":9}`, 404, quota.CodeZoneNotFound, []string{"xx-nowhere-1a"}},
		{"a string for a count", `{"zoneId":"sg-singapore-1a","desiredMaxCount":"9"}`, 400, quota.CodeInvalidParameterType, []string{"desiredMaxCount"}},
		{"a count too large", `{"zoneId":"sg-singapore-1a","desiredMaxCount":1000001}`, 400, quota.CodeExceedMaximum, []string{"desiredMaxCount"}},
		{"the token with other parameters", `{"zoneId":"jp-tokyo-1a","desiredMaxCount":13,"clientToken":"launch-1"}`, 400, quota.CodeInvalidParameterValue, []string{"launch-1"}},
	} {
		e.send(t, e.call("CreateImageQuotaRequest", tc.body)).wantError(t, tc.status, tc.code, tc.names...)
	}

	for _, version := range []string{vmapi.VersionLegacy, vmapi.VersionCurrent} {
		total, items := requestInfo(t, e.send(t, e.call("DescribeImageQuotaRequests", `{}`).set("X-ZC-Version", version)))
		if total != 1 || len(items) != 1 {
			t.Fatalf("version %s: %d requests, %v", version, total, items)
		}
		want := map[string]string{"quotaRequestId": `"` + id + `"`, "zoneId": `"jp-tokyo-1a"`, "currentMaxCount": "5", "desiredMaxCount": "12",
			"grantedMaxCount": "null", "state": `"PENDING"`, "reason": `"a launch"`, "comment": `""`,
			"createdAt": `"` + quota.WireTime(fixedNow) + `"`, "decidedAt": "null", "expiresAt": "null"}
		for k, v := range want {
			if string(items[0][k]) != v {
				t.Errorf("version %s: %s = %s, want %s", version, k, items[0][k], v)
			}
		}
	}

	// An operator approves with an expiry; the raise shows at once.
	op := e.srv.NewOperator(t, quota.RoleAdmin)
	op.Now = func() time.Time { return e.now }
	approved, err := op.ApproveQuotaRequest(context.Background(), &operatorapi.ApproveQuotaRequestRequest{QuotaRequestID: &id,
		ExpiresAt: client.String("2025-07-15T15:06:40Z"), Comment: client.String("for the launch")})
	if err != nil {
		t.Fatalf("ApproveQuotaRequest: %v", err)
	}
	if count, max := quotaCount(t, e.acct.Client, tokyo); count != 0 || max != 12 {
		t.Fatalf("DescribeImageQuota in %s after the approval = %d of %d, want 0 of 12", tokyo, count, max)
	}
	_, items := requestInfo(t, e.send(t, e.call("DescribeImageQuotaRequests", `{"quotaRequestIds":["`+id+`"],"states":["APPROVED"]}`)))
	if len(items) != 1 || str(items[0]["state"]) != "APPROVED" || string(items[0]["grantedMaxCount"]) != "12" ||
		str(items[0]["comment"]) != "for the launch" || str(items[0]["expiresAt"]) != "2025-07-15T15:06:40Z" || string(items[0]["decidedAt"]) == "null" {
		t.Fatalf("the approved request = %v", items)
	}
	e.send(t, e.call("CancelImageQuotaRequest", `{"quotaRequestId":"`+id+`"}`)).wantError(t, 409, quota.CodeQuotaRequestState, id, "APPROVED")

	// Cancelling: the account's own request only; another account's answers
	// exactly like an id that does not exist.
	sg := e.send(t, e.call("CreateImageQuotaRequest", `{"zoneId":"sg-singapore-1a","desiredMaxCount":7}`)).wantOK(t)["quotaRequestId"].(string)
	other := e.newAccount()
	mine := e.send(t, e.callAs(other, "CancelImageQuotaRequest", `{"quotaRequestId":"`+sg+`"}`))
	mine.wantError(t, 404, quota.CodeQuotaRequestNotFound, sg)
	if _, items := requestInfo(t, e.send(t, e.callAs(other, "DescribeImageQuotaRequests", `{}`))); len(items) != 0 {
		t.Fatalf("another account sees %v", items)
	}
	if cancelled := e.send(t, e.call("CancelImageQuotaRequest", `{"quotaRequestId":"`+sg+`"}`)).wantOK(t); len(cancelled) != 1 {
		t.Fatalf("CancelImageQuotaRequest answered %v; want only the requestId", cancelled)
	}
	_, items = requestInfo(t, e.send(t, e.call("DescribeImageQuotaRequests", `{"states":["CANCELLED","DENIED"],"pageSize":10}`)))
	if len(items) != 1 || str(items[0]["quotaRequestId"]) != sg {
		t.Fatalf("cancelled requests = %v, want %s", items, sg)
	}
	e.send(t, e.call("DescribeImageQuotaRequests", `{"states":["OPEN"]}`)).wantError(t, 400, quota.CodeInvalidParameterValue, "OPEN")

	// The audit trail has each change with its actor and request id.
	recs, err := e.srv.DB.ListAudit(context.Background(), quota.AuditFilter{AccountID: e.acct.ID})
	if err != nil {
		t.Fatal(err)
	}
	var trail []string
	for _, r := range recs {
		if strings.Contains(r.Action, "QuotaRequest") || r.Action == "SetLimit" {
			trail = append(trail, r.Action+" by "+r.Actor)
		}
	}
	want := []string{"CreateImageQuotaRequest by " + e.acct.Key.ID, "ApproveQuotaRequest by " + approved.DecidedBy, "SetLimit by " + approved.DecidedBy,
		"CreateImageQuotaRequest by " + e.acct.Key.ID, "CancelImageQuotaRequest by " + e.acct.Key.ID}
	if !slices.Equal(trail, want) {
		t.Fatalf("audit trail = %v, want %v", trail, want)
	}
}

// TestQuotaRequestAutoApproval: with --auto-approve-up-to 10, a request for
// at most 10 is approved as it is made, by "policy", and the limit rises at
// once; a request for more waits for an operator.
func TestQuotaRequestAutoApproval(t *testing.T) {
	parallel(t)
	srv := testkit.Start(t, testkit.Options{AutoApprove: quota.AutoApproval{UpTo: 10}})
	acct := srv.NewAccount(t)
	ctx := context.Background()
	auto, err := acct.Client.CreateImageQuotaRequest(ctx, &vmapi.CreateImageQuotaRequestRequest{ZoneID: client.String("jp-tokyo-1a"), DesiredMaxCount: client.Int(10)})
	if err != nil || auto.State != vmapi.QuotaRequestApproved {
		t.Fatalf("a request for 10 = %+v, %v; want APPROVED", auto, err)
	}
	if _, max := quotaCount(t, acct.Client, "jp-tokyo-1a"); max != 10 {
		t.Fatalf("maxCount after the policy's approval = %d, want 10", max)
	}
	held, err := acct.Client.CreateImageQuotaRequest(ctx, &vmapi.CreateImageQuotaRequestRequest{ZoneID: client.String("sg-singapore-1a"), DesiredMaxCount: client.Int(11)})
	if err != nil || held.State != vmapi.QuotaRequestPending {
		t.Fatalf("a request for 11 = %+v, %v; want PENDING", held, err)
	}
	if _, max := quotaCount(t, acct.Client, "sg-singapore-1a"); max != 5 {
		t.Fatalf("maxCount while PENDING = %d, want 5", max)
	}
	list, err := acct.Client.DescribeImageQuotaRequests(ctx, &vmapi.DescribeImageQuotaRequestsRequest{QuotaRequestIDs: []string{auto.QuotaRequestID}})
	if err != nil || len(list.DataSet) != 1 || list.DataSet[0].GrantedMaxCount == nil || *list.DataSet[0].GrantedMaxCount != 10 || list.DataSet[0].DecidedAt == nil {
		t.Fatalf("the approved request = %+v, %v", list, err)
	}
	recs, err := srv.DB.ListAudit(ctx, quota.AuditFilter{AccountID: acct.ID})
	if err != nil {
		t.Fatal(err)
	}
	var byPolicy []string
	for _, r := range recs {
		if r.Actor == quota.PolicyActor.Name {
			byPolicy = append(byPolicy, r.Action)
		}
	}
	if !slices.Equal(byPolicy, []string{"ApproveQuotaRequest", "SetLimit"}) {
		t.Fatalf("audit records by policy = %v, want the approval and its limit", byPolicy)
	}
	if code := client.ErrorCode(acct.Client.CancelImageQuotaRequest(ctx, &vmapi.CancelImageQuotaRequestRequest{QuotaRequestID: &auto.QuotaRequestID})); code != quota.CodeQuotaRequestState {
		t.Fatalf("cancelling an approved request: %s, want %s", code, quota.CodeQuotaRequestState)
	}
	if err := acct.Client.CancelImageQuotaRequest(ctx, &vmapi.CancelImageQuotaRequestRequest{QuotaRequestID: &held.QuotaRequestID}); err != nil {
		t.Fatalf("cancelling the held request: %v", err)
	}
	var apiErr *client.Error
	err = acct.Client.CancelImageQuotaRequest(ctx, &vmapi.CancelImageQuotaRequestRequest{QuotaRequestID: client.String("qr-0000000000000000")})
	if !errors.As(err, &apiErr) || apiErr.HTTPStatus != http.StatusNotFound || apiErr.Code != quota.CodeQuotaRequestNotFound {
		t.Fatalf("cancelling an unknown request: %v", err)
	}
}
