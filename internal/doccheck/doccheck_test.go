package doccheck

import (
	"strings"
	"testing"
)

func TestParseBlocksAndSteps(t *testing.T) {
	t.Parallel()
	md := strings.Join([]string{
		"<!-- doccheck: run -->",
		"# Title",
		"",
		"<!-- needs: a database -->",
		"```console",
		"$ imagequota migrate --db \"$URL\" \\",
		"    status",
		"0001_init applied",
		"$ imagequota version",
		"imagequota dev",
		"```",
		"",
		"```sh",
		"# a comment",
		"field() { sed -n p; }",
		"",
		"export A=1",
		"```",
		"```json",
		"{}",
		"```",
	}, "\n")
	if !IsRunPage(md) {
		t.Error("IsRunPage = false for a page with the directive before its heading")
	}
	if IsRunPage("# Title\n" + RunDirective) {
		t.Error("IsRunPage = true for a directive after the heading")
	}
	blocks := ParseBlocks(md)
	if len(blocks) != 3 {
		t.Fatalf("%d blocks, want 3", len(blocks))
	}
	b := blocks[0]
	if !b.IsConsole() || b.Needs() != "a database" || b.Line != 5 {
		t.Errorf("block 0: lang %q needs %q line %d", b.Lang, b.Needs(), b.Line)
	}
	steps := b.Steps()
	if len(steps) != 2 || steps[0].Command != "imagequota migrate --db \"$URL\" \\\n    status" ||
		len(steps[0].Output) != 1 || steps[1].Line != 9 || steps[1].Output[0] != "imagequota dev" {
		t.Errorf("console steps: %#v", steps)
	}
	if got := OneLine(steps[0].Command); got != `imagequota migrate --db "$URL" status` {
		t.Errorf("OneLine = %q", got)
	}
	sh := blocks[1].Steps()
	if len(sh) != 2 || sh[0].Command != "field() { sed -n p; }" || sh[1].Command != "export A=1" {
		t.Errorf("script steps: %#v", sh)
	}
	if blocks[2].IsShell() {
		t.Error("a json block counts as shell")
	}
}

func TestNormalize(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct{ a, b string }{
		{`"accountId": "acc-9043d41d2cf58d7d",`, `"accountId": "acc-0123456789abcdef",`},
		{`AK1E366B1653EE81D4AF51EB  wnGeqmGkMdn6VFmTLzInlmLnZvNewlfH  acc-9043d41d2cf58d7d`,
			`AK06DAE89966495B0226E294 -LTYviWwJj83jV6dVTs0QVBaze2TMno_ acc-3dc1cb98ddb10761`},
		{`(HTTP 401, requestId TD24FA3D7-D2C7-40ED-9DE3-01961C8CCC39)`, `(HTTP 401, requestId T0AF5EEEF-4BB5-458B-AD83-BCFC6F1A2EF6)`},
		{`"expiresAt": "2026-11-26T21:16:11Z",`, `"expiresAt": "2027-01-02T03:04:05.123456Z",`},
		{`"token": "zqt_mJCWUBW9i7EwQ_qRnBmcPY8V0FJWMedHTRMkYcQNKr0"`, `"token": "zqt_0000000000000000000000000000000000000000000"`},
	} {
		if x, y := Normalize(tc.a), Normalize(tc.b); x != y {
			t.Errorf("Normalize differs:\n  %q → %q\n  %q → %q", tc.a, x, tc.b, y)
		}
	}
	for _, tc := range []struct{ a, b string }{
		{`"maxCount": 5`, `"maxCount": 6`},
		{`"imageStatus": "CREATING"`, `"imageStatus": "AVAILABLE"`},
		{`img-web-1`, `img-web-2`},
	} {
		if Normalize(tc.a) == Normalize(tc.b) {
			t.Errorf("Normalize makes %q and %q the same", tc.a, tc.b)
		}
	}
}

func TestMatch(t *testing.T) {
	t.Parallel()
	got := []string{"a", "b", "c", "d"}
	for _, tc := range []struct {
		want   []string
		prefix bool
		ok     bool
	}{
		{[]string{"a", "b", "c", "d"}, false, true},
		{[]string{"a", Ellipsis, "d"}, false, true},
		{[]string{Ellipsis}, false, true},
		{[]string{"a", "b", Ellipsis, "b", "c", "d"}, false, false},
		{[]string{"a", "b"}, false, false},
		{[]string{"a", "b"}, true, true},
		{[]string{"b"}, true, false},
		{[]string{"a", "x", "c", "d"}, false, false},
		{[]string{"a", "b", "c", "d", "e"}, true, false},
	} {
		if ok := Match(tc.want, got, tc.prefix); ok != tc.ok {
			t.Errorf("Match(%q, %q, prefix %v) = %v, want %v", tc.want, got, tc.prefix, ok, tc.ok)
		}
	}
	for _, tc := range []struct {
		want, got []string
		ok        bool
	}{
		{[]string{"a", "b", "c"}, []string{"a", "b"}, true},
		{[]string{"a", Ellipsis, "c"}, []string{"a", "x", "y"}, true},
		{[]string{"a", "b", "c"}, []string{"a", "x"}, false},
		{[]string{"a"}, []string{"a", "b"}, false},
	} {
		if ok := MayMatch(tc.want, tc.got); ok != tc.ok {
			t.Errorf("MayMatch(%q, %q) = %v, want %v", tc.want, tc.got, ok, tc.ok)
		}
	}
}

func TestContainsWords(t *testing.T) {
	t.Parallel()
	text := "echo ci; go vet ./... go test -race ./..."
	for cmd, want := range map[string]bool{
		"go test -race ./...": true,
		"go vet ./...":        true,
		"go test":             true,
		"go test -race ./x":   false,
		"o vet ./...":         false,
	} {
		if got := containsWords(text, cmd); got != want {
			t.Errorf("containsWords(%q) = %v, want %v", cmd, got, want)
		}
	}
}

func TestRefresh(t *testing.T) {
	t.Parallel()
	want := []string{`{"accountId": "acc-0000000000000000"}`, Ellipsis, "end"}
	got := []string{`{"accountId": "acc-1234567890abcdef"}`, "x", "y", "end"}
	r := Refresh(want, got)
	if strings.Join(r, "|") != `{"accountId": "acc-1234567890abcdef"}|…|end` {
		t.Errorf("Refresh = %q", r)
	}
	if Refresh([]string{"a"}, []string{"b"}) != nil {
		t.Error("Refresh of outputs that differ is not nil")
	}
}

func TestHeadingAnchors(t *testing.T) {
	t.Parallel()
	a := headingAnchors("# Title\n## admin --server\n### 2. Migrate\n## Health, metrics and logs\n```sh\n# not a heading\n```\n## Title\n")
	for _, want := range []string{"title", "admin---server", "2-migrate", "health-metrics-and-logs", "title-1"} {
		if !a[want] {
			t.Errorf("no anchor %q in %v", want, a)
		}
	}
	if a["not-a-heading"] {
		t.Error("a comment in a code block made an anchor")
	}
}
