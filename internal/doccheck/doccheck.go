// Package doccheck keeps the documentation true. Its tests run the pages
// that say so (docs/tutorial.md, the README's quick start) command by command
// against a freshly built binary and compare what each command prints with
// what the page shows, and they fail on any command in README.md or docs/
// that nothing runs. docs/README.md ("Writing these pages") states the rules
// for page authors; this file reads the pages by those rules.
package doccheck

import (
	"fmt"
	"regexp"
	"strings"
)

// RunDirective, on a line of its own before a page's first heading, makes the
// page's shell blocks run, in order, by the tests.
const RunDirective = "<!-- doccheck: run -->"

// InterruptDirective before a console block of output lines alone says: stop
// the server started last with SIGINT (Ctrl-C); what it printed last is this.
const InterruptDirective = "doccheck: interrupt"

// PostgresDirective before a block of a run page gives the page's shell
// IMAGEQUOTA_DB: a fresh PostgreSQL database, the same for the rest of the
// page.
const PostgresDirective = "doccheck: postgres"

// needsPrefix starts a directive that says what a block's commands need that
// this machine cannot provide: "<!-- needs: a PostgreSQL server of your own -->".
const needsPrefix = "needs:"

// Block is one fenced code block of a Markdown page.
type Block struct {
	Lang string // the fence's info string, first word, lower case
	Line int    // line number of the opening fence, from 1
	// Directives are the HTML comments on the lines just above the fence,
	// without "<!--" and "-->".
	Directives []string
	Lines      []string
}

// Needs is what the block's "needs:" directive says it needs, or "".
func (b Block) Needs() string {
	for _, d := range b.Directives {
		if strings.HasPrefix(d, needsPrefix) {
			return strings.TrimSpace(strings.TrimPrefix(d, needsPrefix))
		}
	}
	return ""
}

// ExcerptDirective, followed by a file of the repository, says that the
// block is a part of that file, word for word.
const ExcerptDirective = "doccheck: excerpt "

// Excerpt is the file the block is an excerpt of, or "".
func (b Block) Excerpt() string {
	for _, d := range b.Directives {
		if strings.HasPrefix(d, ExcerptDirective) {
			return strings.TrimSpace(strings.TrimPrefix(d, ExcerptDirective))
		}
	}
	return ""
}

// Has reports whether the block carries directive d.
func (b Block) Has(d string) bool {
	for _, x := range b.Directives {
		if x == d {
			return true
		}
	}
	return false
}

// IsShell reports whether the block holds commands: a console session or a
// script.
func (b Block) IsShell() bool { return b.IsConsole() || b.IsScript() }

// IsConsole reports whether the block is a shell session: "$ " commands and
// their output.
func (b Block) IsConsole() bool { return b.Lang == "console" }

// IsScript reports whether the block is commands alone, one per line.
func (b Block) IsScript() bool {
	switch b.Lang {
	case "sh", "bash", "shell", "zsh":
		return true
	}
	return false
}

// HasPrompt reports whether any line of the block starts with "$ ", as a
// shell session's do.
func (b Block) HasPrompt() bool {
	for _, l := range b.Lines {
		if strings.HasPrefix(l, "$ ") {
			return true
		}
	}
	return false
}

var fence = regexp.MustCompile("^(\\s*)(```+|~~~+)\\s*([^`\\s]*)")

// ParseBlocks returns the fenced code blocks of a Markdown page.
func ParseBlocks(md string) []Block {
	lines := strings.Split(md, "\n")
	var blocks []Block
	for i := 0; i < len(lines); i++ {
		m := fence.FindStringSubmatch(lines[i])
		if m == nil {
			continue
		}
		indent, marker := m[1], m[2]
		b := Block{Lang: strings.ToLower(m[3]), Line: i + 1, Directives: directivesAbove(lines, i)}
		for i++; i < len(lines); i++ {
			t := strings.TrimSpace(lines[i])
			if strings.HasPrefix(t, marker) && strings.Trim(t, marker[:1]) == "" {
				break
			}
			b.Lines = append(b.Lines, strings.TrimPrefix(lines[i], indent))
		}
		blocks = append(blocks, b)
	}
	return blocks
}

// directivesAbove returns the HTML comments on the lines just above line i
// (no blank line between them and the fence).
func directivesAbove(lines []string, i int) []string {
	var out []string
	for j := i - 1; j >= 0; j-- {
		t := strings.TrimSpace(lines[j])
		if !strings.HasPrefix(t, "<!--") || !strings.HasSuffix(t, "-->") {
			break
		}
		out = append(out, strings.TrimSpace(strings.TrimSuffix(strings.TrimPrefix(t, "<!--"), "-->")))
	}
	return out
}

// IsRunPage reports whether a page asks for its shell blocks to be run: the
// run directive stands on a line of its own before its first heading.
func IsRunPage(md string) bool {
	for _, l := range strings.Split(md, "\n") {
		t := strings.TrimSpace(l)
		if t == RunDirective {
			return true
		}
		if strings.HasPrefix(t, "#") {
			return false
		}
	}
	return false
}

// Step is one command of a block and, in a console block, the output the
// page shows for it.
type Step struct {
	Command string   // continuation lines joined with "\n"
	Output  []string // console blocks only
	Line    int      // line of the command in the page
}

// Steps splits a shell block into its commands. In a console block a command
// is a "$ " line (and the lines after it while one ends in a backslash), and
// its output is every line up to the next command. In a script every line
// that is not blank or a comment is a command.
func (b Block) Steps() []Step {
	var steps []Step
	cont := false
	for i, l := range b.Lines {
		line := b.Line + 1 + i
		switch {
		case cont:
			s := &steps[len(steps)-1]
			s.Command += "\n" + l
			cont = strings.HasSuffix(l, "\\")
		case b.IsConsole() && strings.HasPrefix(l, "$ "):
			steps = append(steps, Step{Command: strings.TrimPrefix(l, "$ "), Line: line})
			cont = strings.HasSuffix(l, "\\")
		case b.IsConsole():
			if len(steps) == 0 {
				steps = append(steps, Step{Line: line}) // output with no command: an interrupt block
			}
			s := &steps[len(steps)-1]
			s.Output = append(s.Output, l)
		default:
			t := strings.TrimSpace(l)
			if t == "" || strings.HasPrefix(t, "#") {
				continue
			}
			steps = append(steps, Step{Command: l, Line: line})
			cont = strings.HasSuffix(l, "\\")
		}
	}
	return steps
}

// normalizers turn what differs from run to run into fixed tokens. They are
// applied, in order, to the page's output and to the real output alike, so
// that the page may show a real session's values.
var normalizers = []struct {
	re   *regexp.Regexp
	with string
}{
	{regexp.MustCompile(`T[0-9A-F]{8}-[0-9A-F]{4}-[0-9A-F]{4}-[0-9A-F]{4}-[0-9A-F]{12}`), "T<request-id>"},
	{regexp.MustCompile(`\b(acc|ins|img|opr|qr|evt)-[0-9a-f]{16}\b`), "$1-<id>"},
	{regexp.MustCompile(`\b(AK|OPK)[0-9A-F]{22}\b`), "$1<key-id>"},
	{regexp.MustCompile(`zqt_[A-Za-z0-9_-]{43}`), "zqt_<token>"},
	{regexp.MustCompile(`\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z`), "<time>"},
	{regexp.MustCompile(`sha256:[0-9a-f]{16}`), "sha256:<fingerprint>"},
	{regexp.MustCompile(`"latency_ms":[0-9.e+-]+`), `"latency_ms":<ms>`},
	{regexp.MustCompile(`"remote":"[^"]*"`), `"remote":<addr>`},
	{regexp.MustCompile(`t=\d{10},v1=[0-9a-f]{64}`), "t=<unix>,v1=<signature>"},
	// The version a binary was built with: "(devel)", a tag or a pseudo-version.
	{regexp.MustCompile(`\bimagequota (\(devel\)|v\d[^\s]*)`), "imagequota <version>"},
}

// secret is a password as the store makes them: 24 random bytes, base64url.
var secret = regexp.MustCompile(`(^|[\s"=])[A-Za-z0-9_-]{32}($|[\s"])`)

var spaces = regexp.MustCompile(`[ \t]+`)

// Normalize returns a line of output with run-dependent values replaced by
// tokens and runs of blanks collapsed (so table columns may shift).
func Normalize(line string) string {
	for _, n := range normalizers {
		line = n.re.ReplaceAllString(line, n.with)
	}
	// A secret's delimiters may be shared by two neighbours: replace until
	// nothing changes.
	for {
		next := secret.ReplaceAllString(line, "$1<secret>$2")
		if next == line {
			break
		}
		line = next
	}
	return strings.TrimSpace(spaces.ReplaceAllString(line, " "))
}

// Ellipsis alone on a line of a page's output stands for any number of lines,
// none included.
const Ellipsis = "…"

// Match reports whether the real output lines match the page's: each line
// equal after Normalize, with an Ellipsis line matching any run of lines.
// With prefix, the real output may go on after the page's last line.
func Match(want, got []string, prefix bool) bool {
	return match(want, got, prefix, false)
}

// MayMatch reports whether the real output could still match the page's when
// more lines come: whether it matches the start of the page's output.
func MayMatch(want, got []string) bool { return match(want, got, false, true) }

func match(want, got []string, prefix, partial bool) bool {
	w := make([]string, 0, len(want))
	for _, l := range want {
		w = append(w, Normalize(l))
	}
	g := make([]string, 0, len(got))
	for _, l := range got {
		g = append(g, Normalize(l))
	}
	w, g = trimBlank(w), trimBlank(g)
	if prefix {
		w = append(w, Ellipsis)
	}
	memo := map[[2]int]bool{}
	var match func(i, j int) bool
	match = func(i, j int) bool {
		if partial && j == len(g) {
			return true
		}
		if i == len(w) {
			return j == len(g)
		}
		k := [2]int{i, j}
		if v, ok := memo[k]; ok {
			return v
		}
		var ok bool
		if w[i] == Ellipsis {
			ok = match(i+1, j) || (j < len(g) && match(i, j+1))
		} else {
			ok = j < len(g) && w[i] == g[j] && match(i+1, j+1)
		}
		memo[k] = ok
		return ok
	}
	return match(0, 0)
}

// trimBlank drops blank lines at either end.
func trimBlank(ls []string) []string {
	for len(ls) > 0 && ls[0] == "" {
		ls = ls[1:]
	}
	for len(ls) > 0 && ls[len(ls)-1] == "" {
		ls = ls[:len(ls)-1]
	}
	return ls
}

// Diff shows the page's output beside the real one, normalized, for a
// failure message.
func Diff(want, got []string) string {
	var b strings.Builder
	b.WriteString("the page shows (normalized):\n")
	for _, l := range want {
		fmt.Fprintf(&b, "  | %s\n", Normalize(l))
	}
	b.WriteString("the command printed (normalized):\n")
	for _, l := range got {
		fmt.Fprintf(&b, "  | %s\n", Normalize(l))
	}
	return b.String()
}

// OneLine returns a command with its continuations joined and blanks
// collapsed, the form in which commands are compared with scripts.
func OneLine(cmd string) string {
	cmd = strings.ReplaceAll(cmd, "\\\n", " ")
	return strings.TrimSpace(spaces.ReplaceAllString(strings.ReplaceAll(cmd, "\n", " "), " "))
}

// Refresh returns the real output in the page's shape: where want matches
// got, each line of got, with every "…" line of want kept in place of the
// lines it stands for. It returns nil when they do not match.
func Refresh(want, got []string) []string {
	w := make([]string, len(want))
	for i, l := range want {
		w[i] = Normalize(l)
	}
	g := make([]string, len(got))
	for i, l := range got {
		g[i] = Normalize(l)
	}
	memo := map[[2]int]bool{}
	var ok func(i, j int) bool
	ok = func(i, j int) bool {
		if i == len(w) {
			return j == len(g)
		}
		k := [2]int{i, j}
		if v, seen := memo[k]; seen {
			return v
		}
		var r bool
		if w[i] == Ellipsis {
			r = ok(i+1, j) || (j < len(g) && ok(i, j+1))
		} else {
			r = j < len(g) && w[i] == g[j] && ok(i+1, j+1)
		}
		memo[k] = r
		return r
	}
	if !ok(0, 0) {
		return nil
	}
	var out []string
	for i, j := 0, 0; i < len(w); {
		switch {
		case w[i] != Ellipsis:
			out = append(out, got[j])
			i, j = i+1, j+1
		case ok(i+1, j):
			out = append(out, want[i])
			i++
		default:
			j++
		}
	}
	return out
}
