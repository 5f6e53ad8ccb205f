package e2e

import (
	"bufio"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"os/exec"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/imagequota/imagequota/client"
	"github.com/imagequota/imagequota/internal/testkit"
	"github.com/imagequota/imagequota/internal/testkit/pgtest"
)

// pgRequirePostgres skips the test, with the reason, when no PostgreSQL
// server is configured (or fails it when one is required).
func pgRequirePostgres(t *testing.T) {
	t.Helper()
	pgtest.Server(t)
}

// pgResult is what one run of the imagequota binary printed and returned.
type pgResult struct {
	stdout, stderr string
	code           int
}

// pgRun runs the imagequota binary with args (bounded by a minute) and returns
// what it printed and its exit code.
func pgRun(t *testing.T, args ...string) pgResult {
	t.Helper()
	return runIn(t, "", pgCleanEnv(), args...)
}

// pgCleanEnv is the test's environment without IMAGEQUOTA_* settings, so that
// only the flags a test gives count.
func pgCleanEnv() []string {
	// Every binary a test runs shares one master key file, outside the tree.
	env := []string{"IMAGEQUOTA_MASTER_KEY_FILE=" + testkit.MasterKeyFile()}
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "IMAGEQUOTA_") {
			env = append(env, kv)
		}
	}
	return env
}

// pgAdmin runs an admin command with --output json on dbURL and decodes its output.
func pgAdmin(t *testing.T, dbURL string, out any, args ...string) {
	t.Helper()
	r := pgRun(t, append(append([]string{"admin", "--db", dbURL}, args...), "--output", "json")...)
	if r.code != 0 {
		t.Fatalf("imagequota admin %v: exit %d\n%s", args, r.code, r.stderr)
	}
	if out != nil {
		if err := json.Unmarshal([]byte(r.stdout), out); err != nil {
			t.Fatalf("imagequota admin %v printed %q: %v", args, r.stdout, err)
		}
	}
}

// pgServer is an `imagequota serve` process.
type pgServer = binServer

var pgListening = regexp.MustCompile(`listening on (https?://\S+)`)

// binServer is an `imagequota serve` child process.
type binServer struct {
	URL            string
	cmd            *exec.Cmd
	stdout, stderr *pgSyncBuffer
	exited         chan struct{}
	state          *os.ProcessState // set once exited is closed
	racesReported  bool             // checkRaces failed the test
}

// startBinServer starts the imagequota binary with args and env and waits up to
// wait for the URL it prints. When the test ends the process is killed if it
// still runs (callers may register a gentler stop, which runs first).
func startBinServer(t *testing.T, env, args []string, wait time.Duration) *binServer {
	t.Helper()
	return startBinServerOf(t, testkit.Binary(t), env, args, wait)
}

// startBinServerOf is startBinServer with the binary bin.
func startBinServerOf(t *testing.T, bin string, env, args []string, wait time.Duration) *binServer {
	t.Helper()
	s := &binServer{cmd: exec.Command(bin, args...), stdout: &pgSyncBuffer{}, stderr: &pgSyncBuffer{}, exited: make(chan struct{})}
	s.cmd.Env = env
	s.cmd.Stderr = s.stderr
	stdout, err := s.cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := s.cmd.Start(); err != nil {
		t.Fatalf("starting imagequota %v: %v", args, err)
	}
	urls := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			_, _ = s.stdout.Write([]byte(sc.Text() + "\n"))
			if m := pgListening.FindStringSubmatch(sc.Text()); m != nil {
				select {
				case urls <- m[1]:
				default:
				}
			}
		}
		_, _ = io.Copy(io.Discard, stdout)
	}()
	go func() {
		_ = s.cmd.Wait()
		s.state = s.cmd.ProcessState
		close(s.exited)
	}()
	t.Cleanup(func() {
		_ = s.cmd.Process.Kill()
		select {
		case <-s.exited:
			s.checkRaces(t)
		case <-time.After(30 * time.Second):
			t.Errorf("imagequota (pid %d) did not exit within 30 s of SIGKILL", s.cmd.Process.Pid)
		}
	})
	select {
	case s.URL = <-urls:
	case <-s.exited:
		t.Fatalf("imagequota serve exited before listening (%v):\n%s", s.state, s.stderr.String())
	case <-time.After(wait):
		t.Fatalf("imagequota serve printed no URL within %v:\n%s", wait, s.stderr.String())
	}
	return s
}

// checkRaces fails t when the server (a race detector's build) reported a
// data race, once per server: a test may check after each signal it sends,
// and the server is checked again when the test ends.
func (s *binServer) checkRaces(t *testing.T) {
	t.Helper()
	if !s.racesReported && strings.Contains(s.stderr.String(), "DATA RACE") {
		s.racesReported = true
		t.Errorf("imagequota serve (pid %d) reported a data race:\n%s", s.cmd.Process.Pid, s.notes())
	}
}

// notes is what the server wrote to stderr apart from its INFO lines: warnings,
// errors, panics and race reports.
func (s *binServer) notes() string {
	var b strings.Builder
	for _, l := range strings.SplitAfter(s.stderr.String(), "\n") {
		if !strings.Contains(l, `"level":"INFO"`) {
			b.WriteString(l)
		}
	}
	return b.String()
}

// pgServe starts `imagequota serve` with args added to --db dbURL --addr
// 127.0.0.1:0, waits for the URL it prints, and stops it (SIGINT) when the
// test ends.
func pgServe(t *testing.T, dbURL string, args ...string) *pgServer {
	t.Helper()
	return pgServeOf(t, testkit.Binary(t), dbURL, args...)
}

// replicaBinary is the binary of a test's replica i: the race detector's
// build for the first, which watches the server's own code in the
// scenario, and the plain build (testkit.Tool), which starts and serves
// several times faster and is what runs in production, for the others.
func replicaBinary(t *testing.T, i int) string {
	t.Helper()
	if i == 0 {
		return testkit.Binary(t)
	}
	return testkit.Tool(t)
}

// pgServeOf is pgServe with the binary bin.
func pgServeOf(t *testing.T, bin, dbURL string, args ...string) *pgServer {
	t.Helper()
	s := startBinServerOf(t, bin, pgCleanEnv(), append([]string{"serve", "--db", dbURL, "--addr", "127.0.0.1:0"}, args...), time.Minute)
	t.Cleanup(func() {
		_ = s.cmd.Process.Signal(os.Interrupt)
		select {
		case <-s.exited:
		case <-time.After(15 * time.Second):
		}
		if t.Failed() {
			t.Logf("imagequota serve (pid %d) stderr:\n%s", s.cmd.Process.Pid, s.stderr.String())
		}
	})
	return s
}

// pgConnClient returns a client for endpoint with its own HTTP transport (so
// its requests use their own connections), answering within timeout.
func pgConnClient(endpoint, keyID, secret string, timeout time.Duration) *client.Client {
	c := client.New(endpoint, keyID, secret)
	c.HTTP = &http.Client{Timeout: timeout, Transport: &http.Transport{MaxIdleConnsPerHost: 1}}
	return c
}

type pgSyncBuffer = testkit.SyncBuffer
