package zcapi

import (
	"crypto/rand"
	"encoding/json"
	"fmt"
	"net/http"
	"reflect"
	"slices"
	"strconv"

	"imagequota/vmapi"
)

// NewRequestID returns "T" followed by an upper-case random (version 4) UUID.
func NewRequestID() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	const hexUpper = "0123456789ABCDEF"
	var out [37]byte
	out[0] = 'T'
	j := 1
	for i, c := range b {
		if i == 4 || i == 6 || i == 8 || i == 10 {
			out[j] = '-'
			j++
		}
		out[j], out[j+1] = hexUpper[c>>4], hexUpper[c&0x0f]
		j += 2
	}
	return string(out[:])
}

// errorBody is the failure envelope: all three fields always present.
type errorBody struct {
	RequestID string `json:"requestId"`
	Code      string `json:"code"`
	Message   string `json:"message"`
}

// appendSuccess builds {"requestId":id,"response":{"requestId":id,…out}}
// in dst's storage (its contents are dropped); the answer may be in dst's
// array. A nil out gives "response": null.
func appendSuccess(dst []byte, id string, out any) ([]byte, error) {
	var idBuf [80]byte
	idJSON := appendJSONString(idBuf[:0], id)
	b := slices.Grow(dst[:0], 64+2*len(idJSON)+encodedSizeHint(out))
	b = append(b, `{"requestId":`...)
	b = append(b, idJSON...)
	b = append(b, `,"response":`...)
	if isNil(out) {
		return append(b, "null}"...), nil
	}
	if r, ok := out.(*vmapi.DescribeImageQuotaResponse); ok {
		// The most frequent answer, encoded in place without reflection:
		// exactly what json.Marshal writes.
		b = append(b, `{"requestId":`...)
		b = append(b, idJSON...)
		b = append(b, ',')
		b = appendImageQuotaFields(b, r)
		return append(b, '}'), nil
	}
	body, err := json.Marshal(out)
	if err != nil {
		return nil, err
	}
	if len(body) < 2 || body[0] != '{' {
		return nil, fmt.Errorf("zcapi: response of type %T is not a JSON object", out)
	}
	b = append(b, `{"requestId":`...)
	b = append(b, idJSON...)
	if len(body) > 2 {
		b = append(b, ',')
	}
	b = append(b, body[1:]...)
	return append(b, '}'), nil
}

func encodedSizeHint(out any) int {
	if r, ok := out.(*vmapi.DescribeImageQuotaResponse); ok && r != nil {
		return 48 + 80*len(r.Images) + 64*len(r.ImageRegionQuota)
	}
	return 0
}

// appendImageQuotaFields appends r as encoding/json encodes it, without the
// opening brace.
func appendImageQuotaFields(b []byte, r *vmapi.DescribeImageQuotaResponse) []byte {
	b = append(b, `"images":`...)
	if r.Images == nil {
		b = append(b, "null"...)
	} else {
		b = append(b, '[')
		for i, q := range r.Images {
			if i > 0 {
				b = append(b, ',')
			}
			b = append(b, `{"zoneId":`...)
			b = appendJSONString(b, q.ZoneID)
			b = append(b, `,"regionId":`...)
			b = appendJSONString(b, q.RegionID)
			b = append(b, `,"count":`...)
			b = strconv.AppendInt(b, int64(q.Count), 10)
			b = append(b, `,"maxCount":`...)
			b = strconv.AppendInt(b, int64(q.MaxCount), 10)
			b = append(b, '}')
		}
		b = append(b, ']')
	}
	b = append(b, `,"imageRegionQuota":`...)
	if r.ImageRegionQuota == nil {
		b = append(b, "null"...)
	} else {
		b = append(b, '[')
		for i, q := range r.ImageRegionQuota {
			if i > 0 {
				b = append(b, ',')
			}
			b = append(b, `{"regionId":`...)
			b = appendJSONString(b, q.RegionID)
			b = append(b, `,"count":`...)
			b = appendJSONString(b, q.Count)
			b = append(b, `,"maxCount":`...)
			b = appendJSONString(b, q.MaxCount)
			b = append(b, '}')
		}
		b = append(b, ']')
	}
	return append(b, '}')
}

// appendJSONString appends s quoted as encoding/json quotes it: as is when
// it holds only printable ASCII that needs no escape, through encoding/json
// otherwise.
func appendJSONString(b []byte, s string) []byte {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c < 0x20 || c >= 0x7f || c == '"' || c == '\\' || c == '<' || c == '>' || c == '&' {
			q, _ := json.Marshal(s)
			return append(b, q...)
		}
	}
	b = append(b, '"')
	b = append(b, s...)
	return append(b, '"')
}

func isNil(v any) bool {
	if v == nil {
		return true
	}
	rv := reflect.ValueOf(v)
	switch rv.Kind() {
	case reflect.Pointer, reflect.Map, reflect.Slice, reflect.Interface:
		return rv.IsNil()
	}
	return false
}

func writeJSON(w http.ResponseWriter, status int, id string, body []byte) {
	h := w.Header()
	h.Set("Content-Type", "application/json; charset=utf-8")
	h.Set("X-ZC-Request-Id", id)
	h.Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	_, _ = w.Write(body)
}

// writeError writes the failure envelope for code and returns the HTTP status
// and the code sent on the wire.
func writeError(w http.ResponseWriter, id, code, message string) (int, string) {
	status, wire := Status(code)
	body, _ := json.Marshal(errorBody{RequestID: id, Code: wire, Message: message})
	writeJSON(w, status, id, body)
	return status, wire
}
