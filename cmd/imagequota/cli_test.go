package main

import (
	"net"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// cliCommand is one command of imagequota as typed after "imagequota", with
// a command line of it that is well formed but fails when it runs (nil when
// nothing it does can fail).
type cliCommand struct {
	words   []string
	failing []string
}

// requiredArgs turns the required part of a synopsis ("--account ID
// [--ttl 24h]") into arguments that pass the checks of the command line.
func requiredArgs(t *testing.T, synopsis string) []string {
	t.Helper()
	for strings.Contains(synopsis, "[") {
		synopsis = regexp.MustCompile(`\[[^\[\]]*\]`).ReplaceAllString(synopsis, "")
	}
	values := map[string]string{
		"NAME": "x", "ID": "acc-x", "KEYID": "AKX", "LOC": "jp-tokyo-1a", "N": "3", "AGE": "1d",
		"admin|readonly": "admin", "F": filepath.Join(t.TempDir(), "new.key"),
	}
	var args []string
	for _, w := range strings.Fields(synopsis) {
		if v, ok := values[w]; ok {
			w = v
		}
		args = append(args, w)
	}
	return args
}

// everyCommand is every command and admin sub-command, each with a failing
// command line: a store that does not exist, an address that is taken, a
// server that does not answer.
func everyCommand(t *testing.T) []cliCommand {
	t.Helper()
	missing := filepath.Join(t.TempDir(), "missing")
	taken, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { taken.Close() })
	closed, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	closedURL := "http://" + closed.Addr().String()
	closed.Close()
	cmds := []cliCommand{
		{[]string{"serve"}, []string{"--addr", taken.Addr().String(), "--data-dir", missing}},
		{[]string{"call"}, []string{"DescribeImageQuota", "--endpoint", closedURL}},
		{[]string{"migrate"}, []string{"status", "--data-dir", missing}},
		{[]string{"version"}, nil},
		{[]string{"backup"}, []string{"--data-dir", missing, "--out", filepath.Join(missing, "backup.db")}},
		{[]string{"restore"}, []string{"--from", filepath.Join(missing, "backup.db"), "--data-dir", missing}},
		{[]string{"healthcheck"}, []string{"--url", closedURL + "/healthz"}},
		{[]string{"admin"}, []string{"--data-dir", missing, "account", "list"}},
	}
	for _, g := range adminGroups {
		cmds = append(cmds, cliCommand{[]string{"admin", g.name}, nil})
	}
	for _, cmd := range adminTable {
		cmds = append(cmds, cliCommand{append([]string{"admin"}, strings.Fields(cmd.name())...),
			append([]string{"--data-dir", missing}, requiredArgs(t, cmd.synopsis)...)})
	}
	return cmds
}

// singleDashFlag matches a flag written with one dash at the start of a line of help.
var singleDashFlag = regexp.MustCompile(`(?m)^\s+-[A-Za-z]`)

// TestEveryCommandExitCodes: every command and admin sub-command answers
// --help and -h on stdout with exit 0, showing its flags as --name; refuses
// an unknown flag with exit 2, naming it and where the help is, on stderr;
// and exits 1 when it fails as it runs.
func TestEveryCommandExitCodes(t *testing.T) {
	t.Parallel()
	env := []string{"ZENLAYER_ACCESS_KEY_ID=AKX", "ZENLAYER_ACCESS_KEY_SECRET=secret"}
	for _, cmd := range everyCommand(t) {
		name := strings.Join(cmd.words, " ")
		for _, help := range []string{"--help", "-h"} {
			r := runWith(t, env, append(append([]string{}, cmd.words...), help)...)
			if r.code != 0 || r.stderr != "" || !strings.Contains(r.stdout, "Usage") {
				t.Errorf("%s %s: exit %d, want 0 with the usage on stdout\nstdout: %s\nstderr: %s", name, help, r.code, r.stdout, r.stderr)
			}
			if !strings.Contains(r.stdout, "--") || singleDashFlag.MatchString(r.stdout) {
				t.Errorf("%s %s: the help does not show its flags as --name:\n%s", name, help, r.stdout)
			}
		}
		r := runWith(t, env, append(append([]string{}, cmd.words...), "--no-such-flag")...)
		if r.code != 2 || r.stdout != "" || !strings.Contains(r.stderr, "--no-such-flag") || !strings.Contains(r.stderr, "--help\" for usage") {
			t.Errorf("%s --no-such-flag: exit %d, want 2 with the flag and where the help is on stderr\nstdout: %s\nstderr: %s", name, r.code, r.stdout, r.stderr)
		}
		if strings.Count(strings.TrimSpace(r.stderr), "\n") != 1 {
			t.Errorf("%s --no-such-flag: want one line of problem and one of help on stderr:\n%s", name, r.stderr)
		}
		if cmd.failing == nil {
			continue
		}
		args := append(append([]string{}, cmd.words...), cmd.failing...)
		if r := runWith(t, env, args...); r.code != 1 || r.stderr == "" || strings.Contains(r.stderr, "for usage") {
			t.Errorf("%s: exit %d, want 1 with the failure on stderr\nstdout: %s\nstderr: %s", strings.Join(args, " "), r.code, r.stdout, r.stderr)
		}
	}
}

// TestHealthcheck: healthcheck exits 0 for a server that answers 200 and 1
// for a path that does not.
func TestHealthcheck(t *testing.T) {
	t.Parallel()
	c := setup(t)
	srv := c.serve(t)
	for _, path := range []string{"/healthz", "/readyz"} {
		if r := c.run(t, "healthcheck", "--url", srv.url+path); r.code != 0 || !strings.Contains(r.stdout, "200 OK") {
			t.Errorf("healthcheck %s: exit %d\nstdout: %s\nstderr: %s", path, r.code, r.stdout, r.stderr)
		}
	}
	if r := c.run(t, "healthcheck", "--url", srv.url+"/nowhere"); r.code != 1 || !strings.Contains(r.stderr, "404") {
		t.Errorf("healthcheck of a missing path: exit %d, stderr %q", r.code, r.stderr)
	}
	if r := runWith(t, []string{"IMAGEQUOTA_HEALTHCHECK_URL=" + srv.url + "/healthz"}, "healthcheck"); r.code != 0 {
		t.Errorf("healthcheck with IMAGEQUOTA_HEALTHCHECK_URL: exit %d, stderr %q", r.code, r.stderr)
	}
}
