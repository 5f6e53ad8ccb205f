// Package client is a Go client for the Zenlayer Cloud API 2.0 "vm" service as
// imagequota serves it: it signs each request with ZC2-HMAC-SHA256 (or sends a
// bearer token), posts it and decodes the envelope.
package client

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"reflect"
	"strconv"
	"strings"
	"time"

	"github.com/imagequota/imagequota/internal/signing"
	"github.com/imagequota/imagequota/vmapi"
)

// Client calls one endpoint with one credential. The zero value is not usable; use New.
type Client struct {
	// Endpoint is the API URL, e.g. http://127.0.0.1:8080 (the path /api/v2/vm is added when none is given).
	Endpoint string
	// AccessKeyID and AccessKeySecret sign requests; Token, when set, is sent as a bearer token instead.
	AccessKeyID     string
	AccessKeySecret string
	Token           string
	// Version is sent as X-ZC-Version; empty sends none (the server's default).
	Version string
	// HTTP is the HTTP client; nil means one with a 30 s timeout.
	HTTP *http.Client
	// Now is the clock used for timestamps; nil means time.Now.
	Now func() time.Time
	// Backoff lists the waits before each retry of a throttled (429
	// REQUEST_LIMIT_EXCEEDED) request, as the official SDK does: 1, 2, 4 s.
	// Retries re-send the same timestamp and signature. nil means no retries.
	Backoff []time.Duration
	// Sleep waits d before a retry, or until ctx ends; nil waits on a timer.
	// A test gives the Sleep of its fake clock, so that backing off does not
	// take seconds of real time.
	Sleep func(ctx context.Context, d time.Duration)
	// Service is the API called, sent as X-ZC-Service, and Path the path
	// added to an endpoint that has none; empty means the vm service on
	// /api/v2/vm. NewOperator sets the operator API's.
	Service, Path string
}

// SDKBackoff is the official SDK's retry schedule for throttled requests.
var SDKBackoff = []time.Duration{time.Second, 2 * time.Second, 4 * time.Second}

// New returns a client that signs with an access key.
func New(endpoint, accessKeyID, accessKeySecret string) *Client {
	return &Client{Endpoint: endpoint, AccessKeyID: accessKeyID, AccessKeySecret: accessKeySecret}
}

// NewWithToken returns a client that sends a bearer token.
func NewWithToken(endpoint, token string) *Client {
	return &Client{Endpoint: endpoint, Token: token}
}

// Error is a failure answered by the server.
type Error struct {
	HTTPStatus int
	RequestID  string
	Code       string
	Message    string
}

func (e *Error) Error() string {
	return fmt.Sprintf("%s: %s (HTTP %d, request %s)", e.Code, e.Message, e.HTTPStatus, e.RequestID)
}

// ErrorCode returns the API error code of err, or "" when err is not an API error.
func ErrorCode(err error) string {
	var e *Error
	if errors.As(err, &e) {
		return e.Code
	}
	return ""
}

// Response is a raw answer.
type Response struct {
	HTTPStatus int
	RequestID  string
	Body       []byte
}

// envelope is either form of answer.
type envelope struct {
	RequestID string          `json:"requestId"`
	Response  json.RawMessage `json:"response"`
	Code      string          `json:"code"`
	Message   string          `json:"message"`
}

// URL returns the URL requests are posted to.
func (c *Client) URL() (string, error) {
	ep := c.Endpoint
	if ep == "" {
		return "", errors.New("client: no endpoint")
	}
	if !strings.Contains(ep, "://") {
		ep = "https://" + ep
	}
	u, err := url.Parse(ep)
	if err != nil {
		return "", fmt.Errorf("client: endpoint: %w", err)
	}
	if u.Path == "" || u.Path == "/" {
		u.Path = vmapi.Path
		if c.Path != "" {
			u.Path = c.Path
		}
	}
	return u.String(), nil
}

// Do posts a raw body for action and returns the raw answer; it fails only when
// no answer came.
func (c *Client) Do(ctx context.Context, action string, body []byte) (*Response, error) {
	u, err := c.URL()
	if err != nil {
		return nil, err
	}
	host, err := url.Parse(u)
	if err != nil {
		return nil, err
	}
	now := time.Now
	if c.Now != nil {
		now = c.Now
	}
	const contentType = "application/json; charset=utf-8"
	header := http.Header{}
	header.Set("Content-Type", contentType)
	header.Set("X-ZC-Action", action)
	service := vmapi.Service
	if c.Service != "" {
		service = c.Service
	}
	header.Set("X-ZC-Service", service)
	header.Set("X-ZC-Sdk-Lang", "Go")
	header.Set("X-ZC-Request-Client", "imagequota-client")
	if c.Version != "" {
		header.Set("X-ZC-Version", c.Version)
	}
	if c.Token != "" {
		header.Set("Authorization", "Bearer "+c.Token)
	} else {
		ts := strconv.FormatInt(now().Unix(), 10)
		sig := signing.Sign(c.AccessKeySecret, ts, contentType, host.Host, body)
		header.Set("X-ZC-Timestamp", ts)
		header.Set("X-ZC-Signature-Method", signing.Algorithm)
		header.Set("Authorization", signing.AuthorizationHeader(c.AccessKeyID, sig))
	}
	hc := c.HTTP
	if hc == nil {
		hc = &http.Client{Timeout: 30 * time.Second}
	}
	for attempt := 0; ; attempt++ {
		req, err := http.NewRequestWithContext(ctx, http.MethodPost, u, bytes.NewReader(body))
		if err != nil {
			return nil, err
		}
		req.Header = header.Clone()
		resp, err := hc.Do(req)
		if err != nil {
			return nil, err
		}
		data, err := io.ReadAll(io.LimitReader(resp.Body, 64<<20))
		resp.Body.Close()
		if err != nil {
			return nil, err
		}
		r := &Response{HTTPStatus: resp.StatusCode, RequestID: resp.Header.Get("X-ZC-Request-Id"), Body: data}
		if resp.StatusCode != http.StatusTooManyRequests || attempt >= len(c.Backoff) {
			return r, nil
		}
		sleep := c.Sleep
		if sleep == nil {
			sleep = sleepOnTimer
		}
		sleep(ctx, c.Backoff[attempt])
		if ctx.Err() != nil {
			return r, nil
		}
	}
}

// sleepOnTimer waits d or until ctx ends.
func sleepOnTimer(ctx context.Context, d time.Duration) {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
	case <-t.C:
	}
}

// Call sends in (marshalled to JSON; nil sends {}) as action and decodes the
// "response" object into out (which may be nil). A failure answer is an *Error.
func (c *Client) Call(ctx context.Context, action string, in, out any) error {
	body := []byte("{}")
	if v := reflect.ValueOf(in); in != nil && !(v.Kind() == reflect.Pointer && v.IsNil()) {
		var err error
		if body, err = json.Marshal(in); err != nil {
			return fmt.Errorf("client: %w", err)
		}
	}
	r, err := c.Do(ctx, action, body)
	if err != nil {
		return err
	}
	return r.Decode(out)
}

// Decode decodes the answer: the "response" object into out on success, an
// *Error otherwise.
func (r *Response) Decode(out any) error {
	var env envelope
	if err := json.Unmarshal(r.Body, &env); err != nil {
		return fmt.Errorf("client: HTTP %d with a body that is not the API's JSON: %w", r.HTTPStatus, err)
	}
	if r.HTTPStatus != http.StatusOK {
		return &Error{HTTPStatus: r.HTTPStatus, RequestID: env.RequestID, Code: env.Code, Message: env.Message}
	}
	if out == nil || len(env.Response) == 0 || string(env.Response) == "null" {
		return nil
	}
	if err := json.Unmarshal(env.Response, out); err != nil {
		return fmt.Errorf("client: decoding the response: %w", err)
	}
	return nil
}
