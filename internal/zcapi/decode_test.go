package zcapi_test

import (
	"reflect"
	"strconv"
	"strings"
	"testing"

	"github.com/imagequota/imagequota/internal/quota"
	"github.com/imagequota/imagequota/internal/zcapi"
	"github.com/imagequota/imagequota/vmapi"
)

func TestDecode(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		body string
		into func() any
		want any    // the decoded value, when the body is accepted
		code string // the error code, when it is refused
		msg  []string
	}{
		{name: "empty body is {}", body: "", into: newQuota, want: &vmapi.DescribeImageQuotaRequest{}},
		{name: "white space is {}", body: " \r\n\t", into: newQuota, want: &vmapi.DescribeImageQuotaRequest{}},
		{name: "empty object", body: "{}", into: newQuota, want: &vmapi.DescribeImageQuotaRequest{}},
		{name: "object in white space", body: "\n {} \n", into: newQuota, want: &vmapi.DescribeImageQuotaRequest{}},
		{name: "both filters", body: `{"regionIds":["a"],"zoneIds":["b","c"]}`, into: newQuota,
			want: &vmapi.DescribeImageQuotaRequest{RegionIDs: []string{"a"}, ZoneIDs: []string{"b", "c"}}},
		{name: "unknown fields ignored", body: `{"x":1,"y":{"z":[null]},"zoneIds":["b"]}`, into: newQuota,
			want: &vmapi.DescribeImageQuotaRequest{ZoneIDs: []string{"b"}}},
		{name: "null filter is absent", body: `{"regionIds":null}`, into: newQuota, want: &vmapi.DescribeImageQuotaRequest{}},
		{name: "integers", body: `{"pageSize":10,"pageNum":1,"zoneId":"HKG-A"}`, into: newImages,
			want: &vmapi.DescribeImagesRequest{PageSize: ptr(10), PageNum: ptr(1), ZoneID: ptr("HKG-A")}},

		{name: "string for array", body: `{"regionIds":"sa-jeddah-1a"}`, into: newQuota,
			code: quota.CodeInvalidParameterType, msg: []string{"regionIds", "array of strings", "string"}},
		{name: "number in array", body: `{"zoneIds":["a",1]}`, into: newQuota,
			code: quota.CodeInvalidParameterType, msg: []string{"zoneIds", "array of strings", "number"}},
		{name: "object for array", body: `{"zoneIds":{}}`, into: newQuota,
			code: quota.CodeInvalidParameterType, msg: []string{"zoneIds", "object"}},
		{name: "string for integer", body: `{"pageSize":"10"}`, into: newImages,
			code: quota.CodeInvalidParameterType, msg: []string{"pageSize", "integer", "string"}},
		{name: "fraction for integer", body: `{"pageNum":1.5}`, into: newImages,
			code: quota.CodeInvalidParameterType, msg: []string{"pageNum", "integer"}},
		{name: "huge integer", body: `{"pageNum":1e400}`, into: newImages,
			code: quota.CodeInvalidParameterType, msg: []string{"pageNum"}},
		{name: "number for string", body: `{"instanceId":5}`, into: func() any { return new(vmapi.CreateImageRequest) },
			code: quota.CodeInvalidParameterType, msg: []string{"instanceId", "a string", "number"}},
		{name: "bool for string", body: `{"imageId":true}`, into: func() any { return new(vmapi.DescribeImageRequest) },
			code: quota.CodeInvalidParameterType, msg: []string{"imageId", "bool"}},

		{name: "array", body: `[]`, into: newQuota, code: quota.CodeInvalidParameterValue, msg: []string{"JSON object"}},
		{name: "string", body: `"x"`, into: newQuota, code: quota.CodeInvalidParameterValue, msg: []string{"JSON object"}},
		{name: "null", body: `null`, into: newQuota, code: quota.CodeInvalidParameterValue, msg: []string{"JSON object"}},
		{name: "number", body: `1`, into: newQuota, code: quota.CodeInvalidParameterValue, msg: []string{"JSON object"}},
		{name: "true", body: `true`, into: newQuota, code: quota.CodeInvalidParameterValue, msg: []string{"JSON object"}},
		{name: "second object", body: `{} {}`, into: newQuota, code: quota.CodeInvalidParameterValue, msg: []string{"after the JSON object"}},
		{name: "trailing garbage", body: `{}x`, into: newQuota, code: quota.CodeInvalidParameterValue, msg: []string{"after the JSON object"}},
		{name: "trailing bracket", body: `{}]`, into: newQuota, code: quota.CodeInvalidParameterValue, msg: []string{"after the JSON object"}},
		{name: "trailing non-JSON space", body: "{}\u00a0", into: newQuota, code: quota.CodeInvalidParameterValue, msg: []string{"after the JSON object"}},
		{name: "leading non-JSON space", body: "\u00a0{}", into: newQuota, code: quota.CodeInvalidParameterValue, msg: []string{"JSON object"}},
		{name: "truncated", body: `{"regionIds":`, into: newQuota, code: quota.CodeInvalidParameterValue, msg: []string{"not valid JSON"}},
		{name: "bare key", body: `{regionIds}`, into: newQuota, code: quota.CodeInvalidParameterValue, msg: []string{"not valid JSON"}},
		{name: "trailing comma", body: `{"regionIds":[],}`, into: newQuota, code: quota.CodeInvalidParameterValue, msg: []string{"not valid JSON"}},

		// Text encoding/json would change: it replaces bytes that are not
		// UTF-8, and \u escapes of half a surrogate pair, by U+FFFD.
		{name: "UTF-8 accepted", body: `{"instanceId":"ins-1","imageDescription":"ünïcödé 中文 😀"}`, into: newCreate,
			want: &vmapi.CreateImageRequest{InstanceID: ptr("ins-1"), ImageDescription: ptr("ünïcödé 中文 😀")}},
		{name: "escaped surrogate pair accepted", body: `{"imageDescription":"\ud83d\ude00 \u00e9"}`, into: newCreate,
			want: &vmapi.CreateImageRequest{ImageDescription: ptr("😀 é")}},
		{name: "escaped backslash before u", body: `{"imageDescription":"\\ud800"}`, into: newCreate,
			want: &vmapi.CreateImageRequest{ImageDescription: ptr(`\ud800`)}},
		{name: "U+FFFD itself accepted", body: "{\"imageDescription\":\"\\uFFFD \xef\xbf\xbd\"}", into: newCreate,
			want: &vmapi.CreateImageRequest{ImageDescription: ptr("\uFFFD \uFFFD")}},
		{name: "invalid byte in imageDescription", body: "{\"instanceId\":\"ins-1\",\"imageDescription\":\"bad \xff byte\"}", into: newCreate,
			code: quota.CodeInvalidParameterValue, msg: []string{"imageDescription", "UTF-8"}},
		{name: "invalid byte in imageName", body: "{\"imageName\":\"web\xc3\"}", into: newCreate,
			code: quota.CodeInvalidParameterValue, msg: []string{"imageName", "UTF-8"}},
		{name: "overlong encoding", body: "{\"imageName\":\"\xc0\xaf\"}", into: newCreate,
			code: quota.CodeInvalidParameterValue, msg: []string{"imageName", "UTF-8"}},
		{name: "surrogate encoded in UTF-8", body: "{\"imageName\":\"\xed\xa0\x80\"}", into: newCreate,
			code: quota.CodeInvalidParameterValue, msg: []string{"imageName", "UTF-8"}},
		{name: "invalid byte in a list", body: "{\"zoneIds\":[\"FRA-A\",\"\xfe\"]}", into: newQuota,
			code: quota.CodeInvalidParameterValue, msg: []string{"zoneIds", "UTF-8"}},
		{name: "invalid byte in an ignored field", body: "{\"x\":{\"y\":[\"\xff\"]}}", into: newQuota,
			code: quota.CodeInvalidParameterValue, msg: []string{"x", "UTF-8"}},
		{name: "invalid byte in a parameter name", body: "{\"zone\xffIds\":[]}", into: newQuota,
			code: quota.CodeInvalidParameterValue, msg: []string{"parameter name", "UTF-8"}},
		{name: "lone high surrogate", body: `{"imageDescription":"a\ud800b"}`, into: newCreate,
			code: quota.CodeInvalidParameterValue, msg: []string{"imageDescription", `\ud800`, "surrogate"}},
		{name: "lone low surrogate", body: `{"imageName":"\uDC00"}`, into: newCreate,
			code: quota.CodeInvalidParameterValue, msg: []string{"imageName", `\uDC00`}},
		{name: "high surrogate before another escape", body: `{"imageName":"\ud800\u0041"}`, into: newCreate,
			code: quota.CodeInvalidParameterValue, msg: []string{"imageName", `\ud800`}},
		{name: "two high surrogates", body: `{"imageName":"\ud800\ud800\udc00"}`, into: newCreate,
			code: quota.CodeInvalidParameterValue, msg: []string{"imageName", `\ud800`}},
		{name: "surrogate at the end", body: `{"imageName":"x\ud800"}`, into: newCreate,
			code: quota.CodeInvalidParameterValue, msg: []string{"imageName"}},

		// Names given twice: encoding/json keeps the last one.
		{name: "parameter twice", body: `{"zoneIds":["a"],"zoneIds":["b"]}`, into: newQuota,
			code: quota.CodeInvalidParameterValue, msg: []string{"zoneIds", "more than once"}},
		{name: "parameter twice, types differ", body: `{"imageName":"a","imageDescription":"d","imageName":"b"}`, into: newCreate,
			code: quota.CodeInvalidParameterValue, msg: []string{"imageName", "more than once"}},
		{name: "parameter twice in other case", body: `{"zoneIds":["a"],"ZoneIDS":["b"]}`, into: newQuota,
			code: quota.CodeInvalidParameterValue, msg: []string{`"zoneIds"`, `"ZoneIDS"`, "ignoring case"}},
		{name: "parameter twice, once escaped", body: `{"zoneIds":[],"zone\u0049ds":[]}`, into: newQuota,
			code: quota.CodeInvalidParameterValue, msg: []string{"zoneIds", "more than once"}},
		{name: "unknown field twice", body: `{"x":1,"x":1}`, into: newQuota,
			code: quota.CodeInvalidParameterValue, msg: []string{"x", "more than once"}},
		{name: "name twice in a nested object", body: `{"zoneIds":[],"x":[1,{"a":1,"b":{},"a":2}]}`, into: newQuota,
			code: quota.CodeInvalidParameterValue, msg: []string{`"a"`, "x", "more than once"}},
		{name: "nested names in other case", body: `{"x":{"a":1,"A":2}}`, into: newQuota, want: &vmapi.DescribeImageQuotaRequest{}},
		{name: "same name in sibling objects", body: `{"x":[{"a":1},{"a":2}],"y":{"a":{"a":{"x":0}}}}`, into: newQuota, want: &vmapi.DescribeImageQuotaRequest{}},
		{name: "same text as name and value", body: `{"zoneIds":["zoneIds"],"x":"zoneIds"}`, into: newQuota,
			want: &vmapi.DescribeImageQuotaRequest{ZoneIDs: []string{"zoneIds"}}},
		{name: "many names", body: manyNames(200, ""), into: newQuota, want: &vmapi.DescribeImageQuotaRequest{}},
		{name: "many names, one twice", body: manyNames(200, `"k150":1`), into: newQuota,
			code: quota.CodeInvalidParameterValue, msg: []string{"k150", "more than once"}},
		{name: "many names, one twice in other case", body: manyNames(200, `"K7":1`), into: newQuota,
			code: quota.CodeInvalidParameterValue, msg: []string{"K7", "more than once"}},
		{name: "many nested names, one twice", body: `{"x":` + manyNames(200, `"k3":1`) + `}`, into: newQuota,
			code: quota.CodeInvalidParameterValue, msg: []string{`"k3"`, "more than once"}},
		{name: "many nested names in other case", body: `{"x":` + manyNames(200, `"K3":1`) + `}`, into: newQuota, want: &vmapi.DescribeImageQuotaRequest{}},
		{name: "too deep", body: `{"x":` + strings.Repeat("[", 20000) + strings.Repeat("]", 20000) + `}`, into: newQuota,
			code: quota.CodeInvalidParameterValue, msg: []string{"JSON"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			v := tt.into()
			err := zcapi.Decode([]byte(tt.body), v)
			if tt.code == "" {
				if err != nil {
					t.Fatalf("Decode(%q): %v", tt.body, err)
				}
				if !reflect.DeepEqual(v, tt.want) {
					t.Fatalf("Decode(%q) = %+v; want %+v", tt.body, v, tt.want)
				}
				return
			}
			e, ok := quota.AsError(err)
			if !ok {
				t.Fatalf("Decode(%q) error = %v; want a *quota.Error", tt.body, err)
			}
			if e.Code != tt.code {
				t.Fatalf("Decode(%q) code = %s (%s); want %s", tt.body, e.Code, e.Message, tt.code)
			}
			for _, m := range tt.msg {
				if !strings.Contains(e.Message, m) {
					t.Errorf("Decode(%q) message %q does not mention %q", tt.body, e.Message, m)
				}
			}
		})
	}
}

// validated checks itself after decoding.
type validated struct {
	N *int `json:"n"`
}

func (v *validated) Validate() error {
	if v.N == nil {
		return quota.Errorf(quota.CodeMissingParameter, "n is required.")
	}
	return nil
}

func TestDecodeCallsValidate(t *testing.T) {
	t.Parallel()
	if err := zcapi.Decode([]byte(`{"n":1}`), new(validated)); err != nil {
		t.Errorf("valid body: %v", err)
	}
	err := zcapi.Decode([]byte(`{}`), new(validated))
	if e, ok := quota.AsError(err); !ok || e.Code != quota.CodeMissingParameter {
		t.Errorf("Decode of a body Validate refuses = %v; want %s", err, quota.CodeMissingParameter)
	}
}

func newQuota() any  { return new(vmapi.DescribeImageQuotaRequest) }
func newImages() any { return new(vmapi.DescribeImagesRequest) }
func newCreate() any { return new(vmapi.CreateImageRequest) }

// manyNames is an object of n names k0…k(n-1), then extra if it is not empty.
func manyNames(n int, extra string) string {
	parts := make([]string, 0, n+1)
	for i := range n {
		parts = append(parts, `"k`+strconv.Itoa(i)+`":0`)
	}
	if extra != "" {
		parts = append(parts, extra)
	}
	return "{" + strings.Join(parts, ",") + "}"
}

func ptr[T any](v T) *T { return &v }

// BenchmarkDecode measures the decode every request goes through, on the
// bodies the clients send most (DescribeImageQuota's) and on a large one.
func BenchmarkDecode(b *testing.B) {
	zones := make([]string, 21)
	for i := range zones {
		zones[i] = `"zone-` + strings.Repeat("x", 6) + string(rune('a'+i)) + `"`
	}
	bodies := []struct {
		name string
		body string
		into func() any
	}{
		{"empty", `{}`, newQuota},
		{"quota/2 zones", `{"zoneIds":["FRA-A","HKG-A"]}`, newQuota},
		{"quota/21 zones", `{"zoneIds":[` + strings.Join(zones, ",") + `]}`, newQuota},
		{"images/paging", `{"pageSize":10,"pageNum":1,"zoneId":"HKG-A","imageType":"CUSTOM_IMAGE"}`, newImages},
		{"create", `{"instanceId":"ins-0123456789","imageName":"web-1","imageDescription":"nightly build, ünïcödé","clientToken":"tok-42"}`,
			func() any { return new(vmapi.CreateImageRequest) }},
		{"100 KiB description", `{"instanceId":"ins-0123456789","imageName":"web-1","imageDescription":"` + strings.Repeat("é", 50<<10) + `"}`,
			func() any { return new(vmapi.CreateImageRequest) }},
	}
	for _, bb := range bodies {
		body := []byte(bb.body)
		b.Run(bb.name, func(b *testing.B) {
			b.ReportAllocs()
			b.SetBytes(int64(len(body)))
			for b.Loop() {
				if err := zcapi.Decode(body, bb.into()); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
