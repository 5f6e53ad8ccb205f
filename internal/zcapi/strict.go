package zcapi

import (
	"bytes"
	"encoding/json"
	"unicode"
	"unicode/utf8"

	"github.com/imagequota/imagequota/internal/quota"
)

// checkStrict refuses what encoding/json accepts but silently changes: text
// that is not UTF-8, or a \u escape of half a surrogate pair (both become
// U+FFFD), and a name given twice in one object (the last one wins). At the
// top level, names that differ only in case are the same name too, because
// the decoder matches parameters ignoring case.
//
// b must be one JSON object that encoding/json has decoded without error, so
// the scan needs no checks of the grammar: it only follows strings, objects
// and arrays. It allocates nothing for the bodies clients send (few names
// per object, no escapes in names).
func checkStrict(b []byte) error {
	var (
		stackBuf [4]frame
		namesBuf [8][]byte
		stack    = stackBuf[:0]
		names    = namesBuf[:0]
		param    []byte // the top-level name whose value the scan is in
	)
	for i := 0; i < len(b); i++ {
		switch b[i] {
		case '{':
			stack = append(stack, frame{object: true, first: len(names)})
		case '[':
			stack = append(stack, frame{})
		case '}', ']':
			if len(stack) == 0 {
				return nil // not reached for what encoding/json accepted
			}
			top := stack[len(stack)-1]
			if top.object {
				names = names[:top.first]
			}
			stack = stack[:len(stack)-1]
		case '"':
			if len(stack) == 0 {
				return nil // not reached for what encoding/json accepted
			}
			end, escaped, high := scanString(b, i+1)
			if end == len(b) {
				return nil // not reached: an unterminated string
			}
			text := b[i+1 : end]
			top := &stack[len(stack)-1]
			isName := top.object && nextByte(b, end+1) == ':'
			if high && !utf8.Valid(text) {
				return textError(len(stack) == 1 && isName, param, "")
			}
			if escaped {
				if esc, lone := loneSurrogate(text); lone {
					return textError(len(stack) == 1 && isName, param, esc)
				}
			}
			if isName {
				name := text
				if escaped {
					name = unescapeName(b[i : end+1])
				}
				if len(stack) == 1 {
					param = name
				}
				var err error
				if names, err = addName(top, names, name, len(stack) == 1, param); err != nil {
					return err
				}
			}
			i = end
		}
	}
	return nil
}

// frame is an open object or array of the scan.
type frame struct {
	object bool
	// first is where the object's names begin in the scan's list of names.
	first int
	// seen holds the object's names once there are too many to compare one
	// by one: a body of 1 MiB can hold an object of 100,000 names.
	seen map[string]struct{}
}

// linearNames is how many names of one object are compared one by one before
// they go into a map.
const linearNames = 16

// addName records name in the object top, refusing one it already has.
// fold compares names ignoring case (the top level).
func addName(top *frame, names [][]byte, name []byte, fold bool, param []byte) ([][]byte, error) {
	key := func(n []byte) string {
		if fold {
			return string(foldName(n))
		}
		return string(n)
	}
	if top.seen != nil {
		k := key(name)
		if _, dup := top.seen[k]; dup {
			return names, duplicateName(name, nil, fold, param)
		}
		top.seen[k] = struct{}{}
		return names, nil
	}
	for _, n := range names[top.first:] {
		if bytes.Equal(n, name) || fold && bytes.EqualFold(n, name) {
			return names, duplicateName(name, n, fold, param)
		}
	}
	names = append(names, name)
	if len(names)-top.first > linearNames {
		top.seen = make(map[string]struct{}, 2*linearNames)
		for _, n := range names[top.first:] {
			top.seen[key(n)] = struct{}{}
		}
	}
	return names, nil
}

func duplicateName(name, earlier []byte, top bool, param []byte) error {
	n := quota.Truncate(string(name), 64)
	if !top {
		return quota.Errorf(quota.CodeInvalidParameterValue,
			"The name %q is given more than once in one object of %s; each name may appear only once.", n, quota.Truncate(string(param), 64))
	}
	if earlier != nil && !bytes.Equal(earlier, name) {
		return quota.Errorf(quota.CodeInvalidParameterValue,
			"%s is given more than once in the request body (as %q and %q: parameter names are matched ignoring case).",
			quota.Truncate(string(earlier), 64), quota.Truncate(string(earlier), 64), n)
	}
	return quota.Errorf(quota.CodeInvalidParameterValue, "%s is given more than once in the request body.", n)
}

// scanString finds the closing quote of the string whose text begins at
// b[i], and says whether the text has escapes and bytes beyond ASCII.
func scanString(b []byte, i int) (end int, escaped, high bool) {
	for i < len(b) {
		c := b[i]
		if plainText[c] {
			i++
			continue
		}
		switch {
		case c == '"':
			return i, escaped, high
		case c == '\\':
			escaped = true
			i += 2 // the escaped byte; the hex digits of \u are plain text
		default:
			high = true
			i++
		}
	}
	return len(b), escaped, high
}

// plainText marks the bytes of a string's text that scanString passes over:
// ASCII but the quote and the backslash.
var plainText = func() (t [256]bool) {
	for c := range utf8.RuneSelf {
		t[c] = c != '"' && c != '\\'
	}
	return t
}()

// nextByte is the first byte at or after i that is not JSON white space.
func nextByte(b []byte, i int) byte {
	for ; i < len(b); i++ {
		if c := b[i]; c != ' ' && c != '\t' && c != '\r' && c != '\n' {
			return c
		}
	}
	return 0
}

// textError refuses a string that decoding would change, naming the
// parameter it is in (or saying it is a parameter's name). esc is the lone
// surrogate escape found, if that is the problem.
func textError(isParamName bool, param []byte, esc string) error {
	what := "A parameter name in the request body"
	if !isParamName {
		what = quota.Truncate(string(param), 64)
	}
	if esc != "" {
		return quota.Errorf(quota.CodeInvalidParameterValue,
			"%s holds %s, half of a UTF-16 surrogate pair without the other half, which is not a character.", what, esc)
	}
	if isParamName {
		return quota.Errorf(quota.CodeInvalidParameterValue, "%s is not valid UTF-8; the request body must be UTF-8.", what)
	}
	return quota.Errorf(quota.CodeInvalidParameterValue, "%s holds text that is not valid UTF-8; the request body must be UTF-8.", what)
}

// loneSurrogate finds a \u escape of a surrogate that is not part of a pair.
func loneSurrogate(text []byte) (string, bool) {
	for i := 0; i < len(text); i++ {
		if text[i] != '\\' {
			continue
		}
		if i+1 < len(text) && text[i+1] != 'u' {
			i++
			continue
		}
		r, ok := hex4(text, i+2)
		if !ok {
			continue
		}
		switch {
		case r >= 0xDC00 && r <= 0xDFFF:
			return string(text[i : i+6]), true
		case r >= 0xD800 && r <= 0xDBFF:
			if i+7 < len(text) && text[i+6] == '\\' && text[i+7] == 'u' {
				if lo, ok := hex4(text, i+8); ok && lo >= 0xDC00 && lo <= 0xDFFF {
					i += 11
					continue
				}
			}
			return string(text[i : i+6]), true
		}
		i += 5
	}
	return "", false
}

// hex4 reads the four hex digits at text[i:].
func hex4(text []byte, i int) (rune, bool) {
	if i+4 > len(text) {
		return 0, false
	}
	var r rune
	for _, c := range text[i : i+4] {
		switch {
		case '0' <= c && c <= '9':
			c -= '0'
		case 'a' <= c && c <= 'f':
			c -= 'a' - 10
		case 'A' <= c && c <= 'F':
			c -= 'A' - 10
		default:
			return 0, false
		}
		r = r<<4 | rune(c)
	}
	return r, true
}

// unescapeName returns the name that quoted (a JSON string, quotes included)
// stands for.
func unescapeName(quoted []byte) []byte {
	var s string
	if err := json.Unmarshal(quoted, &s); err != nil {
		return quoted
	}
	return []byte(s)
}

// foldName maps names that bytes.EqualFold finds equal to the same bytes, as
// encoding/json does to match a name with a field: each rune becomes the
// smallest of its case-folding orbit.
func foldName(name []byte) []byte {
	out := make([]byte, 0, len(name))
	for i := 0; i < len(name); {
		if c := name[i]; c < utf8.RuneSelf {
			if 'a' <= c && c <= 'z' {
				c -= 'a' - 'A'
			}
			out = append(out, c)
			i++
			continue
		}
		r, n := utf8.DecodeRune(name[i:])
		for {
			r2 := unicode.SimpleFold(r)
			if r2 <= r {
				r = r2
				break
			}
			r = r2
		}
		out = utf8.AppendRune(out, r)
		i += n
	}
	return out
}
