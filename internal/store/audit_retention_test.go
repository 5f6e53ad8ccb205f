package store

import (
	"flag"
	"testing"
	"time"
)

func TestParseAuditRetention(t *testing.T) {
	t.Parallel()
	tests := []struct {
		in   string
		want AuditRetention
		// out is how String writes it back ("" means in).
		out string
	}{
		{"400d", AuditRetention{MaxAge: DefaultAuditMaxAge}, ""},
		{"0", AuditRetention{}, ""},
		{"0d", AuditRetention{}, "0"},
		{"36h", AuditRetention{MaxAge: 36 * time.Hour}, "36h0m0s"},
		{"48h", AuditRetention{MaxAge: 2 * day}, "2d"},
		{"90d,1000000", AuditRetention{MaxAge: 90 * day, MaxCount: 1000000}, ""},
		{"0,5000", AuditRetention{MaxCount: 5000}, ""},
		{" 30d , 10 ", AuditRetention{MaxAge: 30 * day, MaxCount: 10}, "30d,10"},
		{"30d,0", AuditRetention{MaxAge: 30 * day}, "30d"},
	}
	for _, tt := range tests {
		got, err := ParseAuditRetention(tt.in)
		if err != nil || got != tt.want {
			t.Errorf("ParseAuditRetention(%q) = %+v, %v; want %+v", tt.in, got, err, tt.want)
			continue
		}
		out := tt.out
		if out == "" {
			out = tt.in
		}
		if got.String() != out {
			t.Errorf("ParseAuditRetention(%q).String() = %q, want %q", tt.in, got.String(), out)
		}
		if back, err := ParseAuditRetention(got.String()); err != nil || back != got {
			t.Errorf("ParseAuditRetention(%q) = %+v, %v; want %+v back", got.String(), back, err, got)
		}
	}
	for _, in := range []string{"", "forever", "-1d", "-5h", "1.5d", "400", "400d,", "400d,x", "400d,-1", "400d,1,2", "99999999999999d"} {
		if r, err := ParseAuditRetention(in); err == nil {
			t.Errorf("ParseAuditRetention(%q) = %+v, want an error", in, r)
		}
	}
}

func TestAuditRetentionIsAFlag(t *testing.T) {
	t.Parallel()
	r := AuditRetention{MaxAge: DefaultAuditMaxAge}
	fs := flag.NewFlagSet("serve", flag.ContinueOnError)
	fs.Var(&r, "audit-retention", "how long audit records are kept")
	if def := fs.Lookup("audit-retention").DefValue; def != "400d" {
		t.Errorf("default shown as %q, want 400d", def)
	}
	if err := fs.Parse([]string{"--audit-retention", "30d,100"}); err != nil {
		t.Fatal(err)
	}
	if r != (AuditRetention{MaxAge: 30 * day, MaxCount: 100}) {
		t.Errorf("after --audit-retention 30d,100: %+v", r)
	}
}

func TestAuditRetentionPruneAt(t *testing.T) {
	t.Parallel()
	now := time.Date(2026, 11, 26, 20, 0, 0, 0, time.UTC)
	for _, tt := range []struct {
		r    AuditRetention
		want AuditPrune
	}{
		{AuditRetention{}, AuditPrune{}},
		{AuditRetention{MaxAge: DefaultAuditMaxAge}, AuditPrune{Before: now.Add(-400 * 24 * time.Hour)}},
		{AuditRetention{MaxCount: 10}, AuditPrune{Keep: 10}},
		{AuditRetention{MaxAge: time.Hour, MaxCount: 10}, AuditPrune{Before: now.Add(-time.Hour), Keep: 10}},
	} {
		if got := tt.r.PruneAt(now); got != tt.want {
			t.Errorf("%v.PruneAt = %+v, want %+v", tt.r, got, tt.want)
		}
		if tt.r.Enabled() != (tt.want != AuditPrune{}) {
			t.Errorf("%v.Enabled() = %v", tt.r, tt.r.Enabled())
		}
	}
}
