package zcapi_test

import (
	"bytes"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/imagequota/imagequota/internal/quota"
	"github.com/imagequota/imagequota/internal/signing"
	"github.com/imagequota/imagequota/internal/store"
	"github.com/imagequota/imagequota/internal/testkit"
	"github.com/imagequota/imagequota/internal/vm"
	"github.com/imagequota/imagequota/internal/zcapi"
	"github.com/imagequota/imagequota/vmapi"
)

// requestTypes makes a fresh value of every request type of the vm service.
var requestTypes = []func() any{
	func() any { return new(vmapi.DescribeRegionsRequest) },
	func() any { return new(vmapi.DescribeZonesRequest) },
	func() any { return new(vmapi.DescribeImageQuotaRequest) },
	func() any { return new(vmapi.CreateImageRequest) },
	func() any { return new(vmapi.DescribeImagesRequest) },
	func() any { return new(vmapi.DescribeImageRequest) },
	func() any { return new(vmapi.ModifyImagesAttributesRequest) },
	func() any { return new(vmapi.DeleteImagesRequest) },
}

// FuzzDecode checks that Decode never panics, and that it either accepts one
// JSON object or refuses with a client error from the status table.
func FuzzDecode(f *testing.F) {
	for _, s := range []string{
		``, `{}`, ` {} `, `[]`, `null`, `"x"`, `1`, `{} {}`, `{}x`, `{"regionIds":`,
		`{"regionIds":["sa-jeddah-1a"],"zoneIds":["FRA-A"]}`, `{"regionIds":"a"}`, `{"zoneIds":[1]}`,
		`{"pageSize":10,"pageNum":1,"zoneId":"HKG-A"}`, `{"pageSize":"10"}`, `{"pageNum":1e400}`,
		`{"instanceId":"ins-1","imageName":"web-1","imageDescription":null,"clientToken":"t"}`,
		`{"imageIds":["img-1",null]}`, `{"imageId":{}}`, "\u00a0{}", `{"a":` + string(bytes.Repeat([]byte("["), 100)),
		"{\"imageName\":\"\xff\"}", `{"imageName":"\ud800"}`, `{"imageName":"\ud83d\ude00"}`, `{"zoneIds":[],"ZONEIDS":[]}`,
		`{"x":{"a":1,"a":2}}`, `{"x":[{"a":1},{"a":2}]}`,
	} {
		f.Add([]byte(s))
	}
	codes := zcapi.Codes()
	f.Fuzz(func(t *testing.T, body []byte) {
		for _, mk := range requestTypes {
			v := mk()
			err := zcapi.Decode(body, v)
			if err == nil {
				trimmed := bytes.Trim(body, " \t\r\n")
				if len(trimmed) > 0 && (trimmed[0] != '{' || !json.Valid(trimmed)) {
					t.Fatalf("Decode(%q) into %T accepted something that is not one JSON object", body, v)
				}
				if !utf8.Valid(body) {
					t.Fatalf("Decode(%q) into %T accepted a body that is not UTF-8", body, v)
				}
				if problem := strictProblem(trimmed); problem != "" {
					t.Fatalf("Decode(%q) into %T accepted a body with %s", body, v, problem)
				}
				continue
			}
			e, ok := quota.AsError(err)
			if !ok {
				t.Fatalf("Decode(%q) into %T: %T %v; want a *quota.Error", body, v, err, err)
			}
			if !slices.Contains(codes, e.Code) || e.Code == quota.CodeInternal {
				t.Fatalf("Decode(%q) into %T: code %s is not a client error of the status table", body, v, e.Code)
			}
			if status, _ := zcapi.Status(e.Code); status != http.StatusBadRequest {
				t.Fatalf("Decode(%q) into %T: code %s is HTTP %d; want 400", body, v, e.Code, status)
			}
			if e.Message == "" {
				t.Fatalf("Decode(%q) into %T: empty message", body, v)
			}
		}
	})
}

// strictProblem reads an object with encoding/json's tokens, independently of
// Decode, and names what Decode must refuse in it: a name given twice in one
// object (ignoring case at the top level), or text that decodes to U+FFFD
// where the body has none.
func strictProblem(body []byte) string {
	hasFFFD := bytes.Contains(body, []byte("\uFFFD")) || bytes.Contains(bytes.ToLower(body), []byte(`\ufffd`))
	type frame struct {
		object  bool
		wantKey bool
		names   []string
	}
	var stack []*frame
	dec := json.NewDecoder(bytes.NewReader(body))
	for {
		tok, err := dec.Token()
		if err != nil {
			return ""
		}
		if d, ok := tok.(json.Delim); ok && (d == '}' || d == ']') {
			stack = stack[:len(stack)-1]
			continue
		}
		var top *frame
		isKey := false
		if len(stack) > 0 {
			top = stack[len(stack)-1]
			if top.object {
				// Names and values alternate; a value that opens an object
				// or array is complete at its close.
				isKey = top.wantKey
				top.wantKey = !top.wantKey
			}
		}
		switch tok := tok.(type) {
		case json.Delim:
			stack = append(stack, &frame{object: tok == '{', wantKey: true})
		case string:
			if strings.ContainsRune(tok, utf8.RuneError) && !hasFFFD {
				return "text that decodes to U+FFFD"
			}
			if isKey {
				for _, n := range top.names {
					if n == tok || len(stack) == 1 && strings.EqualFold(n, tok) {
						return "the name " + strconv.Quote(tok) + " twice"
					}
				}
				top.names = append(top.names, tok)
			}
		}
	}
}

// FuzzServe sends arbitrary bodies and headers to the real handler (real
// store, real vm service) and checks that every answer is a valid envelope
// and never a 500.
func FuzzServe(f *testing.F) {
	now := time.Unix(1_750_000_000, 0).UTC()
	clock := func() time.Time { return now }
	db := testkit.OpenStore(f, testkit.SQLiteURL(f), store.Options{Now: clock})
	acct := testkit.NewAccount(f, db, "http://example.com")
	inst, err := db.CreateInstance(f.Context(), quota.Instance{
		AccountID: acct.ID, LocationID: "sa-jeddah-1a", DiskGB: 40, OSCategory: "Ubuntu", OSType: "linux", OSVersion: "22.04",
	})
	if err != nil {
		f.Fatal(err)
	}
	svc := &vm.Service{Store: db, Catalog: quota.DefaultCatalog(), DefaultMax: quota.DefaultMaxCount, Now: clock}
	h := zcapi.NewServer(zcapi.Config{Auth: db, Actions: svc.Actions(), Ready: db.Ping, Now: clock}).Handler()
	ts := strconv.FormatInt(now.Unix(), 10)

	seeds := []struct {
		action, version, contentType string
		auth                         uint8
		authorization                string
		body                         string
	}{
		{"DescribeImageQuota", "", "application/json", 0, "", `{}`},
		{"DescribeImageQuota", "2023-03-13", "application/json; charset=utf-8", 0, "", `{"regionIds":["sa-jeddah-1a"],"zoneIds":["jp-tokyo-1a"]}`},
		{"DescribeRegions", "2026-04-01", "application/json", 0, "", `{"regionIds":["nowhere"]}`},
		{"DescribeZones", "", "application/json", 0, "", `{"zoneIds":"x"}`},
		{"CreateImage", "", "application/json", 0, "", `{"instanceId":"` + inst.ID + `","imageName":"fuzz-1"}`},
		{"DescribeImages", "", "application/json", 0, "", `{"pageSize":1001}`},
		{"DescribeImage", "2023-03-13", "application/json", 0, "", `{"imageId":"img-0"}`},
		{"ModifyImagesAttributes", "", "application/json", 0, "", `{"imageIds":["img-0"],"imageName":"x"}`},
		{"DeleteImages", "", "application/json", 0, "", `{"imageIds":[]}`},
		{"Nope", "1999-01-01", "text/plain", 1, "", `[]`},
		{"DescribeRegions", "", "application/json", 2, "ZC2-HMAC-SHA256 Credential=x, SignedHeaders=content-type;host, Signature=00", `{}`},
		{"DescribeRegions", "", "application/json", 2, "Bearer zqt_nothing", `{}`},
	}
	for _, s := range seeds {
		f.Add(s.action, s.version, s.contentType, s.auth, s.authorization, []byte(s.body))
	}
	f.Fuzz(func(t *testing.T, action, version, contentType string, auth uint8, authorization string, body []byte) {
		req := httptest.NewRequest(http.MethodPost, vmapi.Path, bytes.NewReader(body))
		req.Header.Set("Content-Type", contentType)
		req.Header.Set("X-ZC-Action", action)
		if version != "" {
			req.Header.Set("X-ZC-Version", version)
		}
		switch auth % 3 {
		case 0: // a valid signature over whatever was sent
			req.Header.Set("X-ZC-Timestamp", ts)
			req.Header.Set("Authorization", signing.AuthorizationHeader(acct.Key.ID,
				signing.Sign(acct.Key.Secret, ts, contentType, req.Host, body)))
		case 1: // none
		case 2: // whatever the fuzzer made
			req.Header.Set("X-ZC-Timestamp", ts)
			req.Header.Set("Authorization", authorization)
		}
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)

		if rec.Code >= 500 && rec.Code != http.StatusServiceUnavailable {
			t.Fatalf("HTTP %d for action %q version %q content type %q body %q: %s", rec.Code, action, version, contentType, body, rec.Body)
		}
		id := rec.Header().Get("X-ZC-Request-Id")
		if !requestIDPattern.MatchString(id) {
			t.Fatalf("X-ZC-Request-Id %q is not T + upper-case UUID v4", id)
		}
		var env map[string]json.RawMessage
		if err := json.Unmarshal(rec.Body.Bytes(), &env); err != nil {
			t.Fatalf("body %q is not a JSON object: %v", rec.Body, err)
		}
		var gotID string
		if err := json.Unmarshal(env["requestId"], &gotID); err != nil || gotID != id {
			t.Fatalf("requestId %s differs from the header %q", env["requestId"], id)
		}
		if rec.Code == http.StatusOK {
			if len(env) != 2 || env["response"] == nil {
				t.Fatalf("success body %s; want exactly requestId and response", rec.Body)
			}
			if string(env["response"]) != "null" {
				var resp map[string]json.RawMessage
				if err := json.Unmarshal(env["response"], &resp); err != nil {
					t.Fatalf("response %s is not an object: %v", env["response"], err)
				}
				var inner string
				if err := json.Unmarshal(resp["requestId"], &inner); err != nil || inner != id {
					t.Fatalf("response.requestId %s differs from %q", resp["requestId"], id)
				}
			}
			return
		}
		if len(env) != 3 {
			t.Fatalf("error body %s; want exactly requestId, code, message", rec.Body)
		}
		var code, msg string
		if json.Unmarshal(env["code"], &code) != nil || json.Unmarshal(env["message"], &msg) != nil || code == "" || msg == "" {
			t.Fatalf("error body %s lacks a code or a message", rec.Body)
		}
		if rec.Code == http.StatusRequestEntityTooLarge && code == quota.CodeExceedLength {
			return
		}
		if status, wire := zcapi.Status(code); status != rec.Code || wire != code {
			t.Fatalf("code %s sent with HTTP %d; the table says %d", code, rec.Code, status)
		}
	})
}
