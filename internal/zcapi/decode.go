package zcapi

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"reflect"
	"strings"

	"github.com/imagequota/imagequota/internal/quota"
)

// Validator is implemented by request types that check their own values.
type Validator interface {
	Validate() error
}

// Decode parses body, which must be exactly one JSON object, into v. Unknown
// fields are ignored; a field of the wrong JSON type is INVALID_PARAMETER_TYPE
// naming the field; anything that is not one JSON object, text that is not
// UTF-8 and a name given twice in one object are INVALID_PARAMETER_VALUE. An
// empty body is {}.
func Decode(body []byte, v any) error {
	trimmed := bytes.Trim(body, jsonSpace)
	if len(trimmed) == 0 {
		trimmed = []byte("{}")
	}
	if trimmed[0] != '{' {
		return quota.Errorf(quota.CodeInvalidParameterValue, "The request body must be one JSON object.")
	}
	dec := json.NewDecoder(bytes.NewReader(trimmed))
	if err := dec.Decode(v); err != nil {
		return decodeError(err, v)
	}
	if _, err := dec.Token(); err != io.EOF {
		return quota.Errorf(quota.CodeInvalidParameterValue, "The request body has data after the JSON object.")
	}
	if err := checkStrict(trimmed); err != nil {
		return err
	}
	if val, ok := v.(Validator); ok {
		return val.Validate()
	}
	return nil
}

// jsonSpace is the white space JSON allows around a value (RFC 8259); other
// Unicode spaces are not JSON and make the body invalid.
const jsonSpace = " \t\r\n"

func decodeError(err error, v any) error {
	var te *json.UnmarshalTypeError
	var se *json.SyntaxError
	switch {
	case errors.As(err, &te):
		field := te.Field
		if field == "" {
			return quota.Errorf(quota.CodeInvalidParameterValue, "The request body must be one JSON object.")
		}
		top, _, _ := strings.Cut(field, ".")
		want := describeType(fieldType(v, top))
		return quota.Errorf(quota.CodeInvalidParameterType, "%s must be %s; got a JSON %s.", top, want, te.Value)
	case errors.As(err, &se):
		return quota.Errorf(quota.CodeInvalidParameterValue, "The request body is not valid JSON: %s at offset %d.", se.Error(), se.Offset)
	case errors.Is(err, io.ErrUnexpectedEOF), errors.Is(err, io.EOF):
		return quota.Errorf(quota.CodeInvalidParameterValue, "The request body is not valid JSON: it ends too early.")
	}
	return quota.Errorf(quota.CodeInvalidParameterValue, "The request body could not be decoded: %s.", err.Error())
}

// fieldType finds the Go type of the struct field with JSON name name.
func fieldType(v any, name string) reflect.Type {
	t := reflect.TypeOf(v)
	for t != nil && t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	if t == nil || t.Kind() != reflect.Struct {
		return nil
	}
	for i := 0; i < t.NumField(); i++ {
		f := t.Field(i)
		tag, _, _ := strings.Cut(f.Tag.Get("json"), ",")
		if tag == name || (tag == "" && strings.EqualFold(f.Name, name)) {
			return f.Type
		}
	}
	return nil
}

func describeType(t reflect.Type) string {
	if t == nil {
		return "of another type"
	}
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	switch t.Kind() {
	case reflect.String:
		return "a string"
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		return "an integer"
	case reflect.Bool:
		return "a boolean"
	case reflect.Slice, reflect.Array:
		return "an array of " + strings.TrimPrefix(strings.TrimPrefix(describeType(t.Elem()), "a "), "an ") + "s"
	case reflect.Struct, reflect.Map:
		return "an object"
	}
	return "of another type"
}
