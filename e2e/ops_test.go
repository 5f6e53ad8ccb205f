package e2e

import (
	"context"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/imagequota/imagequota/client"
	"github.com/imagequota/imagequota/internal/quota"
	"github.com/imagequota/imagequota/internal/store"
	"github.com/imagequota/imagequota/internal/testkit"
)

// get fetches path from the server and returns the status and body.
func (e *env) get(t *testing.T, path string) (int, string) {
	t.Helper()
	resp, err := http.Get(e.srv.URL + path)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, string(body)
}

func TestHealth(t *testing.T) {
	parallel(t)
	e := setup(t, testkit.Options{})
	for _, path := range []string{"/healthz", "/readyz"} {
		if status, body := e.get(t, path); status != http.StatusOK {
			t.Errorf("GET %s: HTTP %d %s; want 200", path, status, body)
		}
	}
}

// TestReadyzFollowsTheStore closes the store under a running server.
func TestReadyzFollowsTheStore(t *testing.T) {
	parallel(t)
	db := testkit.OpenStore(t, testkit.SQLiteURL(t), store.Options{})
	e := setup(t, testkit.Options{DB: db})
	if status, body := e.get(t, "/readyz"); status != http.StatusOK {
		t.Fatalf("GET /readyz: HTTP %d %s; want 200", status, body)
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	if status, body := e.get(t, "/readyz"); status != http.StatusServiceUnavailable {
		t.Errorf("GET /readyz with the store closed: HTTP %d %s; want 503", status, body)
	}
	if status, body := e.get(t, "/healthz"); status != http.StatusOK {
		t.Errorf("GET /healthz with the store closed: HTTP %d %s; want 200 (the process lives)", status, body)
	}
}

func TestMetrics(t *testing.T) {
	parallel(t)
	e := setup(t, testkit.Options{})
	for _, r := range []request{
		e.call("DescribeImageQuota", `{}`),
		e.call("DescribeImageQuota", `{"zoneIds":["jp-tokyo-1a"]}`),
		e.call("DescribeRegions", `{"regionIds":["xx-nowhere-1a"]}`),
		e.call("DescribeInstances", `{}`),
		e.call("DescribeRegions", `{}`).set("Authorization", ""),
	} {
		e.send(t, r)
	}
	status, body := e.get(t, "/metrics")
	if status != http.StatusOK {
		t.Fatalf("GET /metrics: HTTP %d", status)
	}
	for _, want := range []string{
		`imagequota_requests_total{action="DescribeImageQuota",code="OK"} 2`,
		`imagequota_requests_total{action="DescribeRegions",code="INVALID_REGION_NOT_FOUND"} 1`,
		`imagequota_requests_total{action="DescribeRegions",code="AUTHFAILURE_INVALID_AUTHORIZATION"} 1`,
		`imagequota_requests_total{action="unknown",code="AUTHFAILURE_UNAUTHORIZED_OPERATION"} 1`,
		`imagequota_request_duration_seconds_bucket{action="DescribeImageQuota",le="+Inf"} 2`,
		`imagequota_request_duration_seconds_count{action="DescribeRegions"} 2`,
		`imagequota_request_duration_seconds_sum{action="DescribeImageQuota"}`,
	} {
		if !strings.Contains(body, want) {
			t.Errorf("/metrics lacks %s", want)
		}
	}
	// DescribeInstances is an operator action (counted under
	// imagequota_operator_*), not a vm one.
	for _, line := range strings.Split(body, "\n") {
		if strings.HasPrefix(line, "imagequota_request") && strings.Contains(line, `action="DescribeInstances"`) {
			t.Errorf("/metrics has a label of the vm API for an action it does not have: %s", line)
		}
	}
}

// TestRequestLog checks the log line of calls made with the signing client and
// with a bearer token, and that neither credential is logged.
func TestRequestLog(t *testing.T) {
	parallel(t)
	e := setup(t, testkit.Options{})
	ctx := context.Background()
	token, _, err := e.srv.DB.CreateToken(ctx, e.acct.ID, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	byToken := client.NewWithToken(e.srv.URL, token)

	tests := []struct {
		name    string
		c       *client.Client
		action  string
		body    string
		code    string
		account string
	}{
		{"signed", e.acct.Client, "DescribeImageQuota", `{}`, "OK", e.acct.ID},
		{"signed failure", e.acct.Client, "DescribeZones", `{"zoneIds":["xx-nowhere-1a"]}`, quota.CodeZoneNotFound, e.acct.ID},
		{"bearer", byToken, "DescribeRegions", `{}`, "OK", e.acct.ID},
		// A body over the limit is refused before authentication: no account.
		{"bearer, too large", byToken, "DescribeRegions", `{"x":"` + strings.Repeat("x", 1<<20) + `"}`, quota.CodeExceedLength, ""},
	}
	for _, tt := range tests {
		r, err := tt.c.Do(ctx, tt.action, []byte(tt.body))
		if err != nil {
			t.Fatalf("%s: %v", tt.name, err)
		}
		checkEnvelope(t, r.HTTPStatus, r.RequestID, r.Body)
		var line map[string]any
		for _, l := range logLines(t, e.srv.Logs()) {
			if l["request_id"] == r.RequestID {
				line = l
			}
		}
		if line == nil {
			t.Fatalf("%s: no log line for request %s", tt.name, r.RequestID)
		}
		if line["action"] != tt.action || line["account"] != tt.account || line["code"] != tt.code || line["client"] != "imagequota-client" {
			t.Errorf("%s: log line %v; want action %s, account %q, code %s, client imagequota-client", tt.name, line, tt.action, tt.account, tt.code)
		}
		if _, ok := line["latency_ms"].(float64); !ok {
			t.Errorf("%s: latency_ms %v is not a number", tt.name, line["latency_ms"])
		}
	}
	logs := e.srv.Logs()
	if strings.Contains(logs, e.acct.Key.Secret) || strings.Contains(logs, token) {
		t.Errorf("the log holds an access key secret or a bearer token")
	}
}
