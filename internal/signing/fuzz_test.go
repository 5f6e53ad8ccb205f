package signing

import (
	"bytes"
	"errors"
	"slices"
	"strings"
	"testing"
	"time"
)

// formatAuthorization formats a with arbitrary signed headers in the
// canonical layout.
func formatAuthorization(a Authorization) string {
	return Algorithm + " Credential=" + a.AccessKeyID +
		", SignedHeaders=" + strings.Join(a.SignedHeaders, ";") +
		", Signature=" + a.Signature
}

func FuzzParseAuthorization(f *testing.F) {
	for _, v := range vectors {
		f.Add(AuthorizationHeader(testAccessKeyID, v.signature))
	}
	sig := vectors[0].signature
	for _, s := range []string{
		"",
		"ZC2-HMAC-SHA256",
		"ZC2-HMAC-SHA256 Signature=" + sig + ", SignedHeaders=host;content-type, Credential=AKIDEXAMPLE",
		"  ZC2-HMAC-SHA256\t Credential = AKIDEXAMPLE ,SignedHeaders=content-type;host;x-zc-date, Signature=" + sig + " ",
		"ZC2-HMAC-SHA256 Credential=AKIDEXAMPLE, Credential=AKIDEXAMPLE, SignedHeaders=content-type;host, Signature=" + sig,
		"ZC2-HMAC-SHA256 Credential=, SignedHeaders=content-type, Signature=" + strings.ToUpper(sig),
		"ZC2-HMAC-SHA256 Credential=A=B, SignedHeaders=content-type;;host, Signature=" + sig + ",",
	} {
		f.Add(s)
	}

	f.Fuzz(func(t *testing.T, header string) {
		a, err := ParseAuthorization(header)
		if err != nil {
			if !errors.Is(err, ErrMalformed) {
				t.Fatalf("ParseAuthorization(%q) error %v does not wrap ErrMalformed", header, err)
			}
			if !equalAuthorization(a, Authorization{}) {
				t.Fatalf("ParseAuthorization(%q) = %+v on error, want zero value", header, a)
			}
			return
		}
		if err := a.validate(); err != nil {
			t.Fatalf("ParseAuthorization(%q) = %+v, which does not validate: %v", header, a, err)
		}
		if len(a.Signature) != 64 || len(a.AccessKeyID) == 0 || len(a.AccessKeyID) > 128 ||
			len(a.SignedHeaders) == 0 || len(a.SignedHeaders) > 20 ||
			!slices.Contains(a.SignedHeaders, "content-type") || !slices.Contains(a.SignedHeaders, "host") {
			t.Fatalf("ParseAuthorization(%q) = %+v violates limits", header, a)
		}

		// Any parsed value re-formats to a header that parses back the same.
		again := formatAuthorization(a)
		b, err := ParseAuthorization(again)
		if err != nil {
			t.Fatalf("re-parse of %q (from %q): %v", again, header, err)
		}
		if !equalAuthorization(a, b) {
			t.Fatalf("re-parse of %q = %+v, want %+v", again, b, a)
		}

		if slices.Equal(a.SignedHeaders, DefaultSignedHeaders) {
			again := AuthorizationHeader(a.AccessKeyID, a.Signature)
			b, err := ParseAuthorization(again)
			if err != nil {
				t.Fatalf("re-parse of %q (from %q): %v", again, header, err)
			}
			if !equalAuthorization(a, b) {
				t.Fatalf("re-parse of %q = %+v, want %+v", again, b, a)
			}
		}
	})
}

func FuzzVerify(f *testing.F) {
	for _, v := range vectors {
		now := mustUnix(f, v.timestamp).Unix()
		f.Add(AuthorizationHeader(testAccessKeyID, v.signature), v.secret, v.timestamp, now, v.contentType, v.host, []byte(v.body))
	}
	v := vectors[0]
	f.Add(AuthorizationHeader(testAccessKeyID, v.signature), v.secret, v.timestamp, int64(1700000301), v.contentType, v.host, []byte(v.body))
	f.Add(AuthorizationHeader(testAccessKeyID, v.signature), "", "", int64(0), "", "", []byte(nil))
	f.Add("garbage", "s", "abc", int64(-1), " text/plain ", "h:1", []byte{0, 1, 2})

	f.Fuzz(func(t *testing.T, header, secret, timestamp string, nowUnix int64, contentType, host string, body []byte) {
		now := time.Unix(nowUnix, 0)
		hdr := headers(contentType, host)
		bodyCopy := bytes.Clone(body)
		tsErr := CheckTimestamp(timestamp, now)
		if tsErr != nil && !errors.Is(tsErr, ErrExpired) {
			t.Fatalf("CheckTimestamp(%q) = %v, want nil or ErrExpired", timestamp, tsErr)
		}

		// Arbitrary header: Verify must classify and only accept genuine signatures.
		if a, err := ParseAuthorization(header); err == nil {
			err := Verify(a, secret, timestamp, now, hdr, body)
			switch {
			case err == nil:
				if tsErr != nil || secret == "" {
					t.Fatalf("Verify accepted with timestamp error %v, secret %q", tsErr, secret)
				}
				if want := Signature(secret, timestamp, CanonicalRequest(a.SignedHeaders, hdr, body)); want != a.Signature {
					t.Fatalf("Verify accepted signature %s, want %s", a.Signature, want)
				}
			case errors.Is(err, ErrExpired):
				if tsErr == nil {
					t.Fatalf("Verify = %v but CheckTimestamp accepted %q", err, timestamp)
				}
			case errors.Is(err, ErrMismatch):
			default:
				t.Fatalf("Verify = %v, want nil, ErrExpired or ErrMismatch", err)
			}
		}

		// Signing the fuzzed request must verify unless the timestamp is out of range.
		sig := Sign(secret, timestamp, contentType, host, body)
		if want := Signature(secret, timestamp, CanonicalRequest(DefaultSignedHeaders, hdr, body)); sig != want {
			t.Fatalf("Sign = %s, CanonicalRequest+Signature = %s", sig, want)
		}
		a, err := ParseAuthorization(AuthorizationHeader(testAccessKeyID, sig))
		if err != nil {
			t.Fatalf("ParseAuthorization of own header: %v", err)
		}
		err = Verify(a, secret, timestamp, now, hdr, body)
		switch {
		case tsErr != nil:
			if !errors.Is(err, ErrExpired) {
				t.Fatalf("Verify = %v, want ErrExpired", err)
			}
		case secret == "":
			if !errors.Is(err, ErrMismatch) {
				t.Fatalf("Verify with empty secret = %v, want ErrMismatch", err)
			}
		default:
			if err != nil {
				t.Fatalf("Verify of own signature = %v", err)
			}
			tampered := append(bytes.Clone(body), 'x')
			if err := Verify(a, secret, timestamp, now, hdr, tampered); !errors.Is(err, ErrMismatch) {
				t.Fatalf("Verify with tampered body = %v, want ErrMismatch", err)
			}
			if err := Verify(a, secret+"x", timestamp, now, hdr, body); !errors.Is(err, ErrMismatch) {
				t.Fatalf("Verify with wrong secret = %v, want ErrMismatch", err)
			}
		}
		if !bytes.Equal(body, bodyCopy) {
			t.Fatalf("body modified")
		}
	})
}
