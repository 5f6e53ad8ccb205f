package main

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/imagequota/imagequota/internal/testkit"
)

// waitLimit bounds every wait for a server to come up or go down.
const waitLimit = 30 * time.Second

// result is what one run of the command produced.
type result struct {
	code           int
	stdout, stderr string
}

// cli runs the command against one data directory with a fixed environment.
type cli struct {
	dir string
	env []string
}

// setup returns a cli on a new store in a data directory of its own, made
// with "imagequota migrate", and an empty environment.
func setup(t *testing.T) *cli {
	t.Helper()
	c := newCLI(t)
	if r := c.run(t, "migrate", "--data-dir", c.dir); r.code != 0 {
		t.Fatalf("migrate: exit %d: %s", r.code, r.stderr)
	}
	return c
}

// newCLI returns a cli on a data directory that does not exist yet.
func newCLI(t *testing.T) *cli {
	t.Helper()
	return &cli{dir: filepath.Join(t.TempDir(), "data")}
}

// run runs imagequota with args and the cli's environment.
func (c *cli) run(t *testing.T, args ...string) result {
	t.Helper()
	return runWith(t, c.env, args...)
}

// runWith runs imagequota with args and env.
func runWith(t *testing.T, env []string, args ...string) result {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), waitLimit)
	defer cancel()
	var stdout, stderr bytes.Buffer
	code := run(ctx, args, env, &stdout, &stderr)
	return result{code: code, stdout: stdout.String(), stderr: stderr.String()}
}

// admin runs "imagequota admin --data-dir DIR args…".
func (c *cli) admin(t *testing.T, args ...string) result {
	t.Helper()
	return c.run(t, append([]string{"admin", "--data-dir", c.dir}, args...)...)
}

// adminOK runs an admin command that must succeed and returns its stdout.
func (c *cli) adminOK(t *testing.T, args ...string) string {
	t.Helper()
	r := c.admin(t, args...)
	if r.code != 0 {
		t.Fatalf("admin %s: exit %d\nstdout: %s\nstderr: %s", strings.Join(args, " "), r.code, r.stdout, r.stderr)
	}
	return r.stdout
}

// adminJSON runs an admin command with --output json and decodes its output into out.
func (c *cli) adminJSON(t *testing.T, out any, args ...string) {
	t.Helper()
	s := c.adminOK(t, append(args, "--output", "json")...)
	if err := json.Unmarshal([]byte(s), out); err != nil {
		t.Fatalf("admin %s: output is not JSON: %v\n%s", strings.Join(args, " "), err, s)
	}
}

// newAccount creates an account with an access key.
func (c *cli) newAccount(t *testing.T, name string) (accountID, keyID, secret string) {
	t.Helper()
	var acct struct{ AccountID string }
	c.adminJSON(t, &acct, "account", "create", "--name", name)
	var key struct{ AccessKeyID, AccessKeyPassword string }
	c.adminJSON(t, &key, "key", "create", "--account", acct.AccountID)
	if acct.AccountID == "" || key.AccessKeyID == "" || key.AccessKeyPassword == "" {
		t.Fatalf("account %+v, key %+v: empty ids", acct, key)
	}
	return acct.AccountID, key.AccessKeyID, key.AccessKeyPassword
}

// syncBuffer is a buffer one goroutine writes while another reads.
type syncBuffer struct{ testkit.SyncBuffer }

// waitFor waits (bounded) until re matches what was written and returns the submatches.
func (s *syncBuffer) waitFor(t *testing.T, re *regexp.Regexp, done <-chan int) []string {
	t.Helper()
	deadline := time.Now().Add(waitLimit)
	for {
		if m := re.FindStringSubmatch(s.String()); m != nil {
			return m
		}
		select {
		case code := <-done:
			t.Fatalf("the command exited with %d before printing %q:\n%s", code, re, s.String())
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("no %q within %s:\n%s", re, waitLimit, s.String())
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// server is an "imagequota serve" running in a goroutine.
type server struct {
	url            string
	stdout, stderr *syncBuffer
	cancel         context.CancelFunc
	done           chan int
}

var listeningRE = regexp.MustCompile(`listening on (https?://127\.0\.0\.1:\d+) `)

// serve starts "imagequota serve --addr 127.0.0.1:0 args…" and waits until it
// prints the URL it listens on. It is stopped when the test ends.
func (c *cli) serve(t *testing.T, args ...string) *server {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	s := &server{stdout: &syncBuffer{}, stderr: &syncBuffer{}, cancel: cancel, done: make(chan int, 1)}
	full := append([]string{"serve", "--addr", "127.0.0.1:0", "--data-dir", c.dir, "--image-build-time", "0"}, args...)
	go func() { s.done <- run(ctx, full, c.env, s.stdout, s.stderr) }()
	t.Cleanup(func() {
		cancel()
		select {
		case <-s.done:
		case <-time.After(waitLimit):
			t.Errorf("serve did not stop within %s", waitLimit)
		}
	})
	s.url = s.stdout.waitFor(t, listeningRE, s.done)[1]
	return s
}

// stop cancels the server's context and returns its exit code.
func (s *server) stop(t *testing.T) int {
	t.Helper()
	s.cancel()
	select {
	case code := <-s.done:
		s.done <- code // for the cleanup
		return code
	case <-time.After(waitLimit):
		t.Fatalf("serve did not stop within %s", waitLimit)
		return -1
	}
}

// callEnv is the environment "imagequota call" signs with.
func callEnv(endpoint, keyID, secret string) []string {
	return []string{"ZENLAYER_ENDPOINT=" + endpoint, "ZENLAYER_ACCESS_KEY_ID=" + keyID, "ZENLAYER_ACCESS_KEY_SECRET=" + secret}
}

// callOK runs "imagequota call" that must succeed and decodes the envelope's response into out.
func callOK(t *testing.T, env []string, out any, args ...string) {
	t.Helper()
	r := runWith(t, env, append([]string{"call"}, args...)...)
	if r.code != 0 {
		t.Fatalf("call %s: exit %d\nstdout: %s\nstderr: %s", strings.Join(args, " "), r.code, r.stdout, r.stderr)
	}
	var envelope struct {
		RequestID string          `json:"requestId"`
		Response  json.RawMessage `json:"response"`
	}
	if err := json.Unmarshal([]byte(r.stdout), &envelope); err != nil {
		t.Fatalf("call %s: output is not JSON: %v\n%s", strings.Join(args, " "), err, r.stdout)
	}
	if !strings.HasPrefix(envelope.RequestID, "T") {
		t.Errorf("call %s: requestId %q", strings.Join(args, " "), envelope.RequestID)
	}
	if out != nil {
		if err := json.Unmarshal(envelope.Response, out); err != nil {
			t.Fatalf("call %s: response: %v\n%s", strings.Join(args, " "), err, r.stdout)
		}
	}
}

// get fetches a URL of the server with a bounded client.
func get(t *testing.T, hc *http.Client, url string) (int, string) {
	t.Helper()
	resp, err := hc.Get(url)
	if err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
	defer resp.Body.Close()
	var b bytes.Buffer
	_, _ = b.ReadFrom(resp.Body)
	return resp.StatusCode, b.String()
}

// keysOf returns the sorted keys of a JSON object.
func keysOf(t *testing.T, raw json.RawMessage) []string {
	t.Helper()
	var m map[string]json.RawMessage
	if err := json.Unmarshal(raw, &m); err != nil {
		t.Fatalf("not a JSON object: %v\n%s", err, raw)
	}
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}
