package doccheck

import (
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"unicode"

	"github.com/imagequota/imagequota/internal/operator"
	"github.com/imagequota/imagequota/internal/vm"
	"github.com/imagequota/imagequota/internal/zcapi"
)

// Scripts are the files whose commands count as run: a command shown in the
// docs that appears in one of them, word for word, is covered. Add a file
// here when it runs commands the docs show.
var Scripts = []string{
	".ci/run",
	"Makefile",
}

// TestCommandsCovered fails on any command in README.md or docs/**/*.md that
// is not run by the page tests, not in a script, and not marked as needing
// what this machine cannot provide.
func TestCommandsCovered(t *testing.T) {
	root := repoRoot(t)
	scripts := loadScripts(t, root)
	var uncovered []string
	for _, rel := range docPages(t, root) {
		md := readFile(t, filepath.Join(root, rel))
		run := IsRunPage(md)
		for _, b := range ParseBlocks(md) {
			if !b.IsShell() {
				if b.HasPrompt() {
					uncovered = append(uncovered, location(rel, b.Line)+": a block of \"$ \" commands must be fenced as ```console")
				}
				continue
			}
			if run || b.Needs() != "" {
				continue
			}
			for _, s := range b.Steps() {
				if s.Command == "" {
					uncovered = append(uncovered, location(rel, s.Line)+": output with no command before it")
					continue
				}
				if !scripts.covers(s.Command) {
					uncovered = append(uncovered, location(rel, s.Line)+": "+OneLine(s.Command))
				}
			}
		}
	}
	if len(uncovered) > 0 {
		t.Errorf("%d command(s) in the docs are run by nothing. Run each in a page the tests run (%s), "+
			"put it in a script (%s), or mark its block with <!-- needs: WHAT --> when it needs something "+
			"this machine cannot provide (docs/README.md, \"Writing these pages\"):\n  %s",
			len(uncovered), RunDirective, strings.Join(Scripts, ", "), strings.Join(uncovered, "\n  "))
	}
}

func location(rel string, line int) string { return rel + ":" + strconv.Itoa(line) }

// scriptSet is the scripts' text, each line with its continuations joined
// and blanks collapsed.
type scriptSet struct {
	files map[string]string
}

func loadScripts(t *testing.T, root string) *scriptSet {
	t.Helper()
	s := &scriptSet{files: map[string]string{}}
	for _, rel := range Scripts {
		text := readFile(t, filepath.Join(root, rel))
		if rel == "Makefile" {
			text = strings.ReplaceAll(text, "$(GO)", "go")
		}
		s.files[rel] = OneLine(text)
	}
	return s
}

// coveredBy names the script that runs cmd, or "".
func (s *scriptSet) coveredBy(cmd string) string {
	c := OneLine(cmd)
	for _, rel := range Scripts {
		if text := s.files[rel]; c != "" && containsWords(text, c) {
			return rel
		}
	}
	return ""
}

func (s *scriptSet) covers(cmd string) bool { return s.coveredBy(cmd) != "" }

// containsWords reports whether cmd appears in text as whole words: not as a
// part of a longer command.
func containsWords(text, cmd string) bool {
	for i := 0; ; {
		j := strings.Index(text[i:], cmd)
		if j < 0 {
			return false
		}
		start, end := i+j, i+j+len(cmd)
		before := start == 0 || strings.ContainsRune(" \t;&|(", rune(text[start-1]))
		after := end == len(text) || strings.ContainsRune(" \t;&|)", rune(text[end]))
		if before && after {
			return true
		}
		i = start + 1
	}
}

// docPages returns README.md and every Markdown file under docs/, relative to
// the repository's root.
func docPages(t *testing.T, root string) []string {
	t.Helper()
	pages := []string{"README.md"}
	err := filepath.WalkDir(filepath.Join(root, "docs"), func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if !d.IsDir() && strings.HasSuffix(path, ".md") {
			rel, err := filepath.Rel(root, path)
			if err != nil {
				return err
			}
			pages = append(pages, filepath.ToSlash(rel))
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return pages
}

// repoRoot is the directory of go.mod above this package.
func repoRoot(t *testing.T) string {
	t.Helper()
	dir, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			t.Fatal("no go.mod above " + dir)
		}
		dir = parent
	}
}

func readFile(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// TestExcerpts checks that a block marked "doccheck: excerpt FILE" is, line
// for line, a part of FILE, so that code shown from a tested file stays the
// code that is tested.
func TestExcerpts(t *testing.T) {
	root := repoRoot(t)
	for _, rel := range docPages(t, root) {
		md := readFile(t, filepath.Join(root, rel))
		for _, b := range ParseBlocks(md) {
			file := b.Excerpt()
			if file == "" {
				continue
			}
			text, err := os.ReadFile(filepath.Join(root, file))
			if err != nil {
				t.Errorf("%s: excerpt of %s: %v", location(rel, b.Line), file, err)
				continue
			}
			if !strings.Contains(string(text), strings.Join(b.Lines, "\n")+"\n") {
				t.Errorf("%s: the block is not a part of %s as it stands: copy it again", location(rel, b.Line), file)
			}
		}
	}
}

// TestServeFlagsDocumented fails on a flag of imagequota serve that the
// configuration table of docs/operations.md does not name.
func TestServeFlagsDocumented(t *testing.T) {
	root := repoRoot(t)
	out, err := exec.Command(binary(t, root), "serve", "--help").CombinedOutput()
	if err != nil {
		t.Fatalf("imagequota serve --help: %v\n%s", err, out)
	}
	page := readFile(t, filepath.Join(root, "docs/operations.md"))
	flags := regexp.MustCompile(`(?m)^\s+(--[a-z][a-z0-9-]*)`).FindAllStringSubmatch(string(out), -1)
	if len(flags) < 10 {
		t.Fatalf("found %d flags in serve --help; the pattern no longer fits its layout:\n%s", len(flags), out)
	}
	for _, f := range flags {
		if !strings.Contains(page, "`"+f[1]+"`") {
			t.Errorf("imagequota serve %s is not in docs/operations.md's configuration", f[1])
		}
	}
}

// mdLink is a Markdown link to a relative target: [text](target).
var mdLink = regexp.MustCompile(`\]\(([^)\s]+)\)`)

// TestLinks fails on a relative link in README.md or docs/ whose file does
// not exist, or whose #anchor names no heading of the Markdown page it
// points to.
func TestLinks(t *testing.T) {
	root := repoRoot(t)
	for _, rel := range docPages(t, root) {
		md := readFile(t, filepath.Join(root, rel))
		for n, line := range strings.Split(withoutCode(md), "\n") {
			for _, m := range mdLink.FindAllStringSubmatch(line, -1) {
				target := m[1]
				if strings.Contains(target, "://") || strings.HasPrefix(target, "mailto:") {
					continue
				}
				file, anchor, _ := strings.Cut(target, "#")
				path := filepath.Join(root, filepath.Dir(rel), file)
				if file == "" {
					path = filepath.Join(root, rel)
				}
				info, err := os.Stat(path)
				if err != nil {
					t.Errorf("%s: link to %s: no such file", location(rel, n+1), target)
					continue
				}
				if anchor == "" || info.IsDir() || !strings.HasSuffix(path, ".md") {
					continue
				}
				if !headingAnchors(readFile(t, path))[anchor] {
					t.Errorf("%s: link to %s: no heading makes the anchor #%s", location(rel, n+1), target, anchor)
				}
			}
		}
	}
}

// withoutCode blanks the lines of fenced code blocks, keeping the line count.
func withoutCode(md string) string {
	lines := strings.Split(md, "\n")
	in := false
	for i, l := range lines {
		if fence.MatchString(l) {
			in = !in
			lines[i] = ""
			continue
		}
		if in {
			lines[i] = ""
		}
	}
	return strings.Join(lines, "\n")
}

// headingAnchors returns the anchors GitHub makes of a page's headings: lower
// case, punctuation but hyphens dropped, spaces as hyphens, and "-N" after
// the Nth repeat.
func headingAnchors(md string) map[string]bool {
	anchors := map[string]bool{}
	seen := map[string]int{}
	for _, l := range strings.Split(withoutCode(md), "\n") {
		if !strings.HasPrefix(l, "#") {
			continue
		}
		h := strings.TrimSpace(strings.TrimLeft(l, "#"))
		var b strings.Builder
		for _, r := range strings.ToLower(h) {
			switch {
			case r == ' ':
				b.WriteRune('-')
			case r == '-' || r == '_' || unicode.IsLetter(r) || unicode.IsDigit(r):
				b.WriteRune(r)
			}
		}
		a := b.String()
		if n := seen[a]; n > 0 {
			anchors[a+"-"+strconv.Itoa(n)] = true
		} else {
			anchors[a] = true
		}
		seen[a]++
	}
	return anchors
}

// TestErrorCodesDocumented fails on an error code of the status table
// (internal/zcapi/errors.go) that docs/api.md's tables do not list with its
// HTTP status.
func TestErrorCodesDocumented(t *testing.T) {
	root := repoRoot(t)
	page := readFile(t, filepath.Join(root, "docs/api.md"))
	for _, code := range zcapi.Codes() {
		status, wire := zcapi.Status(code)
		row := "| `" + wire + "` | " + strconv.Itoa(status) + " |"
		if !strings.Contains(page, row) {
			t.Errorf("docs/api.md has no row %q for %s", row, code)
		}
	}
}

// TestActionsDocumented fails on an action either API serves that its
// reference page does not name in a table row.
func TestActionsDocumented(t *testing.T) {
	root := repoRoot(t)
	for _, svc := range []struct {
		page  string
		table zcapi.ActionTable
	}{
		{"docs/api.md", (&vm.Service{}).Actions()},
		{"docs/operator-api.md", (&operator.Service{}).Actions()},
	} {
		var rows []string
		for _, l := range strings.Split(readFile(t, filepath.Join(root, svc.page)), "\n") {
			if strings.HasPrefix(l, "| `") {
				rows = append(rows, l[:strings.Index(l[1:], "|")+1])
			}
		}
		first := strings.Join(rows, "\n")
		for _, a := range svc.table.Actions {
			if !strings.Contains(first, "`"+a.Name+"`") {
				t.Errorf("%s: no table row for the action %s", svc.page, a.Name)
			}
		}
	}
}
