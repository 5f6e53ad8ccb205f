package sdkgo

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/zenlayer/zenlayercloud-sdk-go/zenlayercloud/common"
)

// childEnv is set in the environment of a test binary that this package runs
// again as a child process (see TestSDKTrustsSSLCertFile); the child needs no
// server binary of its own.
const childEnv = "IMAGEQUOTA_COMPAT_CHILD"

// bin is the imagequota binary built from ../../cmd/imagequota for this run.
var bin string

func TestMain(m *testing.M) {
	if os.Getenv(childEnv) != "" {
		os.Exit(m.Run())
	}
	dir, err := os.MkdirTemp("", "imagequota-compat-sdkgo-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	bin = filepath.Join(dir, "imagequota")
	build := exec.Command("go", "build", "-o", bin, "./cmd/imagequota")
	build.Dir = filepath.Join("..", "..")
	build.Stdout, build.Stderr = os.Stderr, os.Stderr
	if err := build.Run(); err != nil {
		fmt.Fprintln(os.Stderr, "building imagequota:", err)
		os.RemoveAll(dir)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// server is one "imagequota serve" process on 127.0.0.1 with its own store.
type server struct {
	dataDir string
	url     string // as printed by serve: http://127.0.0.1:PORT or https://…
	host    string // host:port, the SDK's Config.Domain
}

var listeningLine = regexp.MustCompile(`listening on (https?://(\S+))`)

// startServer runs imagequota serve with extra flags and stops it (SIGTERM)
// when the test ends. Images are AVAILABLE at once (--image-build-time 0) so
// that a test can delete what it made without waiting.
func startServer(t *testing.T, flags ...string) *server {
	t.Helper()
	s := &server{dataDir: t.TempDir()}
	s.run(t, "migrate", "--data-dir", s.dataDir)
	args := append([]string{"serve", "--addr", "127.0.0.1:0", "--data-dir", s.dataDir, "--image-build-time", "0"}, flags...)
	cmd := exec.Command(bin, args...)
	cmd.Env = append(os.Environ(), "GOMAXPROCS=2")
	var stderr syncBuffer
	cmd.Stderr = &stderr
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	// exited is closed when the process has ended, with its error in waitErr.
	exited := make(chan struct{})
	var waitErr error
	found := make(chan []string, 1)
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			if m := listeningLine.FindStringSubmatch(sc.Text()); m != nil {
				select {
				case found <- m:
				default:
				}
			}
		}
		_, _ = io.Copy(io.Discard, stdout)
		waitErr = cmd.Wait()
		close(exited)
	}()
	t.Cleanup(func() {
		_ = cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-exited:
			if waitErr != nil && !t.Failed() {
				t.Errorf("imagequota serve exited with %v; its log:\n%s", waitErr, stderr.String())
			}
		case <-time.After(60 * time.Second):
			_ = cmd.Process.Kill()
			t.Errorf("imagequota serve did not stop within 60 s of SIGTERM; its log:\n%s", stderr.String())
		}
	})
	select {
	case m := <-found:
		s.url, s.host = m[1], m[2]
	case <-exited:
		t.Fatalf("imagequota serve %s exited before listening (%v); its log:\n%s", strings.Join(flags, " "), waitErr, stderr.String())
	case <-time.After(2 * time.Minute):
		t.Fatalf("imagequota serve printed no listening line in 2 minutes; its log:\n%s", stderr.String())
	}
	return s
}

// run runs imagequota with args and returns what it printed.
func (s *server) run(t *testing.T, args ...string) []byte {
	t.Helper()
	cmd := exec.Command(bin, args...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("imagequota %s: %v\n%s", strings.Join(args, " "), err, stderr.String())
	}
	return stdout.Bytes()
}

// admin runs "imagequota admin --data-dir DIR args… --output json" on the
// server's store and decodes what it prints into out.
func (s *server) admin(t *testing.T, out any, args ...string) {
	t.Helper()
	full := append([]string{"admin", "--data-dir", s.dataDir}, args...)
	full = append(full, "--output", "json")
	printed := s.run(t, full...)
	if err := json.Unmarshal(printed, out); err != nil {
		t.Fatalf("imagequota %s printed %q: %v", strings.Join(full, " "), printed, err)
	}
}

// tenant is an account with an access key and one instance in each zone asked for.
type tenant struct {
	accountID string
	keyID     string
	secret    string
	instances map[string]string // zone → instance id
}

// newTenant creates an account, its access key and an instance per zone, as
// an operator does with imagequota admin.
func (s *server) newTenant(t *testing.T, name string, zones ...string) tenant {
	t.Helper()
	var acct struct {
		AccountID string `json:"accountId"`
	}
	s.admin(t, &acct, "account", "create", "--name", name)
	var key struct {
		AccessKeyID       string `json:"accessKeyId"`
		AccessKeyPassword string `json:"accessKeyPassword"`
	}
	s.admin(t, &key, "key", "create", "--account", acct.AccountID)
	tn := tenant{accountID: acct.AccountID, keyID: key.AccessKeyID, secret: key.AccessKeyPassword, instances: map[string]string{}}
	for _, z := range zones {
		var inst struct {
			InstanceID string `json:"instanceId"`
		}
		s.admin(t, &inst, "instance", "create", "--account", acct.AccountID, "--location", z)
		tn.instances[z] = inst.InstanceID
	}
	if tn.accountID == "" || tn.keyID == "" || tn.secret == "" {
		t.Fatalf("imagequota admin made an incomplete tenant: %+v", tn)
	}
	return tn
}

// token creates a bearer token for the tenant's account.
func (s *server) token(t *testing.T, tn tenant) string {
	t.Helper()
	var tok struct {
		Token string `json:"token"`
	}
	s.admin(t, &tok, "token", "create", "--account", tn.accountID)
	if tok.Token == "" {
		t.Fatal("imagequota admin token create printed no token")
	}
	return tok.Token
}

// zones returns the ids of the store's enabled locations, in the catalogue's order.
func (s *server) zones(t *testing.T) []string {
	t.Helper()
	var locs []struct {
		ID       string `json:"id"`
		Disabled bool   `json:"disabled"`
	}
	s.admin(t, &locs, "location", "list")
	var ids []string
	for _, l := range locs {
		if !l.Disabled {
			ids = append(ids, l.ID)
		}
	}
	if len(ids) < 3 {
		t.Fatalf("the catalogue has %d enabled locations; these tests need 3", len(ids))
	}
	return ids
}

// config is the SDK configuration for a plain-HTTP server: the scheme and a
// bare host:port, exactly as docs/clients/go-sdk.md shows it.
func (s *server) config() *common.Config {
	cfg := common.NewConfig()
	cfg.Scheme = "HTTP"
	cfg.Domain = s.host
	return cfg
}

// sdkCode is the error code the SDK reports for err, or "" when err is not
// one of the SDK's errors.
func sdkCode(err error) string {
	if e, ok := err.(*common.ZenlayerCloudSdkError); ok {
		return e.Code
	}
	return ""
}

// wantCode fails the test unless err is an SDK error with code whose message
// names every one of mentions.
func wantCode(t *testing.T, err error, code string, mentions ...string) {
	t.Helper()
	if err == nil {
		t.Fatalf("the call succeeded; want error %s", code)
	}
	e, ok := err.(*common.ZenlayerCloudSdkError)
	if !ok {
		t.Fatalf("error %T %v; want the SDK's error with code %s", err, err, code)
	}
	if e.Code != code {
		t.Fatalf("code %s (%s); want %s", e.Code, e.Message, code)
	}
	if !strings.HasPrefix(e.RequestId, "T") {
		t.Errorf("error %s has request id %q; want T…", code, e.RequestId)
	}
	for _, m := range mentions {
		if !strings.Contains(e.Message, m) {
			t.Errorf("message %q does not name %q", e.Message, m)
		}
	}
}

// syncBuffer is a bytes.Buffer safe for one writer and a reader.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.String()
}
