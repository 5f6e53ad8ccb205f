package vmapi

import (
	"github.com/imagequota/imagequota/internal/jsonquote"
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
			b = jsonquote.Append(b, q.ZoneID)
			b = append(b, `,"regionId":`...)
			b = jsonquote.Append(b, q.RegionID)
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
			b = jsonquote.Append(b, q.RegionID)
			b = append(b, `,"count":`...)
			b = jsonquote.Append(b, q.Count)
			b = append(b, `,"maxCount":`...)
			b = jsonquote.Append(b, q.MaxCount)
			b = append(b, '}')
		}
		b = append(b, ']')
	}
	return append(b, '}')
}
