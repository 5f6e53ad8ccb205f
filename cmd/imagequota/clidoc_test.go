package main

import (
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
)

var update = flag.Bool("update", false, "rewrite the generated part of docs/cli.md from the commands' --help")

const (
	generatedBegin = "<!-- BEGIN GENERATED from every command's --help: go test ./cmd/imagequota -run TestCLIDoc -update -->"
	generatedEnd   = "<!-- END GENERATED -->"
)

// flagVarRE finds the variable a flag's help names, in brackets.
var flagVarRE = regexp.MustCompile(`\[((?:IMAGEQUOTA|ZENLAYER)_[A-Z_]+)\]`)

// generatedCLIDoc is the reference part of docs/cli.md: the variables every
// flag reads, then the help of every command, as the commands print it.
func generatedCLIDoc(t *testing.T) string {
	t.Helper()
	var b strings.Builder
	type use struct{ flag, cmds []string }
	vars := map[string]*use{}
	var helps []string
	for _, cmd := range everyCommand(t) {
		if len(cmd.words) == 2 && cmd.words[0] == "admin" {
			if _, ok := findGroup(cmd.words[1]); ok {
				continue // a group's help only lists its commands
			}
		}
		name := strings.Join(cmd.words, " ")
		r := runWith(t, nil, append(append([]string{}, cmd.words...), "--help")...)
		if r.code != 0 {
			t.Fatalf("%s --help: exit %d: %s", name, r.code, r.stderr)
		}
		helps = append(helps, fmt.Sprintf("### imagequota %s\n\n```text\n%s\n```\n", name, strings.TrimRight(r.stdout, "\n")))
		// Each flag's block: its line and the indented lines after it.
		for _, block := range regexp.MustCompile(`(?m)^  --`).Split(r.stdout, -1)[1:] {
			fname, _, _ := strings.Cut(block, " ")
			fname, _, _ = strings.Cut(fname, "\n")
			block, _, _ = strings.Cut(block, "\n\n")
			if m := flagVarRE.FindStringSubmatch(strings.Join(strings.Fields(block), " ")); m != nil {
				u := vars[m[1]]
				if u == nil {
					u = &use{}
					vars[m[1]] = u
				}
				if !slices.Contains(u.flag, "--"+fname) {
					u.flag = append(u.flag, "--"+fname)
				}
				top := cmd.words[0]
				if !slices.Contains(u.cmds, top) {
					u.cmds = append(u.cmds, top)
				}
			}
		}
	}
	b.WriteString(generatedBegin + "\n\n")
	b.WriteString("## Variables of the flags\n\nA flag given on the command line wins over its variable.\n\n| variable | flag | commands |\n| --- | --- | --- |\n")
	names := make([]string, 0, len(vars))
	for k := range vars {
		names = append(names, k)
	}
	slices.Sort(names)
	for _, k := range names {
		fmt.Fprintf(&b, "| `%s` | `%s` | %s |\n", k, strings.Join(vars[k].flag, "`, `"), strings.Join(vars[k].cmds, ", "))
	}
	b.WriteString("\n## Every command's help\n\n")
	b.WriteString(strings.Join(helps, "\n"))
	b.WriteString("\n" + generatedEnd + "\n")
	return b.String()
}

// TestCLIDoc: the generated part of docs/cli.md is the --help of every
// command as it is now; with -update the test rewrites it.
func TestCLIDoc(t *testing.T) {
	path := filepath.Join(moduleRoot(t), "docs", "cli.md")
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	doc := string(b)
	i, j := strings.Index(doc, generatedBegin), strings.Index(doc, generatedEnd)
	if i < 0 || j < i {
		t.Fatalf("%s lacks the markers of its generated part", path)
	}
	j += len(generatedEnd) + 1
	want := generatedCLIDoc(t)
	if doc[i:min(j, len(doc))] == want {
		return
	}
	if *update {
		if err := os.WriteFile(path, []byte(doc[:i]+want+doc[min(j, len(doc)):]), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	t.Errorf("docs/cli.md differs from the commands' --help: run go test ./cmd/imagequota -run TestCLIDoc -update")
}
