package vmapi

import (
	"encoding/json"
	"slices"
	"strconv"
)

// AppendJSON appends r to b exactly as encoding/json encodes it, without
// reflection: DescribeImageQuota is the most frequent answer.
func (r *DescribeImageQuotaResponse) AppendJSON(b []byte) []byte {
	b = slices.Grow(b, 48+80*len(r.Images)+64*len(r.ImageRegionQuota))
	b = append(b, `{"images":`...)
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
