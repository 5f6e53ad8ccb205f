package zcapi

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"
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

// appender encodes itself both ways: AppendJSON for the fast path, MarshalJSON
// for encoding/json, so the two envelopes can be compared.
type appender string

func (a appender) AppendJSON(b []byte) []byte   { return append(b, a...) }
func (a appender) MarshalJSON() ([]byte, error) { return []byte(a), nil }

type plain struct {
	Name string   `json:"name"`
	List []string `json:"list"`
}

type empty struct{}

func TestAppendSuccess(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		out  any
	}{
		{"appender", appender(`{"a":1,"b":[{"c":"d"}]}`)},
		{"appender of an empty object", appender(`{}`)},
		{"appender of one field", appender(`{"a":null}`)},
		{"struct", &plain{Name: "x<&>", List: []string{}}},
		{"empty struct", &empty{}},
		{"map", map[string]int{"b": 2, "a": 1}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			for _, id := range []string{NewRequestID(), "T<&>\"\x01é\xff"} {
				got, err := appendSuccess([]byte("left over"), id, tt.out)
				if err != nil {
					t.Fatal(err)
				}
				if want := genericSuccess(t, id, tt.out); !bytes.Equal(got, want) {
					t.Fatalf("appendSuccess(%q):\n got %s\nwant %s", id, got, want)
				}
			}
		})
	}
}

func TestAppendSuccessNull(t *testing.T) {
	t.Parallel()
	id := NewRequestID()
	want := `{"requestId":"` + id + `","response":null}`
	for _, out := range []any{nil, (*plain)(nil), (map[string]int)(nil)} {
		got, err := appendSuccess(nil, id, out)
		if err != nil || string(got) != want {
			t.Errorf("appendSuccess(%#v) = %s, %v; want %s", out, got, err, want)
		}
	}
}

func TestAppendSuccessRefusesNonObjects(t *testing.T) {
	t.Parallel()
	for _, out := range []any{appender(`[1]`), appender(``), appender(`{`), appender(`"x"`), []string{"a"}, 7} {
		if got, err := appendSuccess(nil, NewRequestID(), out); err == nil || !strings.Contains(err.Error(), "not a JSON object") {
			t.Errorf("appendSuccess(%#v) = %s, %v; want an error saying it is not a JSON object", out, got, err)
		}
	}
}

// TestAppendSuccessAllocates nothing for a response that encodes itself into
// a buffer large enough.
func TestAppendSuccessAllocates(t *testing.T) {
	out := any(appender(`{"images":[{"zoneId":"sa-jeddah-1a","regionId":"sa-jeddah-1a","count":0,"maxCount":5}]}`))
	id := NewRequestID()
	buf := make([]byte, 0, 4<<10)
	allocs := testing.AllocsPerRun(100, func() {
		var err error
		if buf, err = appendSuccess(buf[:0], id, out); err != nil {
			t.Fatal(err)
		}
	})
	if allocs != 0 {
		t.Errorf("appendSuccess allocates %v times; want 0", allocs)
	}
}
