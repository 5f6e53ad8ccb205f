package zcapi

import (
	"crypto/rand"
	"encoding/json"
	"fmt"
	"github.com/imagequota/imagequota/internal/jsonquote"
	"net/http"
	"reflect"
	"slices"
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

// JSONAppender is a response that encodes itself without reflection:
// AppendJSON appends to b exactly what encoding/json writes for it, which is a
// JSON object. The most frequent answers implement it.
type JSONAppender interface {
	AppendJSON(b []byte) []byte
}

// appendSuccess builds {"requestId":id,"response":{"requestId":id,…out}}
// in dst's storage (its contents are dropped); the answer may be in dst's
// array. A nil out gives "response": null.
func appendSuccess(dst []byte, id string, out any) ([]byte, error) {
	var idBuf [80]byte
	idJSON := jsonquote.Append(idBuf[:0], id)
	b := slices.Grow(dst[:0], 64+2*len(idJSON))
	b = append(b, `{"requestId":`...)
	b = append(b, idJSON...)
	b = append(b, `,"response":`...)
	if isNil(out) {
		return append(b, "null}"...), nil
	}
	b = append(b, `{"requestId":`...)
	b = append(b, idJSON...)
	// out's own object follows; its opening brace becomes the comma after
	// the request id, or goes with an empty object's closing one.
	obj := len(b)
	if a, ok := out.(JSONAppender); ok {
		b = a.AppendJSON(b)
	} else {
		body, err := json.Marshal(out)
		if err != nil {
			return nil, err
		}
		b = append(b, body...)
	}
	if o := b[obj:]; len(o) < 2 || o[0] != '{' || o[len(o)-1] != '}' {
		return nil, fmt.Errorf("zcapi: response of type %T is not a JSON object", out)
	}
	if len(b) == obj+2 {
		return append(b[:obj], "}}"...), nil
	}
	b[obj] = ','
	return append(b, '}'), nil
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
