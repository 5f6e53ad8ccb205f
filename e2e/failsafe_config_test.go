package e2e

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"io/fs"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/imagequota/imagequota/internal/testkit"
	"github.com/imagequota/imagequota/internal/testkit/pgtest"
)

// runIn runs the imagequota binary in dir ("": the tests' working
// directory) with env, bounded by a minute, and returns what it printed and
// its exit code.
func runIn(t *testing.T, dir string, env []string, args ...string) pgResult {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, testkit.Tool(t), args...)
	cmd.Dir, cmd.Env = dir, env
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	r := pgResult{stdout: stdout.String(), stderr: stderr.String()}
	if ctx.Err() != nil {
		t.Fatalf("imagequota %v did not finish within a minute; stderr:\n%s", args, r.stderr)
	}
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		r.code = ee.ExitCode()
	} else if err != nil {
		t.Fatalf("imagequota %v: %v", args, err)
	}
	return r
}

// entries lists what dir holds.
func entries(t *testing.T, dir string) []string {
	t.Helper()
	es, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range es {
		names = append(names, e.Name())
	}
	return names
}

// TestWrongConfigurationCreatesNothing runs the binary in an empty working
// directory: a store URL of an unknown scheme, from a flag or the
// environment, stops serve, admin and migrate with the accepted schemes
// named; an admin command on a store that does not exist refuses it and says
// how to create one; and none of them makes ./data, a master key or anything
// else, nor listens.
func TestWrongConfigurationCreatesNothing(t *testing.T) {
	parallel(t)
	dir := t.TempDir()
	env := envWithoutMasterKey()
	missing := filepath.Join(dir, "does", "not", "exist")
	for _, tc := range []struct {
		name string
		env  []string
		args []string
		want []string
	}{
		{"serve --db mysql://", nil, []string{"serve", "--addr", "127.0.0.1:0", "--db", "mysql://foo"}, []string{`"mysql" is not supported`, "postgres://", "sqlite:"}},
		{"admin --db mysql://", nil, []string{"admin", "--db", "mysql://foo", "account", "list"}, []string{`"mysql" is not supported`, "postgres://", "sqlite:"}},
		{"migrate --db mysql://", nil, []string{"migrate", "--db", "mysql://foo"}, []string{`"mysql" is not supported`, "postgres://", "sqlite:"}},
		{"serve IMAGEQUOTA_DB=postgress://", []string{"IMAGEQUOTA_DB=postgress://db/imagequota"}, []string{"serve", "--addr", "127.0.0.1:0"}, []string{`"postgress" is not supported`, "postgres://"}},
		{"admin IMAGEQUOTA_DB=postgress://", []string{"IMAGEQUOTA_DB=postgress://db/imagequota"}, []string{"admin", "quota", "list"}, []string{`"postgress" is not supported`, "postgres://"}},
		{"migrate IMAGEQUOTA_DB=postgress://", []string{"IMAGEQUOTA_DB=postgress://db/imagequota"}, []string{"migrate"}, []string{`"postgress" is not supported`, "postgres://"}},
		{"serve --addr nonsense", nil, []string{"serve", "--addr", "nonsense"}, []string{`--addr "nonsense" is not a host:port`}},
		{"admin on ./data before any serve", nil, []string{"admin", "account", "list"},
			[]string{"there is no store at data/imagequota.db", `"imagequota migrate"`, `"imagequota serve" in this directory`}},
		{"admin --data-dir that does not exist", nil, []string{"admin", "--data-dir", missing, "account", "list"},
			[]string{"there is no store at " + filepath.Join(missing, "imagequota.db"), `"imagequota migrate --data-dir ` + missing + `"`}},
		{"serve --data-dir that does not exist", nil, []string{"serve", "--addr", "127.0.0.1:0", "--data-dir", missing},
			[]string{"there is no store at " + filepath.Join(missing, "imagequota.db")}},
	} {
		r := runIn(t, dir, append(append([]string{}, env...), tc.env...), tc.args...)
		// A URL or address that is not one is refused with the command
		// line (2); a store that is not there once looked for is a
		// failure of the command (1).
		code := 1
		if !strings.Contains(tc.name, "does not exist") && !strings.Contains(tc.name, "before any serve") {
			code = 2
		}
		if r.code != code {
			t.Errorf("%s: exit %d, want %d\nstderr: %s", tc.name, r.code, code, r.stderr)
		}
		for _, w := range tc.want {
			if !strings.Contains(r.stderr, w) {
				t.Errorf("%s: stderr lacks %q:\n%s", tc.name, w, r.stderr)
			}
		}
		if strings.Contains(r.stdout, "listening") || strings.Contains(r.stdout, "Generated") {
			t.Errorf("%s: it listened or generated a key:\n%s", tc.name, r.stdout)
		}
		if got := entries(t, dir); len(got) != 0 {
			t.Fatalf("%s: the working directory now holds %v", tc.name, got)
		}
	}
}

// TestQuickStartCreatesTheDefaultStore: "imagequota serve" with no flags in
// an empty directory creates ./data with its store and master key, says
// so, and serves; SIGINT stops it.
func TestQuickStartCreatesTheDefaultStore(t *testing.T) {
	parallel(t)
	dir := t.TempDir()
	cmd := exec.Command(testkit.Binary(t), "serve", "--addr", "127.0.0.1:0", "--demo")
	cmd.Dir, cmd.Env = dir, envWithoutMasterKey()
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	lines := make(chan string, 100)
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			lines <- sc.Text()
		}
		close(lines)
		exited <- cmd.Wait()
	}()
	t.Cleanup(func() { _ = cmd.Process.Kill() })
	var out strings.Builder
	deadline := time.After(time.Minute)
	for !strings.Contains(out.String(), "zeno CLI:") {
		select {
		case l, ok := <-lines:
			if !ok {
				t.Fatalf("serve exited before its hints:\n%s\n%s", out.String(), stderr.String())
			}
			out.WriteString(l + "\n")
		case <-deadline:
			t.Fatalf("no hints within a minute:\n%s", out.String())
		}
	}
	for _, w := range []*regexp.Regexp{
		regexp.MustCompile(`Generated a new master key in data/master.key`),
		regexp.MustCompile(`listening on http://127\.0\.0\.1:\d+ \(store: sqlite:data/imagequota.db\)`),
		regexp.MustCompile(`ZENLAYER_ENDPOINT=http://127\.0\.0\.1:\d+ ZENLAYER_ACCESS_KEY_ID=\S+ ZENLAYER_ACCESS_KEY_SECRET=\S+ imagequota call DescribeImageQuota`),
		regexp.MustCompile(`Go SDK: .*config.Scheme = "http"; config.Domain = "127\.0\.0\.1:\d+"`),
	} {
		if !w.MatchString(out.String()) {
			t.Errorf("the quick start's output lacks %s:\n%s", w, out.String())
		}
	}
	for _, f := range []string{"data/imagequota.db", "data/master.key"} {
		if _, err := os.Stat(filepath.Join(dir, f)); err != nil {
			t.Errorf("the quick start made no %s: %v", f, err)
		}
	}
	_ = cmd.Process.Signal(os.Interrupt)
	select {
	case err := <-exited:
		if err != nil {
			t.Errorf("serve after SIGINT: %v\n%s", err, stderr.String())
		}
	case <-time.After(time.Minute):
		t.Fatal("serve did not stop within a minute of SIGINT")
	}
}

// TestReplicasWithAnotherMasterKeyRefuseToStart: two serve processes on one
// PostgreSQL database with different master key files: the second refuses to
// start, names its key file and says what to do; it generates no key.
func TestReplicasWithAnotherMasterKeyRefuseToStart(t *testing.T) {
	parallel(t)
	dbURL := pgtest.NewSchema(t)
	env := envWithoutMasterKey()
	// Migrated with no key file at hand, the store has no key yet.
	if r := runIn(t, t.TempDir(), env, "migrate", "--db", dbURL); r.code != 0 {
		t.Fatalf("migrate: exit %d\n%s", r.code, r.stderr)
	}
	first := filepath.Join(t.TempDir(), "first.key")
	s := startBinServer(t, env, []string{"serve", "--db", dbURL, "--addr", "127.0.0.1:0", "--master-key-file", first}, time.Minute)
	if !strings.Contains(s.stdout.String(), "Generated a new master key in "+first) {
		t.Errorf("the first replica did not say it generated its key:\n%s", s.stdout.String())
	}
	other := filepath.Join(t.TempDir(), "other.key")
	if err := os.WriteFile(other, []byte(strings.Repeat("5a", 32)+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	// A key file that does not exist is not generated: the store has a key.
	absentDir := filepath.Join(t.TempDir(), "keys")
	for _, second := range []string{other, filepath.Join(absentDir, "master.key")} {
		r := pgRun(t, "serve", "--db", dbURL, "--addr", "127.0.0.1:0", "--master-key-file", second)
		if r.code != 1 || strings.Contains(r.stdout, "listening") {
			t.Errorf("a replica with key file %s: exit %d\nstdout: %s", second, r.code, r.stdout)
		}
		for _, w := range []string{second, "--master-key-file", "imagequota admin master-key rotate"} {
			if !strings.Contains(r.stderr, w) {
				t.Errorf("a replica with key file %s: stderr lacks %q:\n%s", second, w, r.stderr)
			}
		}
	}
	if _, err := os.Stat(absentDir); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("a refused replica made %s (%v)", absentDir, err)
	}
	// The first replica still serves.
	resp, err := (&http.Client{Timeout: time.Minute}).Get(s.URL + "/readyz")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Errorf("the first replica's /readyz: %d", resp.StatusCode)
	}
}
