// Package zcapi is the Zenlayer Cloud API 2.0 wire: envelopes, request ids,
// the one code→HTTP-status table, the action table, the generic typed handler,
// authentication and per-action metrics.
package zcapi

import (
	"net/http"

	"github.com/imagequota/imagequota/internal/quota"
)

// statusOf is the one table from error code to HTTP status (and, where it
// differs from the code, the code sent on the wire).
var statusOf = map[string]struct {
	status int
	wire   string
}{
	quota.CodeMissingParameter:      {http.StatusBadRequest, ""},
	quota.CodeInvalidParameterType:  {http.StatusBadRequest, ""},
	quota.CodeInvalidParameterValue: {http.StatusBadRequest, ""},
	quota.CodeExceedLength:          {http.StatusBadRequest, ""},
	quota.CodeLessLength:            {http.StatusBadRequest, ""},
	quota.CodeExceedMaximum:         {http.StatusBadRequest, ""},
	quota.CodeLessMinimum:           {http.StatusBadRequest, ""},
	quota.CodePatternError:          {http.StatusBadRequest, ""},
	quota.CodeImageQuotaExceeded:    {http.StatusBadRequest, ""},
	quota.CodeImageStatus:           {http.StatusBadRequest, ""},
	quota.CodeBodyTooLarge:          {http.StatusRequestEntityTooLarge, quota.CodeExceedLength},
	quota.CodeInvalidAuthorization:  {http.StatusUnauthorized, ""},
	quota.CodeSignatureFailure:      {http.StatusUnauthorized, ""},
	quota.CodeSignatureExpired:      {http.StatusUnauthorized, ""},
	quota.CodeUnauthorizedOperation: {http.StatusUnauthorized, ""},
	quota.CodeSignatureReused:       {http.StatusUnauthorized, ""},
	quota.CodeResourceNotFound:      {http.StatusNotFound, ""},
	quota.CodeRegionNotFound:        {http.StatusNotFound, ""},
	quota.CodeZoneNotFound:          {http.StatusNotFound, ""},
	quota.CodeInstanceNotFound:      {http.StatusNotFound, ""},
	quota.CodeImageNotFound:         {http.StatusNotFound, ""},
	quota.CodeAccountNotFound:       {http.StatusNotFound, ""},
	quota.CodeAccessKeyNotFound:     {http.StatusNotFound, ""},
	quota.CodeOperatorNotFound:      {http.StatusNotFound, ""},
	quota.CodeMethodNotAllowed:      {http.StatusMethodNotAllowed, ""},
	quota.CodeConflict:              {http.StatusConflict, ""},
	quota.CodeRequestLimitExceeded:  {http.StatusTooManyRequests, ""},
	quota.CodeInternal:              {http.StatusInternalServerError, ""},
	quota.CodeUnavailable:           {http.StatusServiceUnavailable, ""},

	// Quota increase requests (the extension of the vm service).
	quota.CodeQuotaRequestDesiredCount: {http.StatusBadRequest, ""},
	quota.CodeQuotaRequestNotFound:     {http.StatusNotFound, ""},
	quota.CodeQuotaRequestOpen:         {http.StatusConflict, ""},
	quota.CodeQuotaRequestState:        {http.StatusConflict, ""},
}

// Status returns the HTTP status and the wire code for an error code. Unknown
// codes are internal errors.
func Status(code string) (int, string) {
	s, ok := statusOf[code]
	if !ok {
		return http.StatusInternalServerError, quota.CodeInternal
	}
	if s.wire != "" {
		return s.status, s.wire
	}
	return s.status, code
}

// Codes returns every error code in the table.
func Codes() []string {
	out := make([]string, 0, len(statusOf))
	for c := range statusOf {
		out = append(out, c)
	}
	return out
}
