package vmapi_test

import (
	"bytes"
	"encoding/json"
	"testing"

	"github.com/imagequota/imagequota/vmapi"
)

// TestAppendJSONMatchesEncodingJSON checks that the hand-written encoder of
// DescribeImageQuota answers writes exactly what encoding/json does, after
// whatever the buffer held.
func TestAppendJSONMatchesEncodingJSON(t *testing.T) {
	t.Parallel()
	odd := []string{"", "asia-east-1", `a"b\c`, "<script>&amp;", "é-ünï", "tab\there", "line\u2028sep", "bad\xffutf8", "\x00\x1f\x7f"}
	tests := []struct {
		name string
		resp *vmapi.DescribeImageQuotaResponse
	}{
		{"empty lists", &vmapi.DescribeImageQuotaResponse{Images: []vmapi.ImageQuotaInfo{}, ImageRegionQuota: []vmapi.ImageRegionQuota{}}},
		{"nil lists", &vmapi.DescribeImageQuotaResponse{}},
		{"ordinary", &vmapi.DescribeImageQuotaResponse{
			Images:           []vmapi.ImageQuotaInfo{{ZoneID: "asia-east-1", RegionID: "asia-east-1", Count: 3, MaxCount: 10}, {ZoneID: "na-west-1", RegionID: "na-west-1", MaxCount: 1_000_000}},
			ImageRegionQuota: []vmapi.ImageRegionQuota{{RegionID: "asia-east-1", Count: "3", MaxCount: "10"}, {RegionID: "na-west-1", Count: "0", MaxCount: "1000000"}},
		}},
		{"extreme numbers", &vmapi.DescribeImageQuotaResponse{
			Images: []vmapi.ImageQuotaInfo{{Count: -1, MaxCount: int(^uint(0) >> 1)}, {Count: -int(^uint(0)>>1) - 1}},
		}},
	}
	oddResp := &vmapi.DescribeImageQuotaResponse{}
	for _, s := range odd {
		oddResp.Images = append(oddResp.Images, vmapi.ImageQuotaInfo{ZoneID: s, RegionID: s + "x", Count: len(s)})
		oddResp.ImageRegionQuota = append(oddResp.ImageRegionQuota, vmapi.ImageRegionQuota{RegionID: s, Count: s, MaxCount: "<" + s})
	}
	tests = append(tests, struct {
		name string
		resp *vmapi.DescribeImageQuotaResponse
	}{"strings that need escapes", oddResp})
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			want, err := json.Marshal(tt.resp)
			if err != nil {
				t.Fatal(err)
			}
			if got := tt.resp.AppendJSON(nil); !bytes.Equal(got, want) {
				t.Fatalf("AppendJSON(nil):\n got %s\nwant %s", got, want)
			}
			prefix := []byte(`{"requestId":"T1",`)
			got := tt.resp.AppendJSON(append([]byte(nil), prefix...))
			if !bytes.Equal(got, append(prefix, want...)) {
				t.Fatalf("AppendJSON after a prefix:\n got %s\nwant %s%s", got, prefix, want)
			}
		})
	}
}

// BenchmarkAppendJSON encodes the answer for every location of the default
// catalogue into a reused buffer, as the server does.
func BenchmarkAppendJSON(b *testing.B) {
	r := &vmapi.DescribeImageQuotaResponse{}
	for range 21 {
		r.Images = append(r.Images, vmapi.ImageQuotaInfo{ZoneID: "sa-jeddah-1a", RegionID: "sa-jeddah-1a", Count: 3, MaxCount: 5})
		r.ImageRegionQuota = append(r.ImageRegionQuota, vmapi.ImageRegionQuota{RegionID: "sa-jeddah-1a", Count: "3", MaxCount: "5"})
	}
	buf := make([]byte, 0, 4<<10)
	b.ReportAllocs()
	for b.Loop() {
		buf = r.AppendJSON(buf[:0])
	}
}
