package main

import (
	"errors"
	"flag"
	"io"
	"io/fs"
	"os"
	"strings"
	"testing"
)

// TestAdminCommandHelp: every command of the table has its own help, which
// names every flag it takes in --flag style; a group's help lists exactly its
// commands; "admin help …" prints the same.
func TestAdminCommandHelp(t *testing.T) {
	t.Parallel()
	c := newCLI(t)
	for _, cmd := range adminTable {
		r := c.admin(t, append(strings.Fields(cmd.name()), "--help")...)
		if r.code != 0 || r.stderr != "" {
			t.Fatalf("%s --help: exit %d\nstderr: %s", cmd.name(), r.code, r.stderr)
		}
		if !strings.Contains(r.stdout, "Usage: imagequota admin [--data-dir DIR | --db URL | --server URL] "+cmd.name()) || !strings.Contains(r.stdout, cmd.summary) {
			t.Errorf("%s --help lacks its usage line or summary:\n%s", cmd.name(), r.stdout)
		}
		f, _, _, _, _ := cmd.commandFlags(newConfig("admin", "", nil, io.Discard, io.Discard), nil, io.Discard, io.Discard)
		f.c.fs.VisitAll(func(fl *flag.Flag) {
			if !strings.Contains(r.stdout, "\n  --"+fl.Name+" ") {
				t.Errorf("%s --help does not show --%s:\n%s", cmd.name(), fl.Name, r.stdout)
			}
		})
		if strings.Contains(r.stdout, "\n  -"+"output") {
			t.Errorf("%s --help shows flags with one dash:\n%s", cmd.name(), r.stdout)
		}
		if h := c.admin(t, append([]string{"help"}, strings.Fields(cmd.name())...)...); h.code != 0 || h.stdout != r.stdout {
			t.Errorf("admin help %s: exit %d, output differs from --help:\n%s", cmd.name(), h.code, h.stdout)
		}
	}
	for _, g := range adminGroups {
		r := c.run(t, "admin", g.name, "--help")
		if r.code != 0 || r.stderr != "" {
			t.Fatalf("%s --help: exit %d\nstderr: %s", g.name, r.code, r.stderr)
		}
		for _, cmd := range adminTable {
			listed := strings.Contains(r.stdout, "\n  "+cmd.name()+" ")
			if listed != (cmd.group == g.name) {
				t.Errorf("%s --help lists %s: %v, want %v\n%s", g.name, cmd.name(), listed, cmd.group == g.name, r.stdout)
			}
		}
		if h := c.run(t, "admin", "help", g.name); h.code != 0 || h.stdout != r.stdout {
			t.Errorf("admin help %s: exit %d, output differs from --help:\n%s", g.name, h.code, h.stdout)
		}
	}
	r := c.run(t, "admin", "--help")
	for _, cmd := range adminTable {
		if !strings.Contains(r.stdout, "\n  "+cmd.name()+" ") {
			t.Errorf("admin --help does not list %s", cmd.name())
		}
	}
	for _, want := range []string{"\n  --data-dir DIR ", "\n  --db URL ", "Exit status"} {
		if !strings.Contains(r.stdout, want) {
			t.Errorf("admin --help lacks %q:\n%s", want, r.stdout)
		}
	}
	if _, err := os.Stat(c.dir); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("help created the data directory %s", c.dir)
	}
}

// TestAdminExitCodes: a command line that is refused before anything is
// done (it cannot be parsed, or its values fail the checks) exits 2,
// whichever the command.
func TestAdminExitCodes(t *testing.T) {
	t.Parallel()
	c := newCLI(t)
	tests := []struct {
		args   []string
		code   int
		stderr string
	}{
		{[]string{"help", "frob"}, 2, `unknown command "frob"`},
		{[]string{"help", "quota", "frob"}, 2, `unknown command "quota frob"`},
		{[]string{"frob", "--help"}, 2, `unknown command "frob"`},
		{[]string{"quota", "frob"}, 2, `unknown command "quota frob"`},
		{[]string{"--colour", "account", "list"}, 2, "flag provided but not defined: --colour"},
		{[]string{"audit", "list", "--limit", "many"}, 2, `invalid value "many" for flag --limit`},
		{[]string{"token", "create", "--account", "acc-x", "--ttl", "soon"}, 2, `invalid value "soon" for flag --ttl`},
		{[]string{"audit", "list", "--since", "never"}, 2, "--since"},
		{[]string{"master-key", "rotate"}, 2, "--new-key-file is required"},
		{[]string{"instance", "list", "a", "b"}, 2, "unexpected arguments: a b"},
	}
	for _, tc := range tests {
		r := c.admin(t, tc.args...)
		if r.code != tc.code || !strings.Contains(r.stderr, tc.stderr) || r.stdout != "" {
			t.Errorf("admin %q: exit %d, stdout %q, stderr %q; want exit %d and %q", tc.args, r.code, r.stdout, r.stderr, tc.code, tc.stderr)
		}
	}
}
