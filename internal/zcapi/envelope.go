package zcapi

import (
	"crypto/rand"
	"encoding/json"
	"fmt"
	"net/http"
	"reflect"
	"strings"
)

// NewRequestID returns "T" followed by an upper-case random (version 4) UUID.
func NewRequestID() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	return strings.ToUpper(fmt.Sprintf("T%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:16]))
}

// errorBody is the failure envelope: all three fields always present.
type errorBody struct {
	RequestID string `json:"requestId"`
	Code      string `json:"code"`
	Message   string `json:"message"`
}

// encodeSuccess builds {"requestId":id,"response":{"requestId":id,…out}}.
// A nil out gives "response": null.
func encodeSuccess(id string, out any) ([]byte, error) {
	idJSON, _ := json.Marshal(id)
	var b strings.Builder
	b.WriteString(`{"requestId":`)
	b.Write(idJSON)
	b.WriteString(`,"response":`)
	if isNil(out) {
		b.WriteString("null}")
		return []byte(b.String()), nil
	}
	body, err := json.Marshal(out)
	if err != nil {
		return nil, err
	}
	if len(body) < 2 || body[0] != '{' {
		return nil, fmt.Errorf("zcapi: response of type %T is not a JSON object", out)
	}
	b.WriteString(`{"requestId":`)
	b.Write(idJSON)
	if len(body) > 2 {
		b.WriteByte(',')
	}
	b.Write(body[1:])
	b.WriteByte('}')
	return []byte(b.String()), nil
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

func writeError(w http.ResponseWriter, id, code, message string) int {
	status, wire := Status(code)
	body, _ := json.Marshal(errorBody{RequestID: id, Code: wire, Message: message})
	writeJSON(w, status, id, body)
	return status
}
