package store

import (
	"encoding/json"
	"testing"

	"github.com/imagequota/imagequota/internal/quota"
)

// TestImageAuditJSONMatchesEncodingJSON checks that the audit state written
// for image writes is exactly what encoding/json makes of imageAudit.
func TestImageAuditJSONMatchesEncodingJSON(t *testing.T) {
	t.Parallel()
	desc := func(s string) *string { return &s }
	tests := []struct {
		name string
		im   quota.Image
	}{
		{"no description", quota.Image{ID: "img-0011aabb", Name: "web", InstanceID: "ins-1", LocationID: "asia-east-1"}},
		{"empty description", quota.Image{ID: "img-1", Name: "", Description: desc(""), LocationID: "x"}},
		{"escapes", quota.Image{ID: `img-"q"`, Name: "<b>&amp;\\", Description: desc("tab\tnew\nline\u2028é\xff"), InstanceID: "\x00", LocationID: "\x7f"}},
		{"unicode name", quota.Image{ID: "img-2", Name: "образ 镜像", Description: desc("ok"), InstanceID: "ins-2", LocationID: "eu-1"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			want, err := json.Marshal(imageAudit(tt.im))
			if err != nil {
				t.Fatal(err)
			}
			if got := imageAuditJSON(tt.im); string(got) != string(want) {
				t.Fatalf("imageAuditJSON:\n got %s\nwant %s", got, want)
			}
		})
	}
}
