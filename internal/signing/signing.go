// Package signing implements Zenlayer Cloud API 2.0 request signing with the
// ZC2-HMAC-SHA256 algorithm.
//
// A signed request is a POST to "/" with an empty query string. The client
// computes
//
//	hashedPayload    = hex(sha256(body))
//	canonicalHeaders = for each signed header, in order: name ":" trimmed value "\n"
//	canonicalRequest = "POST\n/\n\n" + canonicalHeaders + "\n" +
//	                   join(signedHeaders, ";") + "\n" + hashedPayload
//	stringToSign     = "ZC2-HMAC-SHA256\n" + timestamp + "\n" + hex(sha256(canonicalRequest))
//	signature        = hex(hmac_sha256(secret, stringToSign))
//
// and sends
//
//	Authorization: ZC2-HMAC-SHA256 Credential=<accessKeyId>, SignedHeaders=content-type;host, Signature=<signature>
//
// together with the timestamp (decimal Unix seconds). The server parses the
// header with ParseAuthorization, looks up the secret for the access key and
// calls Verify.
//
// All functions are pure: they do no I/O, keep no state and are safe for
// concurrent use. There is no replay cache; a captured request can be replayed
// for as long as its timestamp is within MaxSkew of the server clock.
package signing

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"
)

// Algorithm is the signing algorithm name used in the Authorization header and
// in the string to sign.
const Algorithm = "ZC2-HMAC-SHA256"

// MaxSkew is the largest accepted difference, in either direction, between the
// request timestamp and the server clock.
const MaxSkew = 300 * time.Second

// Errors returned by ParseAuthorization, CheckTimestamp and Verify. Returned
// errors either are or wrap one of these; test with errors.Is.
var (
	ErrMalformed = errors.New("malformed authorization") // header does not parse
	ErrExpired   = errors.New("signature expired")       // timestamp missing, unparseable or off by more than MaxSkew
	ErrMismatch  = errors.New("signature mismatch")      // signature does not match the request
)

// DefaultSignedHeaders is []string{"content-type", "host"}.
//
// It is informational: Sign and AuthorizationHeader use an internal copy, so
// modifying this slice does not change their output.
var DefaultSignedHeaders = []string{"content-type", "host"}

// Limits enforced on a parsed Authorization.
const (
	// maxCredentialLen is the maximum length in bytes of the Credential value.
	maxCredentialLen = 128
	// maxSignedHeaders is the maximum number of entries in SignedHeaders.
	maxSignedHeaders = 20
	// signatureLen is the length of a hex-encoded HMAC-SHA256.
	signatureLen = 2 * sha256.Size
)

const (
	headerContentType = "content-type"
	headerHost        = "host"

	defaultSignedHeadersValue = headerContentType + ";" + headerHost

	keyCredential    = "Credential"
	keySignedHeaders = "SignedHeaders"
	keySignature     = "Signature"
)

// maxSkewSeconds is MaxSkew in whole seconds; timestamps have one-second
// resolution.
const maxSkewSeconds = int64(MaxSkew / time.Second)

// Authorization is the parsed value of an Authorization header.
type Authorization struct {
	// AccessKeyID is the Credential value.
	AccessKeyID string
	// SignedHeaders holds the lower-case names of the signed headers, in the
	// order they appear in the canonical request.
	SignedHeaders []string
	// Signature is the 64-character lower-case hex signature.
	Signature string
}

// ParseAuthorization parses the value of an Authorization header of the
// ZC2-HMAC-SHA256 form:
//
//	ZC2-HMAC-SHA256 Credential=<id>, SignedHeaders=<h1;h2;...>, Signature=<hex>
//
// The parts may appear in any order; spaces and tabs around the header, the
// parts, the keys and the values are ignored. Each of Credential,
// SignedHeaders and Signature must appear exactly once and be non-empty. The
// credential is at most 128 visible ASCII characters. The signature is 64
// lower-case hex digits. SignedHeaders is a ';'-separated list of at most 20
// distinct, non-empty, lower-case header names
// that includes content-type and host.
//
// Errors wrap ErrMalformed. They may quote the header's text at any length:
// shorten them before showing them to anyone.
func ParseAuthorization(header string) (Authorization, error) {
	s := trimOWS(header)
	rest, ok := strings.CutPrefix(s, Algorithm)
	if !ok {
		return Authorization{}, malformed("algorithm is not %s", Algorithm)
	}
	if rest == "" || (rest[0] != ' ' && rest[0] != '\t') {
		return Authorization{}, malformed("missing space after algorithm")
	}
	rest = trimOWS(rest)
	if rest == "" {
		return Authorization{}, malformed("no parameters")
	}

	var (
		a                                    Authorization
		haveCred, haveSigned, haveSig        bool
		credential, signedHeaders, signature string
	)
	for part := range strings.SplitSeq(rest, ",") {
		part = trimOWS(part)
		if part == "" {
			return Authorization{}, malformed("empty parameter")
		}
		key, value, ok := strings.Cut(part, "=")
		if !ok {
			return Authorization{}, malformed("parameter without '='")
		}
		key, value = trimOWS(key), trimOWS(value)
		var seen *bool
		switch key {
		case keyCredential:
			seen, credential = &haveCred, value
		case keySignedHeaders:
			seen, signedHeaders = &haveSigned, value
		case keySignature:
			seen, signature = &haveSig, value
		default:
			return Authorization{}, malformed("unknown parameter %q", key)
		}
		if *seen {
			return Authorization{}, malformed("duplicate parameter %s", key)
		}
		*seen = true
	}
	switch {
	case !haveCred:
		return Authorization{}, malformed("missing %s", keyCredential)
	case !haveSigned:
		return Authorization{}, malformed("missing %s", keySignedHeaders)
	case !haveSig:
		return Authorization{}, malformed("missing %s", keySignature)
	}

	a.AccessKeyID = credential
	a.Signature = signature
	if strings.Count(signedHeaders, ";") >= maxSignedHeaders {
		return Authorization{}, malformed("more than %d %s", maxSignedHeaders, keySignedHeaders)
	}
	if signedHeaders != "" {
		a.SignedHeaders = strings.Split(signedHeaders, ";")
	}
	if err := a.validate(); err != nil {
		return Authorization{}, err
	}
	return a, nil
}

// validate checks the field constraints documented on ParseAuthorization.
// Errors wrap ErrMalformed.
func (a Authorization) validate() error {
	if err := validateCredential(a.AccessKeyID); err != nil {
		return err
	}
	if err := validateSignedHeaders(a.SignedHeaders); err != nil {
		return err
	}
	return validateSignature(a.Signature)
}

func validateCredential(c string) error {
	if c == "" {
		return malformed("empty %s", keyCredential)
	}
	if len(c) > maxCredentialLen {
		return malformed("%s longer than %d bytes", keyCredential, maxCredentialLen)
	}
	for i := 0; i < len(c); i++ {
		// Visible ASCII only; ',' would end the parameter when re-parsed.
		if b := c[i]; b <= ' ' || b >= 0x7f || b == ',' {
			return malformed("invalid character in %s", keyCredential)
		}
	}
	return nil
}

func validateSignedHeaders(names []string) error {
	if len(names) == 0 {
		return malformed("empty %s", keySignedHeaders)
	}
	if len(names) > maxSignedHeaders {
		return malformed("more than %d %s", maxSignedHeaders, keySignedHeaders)
	}
	var haveContentType, haveHost bool
	for i, name := range names {
		if name == "" {
			return malformed("empty name in %s", keySignedHeaders)
		}
		for j := 0; j < len(name); j++ {
			if !isLowerTokenChar(name[j]) {
				return malformed("invalid header name in %s", keySignedHeaders)
			}
		}
		for _, prev := range names[:i] {
			if prev == name {
				return malformed("duplicate header %q in %s", name, keySignedHeaders)
			}
		}
		switch name {
		case headerContentType:
			haveContentType = true
		case headerHost:
			haveHost = true
		}
	}
	if !haveContentType {
		return malformed("%s does not include %s", keySignedHeaders, headerContentType)
	}
	if !haveHost {
		return malformed("%s does not include %s", keySignedHeaders, headerHost)
	}
	return nil
}

func validateSignature(sig string) error {
	if len(sig) != signatureLen {
		return malformed("%s is not %d hex digits", keySignature, signatureLen)
	}
	for i := 0; i < len(sig); i++ {
		if b := sig[i]; !('0' <= b && b <= '9' || 'a' <= b && b <= 'f') {
			return malformed("%s is not lower-case hex", keySignature)
		}
	}
	return nil
}

// isLowerTokenChar reports whether b may appear in a lower-case HTTP header
// name (an RFC 9110 token without upper-case letters).
func isLowerTokenChar(b byte) bool {
	switch {
	case 'a' <= b && b <= 'z', '0' <= b && b <= '9':
		return true
	}
	return strings.IndexByte("!#$%&'*+-.^_`|~", b) >= 0
}

// CanonicalRequest builds the canonical request; header(name) returns the
// header value as sent for a lower-case name.
//
// Names in signedHeaders are lower-cased before use. Each header value is
// trimmed of leading and trailing white space. For "host" the value must be
// the host as sent by the client, including any port. A nil header function
// is treated as returning "" for every name.
func CanonicalRequest(signedHeaders []string, header func(name string) string, body []byte) string {
	var b strings.Builder
	b.WriteString("POST\n/\n\n")
	for _, name := range signedHeaders {
		name = strings.ToLower(name)
		var value string
		if header != nil {
			value = header(name)
		}
		b.WriteString(name)
		b.WriteByte(':')
		b.WriteString(strings.TrimSpace(value))
		b.WriteByte('\n')
	}
	b.WriteByte('\n')
	for i, name := range signedHeaders {
		if i > 0 {
			b.WriteByte(';')
		}
		b.WriteString(strings.ToLower(name))
	}
	b.WriteByte('\n')
	b.WriteString(sha256Hex(body))
	return b.String()
}

// Signature computes the hex signature of a canonical request.
func Signature(secret, timestamp, canonicalRequest string) string {
	stringToSign := Algorithm + "\n" + timestamp + "\n" + sha256Hex([]byte(canonicalRequest))
	mac := hmac.New(sha256.New, []byte(secret))
	mac.Write([]byte(stringToSign))
	return hex.EncodeToString(mac.Sum(nil))
}

// Sign returns the signature for the default signed headers (content-type,
// host). host includes the port if the client sends one.
func Sign(secret, timestamp, contentType, host string, body []byte) string {
	header := func(name string) string {
		switch name {
		case headerContentType:
			return contentType
		case headerHost:
			return host
		}
		return ""
	}
	return Signature(secret, timestamp, CanonicalRequest(defaultSignedHeaders(), header, body))
}

// AuthorizationHeader formats the Authorization header value with
// DefaultSignedHeaders.
func AuthorizationHeader(accessKeyID, signature string) string {
	return Algorithm + " " + keyCredential + "=" + accessKeyID +
		", " + keySignedHeaders + "=" + defaultSignedHeadersValue +
		", " + keySignature + "=" + signature
}

// CheckTimestamp returns ErrExpired unless ts is decimal Unix seconds within
// MaxSkew of now.
//
// ts must consist of ASCII digits only (no sign, spaces or fraction). Both
// bounds are inclusive and compared in whole seconds against now.Unix().
func CheckTimestamp(ts string, now time.Time) error {
	if ts == "" {
		return fmt.Errorf("%w: missing timestamp", ErrExpired)
	}
	for i := 0; i < len(ts); i++ {
		if ts[i] < '0' || ts[i] > '9' {
			return fmt.Errorf("%w: timestamp is not decimal Unix seconds", ErrExpired)
		}
	}
	sec, err := strconv.ParseInt(ts, 10, 64)
	if err != nil {
		return fmt.Errorf("%w: timestamp is not decimal Unix seconds", ErrExpired)
	}
	if absDiff(sec, now.Unix()) > uint64(maxSkewSeconds) {
		return fmt.Errorf("%w: timestamp more than %v from server time", ErrExpired, MaxSkew)
	}
	return nil
}

// Verify checks the timestamp (CheckTimestamp) then the signature
// (hmac.Equal) for the parsed authorization.
//
// a must satisfy the constraints of ParseAuthorization; otherwise Verify
// returns an error wrapping ErrMalformed. header supplies the request header
// values for the names in a.SignedHeaders, as for CanonicalRequest. An empty
// secret never verifies and yields ErrMismatch.
func Verify(a Authorization, secret, timestamp string, now time.Time, header func(name string) string, body []byte) error {
	if err := a.validate(); err != nil {
		return err
	}
	if err := CheckTimestamp(timestamp, now); err != nil {
		return err
	}
	if secret == "" {
		return ErrMismatch
	}
	want := Signature(secret, timestamp, CanonicalRequest(a.SignedHeaders, header, body))
	if !hmac.Equal([]byte(want), []byte(a.Signature)) {
		return ErrMismatch
	}
	return nil
}

func defaultSignedHeaders() []string {
	return []string{headerContentType, headerHost}
}

func sha256Hex(b []byte) string {
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:])
}

// absDiff returns |a-b| without overflow.
func absDiff(a, b int64) uint64 {
	if a >= b {
		return uint64(a) - uint64(b)
	}
	return uint64(b) - uint64(a)
}

// trimOWS trims HTTP optional white space (spaces and tabs).
func trimOWS(s string) string {
	return strings.Trim(s, " \t")
}

func malformed(format string, args ...any) error {
	return fmt.Errorf("%w: "+format, append([]any{ErrMalformed}, args...)...)
}
