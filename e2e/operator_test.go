package e2e

import (
	"encoding/json"
	"errors"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/imagequota/imagequota/client"
	"github.com/imagequota/imagequota/internal/quota"
	"github.com/imagequota/imagequota/internal/testkit"
	"github.com/imagequota/imagequota/internal/testkit/pgtest"
	"github.com/imagequota/imagequota/operatorapi"
	"github.com/imagequota/imagequota/vmapi"
)

// wantAPICode fails unless err is an API error with code and HTTP status.
func wantAPICode(t *testing.T, what string, err error, status int, code string) {
	t.Helper()
	var e *client.Error
	if !errors.As(err, &e) || e.Code != code || e.HTTPStatus != status {
		t.Fatalf("%s: %v; want HTTP %d %s", what, err, status, code)
	}
	if !requestIDPattern.MatchString(e.RequestID) {
		t.Fatalf("%s: request id %q", what, e.RequestID)
	}
}

func TestOperatorOnboardsTenantSQLite(t *testing.T) {
	parallel(t)
	runOperatorOnboarding(t, testkit.SQLiteURL(t))
}

func TestOperatorOnboardsTenantPostgres(t *testing.T) {
	parallel(t)
	pgRequirePostgres(t)
	runOperatorOnboarding(t, pgtest.NewSchema(t))
}

// runOperatorOnboarding: an operator creates an account, an access key, a
// token and an instance over the operator API; the tenant then uses the
// key and the token on /api/v2/vm; every change is audited with the
// operator as actor.
func runOperatorOnboarding(t *testing.T, dbURL string) {
	ctx := t.Context()
	srv := testkit.Start(t, testkit.Options{DBURL: dbURL, BuildTime: 0})
	op := srv.NewOperator(t, quota.RoleAdmin)
	acct, err := op.CreateAccount(ctx, &operatorapi.CreateAccountRequest{Name: client.String("acme")})
	if err != nil || !strings.HasPrefix(acct.AccountID, "acc-") || acct.Name != "acme" {
		t.Fatalf("CreateAccount = %+v, %v", acct, err)
	}
	key, err := op.CreateAccessKey(ctx, &operatorapi.CreateAccessKeyRequest{AccountID: &acct.AccountID})
	if err != nil || !strings.HasPrefix(key.AccessKeyID, "AK") || key.AccessKeyPassword == "" {
		t.Fatalf("CreateAccessKey = %+v, %v", key, err)
	}
	inst, err := op.CreateInstance(ctx, &operatorapi.CreateInstanceRequest{AccountID: &acct.AccountID, ZoneID: client.String("jp-tokyo-1a")})
	if err != nil || !strings.HasPrefix(inst.InstanceID, "ins-") || inst.ZoneID != "jp-tokyo-1a" {
		t.Fatalf("CreateInstance = %+v, %v", inst, err)
	}
	tok, err := op.CreateToken(ctx, &operatorapi.CreateTokenRequest{AccountID: &acct.AccountID, TTLSeconds: client.Int64(3600)})
	if err != nil || tok.Token == "" {
		t.Fatalf("CreateToken = %+v, %v", tok, err)
	}
	if exp, err := time.Parse(time.RFC3339, tok.ExpiresAt); err != nil || exp.Location() != time.UTC || !strings.HasSuffix(tok.ExpiresAt, "Z") {
		t.Fatalf("expiresAt %q is not an RFC 3339 UTC time", tok.ExpiresAt)
	}

	tenant := client.New(srv.URL, key.AccessKeyID, key.AccessKeyPassword)
	_, err = tenant.CreateImage(ctx, &vmapi.CreateImageRequest{InstanceID: &inst.InstanceID, ImageName: client.String("first")})
	if err != nil {
		t.Fatalf("the tenant's CreateImage with the key the operator made: %v", err)
	}
	q, err := client.NewWithToken(srv.URL, tok.Token).DescribeImageQuota(ctx, &vmapi.DescribeImageQuotaRequest{ZoneIDs: []string{"jp-tokyo-1a"}})
	if err != nil || len(q.Images) != 1 || q.Images[0].Count != 1 || q.Images[0].MaxCount != quota.DefaultMaxCount {
		t.Fatalf("the tenant's DescribeImageQuota with the operator's token = %+v, %v", q, err)
	}

	accts, err := op.DescribeAccounts(ctx, &operatorapi.DescribeAccountsRequest{Name: client.String("ACM")})
	if err != nil || accts.TotalCount != 1 || len(accts.DataSet) != 1 || accts.DataSet[0].AccountID != acct.AccountID {
		t.Fatalf("DescribeAccounts by name = %+v, %v", accts, err)
	}
	insts, err := op.DescribeInstances(ctx, &operatorapi.DescribeInstancesRequest{AccountID: &acct.AccountID})
	if err != nil || insts.TotalCount != 1 || insts.DataSet[0].InstanceID != inst.InstanceID || insts.DataSet[0].DiskGB != 40 {
		t.Fatalf("DescribeInstances = %+v, %v", insts, err)
	}
	keys, err := op.DescribeAccessKeys(ctx, &operatorapi.DescribeAccessKeysRequest{AccountID: &acct.AccountID})
	if err != nil || keys.TotalCount != 1 || keys.DataSet[0].AccessKeyID != key.AccessKeyID {
		t.Fatalf("DescribeAccessKeys = %+v, %v", keys, err)
	}
	usage, err := op.DescribeImageQuotaUsage(ctx, &operatorapi.DescribeImageQuotaUsageRequest{AccountIDs: []string{acct.AccountID}})
	if err != nil || usage.TotalCount != 1 || usage.DataSet[0].Count != 1 || usage.DataSet[0].Source != quota.SourceServerDefault ||
		usage.DataSet[0].Utilization == nil || *usage.DataSet[0].Utilization != 0.2 {
		t.Fatalf("DescribeImageQuotaUsage = %+v, %v", usage, err)
	}

	// The key disabled by the operator is refused on the vm API.
	if _, err := op.DisableAccessKey(ctx, &operatorapi.AccessKeyRequest{AccessKeyID: &key.AccessKeyID}); err != nil {
		t.Fatal(err)
	}
	_, err = tenant.DescribeImageQuota(ctx, nil)
	wantAPICode(t, "a key the operator disabled", err, http.StatusUnauthorized, quota.CodeSignatureFailure)
	if _, err := op.ModifyAccountStatus(ctx, &operatorapi.ModifyAccountStatusRequest{AccountID: &acct.AccountID, Disabled: client.Bool(true)}); err != nil {
		t.Fatal(err)
	}
	_, err = client.NewWithToken(srv.URL, tok.Token).DescribeImageQuota(ctx, nil)
	wantAPICode(t, "a token of an account the operator disabled", err, http.StatusUnauthorized, quota.CodeSignatureFailure)
	if _, err := op.DeleteInstance(ctx, &operatorapi.DeleteInstanceRequest{InstanceID: &inst.InstanceID}); err != nil {
		t.Fatal(err)
	}

	events, err := op.DescribeAuditEvents(ctx, &operatorapi.DescribeAuditEventsRequest{AccountID: &acct.AccountID, Page: operatorapi.Page{PageSize: client.Int(100)}})
	if err != nil {
		t.Fatal(err)
	}
	got := []string{}
	for _, e := range events.DataSet {
		got = append(got, e.Action+" by "+e.Actor)
		if !requestIDPattern.MatchString(e.RequestID) {
			t.Errorf("%s recorded with request id %q", e.Action, e.RequestID)
		}
	}
	by := " by operator:"
	want := []string{"CreateAccount", "CreateAccessKey", "CreateInstance", "CreateToken", "CreateImage", "DisableAccessKey", "DisableAccount", "DeleteInstance"}
	if len(got) != len(want) || events.TotalCount != len(want) {
		t.Fatalf("audit events = %q (total %d), want %q", got, events.TotalCount, want)
	}
	for i, w := range want {
		if w == "CreateImage" {
			if got[i] != "CreateImage by "+key.AccessKeyID {
				t.Errorf("event %d = %q, want CreateImage by the tenant's key", i, got[i])
			}
			continue
		}
		if !strings.HasPrefix(got[i], w+by+"opr-") {
			t.Errorf("event %d = %q, want %s by the operator", i, got[i], w)
		}
	}
	if events.DataSet[0].Target != acct.AccountID || string(events.DataSet[0].Before) != "null" ||
		!strings.Contains(string(events.DataSet[0].After), `"name":"acme"`) {
		t.Errorf("CreateAccount event = %+v (after %s)", events.DataSet[0], events.DataSet[0].After)
	}
	for _, e := range events.DataSet {
		if strings.Contains(string(e.After), key.AccessKeyPassword) || strings.Contains(string(e.After), tok.Token) {
			t.Errorf("event %s holds a secret: %s", e.Action, e.After)
		}
	}
	page2, err := op.DescribeAuditEvents(ctx, &operatorapi.DescribeAuditEventsRequest{AccountID: &acct.AccountID, Action: client.String("CreateInstance")})
	if err != nil || page2.TotalCount != 1 || page2.DataSet[0].Target != inst.InstanceID {
		t.Fatalf("DescribeAuditEvents by action = %+v, %v", page2, err)
	}
	if !strings.Contains(srv.Logs(), `"role":"admin"`) {
		t.Errorf("the request log does not name the operator's role")
	}
}

func TestOperatorExpiryOnReplicasSQLite(t *testing.T) {
	parallel(t)
	runOperatorExpiry(t, testkit.SQLiteURL(t))
}

func TestOperatorExpiryOnReplicasPostgres(t *testing.T) {
	parallel(t)
	pgRequirePostgres(t)
	runOperatorExpiry(t, pgtest.NewSchema(t))
}

// runOperatorExpiry: two servers on one store (each with its own pool and
// read cache) and one clock. A raise with an expiry set through one applies
// on both until that instant, and on neither from it on, cached answers
// included; listing the overrides then records the end.
func runOperatorExpiry(t *testing.T, dbURL string) {
	ctx := t.Context()
	clock := testkit.NewClock(time.Date(2026, 12, 1, 10, 0, 0, 0, time.UTC))
	var replicas [2]*testkit.Server
	for i := range replicas {
		replicas[i] = testkit.Start(t, testkit.Options{DBURL: dbURL, Now: clock.Now, DefaultMax: 2})
	}
	op := replicas[0].NewOperator(t, quota.RoleAdmin)
	op.Now = clock.Now
	tenant := replicas[0].NewAccount(t)
	inst := replicas[0].NewInstance(t, tenant.ID, "jp-tokyo-1a")
	clients := [2]*client.Client{}
	for i, r := range replicas {
		c := client.New(r.URL, tenant.Key.ID, tenant.Key.Secret)
		c.Now = clock.Now
		clients[i] = c
	}
	maxOn := func(i int) int {
		t.Helper()
		q, err := clients[i].DescribeImageQuota(ctx, &vmapi.DescribeImageQuotaRequest{ZoneIDs: []string{"jp-tokyo-1a"}})
		if err != nil {
			t.Fatalf("DescribeImageQuota on replica %d: %v", i, err)
		}
		return q.Images[0].MaxCount
	}
	n := 0
	create := func(i int) error {
		n++
		clock.Advance(time.Second) // a new signature for each create
		_, err := clients[i].CreateImage(ctx, &vmapi.CreateImageRequest{InstanceID: &inst.ID, ImageName: client.String("img-" + string(rune('a'+n)))})
		return err
	}
	for i := range 2 {
		if m := maxOn(i); m != 2 {
			t.Fatalf("replica %d: maxCount %d before the raise, want the default 2", i, m)
		}
	}
	ends := clock.Now().Add(time.Hour)
	set, err := op.SetImageQuota(ctx, &operatorapi.SetImageQuotaRequest{AccountID: &tenant.ID, ZoneID: client.String("jp-tokyo-1a"), MaxCount: client.Int(4),
		ExpiresAt: client.String(ends.Format(time.RFC3339)), Reason: client.String("migration week")})
	if err != nil || set.Previous != nil || len(set.Warnings) != 0 || set.ExpiresAt == nil || *set.ExpiresAt != "2026-12-01T11:00:00Z" {
		t.Fatalf("SetImageQuota = %+v, %v", set, err)
	}
	for i := range 2 {
		if m := maxOn(i); m != 4 {
			t.Fatalf("replica %d: maxCount %d with the raise, want 4", i, m)
		}
	}
	for i := range 4 {
		if err := create(i % 2); err != nil {
			t.Fatalf("create %d under the raise: %v", i+1, err)
		}
	}
	mustCode(t, create(1), quota.CodeImageQuotaExceeded)
	usage, err := op.DescribeImageQuotaUsage(ctx, &operatorapi.DescribeImageQuotaUsageRequest{AccountIDs: []string{tenant.ID}})
	if err != nil || len(usage.DataSet) != 1 || usage.DataSet[0].MaxCount != 4 || usage.DataSet[0].Source != quota.SourceAccountLocation ||
		usage.DataSet[0].ExpiresAt == nil || *usage.DataSet[0].ExpiresAt != "2026-12-01T11:00:00Z" {
		t.Fatalf("DescribeImageQuotaUsage with the raise = %+v, %v", usage, err)
	}
	ovs, err := op.DescribeImageQuotaOverrides(ctx, &operatorapi.DescribeImageQuotaOverridesRequest{AccountID: &tenant.ID})
	if err != nil || ovs.TotalCount != 1 || ovs.DataSet[0].Reason != "migration week" || ovs.DataSet[0].ExpiresAt == nil {
		t.Fatalf("DescribeImageQuotaOverrides = %+v, %v", ovs, err)
	}
	for i := range 2 {
		maxOn(i) // both replicas answer from their caches from here on
	}

	clock.Advance(ends.Sub(clock.Now()))
	for i := range 2 {
		if m := maxOn(i); m != 2 {
			t.Fatalf("replica %d: maxCount %d at the expiry, want the default 2 again", i, m)
		}
	}
	mustCode(t, create(0), quota.CodeImageQuotaExceeded)
	usage, err = op.DescribeImageQuotaUsage(ctx, &operatorapi.DescribeImageQuotaUsageRequest{MinUtilization: client.Float(1)})
	if err != nil || len(usage.DataSet) != 1 || usage.DataSet[0].MaxCount != 2 || usage.DataSet[0].Count != 4 || usage.DataSet[0].ExpiresAt != nil {
		t.Fatalf("DescribeImageQuotaUsage at the expiry = %+v, %v", usage, err)
	}
	ovs, err = op.DescribeImageQuotaOverrides(ctx, &operatorapi.DescribeImageQuotaOverridesRequest{AccountID: &tenant.ID})
	if err != nil || ovs.TotalCount != 0 {
		t.Fatalf("DescribeImageQuotaOverrides after the expiry = %+v, %v", ovs, err)
	}
	ended, err := op.DescribeAuditEvents(ctx, &operatorapi.DescribeAuditEventsRequest{Action: client.String("OverrideExpired")})
	if err != nil || ended.TotalCount != 1 || ended.DataSet[0].Actor != "system" || ended.DataSet[0].AccountID != tenant.ID ||
		!strings.Contains(string(ended.DataSet[0].Before), `"reason":"migration week"`) {
		t.Fatalf("OverrideExpired events = %+v, %v", ended, err)
	}

	// Lowering a limit below the count is allowed, and reported.
	low, err := op.SetImageQuota(ctx, &operatorapi.SetImageQuotaRequest{ZoneID: client.String("jp-tokyo-1a"), MaxCount: client.Int(1)})
	if err != nil || len(low.Warnings) != 1 || low.Warnings[0].AccountID != tenant.ID || low.Warnings[0].Count != 4 || low.Warnings[0].Excess != 3 ||
		!strings.Contains(low.Warnings[0].Message, "refused until 4 are deleted") {
		t.Fatalf("SetImageQuota below the count = %+v, %v", low, err)
	}
}

// TestOperatorRefusals: where each kind of credential works, what a
// readonly operator may do, and answers to bad requests.
func TestOperatorRefusals(t *testing.T) {
	parallel(t)
	ctx := t.Context()
	srv := testkit.Start(t, testkit.Options{})
	admin := srv.NewOperator(t, quota.RoleAdmin)
	ro := srv.NewOperator(t, quota.RoleReadonly)
	tenant := srv.NewAccount(t)
	tok, _, err := srv.DB.CreateToken(ctx, tenant.ID, time.Hour)
	if err != nil {
		t.Fatal(err)
	}

	// A tenant's key or token on the operator API.
	asTenant := client.NewOperator(srv.URL, tenant.Key.ID, tenant.Key.Secret)
	_, err = asTenant.DescribeAccounts(ctx, nil)
	wantAPICode(t, "tenant key on the operator API", err, http.StatusUnauthorized, quota.CodeUnauthorizedOperation)
	asToken := client.NewOperator(srv.URL, "", "")
	asToken.Token = tok
	_, err = asToken.DescribeAccounts(ctx, nil)
	wantAPICode(t, "bearer token on the operator API", err, http.StatusUnauthorized, quota.CodeUnauthorizedOperation)
	// An operator's key on the vm API, at either of its paths.
	for _, path := range []string{vmapi.Path, "/"} {
		c := client.New(srv.URL+path, admin.AccessKeyID, admin.AccessKeySecret)
		_, err = c.DescribeImageQuota(ctx, nil)
		wantAPICode(t, "operator key on POST "+path, err, http.StatusUnauthorized, quota.CodeUnauthorizedOperation)
	}
	// A key of the right kind that does not exist is refused as any unknown key.
	ghost := client.NewOperator(srv.URL, quota.OperatorKeyPrefix+"0000000000000000000000", "x")
	_, err = ghost.DescribeAccounts(ctx, nil)
	wantAPICode(t, "unknown operator key", err, http.StatusUnauthorized, quota.CodeSignatureFailure)
	bad := client.NewOperator(srv.URL, admin.AccessKeyID, "wrong")
	_, err = bad.DescribeAccounts(ctx, nil)
	wantAPICode(t, "operator key with a wrong password", err, http.StatusUnauthorized, quota.CodeSignatureFailure)

	// readonly: reads only.
	if _, err := ro.DescribeAccounts(ctx, nil); err != nil {
		t.Fatalf("readonly DescribeAccounts: %v", err)
	}
	if _, err := ro.DescribeImageQuotaUsage(ctx, nil); err != nil {
		t.Fatalf("readonly DescribeImageQuotaUsage: %v", err)
	}
	_, err = ro.CreateAccount(ctx, &operatorapi.CreateAccountRequest{Name: client.String("nope")})
	wantAPICode(t, "readonly CreateAccount", err, http.StatusUnauthorized, quota.CodeUnauthorizedOperation)
	_, err = ro.SetImageQuota(ctx, &operatorapi.SetImageQuotaRequest{MaxCount: client.Int(9)})
	wantAPICode(t, "readonly SetImageQuota", err, http.StatusUnauthorized, quota.CodeUnauthorizedOperation)
	if accts, _ := admin.DescribeAccounts(ctx, &operatorapi.DescribeAccountsRequest{Name: client.String("nope")}); accts.TotalCount != 0 {
		t.Fatalf("a refused readonly write created an account")
	}
	r, err := admin.Do(ctx, "NoSuchAction", []byte(`{}`))
	if err != nil || r.HTTPStatus != http.StatusUnauthorized || !strings.Contains(string(r.Body), quota.CodeUnauthorizedOperation) {
		t.Fatalf("unknown action: %v %d %s", err, r.HTTPStatus, r.Body)
	}
	// The vm actions are not operator actions.
	r, err = admin.Do(ctx, "DescribeImageQuota", []byte(`{}`))
	if err != nil || r.HTTPStatus != http.StatusUnauthorized {
		t.Fatalf("DescribeImageQuota on the operator API: %v %d %s", err, r.HTTPStatus, r.Body)
	}

	// A disabled operator, or operator key, is refused like a disabled tenant key.
	ops, err := srv.DB.ListOperators(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for _, o := range ops {
		if o.Role == quota.RoleReadonly {
			if err := srv.DB.SetOperatorDisabled(ctx, o.ID, true, quota.AdminActor); err != nil {
				t.Fatal(err)
			}
		}
	}
	_, err = ro.DescribeAccounts(ctx, nil)
	wantAPICode(t, "disabled operator", err, http.StatusUnauthorized, quota.CodeSignatureFailure)

	// Bad values get the documented codes.
	past := "2000-01-01T00:00:00Z"
	for _, tc := range []struct {
		what   string
		action string
		body   string
		status int
		code   string
	}{
		{"expiry in the past", "SetImageQuota", `{"maxCount":3,"expiresAt":"` + past + `"}`, 400, quota.CodeInvalidParameterValue},
		{"expiry not a time", "SetImageQuota", `{"maxCount":3,"expiresAt":"tomorrow"}`, 400, quota.CodeInvalidParameterValue},
		{"no maxCount", "SetImageQuota", `{}`, 400, quota.CodeMissingParameter},
		{"maxCount negative", "SetImageQuota", `{"maxCount":-1}`, 400, quota.CodeLessMinimum},
		{"maxCount a string", "SetImageQuota", `{"maxCount":"3"}`, 400, quota.CodeInvalidParameterType},
		{"unknown zone", "SetImageQuota", `{"zoneId":"xx-nowhere-1a","maxCount":3}`, 404, quota.CodeZoneNotFound},
		{"unknown account", "SetImageQuota", `{"accountId":"acc-nobody","maxCount":3}`, 404, quota.CodeAccountNotFound},
		{"reason too long", "SetImageQuota", `{"maxCount":3,"reason":"` + strings.Repeat("x", 256) + `"}`, 400, quota.CodeExceedLength},
		{"no name", "CreateAccount", `{}`, 400, quota.CodeMissingParameter},
		{"empty name", "CreateAccount", `{"name":" "}`, 400, quota.CodeLessLength},
		{"instance of nobody", "CreateInstance", `{"accountId":"acc-nobody","zoneId":"jp-tokyo-1a"}`, 404, quota.CodeAccountNotFound},
		{"instance in no zone", "CreateInstance", `{"accountId":"` + tenant.ID + `","zoneId":"xx-nowhere-1a"}`, 404, quota.CodeZoneNotFound},
		{"bad os type", "CreateInstance", `{"accountId":"` + tenant.ID + `","zoneId":"jp-tokyo-1a","osType":"plan9"}`, 400, quota.CodeInvalidParameterValue},
		{"token ttl 0", "CreateToken", `{"accountId":"` + tenant.ID + `","ttlSeconds":0}`, 400, quota.CodeLessMinimum},
		{"unknown key", "DisableAccessKey", `{"accessKeyId":"AKNOPE"}`, 404, quota.CodeAccessKeyNotFound},
		{"unknown instance", "DeleteInstance", `{"instanceId":"ins-nope"}`, 404, quota.CodeInstanceNotFound},
		{"page 0", "DescribeAccounts", `{"pageNum":0}`, 400, quota.CodeLessMinimum},
		{"page too big", "DescribeAuditEvents", `{"pageSize":1001}`, 400, quota.CodeExceedMaximum},
		{"bad order", "DescribeImageQuotaUsage", `{"orderBy":"count"}`, 400, quota.CodeInvalidParameterValue},
		{"negative utilization", "DescribeImageQuotaUsage", `{"minUtilization":-1}`, 400, quota.CodeLessMinimum},
		{"bad since", "DescribeAuditEvents", `{"since":"yesterday"}`, 400, quota.CodeInvalidParameterValue},
	} {
		r, err := admin.Do(ctx, tc.action, []byte(tc.body))
		if err != nil {
			t.Fatal(err)
		}
		var body struct{ RequestID, Code, Message string }
		if err := json.Unmarshal(r.Body, &body); err != nil || r.HTTPStatus != tc.status || body.Code != tc.code || body.Message == "" || body.RequestID != r.RequestID {
			t.Errorf("%s: HTTP %d %s; want %d %s", tc.what, r.HTTPStatus, r.Body, tc.status, tc.code)
		}
	}
}

// TestOperatorWriteReplayed: an operator's write sent twice with one
// signature (an SDK's retry) is done once and answered alike.
func TestOperatorWriteReplayed(t *testing.T) {
	parallel(t)
	ctx := t.Context()
	srv := testkit.Start(t, testkit.Options{})
	op := srv.NewOperator(t, quota.RoleAdmin)
	now := time.Now()
	op.Now = func() time.Time { return now } // the same timestamp, so the same signature
	// A body valid for CreateAccount and for CreateAccessKey (unknown fields are ignored).
	other := srv.NewAccount(t)
	body := []byte(`{"name":"once","accountId":"` + other.ID + `"}`)
	var ids []string
	for range 2 {
		r, err := op.Do(ctx, "CreateAccount", body)
		if err != nil {
			t.Fatal(err)
		}
		var out operatorapi.CreateAccountResponse
		if err := r.Decode(&out); err != nil {
			t.Fatal(err)
		}
		ids = append(ids, out.AccountID)
	}
	if ids[0] != ids[1] {
		t.Fatalf("one request sent twice created %v", ids)
	}
	accts, err := op.DescribeAccounts(ctx, &operatorapi.DescribeAccountsRequest{Name: client.String("once")})
	if err != nil || accts.TotalCount != 1 {
		t.Fatalf("accounts named once = %+v, %v", accts, err)
	}
	// The same signature under another action is refused.
	r, err := op.Do(ctx, "CreateAccessKey", body)
	if err != nil || r.HTTPStatus != http.StatusUnauthorized || !strings.Contains(string(r.Body), quota.CodeSignatureReused) {
		t.Fatalf("signature reused under another action: %v %d %s", err, r.HTTPStatus, r.Body)
	}
}

// TestOperatorUsagePaging: DescribeImageQuotaUsage pages and orders.
func TestOperatorUsagePaging(t *testing.T) {
	parallel(t)
	ctx := t.Context()
	srv := testkit.Start(t, testkit.Options{DefaultMax: 10})
	op := srv.NewOperator(t, quota.RoleReadonly)
	for i := range 5 {
		a := srv.NewAccount(t)
		in := srv.NewInstance(t, a.ID, "jp-tokyo-1a")
		for j := range i + 1 {
			if _, err := a.Client.CreateImage(ctx, &vmapi.CreateImageRequest{InstanceID: &in.ID, ImageName: client.String("i" + string(rune('a'+j)))}); err != nil {
				t.Fatal(err)
			}
		}
	}
	var counts []int
	for page := 1; page <= 3; page++ {
		u, err := op.DescribeImageQuotaUsage(ctx, &operatorapi.DescribeImageQuotaUsageRequest{Page: operatorapi.Page{PageNum: client.Int(page), PageSize: client.Int(2)}})
		if err != nil || u.TotalCount != 5 {
			t.Fatalf("page %d = %+v, %v", page, u, err)
		}
		for _, r := range u.DataSet {
			counts = append(counts, r.Count)
		}
	}
	if !slices.Equal(counts, []int{5, 4, 3, 2, 1}) {
		t.Fatalf("counts by utilization over three pages = %v", counts)
	}
	u, err := op.DescribeImageQuotaUsage(ctx, &operatorapi.DescribeImageQuotaUsageRequest{Page: operatorapi.Page{PageNum: client.Int(9)}})
	if err != nil || u.TotalCount != 5 || len(u.DataSet) != 0 {
		t.Fatalf("a page past the end = %+v, %v", u, err)
	}
	u, err = op.DescribeImageQuotaUsage(ctx, &operatorapi.DescribeImageQuotaUsageRequest{MinUtilization: client.Float(0.3), OrderBy: client.String("accountId")})
	if err != nil || u.TotalCount != 3 || !slices.IsSortedFunc(u.DataSet, func(a, b operatorapi.UsageInfo) int { return strings.Compare(a.AccountID, b.AccountID) }) {
		t.Fatalf("at least 30%% by account = %+v, %v", u, err)
	}
}
