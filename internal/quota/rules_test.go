package quota_test

import (
	"strconv"
	"strings"
	"testing"

	"github.com/imagequota/imagequota/internal/quota"
)

func TestCheckIDs(t *testing.T) {
	t.Parallel()
	many := func(n int) []string {
		ids := make([]string, n)
		for i := range ids {
			ids[i] = "img-" + strconv.Itoa(i)
		}
		return ids
	}
	tests := []struct {
		name         string
		ids          []string
		code         string   // of CheckIDs
		distinctCode string   // of CheckDistinctIDs
		names        []string // what any error's message must name
	}{
		{name: "none", ids: nil},
		{name: "one", ids: []string{"img-1"}},
		{name: "64 characters", ids: []string{strings.Repeat("é", 64)}},
		{name: "at the limit", ids: many(quota.MaxIDsPerRequest)},
		{name: "over the limit", ids: many(quota.MaxIDsPerRequest + 1), code: quota.CodeExceedLength, distinctCode: quota.CodeExceedLength, names: []string{"imageIds", "100", "101"}},
		{name: "empty", ids: []string{"img-1", ""}, code: quota.CodeLessLength, distinctCode: quota.CodeLessLength, names: []string{"imageIds.1"}},
		{name: "65 characters", ids: []string{strings.Repeat("é", 65)}, code: quota.CodeExceedLength, distinctCode: quota.CodeExceedLength, names: []string{"imageIds.0", "65"}},
		{name: "NUL", ids: []string{"img\x00"}, code: quota.CodeInvalidParameterValue, distinctCode: quota.CodeInvalidParameterValue, names: []string{"imageIds.0", "NUL"}},
		{name: "twice", ids: []string{"img-1", "img-2", "img-1"}, distinctCode: quota.CodeInvalidParameterValue, names: []string{"imageIds", `"img-1"`, "more than once"}},
		{name: "twice before an empty one", ids: []string{"img-1", "img-1", ""}, code: quota.CodeLessLength, distinctCode: quota.CodeInvalidParameterValue},
	}
	for _, tt := range tests {
		for _, c := range []struct {
			fn   func(string, []string) error
			name string
			code string
		}{{quota.CheckIDs, "CheckIDs", tt.code}, {quota.CheckDistinctIDs, "CheckDistinctIDs", tt.distinctCode}} {
			err := c.fn("imageIds", tt.ids)
			if got := codeOf(err); got != c.code {
				t.Errorf("%s: %s = %v; want code %q", tt.name, c.name, err, c.code)
				continue
			}
			if err == nil {
				continue
			}
			for _, n := range tt.names {
				if !strings.Contains(err.Error(), n) {
					t.Errorf("%s: %s message %q does not name %q", tt.name, c.name, err, n)
				}
			}
		}
	}
}

func TestTruncate(t *testing.T) {
	t.Parallel()
	tests := []struct {
		in   string
		n    int
		want string
	}{
		{"", 4, ""},
		{"abcd", 4, "abcd"},
		{"abcde", 4, "abcd…"},
		{"éééé", 4, "éééé"},        // 8 bytes, 4 characters
		{"ééééé", 4, "éééé…"},      // cut between characters, never inside one
		{"ab\xffcd", 3, "ab\xff…"}, // an invalid byte is one character, kept as it was
		{"日本語のテキスト", 3, "日本語…"},
	}
	for _, tt := range tests {
		if got := quota.Truncate(tt.in, tt.n); got != tt.want {
			t.Errorf("Truncate(%q, %d) = %q; want %q", tt.in, tt.n, got, tt.want)
		}
	}
}
