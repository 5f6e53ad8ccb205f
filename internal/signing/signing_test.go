package signing

import (
	"errors"
	"math"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"
)

// vector is a known-good signature from the wire contract.
type vector struct {
	name        string
	secret      string
	host        string
	contentType string
	body        string
	timestamp   string
	signature   string
}

var vectors = []vector{
	{
		name:        "empty object",
		secret:      "SECRETEXAMPLE",
		host:        "console.zenlayer.com",
		contentType: "application/json",
		body:        `{}`,
		timestamp:   "1700000000",
		signature:   "6ffc6030824189b11854c0993d65b36666d199483c552d34854201f4abd57428",
	},
	{
		name:        "two zones",
		secret:      "SECRETEXAMPLE",
		host:        "console.zenlayer.com",
		contentType: "application/json",
		body:        `{"zoneIds":["FRA-A","HKG-A"]}`,
		timestamp:   "1700000000",
		signature:   "56e7bfe55c40188828847d95edb96bc8936b6f2e9024be309291d78e2cc658dd",
	},
	{
		name:        "host with port",
		secret:      "test-key-secret",
		host:        "127.0.0.1:8080",
		contentType: "application/json",
		body:        `{"zoneIds":["FRA-A"]}`,
		timestamp:   "1700000000",
		signature:   "3f5590af0fc63759196174adbdf46547225e74d8c636f59f4776bfa313ca2901",
	},
	{
		name:        "charset and paging",
		secret:      "Gu5t9xGARNpq86cd98joQYCN3",
		host:        "console.zenlayer.com",
		contentType: "application/json; charset=utf-8",
		body:        `{"pageSize":10,"pageNum":1,"zoneId":"HKG-A"}`,
		timestamp:   "1673361177",
		signature:   "efb356c32e55c781e10dc676da59462c22596d82e91c57803666243379555b2f",
	},
}

const testAccessKeyID = "AKIDEXAMPLE"

// headers returns a header lookup serving content-type and host.
func headers(contentType, host string) func(string) string {
	return func(name string) string {
		switch name {
		case "content-type":
			return contentType
		case "host":
			return host
		}
		return ""
	}
}

func mustUnix(t testing.TB, ts string) time.Time {
	t.Helper()
	sec, err := strconv.ParseInt(ts, 10, 64)
	if err != nil {
		t.Fatalf("bad timestamp %q: %v", ts, err)
	}
	return time.Unix(sec, 0)
}

func TestSignVectors(t *testing.T) {
	t.Parallel()
	for _, v := range vectors {
		t.Run(v.name, func(t *testing.T) {
			t.Parallel()
			got := Sign(v.secret, v.timestamp, v.contentType, v.host, []byte(v.body))
			if got != v.signature {
				t.Errorf("Sign = %s, want %s", got, v.signature)
			}
		})
	}
}

func TestCanonicalRequestSignatureVectors(t *testing.T) {
	t.Parallel()
	for _, v := range vectors {
		t.Run(v.name, func(t *testing.T) {
			t.Parallel()
			cr := CanonicalRequest(DefaultSignedHeaders, headers(v.contentType, v.host), []byte(v.body))
			if got := Signature(v.secret, v.timestamp, cr); got != v.signature {
				t.Errorf("Signature = %s, want %s", got, v.signature)
			}
		})
	}
}

func TestVectorRoundTrip(t *testing.T) {
	t.Parallel()
	for _, v := range vectors {
		t.Run(v.name, func(t *testing.T) {
			t.Parallel()
			sig := Sign(v.secret, v.timestamp, v.contentType, v.host, []byte(v.body))
			h := AuthorizationHeader(testAccessKeyID, sig)
			a, err := ParseAuthorization(h)
			if err != nil {
				t.Fatalf("ParseAuthorization(%q): %v", h, err)
			}
			want := Authorization{AccessKeyID: testAccessKeyID, SignedHeaders: DefaultSignedHeaders, Signature: v.signature}
			if !equalAuthorization(a, want) {
				t.Fatalf("ParseAuthorization = %+v, want %+v", a, want)
			}
			now := mustUnix(t, v.timestamp)
			if err := Verify(a, v.secret, v.timestamp, now, headers(v.contentType, v.host), []byte(v.body)); err != nil {
				t.Errorf("Verify: %v", err)
			}
		})
	}
}

func TestCanonicalRequest(t *testing.T) {
	t.Parallel()
	const emptyObjectHash = "44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a"
	tests := []struct {
		name          string
		signedHeaders []string
		header        func(string) string
		body          string
		want          string
	}{
		{
			name:          "default",
			signedHeaders: DefaultSignedHeaders,
			header:        headers("application/json", "console.zenlayer.com"),
			body:          "{}",
			want: "POST\n/\n\n" +
				"content-type:application/json\nhost:console.zenlayer.com\n\n" +
				"content-type;host\n" + emptyObjectHash,
		},
		{
			name:          "values trimmed",
			signedHeaders: DefaultSignedHeaders,
			header:        headers(" \tapplication/json  ", " console.zenlayer.com "),
			body:          "{}",
			want: "POST\n/\n\n" +
				"content-type:application/json\nhost:console.zenlayer.com\n\n" +
				"content-type;host\n" + emptyObjectHash,
		},
		{
			name:          "names lower-cased, order kept",
			signedHeaders: []string{"Host", "Content-Type", "x-zc-extra"},
			header: func(name string) string {
				return map[string]string{"host": "h:1", "content-type": "text/plain", "x-zc-extra": "v"}[name]
			},
			body: "",
			want: "POST\n/\n\n" +
				"host:h:1\ncontent-type:text/plain\nx-zc-extra:v\n\n" +
				"host;content-type;x-zc-extra\n" +
				"e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
		},
		{
			name:          "nil header function",
			signedHeaders: DefaultSignedHeaders,
			header:        nil,
			body:          "",
			want: "POST\n/\n\ncontent-type:\nhost:\n\ncontent-type;host\n" +
				"e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			if got := CanonicalRequest(tt.signedHeaders, tt.header, []byte(tt.body)); got != tt.want {
				t.Errorf("CanonicalRequest =\n%q\nwant\n%q", got, tt.want)
			}
		})
	}
}

func TestAuthorizationHeader(t *testing.T) {
	t.Parallel()
	tests := []struct {
		id, sig, want string
	}{
		{
			id:   testAccessKeyID,
			sig:  vectors[0].signature,
			want: "ZC2-HMAC-SHA256 Credential=AKIDEXAMPLE, SignedHeaders=content-type;host, Signature=" + vectors[0].signature,
		},
	}
	for _, tt := range tests {
		t.Run(tt.id, func(t *testing.T) {
			t.Parallel()
			if got := AuthorizationHeader(tt.id, tt.sig); got != tt.want {
				t.Errorf("AuthorizationHeader = %q, want %q", got, tt.want)
			}
		})
	}
}

func TestParseAuthorization(t *testing.T) {
	t.Parallel()
	sig := vectors[0].signature
	def := []string{"content-type", "host"}
	many := func(n int) string {
		names := []string{"content-type", "host"}
		for i := len(names); i < n; i++ {
			names = append(names, "x-h"+strconv.Itoa(i))
		}
		return strings.Join(names, ";")
	}
	good := []struct {
		name   string
		header string
		want   Authorization
	}{
		{
			name:   "canonical",
			header: AuthorizationHeader(testAccessKeyID, sig),
			want:   Authorization{testAccessKeyID, def, sig},
		},
		{
			name:   "extra spaces",
			header: "  ZC2-HMAC-SHA256   Credential = AKIDEXAMPLE ,SignedHeaders=content-type;host  ,   Signature= " + sig + "   ",
			want:   Authorization{testAccessKeyID, def, sig},
		},
		{
			name:   "tabs",
			header: "ZC2-HMAC-SHA256\tCredential=AKIDEXAMPLE,\tSignedHeaders=content-type;host,\tSignature=" + sig,
			want:   Authorization{testAccessKeyID, def, sig},
		},
		{
			name:   "no spaces after commas",
			header: "ZC2-HMAC-SHA256 Credential=AKIDEXAMPLE,SignedHeaders=content-type;host,Signature=" + sig,
			want:   Authorization{testAccessKeyID, def, sig},
		},
		{
			name:   "different order",
			header: "ZC2-HMAC-SHA256 Signature=" + sig + ", SignedHeaders=host;content-type, Credential=AKIDEXAMPLE",
			want:   Authorization{testAccessKeyID, []string{"host", "content-type"}, sig},
		},
		{
			name:   "extra signed header",
			header: "ZC2-HMAC-SHA256 Credential=AKIDEXAMPLE, SignedHeaders=content-type;host;x-zc-date, Signature=" + sig,
			want:   Authorization{testAccessKeyID, []string{"content-type", "host", "x-zc-date"}, sig},
		},
		{
			name:   "twenty signed headers",
			header: "ZC2-HMAC-SHA256 Credential=AKIDEXAMPLE, SignedHeaders=" + many(20) + ", Signature=" + sig,
			want:   Authorization{testAccessKeyID, strings.Split(many(20), ";"), sig},
		},
		{
			name:   "credential 128 bytes",
			header: AuthorizationHeader(strings.Repeat("A", 128), sig),
			want:   Authorization{strings.Repeat("A", 128), def, sig},
		},
		{
			name:   "credential with punctuation",
			header: AuthorizationHeader("AKID/2023-01-10/zec=1", sig),
			want:   Authorization{"AKID/2023-01-10/zec=1", def, sig},
		},
	}
	for _, tt := range good {
		t.Run("good/"+tt.name, func(t *testing.T) {
			t.Parallel()
			got, err := ParseAuthorization(tt.header)
			if err != nil {
				t.Fatalf("ParseAuthorization(%q): %v", tt.header, err)
			}
			if !equalAuthorization(got, tt.want) {
				t.Errorf("ParseAuthorization(%q) = %+v, want %+v", tt.header, got, tt.want)
			}
		})
	}

	bad := []struct {
		name   string
		header string
	}{
		{"empty", ""},
		{"garbage", "garbage"},
		{"binary garbage", "\x00\xff\xfe,=;"},
		{"algorithm only", "ZC2-HMAC-SHA256"},
		{"algorithm and spaces", "ZC2-HMAC-SHA256   "},
		{"wrong algorithm", "TC3-HMAC-SHA256 Credential=AKIDEXAMPLE, SignedHeaders=content-type;host, Signature=" + sig},
		{"algorithm lower-case", "zc2-hmac-sha256 Credential=AKIDEXAMPLE, SignedHeaders=content-type;host, Signature=" + sig},
		{"algorithm suffix", "ZC2-HMAC-SHA2566 Credential=AKIDEXAMPLE, SignedHeaders=content-type;host, Signature=" + sig},
		{"no space after algorithm", "ZC2-HMAC-SHA256Credential=AKIDEXAMPLE, SignedHeaders=content-type;host, Signature=" + sig},
		{"missing credential", "ZC2-HMAC-SHA256 SignedHeaders=content-type;host, Signature=" + sig},
		{"missing signed headers", "ZC2-HMAC-SHA256 Credential=AKIDEXAMPLE, Signature=" + sig},
		{"missing signature", "ZC2-HMAC-SHA256 Credential=AKIDEXAMPLE, SignedHeaders=content-type;host"},
		{"duplicate credential", "ZC2-HMAC-SHA256 Credential=AKIDEXAMPLE, Credential=AKIDEXAMPLE, SignedHeaders=content-type;host, Signature=" + sig},
		{"duplicate signed headers", "ZC2-HMAC-SHA256 Credential=AKIDEXAMPLE, SignedHeaders=content-type;host, SignedHeaders=content-type;host, Signature=" + sig},
		{"duplicate signature", "ZC2-HMAC-SHA256 Credential=AKIDEXAMPLE, SignedHeaders=content-type;host, Signature=" + sig + ", Signature=" + sig},
		{"empty credential", "ZC2-HMAC-SHA256 Credential=, SignedHeaders=content-type;host, Signature=" + sig},
		{"blank credential", "ZC2-HMAC-SHA256 Credential=   , SignedHeaders=content-type;host, Signature=" + sig},
		{"credential too long", AuthorizationHeader(strings.Repeat("A", 129), sig)},
		{"credential with space", AuthorizationHeader("AKID EXAMPLE", sig)},
		{"credential with control", AuthorizationHeader("AKID\x01", sig)},
		{"credential non-ASCII", AuthorizationHeader("AKIDÉ", sig)},
		{"empty signature", AuthorizationHeader(testAccessKeyID, "")},
		{"signature upper-case hex", AuthorizationHeader(testAccessKeyID, strings.ToUpper(sig))},
		{"signature not hex", AuthorizationHeader(testAccessKeyID, "g"+sig[1:])},
		{"signature short", AuthorizationHeader(testAccessKeyID, sig[:63])},
		{"signature long", AuthorizationHeader(testAccessKeyID, sig+"0")},
		{"signed headers missing host", "ZC2-HMAC-SHA256 Credential=AKIDEXAMPLE, SignedHeaders=content-type, Signature=" + sig},
		{"signed headers missing content-type", "ZC2-HMAC-SHA256 Credential=AKIDEXAMPLE, SignedHeaders=host, Signature=" + sig},
		{"signed headers empty", "ZC2-HMAC-SHA256 Credential=AKIDEXAMPLE, SignedHeaders=, Signature=" + sig},
		{"signed headers empty name", "ZC2-HMAC-SHA256 Credential=AKIDEXAMPLE, SignedHeaders=content-type;;host, Signature=" + sig},
		{"signed headers trailing semicolon", "ZC2-HMAC-SHA256 Credential=AKIDEXAMPLE, SignedHeaders=content-type;host;, Signature=" + sig},
		{"signed headers upper-case", "ZC2-HMAC-SHA256 Credential=AKIDEXAMPLE, SignedHeaders=Content-Type;Host, Signature=" + sig},
		{"signed headers space in list", "ZC2-HMAC-SHA256 Credential=AKIDEXAMPLE, SignedHeaders=content-type; host, Signature=" + sig},
		{"signed headers duplicate name", "ZC2-HMAC-SHA256 Credential=AKIDEXAMPLE, SignedHeaders=content-type;host;host, Signature=" + sig},
		{"signed headers too many", "ZC2-HMAC-SHA256 Credential=AKIDEXAMPLE, SignedHeaders=" + many(21) + ", Signature=" + sig},
		{"unknown parameter", "ZC2-HMAC-SHA256 Credential=AKIDEXAMPLE, SignedHeaders=content-type;host, Signature=" + sig + ", Extra=1"},
		{"key wrong case", "ZC2-HMAC-SHA256 credential=AKIDEXAMPLE, SignedHeaders=content-type;host, Signature=" + sig},
		{"parameter without equals", "ZC2-HMAC-SHA256 Credential=AKIDEXAMPLE, SignedHeaders=content-type;host, Signature " + sig},
		{"trailing comma", AuthorizationHeader(testAccessKeyID, sig) + ","},
		{"empty parameter", "ZC2-HMAC-SHA256 Credential=AKIDEXAMPLE,, SignedHeaders=content-type;host, Signature=" + sig},
		{"space separated", "ZC2-HMAC-SHA256 Credential=AKIDEXAMPLE SignedHeaders=content-type;host Signature=" + sig},
	}
	for _, tt := range bad {
		t.Run("bad/"+tt.name, func(t *testing.T) {
			t.Parallel()
			got, err := ParseAuthorization(tt.header)
			if !errors.Is(err, ErrMalformed) {
				t.Fatalf("ParseAuthorization(%q) error = %v, want ErrMalformed", tt.header, err)
			}
			if !equalAuthorization(got, Authorization{}) {
				t.Errorf("ParseAuthorization(%q) = %+v on error, want zero value", tt.header, got)
			}
		})
	}
}

func TestCheckTimestamp(t *testing.T) {
	t.Parallel()
	now := time.Unix(1700000000, 0)
	tests := []struct {
		name    string
		ts      string
		now     time.Time
		wantErr error
	}{
		{"equal", "1700000000", now, nil},
		{"plus 300", "1700000300", now, nil},
		{"minus 300", "1699999700", now, nil},
		{"plus 301", "1700000301", now, ErrExpired},
		{"minus 301", "1699999699", now, ErrExpired},
		{"fractional now compared in whole seconds", "1699999700", time.Unix(1700000000, 999999999), nil},
		{"leading zeros", "01700000000", now, nil},
		{"missing", "", now, ErrExpired},
		{"letters", "abc", now, ErrExpired},
		{"plus sign", "+1700000000", now, ErrExpired},
		{"minus sign", "-1700000000", now, ErrExpired},
		{"spaces", " 1700000000", now, ErrExpired},
		{"fraction", "1700000000.5", now, ErrExpired},
		{"milliseconds", "1700000000000", now, ErrExpired},
		{"overflow", "99999999999999999999", now, ErrExpired},
		{"max int64", strconv.FormatInt(math.MaxInt64, 10), now, ErrExpired},
		{"max int64 at max now", strconv.FormatInt(math.MaxInt64, 10), time.Unix(math.MaxInt64, 0), nil},
		{"zero at very negative now", "0", time.Unix(math.MinInt64, 0), ErrExpired},
		{"max int64 at very negative now", strconv.FormatInt(math.MaxInt64, 10), time.Unix(math.MinInt64, 0), ErrExpired},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			err := CheckTimestamp(tt.ts, tt.now)
			if tt.wantErr == nil && err != nil || tt.wantErr != nil && !errors.Is(err, tt.wantErr) {
				t.Errorf("CheckTimestamp(%q, %v) = %v, want %v", tt.ts, tt.now.Unix(), err, tt.wantErr)
			}
		})
	}
}

func TestVerify(t *testing.T) {
	t.Parallel()
	v := vectors[2]
	base, _ := strconv.ParseInt(v.timestamp, 10, 64)
	now := time.Unix(base, 0)
	at := func(delta int64) string { return strconv.FormatInt(base+delta, 10) }

	type request struct {
		secret, timestamp, contentType, host, body string
	}
	signed := request{v.secret, v.timestamp, v.contentType, v.host, v.body}
	with := func(f func(*request)) request {
		r := signed
		f(&r)
		return r
	}

	tests := []struct {
		name     string
		sign     request // what the client signed
		received request // what the server sees; secret is the server's
		auth     func(Authorization) Authorization
		wantErr  error
	}{
		{name: "valid", sign: signed, received: signed},
		{name: "plus 300 s", sign: with(func(r *request) { r.timestamp = at(300) }), received: with(func(r *request) { r.timestamp = at(300) })},
		{name: "minus 300 s", sign: with(func(r *request) { r.timestamp = at(-300) }), received: with(func(r *request) { r.timestamp = at(-300) })},
		{name: "plus 301 s", sign: with(func(r *request) { r.timestamp = at(301) }), received: with(func(r *request) { r.timestamp = at(301) }), wantErr: ErrExpired},
		{name: "minus 301 s", sign: with(func(r *request) { r.timestamp = at(-301) }), received: with(func(r *request) { r.timestamp = at(-301) }), wantErr: ErrExpired},
		{name: "timestamp missing", sign: with(func(r *request) { r.timestamp = "" }), received: with(func(r *request) { r.timestamp = "" }), wantErr: ErrExpired},
		{name: "timestamp abc", sign: with(func(r *request) { r.timestamp = "abc" }), received: with(func(r *request) { r.timestamp = "abc" }), wantErr: ErrExpired},
		{name: "expired and wrong secret", sign: with(func(r *request) { r.timestamp = at(-301) }), received: with(func(r *request) { r.timestamp = at(-301); r.secret = "wrong" }), wantErr: ErrExpired},
		{name: "body changed", sign: signed, received: with(func(r *request) { r.body = `{"zoneIds":["HKG-A"]}` }), wantErr: ErrMismatch},
		{name: "body whitespace added", sign: signed, received: with(func(r *request) { r.body += " " }), wantErr: ErrMismatch},
		{name: "secret wrong", sign: signed, received: with(func(r *request) { r.secret = "other-secret" }), wantErr: ErrMismatch},
		{name: "secret empty", sign: with(func(r *request) { r.secret = "" }), received: with(func(r *request) { r.secret = "" }), wantErr: ErrMismatch},
		{name: "host changed", sign: signed, received: with(func(r *request) { r.host = "127.0.0.1:8081" }), wantErr: ErrMismatch},
		{name: "host without port", sign: signed, received: with(func(r *request) { r.host = "127.0.0.1" }), wantErr: ErrMismatch},
		{name: "content-type changed", sign: signed, received: with(func(r *request) { r.contentType = "text/plain" }), wantErr: ErrMismatch},
		{name: "timestamp changed", sign: signed, received: with(func(r *request) { r.timestamp = at(1) }), wantErr: ErrMismatch},
		{name: "header values trimmed", sign: signed, received: with(func(r *request) { r.host = " " + r.host + "\t"; r.contentType += " " })},
		{
			name: "signed headers reordered", sign: signed, received: signed,
			auth: func(a Authorization) Authorization {
				a.SignedHeaders = []string{"host", "content-type"}
				return a
			},
			wantErr: ErrMismatch,
		},
		{
			name: "signature altered", sign: signed, received: signed,
			auth: func(a Authorization) Authorization {
				b := []byte(a.Signature)
				b[0] ^= 1
				a.Signature = string(b)
				return a
			},
			wantErr: ErrMismatch,
		},
		{
			name: "authorization missing host", sign: signed, received: signed,
			auth: func(a Authorization) Authorization {
				a.SignedHeaders = []string{"content-type"}
				return a
			},
			wantErr: ErrMalformed,
		},
		{
			name: "authorization empty", sign: signed, received: signed,
			auth:    func(Authorization) Authorization { return Authorization{} },
			wantErr: ErrMalformed,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			s, r := tt.sign, tt.received
			sig := Sign(s.secret, s.timestamp, s.contentType, s.host, []byte(s.body))
			a, err := ParseAuthorization(AuthorizationHeader(testAccessKeyID, sig))
			if err != nil {
				t.Fatalf("ParseAuthorization: %v", err)
			}
			if tt.auth != nil {
				a = tt.auth(a)
			}
			err = Verify(a, r.secret, r.timestamp, now, headers(r.contentType, r.host), []byte(r.body))
			if tt.wantErr == nil && err != nil || tt.wantErr != nil && !errors.Is(err, tt.wantErr) {
				t.Errorf("Verify = %v, want %v", err, tt.wantErr)
			}
		})
	}
}

func TestDefaultSignedHeaders(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		got  []string
	}{
		{"exported", DefaultSignedHeaders},
		{"internal", defaultSignedHeaders()},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			if want := []string{"content-type", "host"}; !slices.Equal(tt.got, want) {
				t.Errorf("%v, want %v", tt.got, want)
			}
		})
	}
}

func equalAuthorization(a, b Authorization) bool {
	return a.AccessKeyID == b.AccessKeyID && a.Signature == b.Signature && slices.Equal(a.SignedHeaders, b.SignedHeaders)
}
