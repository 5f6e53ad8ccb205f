package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/imagequota/imagequota/client"
	"github.com/imagequota/imagequota/internal/testkit"
	"github.com/imagequota/imagequota/vmapi"
)

// TestSecretsAtRest runs the real binary, uses a known password and token, and
// then searches the database files and everything the server printed for
// them: neither may appear. The master key is generated 0600 and announced
// by the command that seals the first password.
func TestSecretsAtRest(t *testing.T) {
	parallel(t)
	bin := testkit.Tool(t)
	dir := t.TempDir()
	migrate := exec.Command(bin, "migrate", "--data-dir", dir)
	migrate.Env = envWithoutMasterKey()
	if out, err := migrate.CombinedOutput(); err != nil {
		t.Fatalf("migrate: %v\n%s", err, out)
	}
	adminNotice := ""
	admin := func(out any, args ...string) {
		t.Helper()
		cmd := exec.Command(bin, append(append([]string{"admin", "--data-dir", dir}, args...), "--output", "json")...)
		cmd.Env = envWithoutMasterKey()
		var errBuf bytes.Buffer
		cmd.Stderr = &errBuf
		b, err := cmd.Output()
		if err != nil {
			t.Fatalf("admin %v: %v\n%s", args, err, errBuf.String())
		}
		adminNotice += errBuf.String()
		if err := json.Unmarshal(b, out); err != nil {
			t.Fatalf("admin %v: %v\n%s", args, err, b)
		}
	}
	var acct struct{ AccountID string }
	admin(&acct, "account", "create", "--name", "secrets")
	var key struct{ AccessKeyID, AccessKeyPassword string }
	admin(&key, "key", "create", "--account", acct.AccountID)
	var tok struct{ Token string }
	admin(&tok, "token", "create", "--account", acct.AccountID)
	if key.AccessKeyPassword == "" || tok.Token == "" {
		t.Fatal("no password or token")
	}
	info, err := os.Stat(filepath.Join(dir, "master.key"))
	if err != nil || info.Mode().Perm() != 0o600 {
		t.Fatalf("master key: %v (mode %v)", err, info)
	}
	if !strings.Contains(adminNotice, "Generated a new master key") {
		t.Fatalf("the first admin command did not say it generated the master key; stderr:\n%s", adminNotice)
	}

	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	srv := startBinServer(t, envWithoutMasterKey(), []string{"serve", "--data-dir", dir, "--addr", "127.0.0.1:0", "--log-level", "debug"}, time.Minute)
	url := srv.URL
	signed := client.New(url, key.AccessKeyID, key.AccessKeyPassword)
	bearer := client.NewWithToken(url, tok.Token)
	for _, c := range []*client.Client{signed, bearer} {
		if _, err := c.DescribeImageQuota(ctx, &vmapi.DescribeImageQuotaRequest{}); err != nil {
			t.Fatalf("DescribeImageQuota: %v", err)
		}
	}
	// Failed attempts with the secrets in odd places must not log them either.
	wrong := client.New(url, key.AccessKeyID, key.AccessKeyPassword+"x")
	if _, err := wrong.DescribeImageQuota(ctx, nil); client.ErrorCode(err) == "" {
		t.Fatalf("a wrong password was accepted: %v", err)
	}
	expired := client.NewWithToken(url, tok.Token+"x")
	if _, err := expired.DescribeImageQuota(ctx, nil); client.ErrorCode(err) == "" {
		t.Fatalf("a wrong token was accepted: %v", err)
	}
	_ = srv.cmd.Process.Signal(os.Interrupt)
	select {
	case <-srv.exited:
	case <-time.After(time.Minute):
		t.Fatal("serve did not stop within a minute of SIGINT")
	}
	if !srv.state.Success() {
		t.Fatalf("serve: %v\n%s", srv.state, srv.stderr.String())
	}
	stdout, stderr := srv.stdout.String(), srv.stderr.String()

	files, _ := filepath.Glob(filepath.Join(dir, "imagequota.db*"))
	if len(files) == 0 {
		t.Fatal("no database files")
	}
	haystacks := map[string][]byte{"server stdout": []byte(stdout), "server stderr": []byte(stderr)}
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		haystacks[f] = b
	}
	for name, b := range haystacks {
		for what, needle := range map[string]string{"password": key.AccessKeyPassword, "token": tok.Token} {
			if bytes.Contains(b, []byte(needle)) {
				t.Errorf("%s contains the %s", name, what)
			}
		}
	}
	if !strings.Contains(stderr, key.AccessKeyID) {
		t.Errorf("the log does not name the access key id; it should, for tracing")
	}
}

// TestMasterKeyMismatchAndRotation: a command that seals or opens passwords
// refuses the wrong master key, and rotation re-seals every password so that
// the new key works and the old one is refused.
func TestMasterKeyMismatchAndRotation(t *testing.T) {
	parallel(t)
	bin := testkit.Tool(t)
	dir := t.TempDir()
	run := func(args ...string) (string, string, error) {
		cmd := exec.Command(bin, args...)
		cmd.Env = envWithoutMasterKey()
		var o, e bytes.Buffer
		cmd.Stdout, cmd.Stderr = &o, &e
		err := cmd.Run()
		return o.String(), e.String(), err
	}
	if _, stderr, err := run("migrate", "--data-dir", dir); err != nil {
		t.Fatalf("migrate: %v\n%s", err, stderr)
	}
	out, _, err := run("admin", "--data-dir", dir, "account", "create", "--name", "x", "--output", "json")
	if err != nil {
		t.Fatal(err)
	}
	var acct struct{ AccountID string }
	_ = json.Unmarshal([]byte(out), &acct)
	if _, _, err := run("admin", "--data-dir", dir, "key", "create", "--account", acct.AccountID); err != nil {
		t.Fatal(err)
	}
	other := filepath.Join(t.TempDir(), "other.key")
	_, stderr, err := run("admin", "--data-dir", dir, "--master-key-file", other, "key", "create", "--account", acct.AccountID)
	if err == nil || !strings.Contains(stderr, "master key") {
		t.Fatalf("a wrong master key was accepted: %v\n%s", err, stderr)
	}
	next := filepath.Join(t.TempDir(), "next.key")
	out, stderr, err = run("admin", "--data-dir", dir, "master-key", "rotate", "--new-key-file", next, "--output", "json")
	if err != nil {
		t.Fatalf("rotate: %v\n%s", err, stderr)
	}
	var rot struct{ AccessKeys int }
	if err := json.Unmarshal([]byte(out), &rot); err != nil || rot.AccessKeys != 1 {
		t.Fatalf("rotate output %s (%v)", out, err)
	}
	if _, stderr, err := run("admin", "--data-dir", dir, "--master-key-file", next, "key", "create", "--account", acct.AccountID); err != nil {
		t.Fatalf("the new key is refused: %v\n%s", err, stderr)
	}
	if _, _, err := run("admin", "--data-dir", dir, "key", "create", "--account", acct.AccountID); err == nil {
		t.Fatal("the old key is still accepted after rotation")
	}
}

// envWithoutMasterKey is the binary's environment with no master key given,
// so that it uses (and generates) the default file in the data directory.
func envWithoutMasterKey() []string {
	var env []string
	for _, kv := range pgCleanEnv() {
		if !strings.HasPrefix(kv, "IMAGEQUOTA_") {
			env = append(env, kv)
		}
	}
	return env
}
