// Package jsonquote appends strings quoted as JSON, for the encoders written
// by hand on hot paths (response envelopes, the DescribeImageQuota answer,
// audit records), byte for byte as encoding/json would.
package jsonquote

import "encoding/json"

// Append appends s quoted as encoding/json quotes it: as is when it holds
// only printable ASCII that needs no escape, through encoding/json otherwise.
func Append(b []byte, s string) []byte {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < 0x20 || c >= 0x7f || c == '"' || c == '\\' || c == '<' || c == '>' || c == '&' {
			q, _ := json.Marshal(s)
			return append(b, q...)
		}
	}
	b = append(b, '"')
	b = append(b, s...)
	return append(b, '"')
}
