package operator

import (
	"strings"
	"time"
	"unicode/utf8"

	"github.com/imagequota/imagequota/internal/quota"
	"github.com/imagequota/imagequota/operatorapi"
)

// Page limits of every list.
const (
	defaultPageSize = 20
	maxPageSize     = 1000
	maxPageNum      = 1_000_000
)

// page turns pageNum and pageSize into an offset and a limit.
func page(p operatorapi.Page) (offset, limit int, err error) {
	num, size := 1, defaultPageSize
	if p.PageNum != nil {
		if *p.PageNum < 1 {
			return 0, 0, quota.Errorf(quota.CodeLessMinimum, "pageNum must be at least 1; it is %d.", *p.PageNum)
		}
		if *p.PageNum > maxPageNum {
			return 0, 0, quota.Errorf(quota.CodeExceedMaximum, "pageNum must be at most %d; it is %d.", maxPageNum, *p.PageNum)
		}
		num = *p.PageNum
	}
	if p.PageSize != nil {
		if *p.PageSize < 1 {
			return 0, 0, quota.Errorf(quota.CodeLessMinimum, "pageSize must be at least 1; it is %d.", *p.PageSize)
		}
		if *p.PageSize > maxPageSize {
			return 0, 0, quota.Errorf(quota.CodeExceedMaximum, "pageSize must be at most %d; it is %d.", maxPageSize, *p.PageSize)
		}
		size = *p.PageSize
	}
	return (num - 1) * size, size, nil
}

// pageOf is the page [offset, offset+limit) of a list held whole.
func pageOf[T any](all []T, offset, limit int) []T {
	if offset >= len(all) {
		return []T{}
	}
	return all[offset:min(len(all), offset+limit)]
}

// requiredID validates a required id.
func requiredID(param string, id *string) (string, error) {
	if id == nil {
		return "", quota.Errorf(quota.CodeMissingParameter, "%s is required.", param)
	}
	return *id, quota.CheckID(param, *id)
}

// optionalID validates an id that may be absent ("" then). An empty string
// is absent too: it is how the every-account and every-zone scopes are named.
func optionalID(param string, id *string) (string, error) {
	if id == nil || *id == "" {
		return "", nil
	}
	return *id, quota.CheckID(param, *id)
}

// zone validates a zone id of the catalogue; "" stays "".
func (s *Service) zone(param, id string) error {
	if id == "" {
		return nil
	}
	if _, ok := s.Catalog.Lookup(id); !ok {
		return quota.Errorf(quota.CodeZoneNotFound, "%s: zone %q does not exist or is not available.", param, id)
	}
	return nil
}

// formatTime writes a time as the wire does.
func formatTime(t time.Time) string { return t.UTC().Format(operatorapi.TimeFormat) }

func formatTimePtr(t *time.Time) *string {
	if t == nil {
		return nil
	}
	s := formatTime(*t)
	return &s
}

// parseTime reads an RFC 3339 time given as param.
func parseTime(param string, s *string) (time.Time, error) {
	if s == nil || *s == "" {
		return time.Time{}, nil
	}
	t, err := time.Parse(time.RFC3339, *s)
	if err != nil {
		return time.Time{}, quota.Errorf(quota.CodeInvalidParameterValue, "%s %q is not an RFC 3339 time like 2026-12-01T10:00:00Z.", param, quota.Truncate(*s, 64))
	}
	return t.UTC(), nil
}

// name validates an account name: 1-255 characters of text.
func name(param string, n *string) (string, error) {
	if n == nil {
		return "", quota.Errorf(quota.CodeMissingParameter, "%s is required.", param)
	}
	if strings.TrimSpace(*n) == "" {
		return "", quota.Errorf(quota.CodeLessLength, "%s must not be empty.", param)
	}
	return *n, quota.CheckText(param, *n, 255)
}

// optionalText validates free text that may be absent.
func optionalText(param string, s *string, max int) (string, error) {
	if s == nil {
		return "", nil
	}
	return *s, quota.CheckText(param, *s, max)
}

// choice validates an enumerated value.
func choice(param string, s *string, def string, allowed ...string) (string, error) {
	if s == nil {
		return def, nil
	}
	for _, a := range allowed {
		if *s == a {
			return a, nil
		}
	}
	return "", quota.Errorf(quota.CodeInvalidParameterValue, "%s must be %s; it is %q.", param, strings.Join(allowed, " or "), quota.Truncate(*s, 64))
}

// action validates an action name filter.
func action(s *string) (string, error) {
	if s == nil {
		return "", nil
	}
	if utf8.RuneCountInString(*s) > 64 {
		return "", quota.Errorf(quota.CodeExceedLength, "action must be at most 64 characters.")
	}
	return *s, quota.CheckText("action", *s, 64)
}
