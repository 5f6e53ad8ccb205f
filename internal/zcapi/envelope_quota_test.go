package zcapi

import (
	"bytes"
	"encoding/json"
	"testing"

	"imagequota/vmapi"
)

// genericSuccess is the envelope as encoding/json alone builds it.
func genericSuccess(t *testing.T, id string, out any) []byte {
	t.Helper()
	body, err := json.Marshal(out)
	if err != nil {
		t.Fatal(err)
	}
	idJSON, _ := json.Marshal(id)
	var b bytes.Buffer
	b.WriteString(`{"requestId":`)
	b.Write(idJSON)
	b.WriteString(`,"response":{"requestId":`)
	b.Write(idJSON)
	if len(body) > 2 {
		b.WriteByte(',')
	}
	b.Write(body[1:])
	b.WriteByte('}')
	return b.Bytes()
}

// TestEncodeImageQuotaMatchesEncodingJSON checks that the hand-written
// encoder of DescribeImageQuota answers writes exactly what encoding/json does.
func TestEncodeImageQuotaMatchesEncodingJSON(t *testing.T) {
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
			for _, id := range []string{NewRequestID(), "T<&>\"\x01é\xff"} {
				got, err := appendSuccess(nil, id, tt.resp)
				if err != nil {
					t.Fatal(err)
				}
				if want := genericSuccess(t, id, tt.resp); !bytes.Equal(got, want) {
					t.Fatalf("appendSuccess(nil, %q):\n got %s\nwant %s", id, got, want)
				}
			}
		})
	}
}
