package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"strings"
	"time"

	"github.com/imagequota/imagequota/client"
)

const callUsage = `imagequota call: call the API with a signed request and print the response.

Usage: imagequota call ACTION [--body JSON | --body @FILE] [--endpoint URL] [--version V]

Credentials come from ZENLAYER_ACCESS_KEY_ID and ZENLAYER_ACCESS_KEY_SECRET (signed
requests), or ZENLAYER_TOKEN (a bearer token); the endpoint from ZENLAYER_ENDPOINT —
the variables the zeno CLI reads. The endpoint is a URL (http://127.0.0.1:8080,
https://api.example.com) or, as zeno takes it, a bare host:port, which means
HTTPS. On an error it prints the code and message and exits with status 1.
`

func runCall(ctx context.Context, args []string, env map[string]string, stdout, stderr io.Writer) error {
	c := newConfig("call", callUsage, env, stdout, stderr)
	var body, endpoint, ver string
	var timeout time.Duration
	var insecure bool
	c.String(&body, "body", "", "{}", "request body: JSON, or @FILE to read it from a file")
	c.String(&endpoint, "endpoint", "ZENLAYER_ENDPOINT", "http://127.0.0.1:8080", "API endpoint: a URL, or host:port for HTTPS")
	c.String(&ver, "version", "", "", "X-ZC-Version to send (default: none, the server's default)")
	c.Duration(&timeout, "timeout", "", 30*time.Second, "how long to wait for the answer")
	c.Bool(&insecure, "insecure", "", false, "with https, do not verify the server's certificate")
	pos, err := c.Parse(args)
	if err != nil {
		return err
	}
	if len(pos) != 1 {
		c.Problem("give exactly one ACTION, like DescribeImageQuota")
	}
	if strings.HasPrefix(body, "@") {
		b, err := os.ReadFile(body[1:])
		if err != nil {
			c.Problem("--body: %v", err)
		}
		body = string(b)
	}
	if !json.Valid([]byte(body)) {
		c.Problem("--body is not valid JSON")
	}
	cl := &client.Client{Endpoint: endpoint, Version: ver, Backoff: client.SDKBackoff,
		AccessKeyID: env["ZENLAYER_ACCESS_KEY_ID"], AccessKeySecret: env["ZENLAYER_ACCESS_KEY_SECRET"], Token: env["ZENLAYER_TOKEN"]}
	if cl.Token == "" && (cl.AccessKeyID == "" || cl.AccessKeySecret == "") {
		c.Problem("set ZENLAYER_ACCESS_KEY_ID and ZENLAYER_ACCESS_KEY_SECRET, or ZENLAYER_TOKEN")
	}
	if err := c.Err(); err != nil {
		return err
	}
	tr := http.DefaultTransport.(*http.Transport).Clone()
	if insecure {
		tr.TLSClientConfig.InsecureSkipVerify = true
	}
	cl.HTTP = &http.Client{Timeout: timeout, Transport: tr}
	resp, err := cl.Do(ctx, pos[0], []byte(body))
	if err != nil {
		if !strings.Contains(endpoint, "://") && strings.Contains(err.Error(), "server gave HTTP response to HTTPS client") {
			return fmt.Errorf("%w\n(an endpoint without a scheme means HTTPS; this server speaks plain HTTP: use http://%s)", err, endpoint)
		}
		return err
	}
	if err := resp.Decode(nil); err != nil {
		if e, ok := err.(*client.Error); ok {
			fmt.Fprintf(stderr, "Error %s: %s\n(HTTP %d, requestId %s)\n", e.Code, e.Message, e.HTTPStatus, e.RequestID)
			return errCallFailed
		}
		return err
	}
	var pretty bytes.Buffer
	if err := json.Indent(&pretty, resp.Body, "", "  "); err != nil {
		_, err = stdout.Write(resp.Body)
		return err
	}
	pretty.WriteByte('\n')
	_, err = stdout.Write(pretty.Bytes())
	return err
}

// errCallFailed means the API answered with an error, already printed.
var errCallFailed = fmt.Errorf("the call failed")
