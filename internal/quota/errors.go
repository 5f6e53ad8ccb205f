// Package quota is the domain of imagequota: accounts, locations, instances,
// images and limits, the rules that govern them, and the one error type. The
// interfaces over a store are declared by the packages that use them. It
// imports only the standard library.
package quota

import (
	"errors"
	"fmt"
)

// Error codes. They are the codes sent on the wire; zcapi maps each to its HTTP
// status in one table.
const (
	CodeMissingParameter      = "MISSING_PARAMETER"
	CodeInvalidParameterType  = "INVALID_PARAMETER_TYPE"
	CodeInvalidParameterValue = "INVALID_PARAMETER_VALUE"
	CodeExceedLength          = "INVALID_PARAMETER_EXCEED_LENGTH"
	CodeLessLength            = "INVALID_PARAMETER_LESS_LENGTH"
	CodeExceedMaximum         = "INVALID_PARAMETER_EXCEED_MAXIMUM"
	CodeLessMinimum           = "INVALID_PARAMETER_LESS_MINIMUM"
	CodePatternError          = "INVALID_PARAMETER_PATTERN_ERROR"
	CodeBodyTooLarge          = "REQUEST_BODY_TOO_LARGE" // sent as INVALID_PARAMETER_EXCEED_LENGTH with 413
	CodeResourceNotFound      = "OPERATION_FAILED_RESOURCE_NOT_FOUND"
	CodeMethodNotAllowed      = "OPERATION_FAILED_METHOD_NOT_ALLOWED"
	CodeRequestLimitExceeded  = "REQUEST_LIMIT_EXCEEDED"
	CodeInternal              = "INTERNAL_SERVER_ERROR"
	CodeUnavailable           = "SERVICE_TEMPORARY_UNAVAILABLE"
	CodeInvalidAuthorization  = "AUTHFAILURE_INVALID_AUTHORIZATION"
	CodeSignatureFailure      = "AUTHFAILURE_SIGNATURE_FAILURE"
	CodeSignatureExpired      = "AUTHFAILURE_SIGNATURE_EXPIRED"
	CodeUnauthorizedOperation = "AUTHFAILURE_UNAUTHORIZED_OPERATION"
	CodeRegionNotFound        = "INVALID_REGION_NOT_FOUND"
	CodeZoneNotFound          = "INVALID_ZONE_NOT_FOUND"
	CodeInstanceNotFound      = "INVALID_INSTANCE_NOT_FOUND"
	CodeImageNotFound         = "INVALID_IMAGE_NOT_FOUND"
	CodeImageStatus           = "INVALID_IMAGE_STATUS"
	CodeImageQuotaExceeded    = "LIMIT_EXCEEDED_IMAGE_QUOTA"
	CodeAccountNotFound       = "INVALID_ACCOUNT_NOT_FOUND"
	CodeAccessKeyNotFound     = "INVALID_ACCESS_KEY_NOT_FOUND"
	CodeConflict              = "OPERATION_FAILED_RESOURCE_CONFLICT"
	// CodeSignatureReused: a request's signature, already used for one
	// action, presented again under another.
	CodeSignatureReused = "AUTHFAILURE_SIGNATURE_REUSED"
	// Quota increase requests, this server's extension of the API: an
	// unknown request (or another account's), a desired limit not above the
	// current one, a second open request for one location, and a change to
	// a request that is no longer PENDING.
	CodeQuotaRequestNotFound     = "INVALID_QUOTA_REQUEST_NOT_FOUND"
	CodeQuotaRequestDesiredCount = "INVALID_QUOTA_REQUEST_DESIRED_COUNT"
	CodeQuotaRequestOpen         = "OPERATION_DENIED_QUOTA_REQUEST_OPEN"
	CodeQuotaRequestState        = "INVALID_QUOTA_REQUEST_STATE"
)

// Error is the one error type of the domain and the stores. Code is one of the
// constants above; Message is safe to show to the caller.
type Error struct {
	Code    string
	Message string
}

func (e *Error) Error() string { return e.Code + ": " + e.Message }

// Errorf builds an *Error.
func Errorf(code, format string, args ...any) *Error {
	return &Error{Code: code, Message: fmt.Sprintf(format, args...)}
}

// ErrorCode returns the code of err if it is (or wraps) an *Error, and
// CodeInternal otherwise.
func ErrorCode(err error) string {
	var e *Error
	if errors.As(err, &e) {
		return e.Code
	}
	if err == nil {
		return ""
	}
	return CodeInternal
}

// AsError returns the *Error inside err, if any.
func AsError(err error) (*Error, bool) {
	var e *Error
	ok := errors.As(err, &e)
	return e, ok
}

// Truncate shortens text a caller sent to at most n characters, marking a cut
// with "…", so that a message or a log line quoting it stays short. The bytes
// kept are s's own, invalid UTF-8 included.
func Truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	count := 0
	for i := range s {
		if count == n {
			return s[:i] + "…"
		}
		count++
	}
	return s
}
