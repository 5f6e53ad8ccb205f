// Package e2e holds the end-to-end tests of the wire contract
// (shared/docs/protocol.md §1–5): a real server on 127.0.0.1 with a real
// SQLite store, called through the real signing client or with raw HTTP
// requests where the test needs to send what a client would not.
package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/imagequota/imagequota/client"
	"github.com/imagequota/imagequota/internal/quota"
	"github.com/imagequota/imagequota/internal/signing"
	"github.com/imagequota/imagequota/internal/testkit"
	"github.com/imagequota/imagequota/vmapi"
)

// fixedNow is the clock of the test servers (unless a test sets its own), so
// that timestamps at the edge of the skew window are exact.
var fixedNow = time.Unix(1_750_000_000, 0).UTC()

var requestIDPattern = regexp.MustCompile(`^T[0-9A-F]{8}-[0-9A-F]{4}-4[0-9A-F]{3}-[89AB][0-9A-F]{3}-[0-9A-F]{12}$`)

// env is a running server and one account on it.
type env struct {
	t    *testing.T
	srv  *testkit.Server
	now  time.Time
	host string // host:port, as a client sends it
	acct testkit.Account

	mu      sync.Mutex
	replies []reply // every raw reply, for the log checks
}

func setup(t *testing.T, o testkit.Options) *env {
	t.Helper()
	now := fixedNow
	if o.Now == nil {
		o.Now = func() time.Time { return now }
	} else {
		now = o.Now()
	}
	srv := testkit.Start(t, o)
	u, err := url.Parse(srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	e := &env{t: t, srv: srv, now: now, host: u.Host}
	e.acct = e.newAccount()
	return e
}

// newAccount creates an account whose client signs with the server's clock.
func (e *env) newAccount() testkit.Account {
	e.t.Helper()
	a := e.srv.NewAccount(e.t)
	a.Client.Now = func() time.Time { return e.now }
	return a
}

// catalogWithClosed is the default catalogue plus one disabled location.
func catalogWithClosed(t *testing.T) *quota.Catalog {
	t.Helper()
	locs := append(quota.DefaultCatalog().All(), quota.Location{ID: "zz-closed-1a", Name: "Closed", Disabled: true})
	c, err := quota.NewCatalog(locs)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// request is a raw API request. Header keys are sent exactly as written.
type request struct {
	method string
	path   string
	host   string // the Host header; "" means the listener's address
	header http.Header
	body   []byte
}

// call is a signed POST /api/v2/vm of action with body, as the SDK sends it.
func (e *env) call(action, body string) request { return e.callAs(e.acct, action, body) }

// callAs is call signed with the key of account a.
func (e *env) callAs(a testkit.Account, action, body string) request {
	h := http.Header{}
	h.Set("Content-Type", "application/json")
	if action != "" {
		h.Set("X-ZC-Action", action)
	}
	r := request{method: http.MethodPost, path: vmapi.Path, header: h, body: []byte(body)}
	return r.signed(a.Key, e.host, e.now)
}

// signed signs r's body, Content-Type and host with key at time at.
func (r request) signed(key quota.AccessKey, host string, at time.Time) request {
	h := r.header.Clone()
	ts := strconv.FormatInt(at.Unix(), 10)
	h.Set("X-ZC-Timestamp", ts)
	h.Set("Authorization", signing.AuthorizationHeader(key.ID, signing.Sign(key.Secret, ts, h.Get("Content-Type"), host, r.body)))
	r.header = h
	return r
}

// with returns a copy of r changed by fn.
func (r request) with(fn func(r *request)) request {
	r.header = r.header.Clone()
	r.body = bytes.Clone(r.body)
	fn(&r)
	return r
}

// set returns a copy of r with header name set to value ("" deletes it).
func (r request) set(name, value string) request {
	return r.with(func(r *request) {
		if value == "" {
			r.header.Del(name)
		} else {
			r.header.Set(name, value)
		}
	})
}

// lowercase returns a copy of r whose header names are sent in lower case, as
// the Go SDK sends them.
func (r request) lowercase() request {
	h := http.Header{}
	for k, v := range r.header {
		h[strings.ToLower(k)] = v
	}
	r.header = h
	return r
}

// reply is a raw answer.
type reply struct {
	status int
	header http.Header
	body   []byte
	fields map[string]json.RawMessage
}

func (r reply) requestID() string { return r.header.Get("X-ZC-Request-Id") }

// send sends r and checks the envelope every answer must have.
func (e *env) send(t *testing.T, r request) reply {
	t.Helper()
	if r.method == "" {
		r.method = http.MethodPost
	}
	if r.path == "" {
		r.path = vmapi.Path
	}
	req, err := http.NewRequestWithContext(context.Background(), r.method, e.srv.URL+r.path, bytes.NewReader(r.body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header = r.header
	if r.host != "" {
		req.Host = r.host
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", r.method, r.path, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	rep := reply{status: resp.StatusCode, header: resp.Header, body: body}
	rep.fields = checkEnvelope(t, rep.status, rep.requestID(), body)
	e.mu.Lock()
	e.replies = append(e.replies, rep)
	e.mu.Unlock()
	return rep
}

// checkEnvelope checks what every API answer must be: never a 500, a request
// id in the header equal to the body's, {"requestId","response"} with 200 and
// exactly {"requestId","code","message"} otherwise.
func checkEnvelope(t *testing.T, status int, headerID string, body []byte) map[string]json.RawMessage {
	t.Helper()
	if status == http.StatusInternalServerError {
		t.Fatalf("HTTP 500: %s", body)
	}
	if !requestIDPattern.MatchString(headerID) {
		t.Fatalf("X-ZC-Request-Id %q is not T + an upper-case UUID v4", headerID)
	}
	var fields map[string]json.RawMessage
	if err := json.Unmarshal(body, &fields); err != nil {
		t.Fatalf("HTTP %d body %q is not a JSON object: %v", status, body, err)
	}
	var id string
	if err := json.Unmarshal(fields["requestId"], &id); err != nil || id != headerID {
		t.Fatalf("requestId %s is not the X-ZC-Request-Id header %q", fields["requestId"], headerID)
	}
	keys := make([]string, 0, len(fields))
	for k := range fields {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	if status == http.StatusOK {
		if !slices.Equal(keys, []string{"requestId", "response"}) {
			t.Fatalf("success body has keys %v; want exactly requestId and response", keys)
		}
		if string(fields["response"]) != "null" {
			var resp map[string]json.RawMessage
			if err := json.Unmarshal(fields["response"], &resp); err != nil {
				t.Fatalf("response %s is not an object: %v", fields["response"], err)
			}
			var inner string
			if err := json.Unmarshal(resp["requestId"], &inner); err != nil || inner != id {
				t.Fatalf("response.requestId %s differs from requestId %q", resp["requestId"], id)
			}
		}
		return fields
	}
	if status < 400 {
		t.Fatalf("HTTP %d: an answer is 200 or an error", status)
	}
	if !slices.Equal(keys, []string{"code", "message", "requestId"}) {
		t.Fatalf("error body has keys %v; want exactly code, message and requestId", keys)
	}
	for _, k := range []string{"code", "message"} {
		var s string
		if err := json.Unmarshal(fields[k], &s); err != nil || s == "" {
			t.Fatalf("error %s = %s; want a non-empty string", k, fields[k])
		}
	}
	return fields
}

// code and message return the fields of an error reply.
func (r reply) code() string    { return r.str("code") }
func (r reply) message() string { return r.str("message") }

func (r reply) str(k string) string {
	var s string
	_ = json.Unmarshal(r.fields[k], &s)
	return s
}

// wantError checks an error reply: status, code and what the message names.
func (r reply) wantError(t *testing.T, status int, code string, names ...string) {
	t.Helper()
	if r.status != status || r.code() != code {
		t.Fatalf("HTTP %d %s (%s); want HTTP %d %s", r.status, r.code(), r.message(), status, code)
	}
	for _, n := range names {
		if !strings.Contains(r.message(), n) {
			t.Errorf("message %q does not name %q", r.message(), n)
		}
	}
}

// wantOK checks a success reply and returns its "response" decoded.
func (r reply) wantOK(t *testing.T) map[string]any {
	t.Helper()
	if r.status != http.StatusOK {
		t.Fatalf("HTTP %d %s (%s); want 200", r.status, r.code(), r.message())
	}
	var m map[string]any
	if err := json.Unmarshal(r.fields["response"], &m); err != nil {
		t.Fatalf("response %s: %v", r.fields["response"], err)
	}
	return m
}

// apiError returns err as a *client.Error, failing the test otherwise.
func apiError(t *testing.T, err error) *client.Error {
	t.Helper()
	var e *client.Error
	if err == nil {
		t.Fatal("call succeeded; want an API error")
	}
	if !errors.As(err, &e) {
		t.Fatalf("error %v is not an API error", err)
	}
	if e.HTTPStatus == http.StatusInternalServerError {
		t.Fatalf("HTTP 500: %v", e)
	}
	if !requestIDPattern.MatchString(e.RequestID) {
		t.Fatalf("request id %q is not T + an upper-case UUID v4", e.RequestID)
	}
	return e
}

// createImages makes n custom images of acct in location, each from a new instance.
func (e *env) createImages(t *testing.T, acct testkit.Account, location string, n int) []string {
	t.Helper()
	var ids []string
	for i := range n {
		inst := e.srv.NewInstance(t, acct.ID, location)
		out, err := acct.Client.CreateImage(context.Background(), &vmapi.CreateImageRequest{
			InstanceID: client.String(inst.ID), ImageName: client.String("img-" + strconv.Itoa(i)),
		})
		if err != nil {
			t.Fatalf("CreateImage in %s: %v", location, err)
		}
		ids = append(ids, out.ImageID)
	}
	return ids
}

// logLines parses the server's log, one JSON object a line.
func logLines(t *testing.T, logs string) []map[string]any {
	t.Helper()
	var out []map[string]any
	for _, l := range strings.Split(strings.TrimSpace(logs), "\n") {
		if l == "" {
			continue
		}
		var m map[string]any
		if err := json.Unmarshal([]byte(l), &m); err != nil {
			t.Fatalf("log line %q is not JSON: %v", l, err)
		}
		out = append(out, m)
	}
	return out
}
