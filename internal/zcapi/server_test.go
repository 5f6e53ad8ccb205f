package zcapi_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/imagequota/imagequota/client"
	"github.com/imagequota/imagequota/internal/quota"
	"github.com/imagequota/imagequota/internal/signing"
	"github.com/imagequota/imagequota/internal/store"
	"github.com/imagequota/imagequota/internal/testkit"
	"github.com/imagequota/imagequota/internal/zcapi"
)

var requestIDPattern = regexp.MustCompile(`^T[0-9A-F]{8}-[0-9A-F]{4}-4[0-9A-F]{3}-[89AB][0-9A-F]{3}-[0-9A-F]{12}$`)

func TestStatusTable(t *testing.T) {
	t.Parallel()
	tests := []struct {
		code   string
		status int
		wire   string
	}{
		{quota.CodeMissingParameter, 400, ""},
		{quota.CodeInvalidParameterType, 400, ""},
		{quota.CodeInvalidParameterValue, 400, ""},
		{quota.CodeExceedLength, 400, ""},
		{quota.CodeLessLength, 400, ""},
		{quota.CodeExceedMaximum, 400, ""},
		{quota.CodeLessMinimum, 400, ""},
		{quota.CodePatternError, 400, ""},
		{quota.CodeImageQuotaExceeded, 400, ""},
		{quota.CodeImageStatus, 400, ""},
		{quota.CodeQuotaRequestDesiredCount, 400, ""},
		{quota.CodeBodyTooLarge, 413, quota.CodeExceedLength},
		{quota.CodeInvalidAuthorization, 401, ""},
		{quota.CodeSignatureFailure, 401, ""},
		{quota.CodeSignatureExpired, 401, ""},
		{quota.CodeUnauthorizedOperation, 401, ""},
		{quota.CodeSignatureReused, 401, ""},
		{quota.CodeResourceNotFound, 404, ""},
		{quota.CodeRegionNotFound, 404, ""},
		{quota.CodeZoneNotFound, 404, ""},
		{quota.CodeInstanceNotFound, 404, ""},
		{quota.CodeImageNotFound, 404, ""},
		{quota.CodeAccountNotFound, 404, ""},
		{quota.CodeAccessKeyNotFound, 404, ""},
		{quota.CodeOperatorNotFound, 404, ""},
		{quota.CodeQuotaRequestNotFound, 404, ""},
		{quota.CodeMethodNotAllowed, 405, ""},
		{quota.CodeConflict, 409, ""},
		{quota.CodeQuotaRequestOpen, 409, ""},
		{quota.CodeQuotaRequestState, 409, ""},
		{quota.CodeRequestLimitExceeded, 429, ""},
		{quota.CodeInternal, 500, ""},
		{quota.CodeUnavailable, 503, ""},
		{"NOT_A_CODE", 500, quota.CodeInternal},
	}
	for _, tt := range tests {
		wantWire := tt.wire
		if wantWire == "" {
			wantWire = tt.code
		}
		status, wire := zcapi.Status(tt.code)
		if status != tt.status || wire != wantWire {
			t.Errorf("Status(%s) = %d, %s; want %d, %s", tt.code, status, wire, tt.status, wantWire)
		}
	}
	codes := zcapi.Codes()
	if len(codes) != len(tests)-1 {
		t.Errorf("Codes() has %d codes; the table above lists %d", len(codes), len(tests)-1)
	}
	upperSnake := regexp.MustCompile(`^[A-Z][A-Z0-9]*(_[A-Z0-9]+)*$`)
	for _, c := range codes {
		status, wire := zcapi.Status(c)
		if !upperSnake.MatchString(wire) {
			t.Errorf("wire code %q is not UPPER_SNAKE", wire)
		}
		if status == http.StatusOK || status < 400 {
			t.Errorf("code %s maps to HTTP %d; errors are 4xx/5xx only", c, status)
		}
	}
}

func TestNewRequestID(t *testing.T) {
	t.Parallel()
	seen := map[string]bool{}
	for range 1000 {
		id := zcapi.NewRequestID()
		if !requestIDPattern.MatchString(id) {
			t.Fatalf("NewRequestID() = %q; want T + upper-case UUID v4", id)
		}
		if seen[id] {
			t.Fatalf("NewRequestID() repeated %q", id)
		}
		seen[id] = true
	}
}

// echoIn and echoOut are the wire types of the test action Echo.
type echoIn struct {
	Name *string `json:"name"`
}

type echoOut struct {
	Name    string   `json:"name"`
	Account string   `json:"account"`
	Version string   `json:"version"`
	List    []string `json:"list"`
}

// faultyAuth wraps a real store and fails on demand.
type faultyAuth struct {
	zcapi.Authenticator
	err error
}

func (f faultyAuth) AccessKeyCredential(ctx context.Context, keyID string) (quota.Credential, error) {
	if f.err != nil {
		return quota.Credential{}, f.err
	}
	return f.Authenticator.AccessKeyCredential(ctx, keyID)
}

type apiEnv struct {
	url  string
	db   *store.DB
	acct testkit.Account
	reg  *prometheus.Registry
	logs *lockedBuffer
}

type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// The test service's path and versions, which are not the vm service's: what
// zcapi serves comes from its table.
const (
	testPath    = "/api/v9/test"
	testOld     = "2001-01-01"
	testCurrent = "2002-02-02"
)

// testTable is a service whose actions produce each kind of outcome the
// generic handler must turn into an envelope.
func testTable() zcapi.ActionTable {
	return zcapi.ActionTable{Path: testPath, Versions: []string{testOld, testCurrent}, DefaultVersion: testCurrent, Actions: testActions()}
}

func testActions() []zcapi.Action {
	type none = struct{}
	return []zcapi.Action{
		{Name: "Echo", Handler: zcapi.Handle(func(ctx context.Context, c *zcapi.Call, in *echoIn) (*echoOut, error) {
			out := &echoOut{Account: c.AccountID, Version: c.Version, List: []string{}}
			if in.Name != nil {
				out.Name = *in.Name
			}
			return out, nil
		})},
		{Name: "Legacy", Versions: []string{testOld}, Handler: zcapi.Handle(func(ctx context.Context, c *zcapi.Call, in *none) (*none, error) {
			return &none{}, nil
		})},
		{Name: "Nothing", Handler: zcapi.Handle(func(ctx context.Context, c *zcapi.Call, in *none) (*echoOut, error) {
			return nil, nil
		})},
		{Name: "Fail", Handler: zcapi.Handle(func(ctx context.Context, c *zcapi.Call, in *none) (*none, error) {
			return nil, errors.New("disk on fire at /var/lib/secret-path")
		})},
		{Name: "Panic", Handler: zcapi.Handle(func(ctx context.Context, c *zcapi.Call, in *none) (*none, error) {
			panic("handler bug")
		})},
		{Name: "Deadline", Handler: zcapi.Handle(func(ctx context.Context, c *zcapi.Call, in *none) (*none, error) {
			return nil, fmt.Errorf("store: %w", context.DeadlineExceeded) // as a store call that ran out of time
		})},
		{Name: "Canceled", Handler: zcapi.Handle(func(ctx context.Context, c *zcapi.Call, in *none) (*none, error) {
			return nil, fmt.Errorf("store: %w", context.Canceled)
		})},
		{Name: "Throttle", Handler: zcapi.Handle(func(ctx context.Context, c *zcapi.Call, in *none) (*none, error) {
			return nil, quota.Errorf(quota.CodeRequestLimitExceeded, "Too many requests for account %s.", c.AccountID)
		})},
		{Name: "Conflict", Handler: zcapi.Handle(func(ctx context.Context, c *zcapi.Call, in *none) (*none, error) {
			return nil, quota.Errorf(quota.CodeConflict, "The resource already exists.")
		})},
		{Name: "Unmapped", Handler: zcapi.Handle(func(ctx context.Context, c *zcapi.Call, in *none) (*none, error) {
			return nil, quota.Errorf("SOMETHING_UNMAPPED", "unmapped detail at /var/lib/secret-path")
		})},
		{Name: "Internal", Handler: zcapi.Handle(func(ctx context.Context, c *zcapi.Call, in *none) (*none, error) {
			return nil, quota.Errorf(quota.CodeInternal, "internal detail at /var/lib/secret-path")
		})},
		{Name: "NotObject", Handler: zcapi.Handle(func(ctx context.Context, c *zcapi.Call, in *none) ([]string, error) {
			return []string{"a"}, nil
		})},
	}
}

// setupAPI serves table with a test account. No request runs into the
// request timeout: an outcome never depends on how busy the machine is.
func setupAPI(t *testing.T, authErr error, table zcapi.ActionTable) *apiEnv {
	t.Helper()
	db := testkit.OpenStore(t, testkit.SQLiteURL(t), store.Options{})
	e := &apiEnv{db: db, reg: prometheus.NewRegistry(), logs: &lockedBuffer{}}
	srv := zcapi.NewServer(zcapi.Config{
		Auth:           faultyAuth{Authenticator: db, err: authErr},
		Actions:        table,
		Logger:         slog.New(slog.NewJSONHandler(e.logs, nil)),
		Registry:       e.reg,
		Ready:          db.Ping,
		RequestTimeout: time.Hour,
	})
	hs := httptest.NewServer(srv.Handler())
	t.Cleanup(hs.Close)
	e.url = hs.URL
	e.acct = testkit.NewAccount(t, db, hs.URL+table.Path)
	return e
}

// envelope checks the envelope of an answer and returns its decoded body.
func envelope(t *testing.T, r *client.Response) map[string]json.RawMessage {
	t.Helper()
	if r.HTTPStatus == http.StatusInternalServerError && r.RequestID == "" {
		t.Fatalf("HTTP 500 without a request id")
	}
	if !requestIDPattern.MatchString(r.RequestID) {
		t.Fatalf("X-ZC-Request-Id %q is not T + upper-case UUID v4", r.RequestID)
	}
	var body map[string]json.RawMessage
	if err := json.Unmarshal(r.Body, &body); err != nil {
		t.Fatalf("body %q is not a JSON object: %v", r.Body, err)
	}
	var id string
	if err := json.Unmarshal(body["requestId"], &id); err != nil || id != r.RequestID {
		t.Fatalf("requestId %s differs from the header %q", body["requestId"], r.RequestID)
	}
	keys := make([]string, 0, len(body))
	for k := range body {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	if r.HTTPStatus == http.StatusOK {
		if !slices.Equal(keys, []string{"requestId", "response"}) {
			t.Fatalf("success body has keys %v; want requestId, response", keys)
		}
		return body
	}
	if !slices.Equal(keys, []string{"code", "message", "requestId"}) {
		t.Fatalf("error body has keys %v; want exactly code, message, requestId", keys)
	}
	for _, k := range keys {
		var s string
		if err := json.Unmarshal(body[k], &s); err != nil || s == "" {
			t.Fatalf("error field %s = %s; want a non-empty string", k, body[k])
		}
	}
	return body
}

func TestServeOutcomes(t *testing.T) {
	t.Parallel()
	e := setupAPI(t, nil, testTable())
	const secretDetail = "/var/lib/secret-path"
	tests := []struct {
		action  string
		version string
		body    string
		status  int
		code    string
		msg     []string // substrings of the message
		notMsg  []string // what the message must not reveal
		resp    string   // the exact "response" of a success, requestId removed
	}{
		{action: "Echo", body: `{"name":"x"}`, status: 200, resp: `{"name":"x","account":"` + e.acct.ID + `","version":"` + testCurrent + `","list":[]}`},
		{action: "Echo", version: testOld, body: `{}`, status: 200, resp: `{"name":"","account":"` + e.acct.ID + `","version":"` + testOld + `","list":[]}`},
		{action: "Echo", version: "2023-03-13", status: 400, code: quota.CodeInvalidParameterValue, msg: []string{"X-ZC-Version", "2023-03-13", testOld + " or " + testCurrent}},
		{action: "Echo", body: `{"name":7}`, status: 400, code: quota.CodeInvalidParameterType, msg: []string{"name"}},
		{action: "Legacy", version: testOld, status: 200, resp: `{}`},
		{action: "Legacy", version: testCurrent, status: 401, code: quota.CodeUnauthorizedOperation, msg: []string{"Legacy", testCurrent}},
		{action: "Legacy", status: 401, code: quota.CodeUnauthorizedOperation, msg: []string{"Legacy"}},
		{action: "Nothing", status: 200, resp: `null`},
		{action: "Fail", status: 500, code: quota.CodeInternal, msg: []string{"internal error", "request id"}, notMsg: []string{secretDetail, "disk"}},
		{action: "Panic", status: 500, code: quota.CodeInternal, msg: []string{"internal error"}, notMsg: []string{"handler bug"}},
		{action: "NotObject", status: 500, code: quota.CodeInternal, msg: []string{"internal error"}},
		{action: "Unmapped", status: 500, code: quota.CodeInternal, msg: []string{"internal error"}, notMsg: []string{secretDetail}},
		{action: "Internal", status: 500, code: quota.CodeInternal, msg: []string{"internal error"}, notMsg: []string{secretDetail}},
		{action: "Deadline", status: 503, code: quota.CodeUnavailable, msg: []string{"retry"}},
		{action: "Canceled", status: 503, code: quota.CodeUnavailable, msg: []string{"retry"}},
		{action: "Throttle", status: 429, code: quota.CodeRequestLimitExceeded, msg: []string{e.acct.ID}},
		{action: "Conflict", status: 409, code: quota.CodeConflict, msg: []string{"exists"}},
		{action: "NoSuchAction", status: 401, code: quota.CodeUnauthorizedOperation, msg: []string{"NoSuchAction"}},
	}
	for _, tt := range tests {
		t.Run(tt.action+"/"+tt.version, func(t *testing.T) {
			t.Parallel()
			c := *e.acct.Client
			c.Version = tt.version
			r, err := c.Do(context.Background(), tt.action, []byte(tt.body))
			if err != nil {
				t.Fatal(err)
			}
			body := envelope(t, r)
			if r.HTTPStatus != tt.status {
				t.Fatalf("HTTP %d (%s); want %d", r.HTTPStatus, r.Body, tt.status)
			}
			if tt.status == http.StatusOK {
				got := string(body["response"])
				want := tt.resp
				switch tt.resp {
				case "null":
				case "{}":
					want = `{"requestId":"` + r.RequestID + `"}`
				default:
					want = `{"requestId":"` + r.RequestID + `",` + strings.TrimPrefix(tt.resp, "{")
				}
				if got != want {
					t.Fatalf("response = %s; want %s", got, want)
				}
				return
			}
			var code, msg string
			_ = json.Unmarshal(body["code"], &code)
			_ = json.Unmarshal(body["message"], &msg)
			if code != tt.code {
				t.Fatalf("code %s (%s); want %s", code, msg, tt.code)
			}
			for _, m := range tt.msg {
				if !strings.Contains(msg, m) {
					t.Errorf("message %q does not mention %q", msg, m)
				}
			}
			for _, m := range tt.notMsg {
				if strings.Contains(msg, m) {
					t.Errorf("message %q reveals %q", msg, m)
				}
			}
			if tt.status == http.StatusInternalServerError && !strings.Contains(msg, r.RequestID) {
				t.Errorf("internal error message %q does not quote the request id %s", msg, r.RequestID)
			}
		})
	}
	t.Run("internal details are logged with the request id", func(t *testing.T) {
		t.Parallel()
		r, err := e.acct.Client.Do(context.Background(), "Fail", nil)
		if err != nil {
			t.Fatal(err)
		}
		line := logLine(t, e.logs.String(), r.RequestID)
		if line["code"] != quota.CodeInternal || !strings.Contains(line["error"].(string), secretDetail) {
			t.Errorf("log line %v lacks code %s and the error detail", line, quota.CodeInternal)
		}
	})
}

// logLine returns the request log line of request id.
func logLine(t *testing.T, logs, id string) map[string]any {
	t.Helper()
	for _, l := range strings.Split(logs, "\n") {
		if !strings.Contains(l, id) {
			continue
		}
		var m map[string]any
		if err := json.Unmarshal([]byte(l), &m); err != nil {
			t.Fatalf("log line %q is not JSON: %v", l, err)
		}
		if m["request_id"] == id {
			return m
		}
	}
	t.Fatalf("no log line for request %s in:\n%s", id, logs)
	return nil
}

func TestServeAuthenticatorFailure(t *testing.T) {
	t.Parallel()
	e := setupAPI(t, errors.New("connection refused to db.internal:5432"), testTable())
	r, err := e.acct.Client.Do(context.Background(), "Echo", []byte(`{}`))
	if err != nil {
		t.Fatal(err)
	}
	body := envelope(t, r)
	if r.HTTPStatus != http.StatusInternalServerError || strings.Contains(string(body["message"]), "db.internal") {
		t.Fatalf("HTTP %d %s; want 500 with a generic message", r.HTTPStatus, r.Body)
	}
	if line := logLine(t, e.logs.String(), r.RequestID); !strings.Contains(line["error"].(string), "db.internal") {
		t.Errorf("log line %v lacks the cause", line)
	}
}

func TestServeMetrics(t *testing.T) {
	t.Parallel()
	e := setupAPI(t, nil, testTable())
	ctx := context.Background()
	for _, a := range []string{"Echo", "Echo", "Fail", "NoSuchAction"} {
		if _, err := e.acct.Client.Do(ctx, a, nil); err != nil {
			t.Fatal(err)
		}
	}
	counts := map[[2]string]float64{}
	observed := map[string]uint64{}
	mfs, err := e.reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		for _, m := range mf.GetMetric() {
			labels := map[string]string{}
			for _, l := range m.GetLabel() {
				labels[l.GetName()] = l.GetValue()
			}
			switch mf.GetName() {
			case "imagequota_requests_total":
				counts[[2]string{labels["action"], labels["code"]}] = m.GetCounter().GetValue()
			case "imagequota_request_duration_seconds":
				observed[labels["action"]] = m.GetHistogram().GetSampleCount()
			}
		}
	}
	want := map[[2]string]float64{
		{"Echo", "OK"}:                               2,
		{"Fail", quota.CodeInternal}:                 1,
		{"unknown", quota.CodeUnauthorizedOperation}: 1,
	}
	for k, v := range want {
		if counts[k] != v {
			t.Errorf("imagequota_requests_total%v = %v; want %v (all: %v)", k, counts[k], v, counts)
		}
	}
	if observed["Echo"] != 2 || observed["Fail"] != 1 || observed["unknown"] != 1 {
		t.Errorf("imagequota_request_duration_seconds counts = %v; want Echo 2, Fail 1, unknown 1", observed)
	}
	if _, ok := observed["NoSuchAction"]; ok {
		t.Errorf("an unknown action got its own label: %v", observed)
	}
}

// TestServeTable checks that the paths and versions served are the table's.
func TestServeTable(t *testing.T) {
	t.Parallel()
	bare := zcapi.ActionTable{Actions: testActions()} // no path, no versions
	tests := []struct {
		name    string
		table   zcapi.ActionTable
		path    string
		version string
		status  int
		code    string
		msg     []string
		echoed  string // the version the handler saw, on success
	}{
		{name: "the table's path", table: testTable(), path: testPath, status: 200, echoed: testCurrent},
		{name: "the root", table: testTable(), path: "/", version: testOld, status: 200, echoed: testOld},
		{name: "another path", table: testTable(), path: "/api/v2/vm", status: 404, code: quota.CodeResourceNotFound, msg: []string{`"/api/v2/vm"`, "POST " + testPath}},
		{name: "a path below the table's", table: testTable(), path: testPath + "/x", status: 404, code: quota.CodeResourceNotFound, msg: []string{testPath + "/x"}},
		{name: "a version not in the table", table: testTable(), path: testPath, version: "2026-04-01", status: 400, code: quota.CodeInvalidParameterValue,
			msg: []string{"X-ZC-Version", `"2026-04-01"`, testOld + " or " + testCurrent}},
		{name: "no path serves the root", table: bare, path: "/", status: 200, echoed: ""},
		{name: "no path serves nothing else", table: bare, path: testPath, status: 404, code: quota.CodeResourceNotFound, msg: []string{"POST /."}},
		{name: "no versions accept any", table: bare, path: "/", version: "1999-12-31", status: 200, echoed: "1999-12-31"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			e := setupAPI(t, nil, tt.table)
			r := e.post(t, tt.path, tt.version, "Echo")
			envelope(t, r)
			if r.HTTPStatus != tt.status {
				t.Fatalf("HTTP %d (%s); want %d", r.HTTPStatus, r.Body, tt.status)
			}
			if tt.status == http.StatusOK {
				var out echoOut
				if err := r.Decode(&out); err != nil || out.Version != tt.echoed {
					t.Fatalf("Echo saw version %q (%v); want %q", out.Version, err, tt.echoed)
				}
				return
			}
			var ce *client.Error
			if err := r.Decode(nil); !errors.As(err, &ce) || ce.Code != tt.code {
				t.Fatalf("answer %s; want code %s", r.Body, tt.code)
			}
			for _, m := range tt.msg {
				if !strings.Contains(ce.Message, m) {
					t.Errorf("message %q does not mention %q", ce.Message, m)
				}
			}
		})
	}
}

// post sends a signed request for action to path (which the client cannot
// do for "/": it reads that as "no path given").
func (e *apiEnv) post(t *testing.T, path, version, action string) *client.Response {
	t.Helper()
	const contentType = "application/json"
	body := []byte("{}")
	req, err := http.NewRequest(http.MethodPost, e.url+path, bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	ts := strconv.FormatInt(time.Now().Unix(), 10)
	req.Header.Set("Content-Type", contentType)
	req.Header.Set("X-ZC-Action", action)
	req.Header.Set("X-ZC-Timestamp", ts)
	if version != "" {
		req.Header.Set("X-ZC-Version", version)
	}
	req.Header.Set("Authorization", signing.AuthorizationHeader(e.acct.Key.ID,
		signing.Sign(e.acct.Key.Secret, ts, contentType, req.URL.Host, body)))
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return &client.Response{HTTPStatus: resp.StatusCode, RequestID: resp.Header.Get("X-ZC-Request-Id"), Body: data}
}

// TestServeRequestTimeout checks that a handler runs under the request
// timeout and that running out of it is answered 503. The timeout is a
// second, and nothing but its expiry ends the handler: the test asserts what
// happened, not how long it took.
func TestServeRequestTimeout(t *testing.T) {
	t.Parallel()
	db := testkit.OpenStore(t, testkit.SQLiteURL(t), store.Options{})
	const timeout = time.Second
	type seen struct {
		hasDeadline bool
		left        time.Duration
		err         error
	}
	saw := make(chan seen, 2)
	type none = struct{}
	srv := zcapi.NewServer(zcapi.Config{
		Auth: db,
		Actions: zcapi.ActionTable{Path: testPath, Actions: []zcapi.Action{
			{Name: "Deadline", Handler: zcapi.Handle(func(ctx context.Context, c *zcapi.Call, in *none) (*none, error) {
				dl, ok := ctx.Deadline()
				saw <- seen{hasDeadline: ok, left: time.Until(dl)}
				return &none{}, nil
			})},
			{Name: "Wait", Handler: zcapi.Handle(func(ctx context.Context, c *zcapi.Call, in *none) (*none, error) {
				<-ctx.Done()
				saw <- seen{err: ctx.Err()}
				return nil, ctx.Err()
			})},
		}},
		Logger:         slog.New(slog.NewJSONHandler(io.Discard, nil)),
		RequestTimeout: timeout,
	})
	hs := httptest.NewServer(srv.Handler())
	t.Cleanup(hs.Close)
	acct := testkit.NewAccount(t, db, hs.URL+testPath)

	// The first request loads the credential, so that the second spends its
	// second in the handler.
	r, err := acct.Client.Do(context.Background(), "Deadline", nil)
	if err != nil {
		t.Fatal(err)
	}
	if r.HTTPStatus == http.StatusOK {
		if got := <-saw; !got.hasDeadline || got.left > timeout {
			t.Errorf("the handler's context has deadline %v, %v from now; want one at most %v away", got.hasDeadline, got.left, timeout)
		}
	} else if r.HTTPStatus != http.StatusServiceUnavailable {
		t.Fatalf("Deadline: HTTP %d (%s); want 200 (or 503 on a machine too busy for a second)", r.HTTPStatus, r.Body)
	}

	r, err = acct.Client.Do(context.Background(), "Wait", nil)
	if err != nil {
		t.Fatal(err)
	}
	body := envelope(t, r)
	var code string
	_ = json.Unmarshal(body["code"], &code)
	if r.HTTPStatus != http.StatusServiceUnavailable || code != quota.CodeUnavailable {
		t.Fatalf("Wait: HTTP %d %s; want 503 %s", r.HTTPStatus, r.Body, quota.CodeUnavailable)
	}
	select {
	case got := <-saw:
		if !errors.Is(got.err, context.DeadlineExceeded) {
			t.Errorf("the handler's context ended with %v; want %v", got.err, context.DeadlineExceeded)
		}
	default:
		// Authentication took the whole second; the answer is the same.
	}
}

// TestServeQuotesShortly checks that what a client sent is quoted in a
// message only in part, however long it is.
func TestServeQuotesShortly(t *testing.T) {
	t.Parallel()
	e := setupAPI(t, nil, testTable())
	long := strings.Repeat("é", 10_000)
	tests := []struct {
		name   string
		header string
		value  string
		code   string
	}{
		{"unknown Authorization parameter", "Authorization", signing.Algorithm + " " + long + "=1, Credential=x, SignedHeaders=content-type;host, Signature=00", quota.CodeInvalidAuthorization},
		{"version", "X-ZC-Version", long, quota.CodeInvalidParameterValue},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			req, err := http.NewRequest(http.MethodPost, e.url+testPath, strings.NewReader("{}"))
			if err != nil {
				t.Fatal(err)
			}
			req.Header.Set("Content-Type", "application/json")
			req.Header.Set("X-ZC-Action", "Echo")
			req.Header.Set("Authorization", "Bearer none")
			req.Header.Set(tt.header, tt.value)
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			var body struct{ Code, Message string }
			if err := json.NewDecoder(resp.Body).Decode(&body); err != nil {
				t.Fatal(err)
			}
			if body.Code != tt.code || !strings.Contains(body.Message, "éééé…") || len([]rune(body.Message)) > 250 {
				t.Errorf("answer %s %q; want %s quoting the value shortened", body.Code, body.Message, tt.code)
			}
		})
	}
}

// TestServeEveryPath: every path but the three probes goes to the API, which
// answers each path it does not serve with its JSON 404 (http.ServeMux would
// redirect one it cleans, with an empty body), with a request id and a log
// line.
func TestServeEveryPath(t *testing.T) {
	t.Parallel()
	e := setupAPI(t, nil, testTable())
	for _, path := range []string{
		"/api/v9/./test", "/api/v9/test/../test", "/api/v9/test/..", "//api/v9/test", "/api//v9/test", "/api/v9/test/",
		"/./", "/..", "//", "/healthz/", "/metrics/x", "/readyz/.", "/./healthz", "/%2e/", "/api/v9/test%2F",
	} {
		for _, method := range []string{http.MethodPost, http.MethodGet, http.MethodPut, http.MethodDelete, http.MethodOptions, "PATCH"} {
			t.Run(method+" "+path, func(t *testing.T) {
				t.Parallel()
				req, err := http.NewRequest(method, e.url+path, strings.NewReader("{}"))
				if err != nil {
					t.Fatal(err)
				}
				req.Header.Set("Content-Type", "application/json")
				req.Header.Set("X-ZC-Action", "Echo")
				resp, err := http.DefaultTransport.RoundTrip(req) // no redirects followed
				if err != nil {
					t.Fatal(err)
				}
				defer resp.Body.Close()
				data, err := io.ReadAll(resp.Body)
				if err != nil {
					t.Fatal(err)
				}
				r := &client.Response{HTTPStatus: resp.StatusCode, RequestID: resp.Header.Get("X-ZC-Request-Id"), Body: data}
				body := envelope(t, r)
				if resp.StatusCode != http.StatusNotFound || resp.Header.Get("Location") != "" {
					t.Fatalf("HTTP %d (Location %q) %s; want 404", resp.StatusCode, resp.Header.Get("Location"), data)
				}
				var code, msg string
				_ = json.Unmarshal(body["code"], &code)
				_ = json.Unmarshal(body["message"], &msg)
				if code != quota.CodeResourceNotFound || !strings.Contains(msg, "POST "+testPath) {
					t.Errorf("%s %q; want %s naming POST %s", code, msg, quota.CodeResourceNotFound, testPath)
				}
				if line := logLine(t, e.logs.String(), r.RequestID); line["code"] != quota.CodeResourceNotFound {
					t.Errorf("log line %v; want code %s", line, quota.CodeResourceNotFound)
				}
			})
		}
	}
	// The probes are where they were.
	for _, path := range []string{"/healthz", "/readyz", "/metrics"} {
		resp, err := http.Get(e.url + path)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK || resp.Header.Get("X-ZC-Request-Id") != "" {
			t.Errorf("GET %s: HTTP %d, request id %q; want 200 from the probe", path, resp.StatusCode, resp.Header.Get("X-ZC-Request-Id"))
		}
	}
}
