package store

import (
	"encoding/json"
	"testing"
)

// TestReplayAnswerIsEncodingJSON: the answers kept for replays, encoded by
// hand, are the bytes encoding/json makes of them, and decode back.
func TestReplayAnswerIsEncodingJSON(t *testing.T) {
	names := []string{"", "web-1", "a b", `quote " and \ backslash`, "<html> & co", "tab\tnew\nline\x00",
		"ünïcødé", "日本語", "line\u2028sep", "bad utf-8 \xff\xfe", "\x7f del", "~!@#$%^*()_+{}|:?`-=[];',./"}
	for _, name := range names {
		for _, replayed := range []bool{false, true} {
			c := createdImage{ID: "img-0123456789abcdef", Name: name, Replayed: replayed}
			got, err := replayAnswer(c)
			if err != nil {
				t.Fatal(err)
			}
			want, _ := json.Marshal(c)
			if got != string(want) {
				t.Errorf("%q: %s, want %s", name, got, want)
			}
			var back createdImage
			if err := json.Unmarshal([]byte(got), &back); err != nil || back.ID != c.ID || back.Replayed != replayed {
				t.Errorf("%q: decodes to %+v, %v", name, back, err)
			}
		}
	}
	if got, _ := replayAnswer(struct{}{}); got != "{}" {
		t.Errorf("struct{}: %s, want {}", got)
	}
	type other struct {
		A int `json:"a"`
	}
	if got, _ := replayAnswer(other{A: 3}); got != `{"a":3}` {
		t.Errorf("another result: %s", got)
	}
}
