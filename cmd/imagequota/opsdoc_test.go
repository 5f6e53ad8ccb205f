package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/imagequota/imagequota/internal/testkit"
	"github.com/imagequota/imagequota/internal/testkit/pgtest"
)

// docBlock is a fenced block of a document: its info string and text.
type docBlock struct{ info, text string }

func docBlocks(t *testing.T, path string) []docBlock {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var out []docBlock
	var cur *docBlock
	for _, line := range strings.Split(string(b), "\n") {
		switch {
		case cur == nil && strings.HasPrefix(line, "```"):
			cur = &docBlock{info: strings.TrimSpace(strings.TrimPrefix(line, "```"))}
		case cur != nil && strings.TrimSpace(line) == "```":
			out = append(out, *cur)
			cur = nil
		case cur != nil:
			cur.text += line + "\n"
		}
	}
	if cur != nil {
		t.Fatalf("%s: a block is not closed", path)
	}
	return out
}

// runScript runs a block with bash, the built imagequota first on PATH.
func runScript(t *testing.T, script string, env []string) {
	t.Helper()
	cmd := exec.Command("bash", "-euo", "pipefail", "-c", script)
	cmd.Env = append(os.Environ(), append(env, "PATH="+filepath.Dir(testkit.Binary(t))+string(os.PathListSeparator)+os.Getenv("PATH"))...)
	cmd.Dir = t.TempDir()
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("%s: %v\n%s", script, err, out)
	}
}

// TestOperationsDoc runs the commands of docs/operations-backup.md: the sh
// blocks in order against the store of a running server, the PostgreSQL ones
// when the tests have PostgreSQL. The Docker and systemd ones need what this
// machine does not have (a Docker daemon and registry, systemd as init):
// TestContainerfile and TestSystemdUnit check their files.
func TestOperationsDoc(t *testing.T) {
	t.Parallel()
	blocks := docBlocks(t, filepath.Join(moduleRoot(t), "docs", "operations-backup.md"))
	c := setup(t)
	acct, _, _ := c.newAccount(t, "documented")
	c.serve(t)
	dir := t.TempDir()
	env := []string{"DATA=" + c.dir, "BACKUP=" + filepath.Join(dir, "imagequota.db"),
		"KEYCOPY=" + filepath.Join(dir, "master.key.copy"), "NEWDATA=" + filepath.Join(dir, "restored")}
	ran := 0
	for _, b := range blocks {
		switch b.info {
		case "sh":
			runScript(t, b.text, env)
			ran++
		case "sh postgres":
			if os.Getenv("IMAGEQUOTA_TEST_POSTGRES") == "" {
				t.Logf("no PostgreSQL for the tests: not run:\n%s", b.text)
				continue
			}
			src := pgtest.NewDatabase(t)
			pg := &cli{dir: t.TempDir(), env: []string{"IMAGEQUOTA_MASTER_KEY_FILE=" + filepath.Join(t.TempDir(), "master.key")}}
			if r := pg.run(t, "migrate", "--db", src); r.code != 0 {
				t.Fatalf("migrate: exit %d: %s", r.code, r.stderr)
			}
			pg.adminOK(t, "--db", src, "account", "create", "--name", "documented")
			runScript(t, b.text, []string{"IMAGEQUOTA_DB=" + src, "NEW_DB=" + pgtest.NewDatabase(t), "DUMP=" + filepath.Join(t.TempDir(), "imagequota.dump")})
			ran++
		case "sh docker", "sh systemd":
			t.Logf("needs %s, which this machine does not have: not run", strings.TrimPrefix(b.info, "sh "))
		default:
			t.Errorf("a block of operations-backup.md is %q: want sh, sh postgres, sh docker or sh systemd", b.info)
		}
	}
	if ran < 3 {
		t.Fatalf("ran %d blocks of operations-backup.md", ran)
	}
	var accts []struct{ AccountID string }
	restored := &cli{dir: filepath.Join(dir, "restored")}
	restored.adminJSON(t, &accts, "account", "list")
	if len(accts) != 1 || accts[0].AccountID != acct {
		t.Errorf("the store restored as documented has accounts %+v, want %s", accts, acct)
	}
}
