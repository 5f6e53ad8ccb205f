package e2e

import (
	"os"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/imagequota/imagequota/internal/testkit"
	"github.com/imagequota/imagequota/internal/usagemetrics"
	"github.com/imagequota/imagequota/operatorapi"
)

var metricName = regexp.MustCompile(`\bimagequota_[a-z0-9_]+`)

// namesIn returns the imagequota_* names a file mentions, each once; with
// labelValues false, not those in double quotes (the value of a label).
func namesIn(t *testing.T, path string, labelValues bool) []string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, m := range metricName.FindAllIndex(b, -1) {
		if !labelValues && m[0] > 0 && b[m[0]-1] == '"' {
			continue
		}
		names = append(names, string(b[m[0]:m[1]]))
	}
	slices.Sort(names)
	return slices.Compact(names)
}

// TestMetricsRulesMatchTheServer: every metric the alerting rules and the
// dashboard use is one a real server serves on /metrics (with every
// feature on, and something to count), and every imagequota_* metric the
// server serves is documented in docs/monitoring.md.
func TestMetricsRulesMatchTheServer(t *testing.T) {
	parallel(t)
	e := setupMetrics(t, testkit.SQLiteURL(t), usagemetrics.Options{TTL: -1, PerAccount: true})
	a, inst := e.account(t, map[string]int{"jp-tokyo-1a": 1})
	for i := range 5 {
		e.create(t, a, inst["jp-tokyo-1a"], "more-"+string(rune('a'+i)))
	}
	if _, err := e.op.SetImageQuota(t.Context(), &operatorapi.SetImageQuotaRequest{AccountID: &a.ID, MaxCount: ptr(9)}); err != nil {
		t.Fatalf("SetImageQuota: %v", err)
	}
	served := map[string]bool{}
	for series := range testkit.Metrics(t, e.srv.URL) {
		name, _, _ := strings.Cut(series, "{")
		served[name] = true
	}
	// A histogram is named in the docs by its family.
	for name := range served {
		if base, ok := strings.CutSuffix(name, "_bucket"); ok {
			served[base] = true
		}
	}
	for _, path := range []string{"../deploy/prometheus/imagequota-rules.yml", "../deploy/grafana/imagequota.json"} {
		names := namesIn(t, path, true)
		if len(names) == 0 {
			t.Errorf("%s names no imagequota_* metric", path)
		}
		for _, n := range names {
			if !served[n] {
				t.Errorf("%s uses %s, which the server does not serve", path, n)
			}
		}
	}
	doc := namesIn(t, "../docs/monitoring.md", false)
	for name := range served {
		if strings.HasPrefix(name, "imagequota_") && !slices.Contains(doc, name) && !histogramPart(name, served) {
			t.Errorf("docs/monitoring.md does not document %s", name)
		}
	}
	for _, n := range doc {
		if !served[n] {
			t.Errorf("docs/monitoring.md documents %s, which the server does not serve", n)
		}
	}
}

// histogramPart reports whether name is the _bucket, _sum or _count series
// of a histogram served under its family's name.
func histogramPart(name string, served map[string]bool) bool {
	for _, suffix := range []string{"_bucket", "_sum", "_count"} {
		if base, ok := strings.CutSuffix(name, suffix); ok && served[base] && served[base+"_bucket"] {
			return true
		}
	}
	return false
}
