package zcapi_test

import (
	"context"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/imagequota/imagequota/client"
	"github.com/imagequota/imagequota/internal/quota"
	"github.com/imagequota/imagequota/internal/zcapi"
)

// keyAuth is an Authenticator of fixed keys and one token.
type keyAuth map[string]quota.Credential

func (k keyAuth) AccessKeyCredential(ctx context.Context, id string) (quota.Credential, error) {
	c, ok := k[id]
	if !ok {
		return c, quota.Errorf(quota.CodeSignatureFailure, "unknown")
	}
	return c, nil
}

func (k keyAuth) TokenCredential(ctx context.Context, token string) (quota.Credential, error) {
	return k.AccessKeyCredential(ctx, "token:"+token)
}

// TestMountedService: a second service on its own path of one listener,
// each accepting only its kind of credential (refused by kind with
// AUTHFAILURE_UNAUTHORIZED_OPERATION), the second authorizing each call by
// the credential's role, and both counting into one registry.
func TestMountedService(t *testing.T) {
	t.Parallel()
	auth := keyAuth{
		"AKTENANT":     {AccountID: "acc-1", Secret: "tenant-secret"},
		"OPKADMIN":     {AccountID: "opr-1", Secret: "admin-secret", Role: "admin"},
		"OPKREADER":    {AccountID: "opr-2", Secret: "reader-secret", Role: "readonly"},
		"token:tok-1":  {AccountID: "acc-1", ExpiresAt: time.Now().Add(time.Hour)},
		"OPKDISABLED0": {AccountID: "opr-3", Secret: "x", Role: "admin", Disabled: true},
	}
	type none = struct{}
	echo := func(ctx context.Context, c *zcapi.Call, in *none) (*echoOut, error) {
		return &echoOut{Account: c.AccountID, Name: c.Role, List: []string{}}, nil
	}
	reg := prometheus.NewRegistry()
	main := zcapi.NewServer(zcapi.Config{
		Auth: auth, Registry: reg, RequestTimeout: time.Hour,
		Credentials: zcapi.Credentials{RefuseKeyPrefix: "OPK", Elsewhere: "Operator keys work on /ops."},
		Actions:     zcapi.ActionTable{Path: "/api/v9/main", Actions: []zcapi.Action{{Name: "Echo", Handler: zcapi.Handle(echo)}}},
	})
	ops := zcapi.NewServer(zcapi.Config{
		Auth: auth, Registry: reg, MetricPrefix: "test_ops", RequestTimeout: time.Hour,
		Credentials: zcapi.Credentials{KeyPrefix: "OPK", NoTokens: true},
		Actions: zcapi.ActionTable{Path: "/ops", Actions: []zcapi.Action{
			{Name: "DescribeEcho", Handler: zcapi.Handle(echo)},
			{Name: "Echo", Handler: zcapi.Handle(echo)},
		}, Authorize: func(c *zcapi.Call) error {
			if c.Role == "admin" || strings.HasPrefix(c.Action, "Describe") {
				return nil
			}
			return quota.Errorf(quota.CodeUnauthorizedOperation, "not for role %s", c.Role)
		}},
	})
	main.Mount(ops)
	hs := httptest.NewServer(main.Handler())
	t.Cleanup(hs.Close)

	for _, tc := range []struct {
		what, path, key, secret, token, action string
		status                                 int
		code, body                             string
	}{
		{"tenant key on main", "/api/v9/main", "AKTENANT", "tenant-secret", "", "Echo", 200, "", `"account":"acc-1"`},
		{"token on main", "/api/v9/main", "", "", "tok-1", "Echo", 200, "", `"account":"acc-1"`},
		{"operator key on main", "/api/v9/main", "OPKADMIN", "admin-secret", "", "Echo", 401, quota.CodeUnauthorizedOperation, "Operator keys work on /ops."},
		{"admin on ops", "/ops", "OPKADMIN", "admin-secret", "", "Echo", 200, "", `"name":"admin"`},
		{"reader reads on ops", "/ops", "OPKREADER", "reader-secret", "", "DescribeEcho", 200, "", `"account":"opr-2"`},
		{"reader writes on ops", "/ops", "OPKREADER", "reader-secret", "", "Echo", 401, quota.CodeUnauthorizedOperation, "readonly"},
		{"tenant key on ops", "/ops", "AKTENANT", "tenant-secret", "", "DescribeEcho", 401, quota.CodeUnauthorizedOperation, "not accepted on POST /ops"},
		{"token on ops", "/ops", "", "", "tok-1", "DescribeEcho", 401, quota.CodeUnauthorizedOperation, "Bearer tokens"},
		{"disabled operator key", "/ops", "OPKDISABLED0", "x", "", "DescribeEcho", 401, quota.CodeSignatureFailure, ""},
		{"ops' action on main", "/api/v9/main", "AKTENANT", "tenant-secret", "", "DescribeEcho", 401, quota.CodeUnauthorizedOperation, ""},
		{"a path under ops", "/ops/x", "OPKADMIN", "admin-secret", "", "Echo", 404, quota.CodeResourceNotFound, ""},
	} {
		c := client.New(hs.URL+tc.path, tc.key, tc.secret)
		c.Token = tc.token
		r, err := c.Do(t.Context(), tc.action, []byte(`{}`))
		if err != nil {
			t.Fatal(err)
		}
		if r.HTTPStatus != tc.status || !strings.Contains(string(r.Body), tc.code) || !strings.Contains(string(r.Body), tc.body) {
			t.Errorf("%s: HTTP %d %s; want %d %s %q", tc.what, r.HTTPStatus, r.Body, tc.status, tc.code, tc.body)
		}
	}
	families, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	names := map[string]bool{}
	for _, f := range families {
		names[f.GetName()] = true
	}
	if !names["imagequota_requests_total"] || !names["test_ops_requests_total"] {
		t.Errorf("metrics %v; want both services' request counters", names)
	}
}
