package zcapi

import (
	"strings"
	"testing"
)

// BenchmarkCheckStrict is the cost checkStrict adds to Decode.
func BenchmarkCheckStrict(b *testing.B) {
	for _, bb := range []struct{ name, body string }{
		{"empty", `{}`},
		{"quota/2 zones", `{"zoneIds":["FRA-A","HKG-A"]}`},
		{"quota/21 zones", `{"zoneIds":[` + strings.TrimSuffix(strings.Repeat(`"zone-xxxxxxa",`, 21), ",") + `]}`},
		{"create", `{"instanceId":"ins-0123456789","imageName":"web-1","imageDescription":"nightly build, ünïcödé","clientToken":"tok-42"}`},
		{"100 KiB description", `{"instanceId":"ins-0123456789","imageName":"web-1","imageDescription":"` + strings.Repeat("é", 50<<10) + `"}`},
	} {
		body := []byte(bb.body)
		b.Run(bb.name, func(b *testing.B) {
			b.ReportAllocs()
			b.SetBytes(int64(len(body)))
			for b.Loop() {
				if err := checkStrict(body); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// FuzzCheckStrict checks that checkStrict, which Decode runs only on what
// encoding/json accepted, cannot panic on anything else either.
func FuzzCheckStrict(f *testing.F) {
	for _, s := range []string{`{}`, `{"a":"\u`, `}`, `"`, `{"a\`, `{"a":{"a":1,"a":2}}`, "{\"\xff\":1}", `{"x":"\ud800\u`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		_ = checkStrict(b)
	})
}
