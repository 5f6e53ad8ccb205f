package e2e

import (
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/imagequota/imagequota/internal/quota"
	"github.com/imagequota/imagequota/internal/testkit"
	"github.com/imagequota/imagequota/internal/zcapi"
	"github.com/imagequota/imagequota/vmapi"
)

// protoCase is one request and what the server must answer.
type protoCase struct {
	name   string
	req    request
	status int    // 200 for success
	code   string // the error code, for a failure
	names  []string
}

// idList is a JSON array of n copies of id.
func idList(id string, n int) string {
	return `["` + strings.TrimSuffix(strings.Repeat(id+`","`, n), `","`) + `"]`
}

// TestProtocol provokes every error of protocol.md §1–5 (and the successes
// next to each) through raw requests to a real listener, and checks each
// answer's status, code, message and envelope, then the log line of each.
func TestProtocol(t *testing.T) {
	parallel(t)
	e := setup(t, testkit.Options{Catalog: catalogWithClosed(t)})
	ctx := context.Background()
	db := e.srv.DB

	token, _, err := db.CreateToken(ctx, e.acct.ID, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	expired, _, err := db.CreateToken(ctx, e.acct.ID, -time.Second)
	if err != nil {
		t.Fatal(err)
	}
	offAccount := e.newAccount()
	offToken, _, err := db.CreateToken(ctx, offAccount.ID, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	if err := db.SetAccountDisabled(ctx, offAccount.ID, true); err != nil {
		t.Fatal(err)
	}
	offKey := e.newAccount()
	if err := db.SetAccessKeyDisabled(ctx, offKey.Key.ID, true); err != nil {
		t.Fatal(err)
	}

	ok := func(name string, r request) protoCase { return protoCase{name: name, req: r, status: http.StatusOK} }
	bad := func(name string, r request, status int, code string, names ...string) protoCase {
		return protoCase{name: name, req: r, status: status, code: code, names: names}
	}
	resign := func(r request) request { return r.signed(e.acct.Key, e.host, e.now) }
	bearer := func(action, body, tok string) request {
		r := e.call(action, body)
		r.header.Del("X-ZC-Timestamp")
		r.header.Set("Authorization", "Bearer "+tok)
		return r
	}
	regions := e.call("DescribeRegions", "{}")
	const (
		badValue = quota.CodeInvalidParameterValue
		badType  = quota.CodeInvalidParameterType
		tooLong  = quota.CodeExceedLength
	)
	pad := `{"pad":"` + strings.Repeat("a", zcapi.MaxBodyBytes-len(`{"pad":""}`)) + `"}`

	cases := []protoCase{
		// §1 transport.
		ok("POST /api/v2/vm", regions),
		ok("POST /", regions.with(func(r *request) { r.path = "/" })),
		bad("other path", regions.with(func(r *request) { r.path = "/api/v2/other" }), 404, quota.CodeResourceNotFound, "/api/v2/other"),
		bad("path under the endpoint", regions.with(func(r *request) { r.path = "/api/v2/vm/x" }), 404, quota.CodeResourceNotFound, "/api/v2/vm/x"),
		bad("GET /api/v2/vm", regions.with(func(r *request) { r.method, r.body = http.MethodGet, nil }), 405, quota.CodeMethodNotAllowed, "GET"),
		bad("GET /", regions.with(func(r *request) { r.method, r.path, r.body = http.MethodGet, "/", nil }), 405, quota.CodeMethodNotAllowed, "GET"),
		bad("PUT /api/v2/vm", regions.with(func(r *request) { r.method = http.MethodPut }), 405, quota.CodeMethodNotAllowed, "PUT"),
		ok("X-TC-Action alias", e.call("", "{}").set("X-TC-Action", "DescribeRegions")),
		ok("header names in lower case", regions.lowercase()),
		ok("X-TC-Action in lower case", e.call("", "{}").set("X-TC-Action", "DescribeZones").lowercase()),
		ok("version 2023-03-13", regions.set("X-ZC-Version", vmapi.VersionLegacy)),
		ok("version 2026-04-01", regions.set("X-ZC-Version", vmapi.VersionCurrent)),
		ok("version 2026-04-01 in lower case", regions.set("X-ZC-Version", vmapi.VersionCurrent).lowercase()),
		ok("no version", regions.set("X-ZC-Version", "")),
		bad("unknown version", regions.set("X-ZC-Version", "2024-01-01"), 400, badValue, "X-ZC-Version", "2024-01-01"),
		bad("unknown version in lower case", regions.set("X-ZC-Version", "2023-3-13").lowercase(), 400, badValue, "X-ZC-Version", "2023-3-13"),
		ok("Content-Type with charset", resign(regions.set("Content-Type", "application/json; charset=utf-8"))),
		ok("Content-Type in other case", resign(regions.set("Content-Type", "Application/JSON"))),
		bad("Content-Type text/plain", resign(regions.set("Content-Type", "text/plain")), 400, badValue, "Content-Type", "text/plain"),
		bad("Content-Type form", resign(regions.set("Content-Type", "application/x-www-form-urlencoded")), 400, badValue, "Content-Type", "application/x-www-form-urlencoded"),
		bad("no Content-Type", regions.set("Content-Type", ""), 400, badValue, "Content-Type"),
		ok("body of exactly 1 MiB", e.call("DescribeRegions", pad)),
		bad("body of 1 MiB and one byte", e.call("DescribeRegions", pad+" "), 413, tooLong, "1 MiB"),
		ok("empty body", e.call("DescribeImageQuota", "")),
		bad("body is an array", e.call("DescribeImageQuota", `[]`), 400, badValue, "JSON object"),
		bad("body is an array of strings", e.call("DescribeImageQuota", `["sa-jeddah-1a"]`), 400, badValue, "JSON object"),
		bad("body is a string", e.call("DescribeImageQuota", `"{}"`), 400, badValue, "JSON object"),
		bad("body is null", e.call("DescribeImageQuota", `null`), 400, badValue, "JSON object"),
		bad("body is a number", e.call("DescribeImageQuota", `42`), 400, badValue, "JSON object"),
		bad("second object after the body", e.call("DescribeImageQuota", `{} {}`), 400, badValue, "after the JSON object"),
		bad("garbage after the body", e.call("DescribeImageQuota", `{}x`), 400, badValue, "after the JSON object"),
		bad("truncated body", e.call("DescribeImageQuota", `{"regionIds":["sa-jeddah-1a"`), 400, badValue, "JSON"),
		bad("unquoted key", e.call("DescribeImageQuota", `{regionIds:[]}`), 400, badValue, "JSON"),

		// §3 common parameter codes, §4 locations, §5 DescribeImageQuota.
		bad("regionIds is a string", e.call("DescribeImageQuota", `{"regionIds":"sa-jeddah-1a"}`), 400, badType, "regionIds"),
		bad("zoneIds is a string", e.call("DescribeImageQuota", `{"zoneIds":"sa-jeddah-1a"}`), 400, badType, "zoneIds"),
		bad("zoneIds holds a number", e.call("DescribeImageQuota", `{"zoneIds":["sa-jeddah-1a",7]}`), 400, badType, "zoneIds"),
		bad("regionIds is an object", e.call("DescribeImageQuota", `{"regionIds":{"a":"b"}}`), 400, badType, "regionIds"),
		bad("DescribeRegions regionIds is a string", e.call("DescribeRegions", `{"regionIds":"jp-tokyo-1a"}`), 400, badType, "regionIds"),
		bad("DescribeZones zoneIds is a string", e.call("DescribeZones", `{"zoneIds":"jp-tokyo-1a"}`), 400, badType, "zoneIds"),
		ok("unknown fields ignored", e.call("DescribeImageQuota", `{"foo":1,"bar":{"x":[null]},"regionIds":["jp-tokyo-1a"]}`)),
		ok("100 ids", e.call("DescribeImageQuota", `{"regionIds":`+idList("jp-tokyo-1a", 100)+`}`)),
		bad("101 regionIds", e.call("DescribeImageQuota", `{"regionIds":`+idList("jp-tokyo-1a", 101)+`}`), 400, tooLong, "regionIds", "100"),
		bad("101 zoneIds", e.call("DescribeImageQuota", `{"zoneIds":`+idList("jp-tokyo-1a", 101)+`}`), 400, tooLong, "zoneIds", "100"),
		bad("DescribeRegions 101 ids", e.call("DescribeRegions", `{"regionIds":`+idList("jp-tokyo-1a", 101)+`}`), 400, tooLong, "regionIds", "100"),
		bad("DescribeZones 101 ids", e.call("DescribeZones", `{"zoneIds":`+idList("jp-tokyo-1a", 101)+`}`), 400, tooLong, "zoneIds", "100"),
		bad("empty regionId", e.call("DescribeImageQuota", `{"regionIds":[""]}`), 400, quota.CodeLessLength, "regionIds"),
		bad("unknown regionId", e.call("DescribeImageQuota", `{"regionIds":["jp-tokyo-1a","xx-nowhere-1a"]}`), 404, quota.CodeRegionNotFound, "xx-nowhere-1a"),
		bad("unknown zoneId", e.call("DescribeImageQuota", `{"zoneIds":["xx-nowhere-1a"]}`), 404, quota.CodeRegionNotFound, "xx-nowhere-1a"),
		bad("disabled regionId", e.call("DescribeImageQuota", `{"regionIds":["zz-closed-1a"]}`), 404, quota.CodeRegionNotFound, "zz-closed-1a"),
		bad("disabled zoneId", e.call("DescribeImageQuota", `{"zoneIds":["jp-tokyo-1a","zz-closed-1a"]}`), 404, quota.CodeRegionNotFound, "zz-closed-1a"),
		bad("id in other case", e.call("DescribeImageQuota", `{"regionIds":["JP-TOKYO-1A"]}`), 404, quota.CodeRegionNotFound, "JP-TOKYO-1A"),
		bad("DescribeRegions unknown", e.call("DescribeRegions", `{"regionIds":["xx-nowhere-1a"]}`), 404, quota.CodeRegionNotFound, "xx-nowhere-1a"),
		bad("DescribeRegions disabled", e.call("DescribeRegions", `{"regionIds":["zz-closed-1a"]}`), 404, quota.CodeRegionNotFound, "zz-closed-1a"),
		bad("DescribeZones unknown", e.call("DescribeZones", `{"zoneIds":["xx-nowhere-1a"]}`), 404, quota.CodeZoneNotFound, "xx-nowhere-1a"),
		bad("DescribeZones disabled", e.call("DescribeZones", `{"zoneIds":["jp-tokyo-1a","zz-closed-1a"]}`), 404, quota.CodeZoneNotFound, "zz-closed-1a"),
		bad("missing parameter", e.call("CreateImage", `{"imageName":"web-1"}`), 400, quota.CodeMissingParameter, "instanceId"),
		bad("pattern error", e.call("CreateImage", `{"instanceId":"ins-x","imageName":"bad name!"}`), 400, quota.CodePatternError, "imageName", "bad name!"),
		bad("name too long", e.call("CreateImage", `{"instanceId":"ins-x","imageName":"`+strings.Repeat("n", 25)+`"}`), 400, tooLong, "imageName", "24"),
		bad("name empty", e.call("CreateImage", `{"instanceId":"ins-x","imageName":""}`), 400, quota.CodeLessLength, "imageName"),
		bad("over maximum", e.call("DescribeImages", `{"pageSize":1001}`), 400, quota.CodeExceedMaximum, "pageSize", "1001"),
		bad("under minimum", e.call("DescribeImages", `{"pageNum":0}`), 400, quota.CodeLessMinimum, "pageNum", "0"),
		bad("integer as a string", e.call("DescribeImages", `{"pageSize":"10"}`), 400, badType, "pageSize"),
		bad("enum value", e.call("DescribeImages", `{"imageType":"SHARED_IMAGE"}`), 400, badValue, "imageType", "SHARED_IMAGE"),

		// §2 authentication.
		bad("no Authorization", regions.set("Authorization", ""), 401, quota.CodeInvalidAuthorization, "Authorization"),
		bad("Basic Authorization", regions.set("Authorization", "Basic dXNlcjpwYXNz"), 401, quota.CodeInvalidAuthorization, "Authorization"),
		bad("Authorization without parameters", regions.set("Authorization", "ZC2-HMAC-SHA256"), 401, quota.CodeInvalidAuthorization, "Authorization"),
		bad("Authorization without Signature", regions.set("Authorization", "ZC2-HMAC-SHA256 Credential="+e.acct.Key.ID+", SignedHeaders=content-type;host"), 401, quota.CodeInvalidAuthorization, "Authorization", "Signature"),
		bad("signature not hex", regions.set("Authorization", "ZC2-HMAC-SHA256 Credential="+e.acct.Key.ID+", SignedHeaders=content-type;host, Signature="+strings.Repeat("z", 64)), 401, quota.CodeInvalidAuthorization, "Authorization", "Signature"),
		bad("host not signed", regions.set("Authorization", "ZC2-HMAC-SHA256 Credential="+e.acct.Key.ID+", SignedHeaders=content-type, Signature="+strings.Repeat("0", 64)), 401, quota.CodeInvalidAuthorization, "Authorization", "host"),
		bad("unknown access key", regions.signed(quota.AccessKey{ID: "AKUNKNOWN0000000000000", Secret: e.acct.Key.Secret}, e.host, e.now), 401, quota.CodeSignatureFailure, "credential"),
		bad("wrong secret", regions.signed(quota.AccessKey{ID: e.acct.Key.ID, Secret: "not-the-secret"}, e.host, e.now), 401, quota.CodeSignatureFailure, "signature"),
		bad("signature over another body", regions.with(func(r *request) { r.body = []byte(`{"regionIds":["jp-tokyo-1a"]}`) }), 401, quota.CodeSignatureFailure, "signature"),
		bad("signature over another host", regions.signed(e.acct.Key, "console.zenlayer.com", e.now), 401, quota.CodeSignatureFailure, "signature"),
		bad("signature over another Content-Type", regions.set("Content-Type", "application/json; charset=utf-8"), 401, quota.CodeSignatureFailure, "signature"),
		bad("another account's key with this key's id", regions.signed(quota.AccessKey{ID: e.acct.Key.ID, Secret: offKey.Key.Secret}, e.host, e.now), 401, quota.CodeSignatureFailure, "signature"),
		ok("timestamp 300 s ahead", regions.signed(e.acct.Key, e.host, e.now.Add(300*time.Second))),
		ok("timestamp 300 s behind", regions.signed(e.acct.Key, e.host, e.now.Add(-300*time.Second))),
		bad("timestamp 301 s ahead", regions.signed(e.acct.Key, e.host, e.now.Add(301*time.Second)), 401, quota.CodeSignatureExpired, "X-ZC-Timestamp"),
		bad("timestamp 301 s behind", regions.signed(e.acct.Key, e.host, e.now.Add(-301*time.Second)), 401, quota.CodeSignatureExpired, "X-ZC-Timestamp"),
		bad("no timestamp", regions.set("X-ZC-Timestamp", ""), 401, quota.CodeSignatureExpired, "X-ZC-Timestamp"),
		bad("timestamp in milliseconds", regions.set("X-ZC-Timestamp", "1750000000000"), 401, quota.CodeSignatureExpired, "X-ZC-Timestamp", "1750000000000"),
		bad("timestamp not a number", regions.set("X-ZC-Timestamp", "yesterday"), 401, quota.CodeSignatureExpired, "X-ZC-Timestamp", "yesterday"),
		bad("unknown action", e.call("DescribeInstances", "{}"), 401, quota.CodeUnauthorizedOperation, "DescribeInstances"),
		bad("unknown action with a bad signature", e.call("DescribeInstances", "{}").with(func(r *request) { r.body = []byte(`{"x":1}`) }), 401, quota.CodeSignatureFailure, "signature"),
		bad("unknown action without Authorization", e.call("DescribeInstances", "{}").set("Authorization", ""), 401, quota.CodeInvalidAuthorization, "Authorization"),
		bad("unknown action with an expired timestamp", e.call("DescribeInstances", "{}").signed(e.acct.Key, e.host, e.now.Add(-time.Hour)), 401, quota.CodeSignatureExpired, "X-ZC-Timestamp"),
		bad("no action", e.call("", "{}"), 400, quota.CodeMissingParameter, "X-ZC-Action"),
		ok("DescribeImage in 2023-03-13", e.call("DescribeImage", `{"imageId":"img-none"}`).set("X-ZC-Version", vmapi.VersionLegacy)),
		bad("DescribeImage in 2026-04-01", e.call("DescribeImage", `{"imageId":"img-none"}`).set("X-ZC-Version", vmapi.VersionCurrent), 401, quota.CodeUnauthorizedOperation, "DescribeImage", "2026-04-01"),
		bad("DescribeImage without version", e.call("DescribeImage", `{"imageId":"img-none"}`), 401, quota.CodeUnauthorizedOperation, "DescribeImage"),
		ok("bearer token", bearer("DescribeImageQuota", "{}", token)),
		ok("bearer token, lower-case scheme", bearer("DescribeImageQuota", "{}", token).set("Authorization", "bearer "+token)),
		bad("expired bearer token", bearer("DescribeImageQuota", "{}", expired), 401, quota.CodeSignatureFailure, "token"),
		bad("unknown bearer token", bearer("DescribeImageQuota", "{}", "zqt_unknown"), 401, quota.CodeSignatureFailure, "credential"),
		bad("empty bearer token", bearer("DescribeImageQuota", "{}", ""), 401, quota.CodeInvalidAuthorization, "token"),
		bad("bearer token of a disabled account", bearer("DescribeImageQuota", "{}", offToken), 401, quota.CodeSignatureFailure, "disabled"),
		bad("key of a disabled account", regions.signed(offAccount.Key, e.host, e.now), 401, quota.CodeSignatureFailure, "disabled"),
		bad("disabled key", regions.signed(offKey.Key, e.host, e.now), 401, quota.CodeSignatureFailure, "disabled"),
	}

	t.Run("cases", func(t *testing.T) {
		for _, c := range cases {
			t.Run(c.name, func(t *testing.T) {
				parallelSub(t)
				r := e.send(t, c.req)
				if c.status == http.StatusOK {
					r.wantOK(t)
					return
				}
				r.wantError(t, c.status, c.code, c.names...)
			})
		}
	})

	// Every API request logs one JSON line with its outcome, and no secret.
	logs := e.srv.Logs()
	byID := map[string]map[string]any{}
	for _, l := range logLines(t, logs) {
		if id, ok := l["request_id"].(string); ok {
			byID[id] = l
		}
	}
	for _, r := range e.replies {
		l, ok := byID[r.requestID()]
		if !ok {
			t.Errorf("no log line for request %s (HTTP %d %s)", r.requestID(), r.status, r.code())
			continue
		}
		for _, k := range []string{"action", "account", "code"} {
			if _, ok := l[k].(string); !ok {
				t.Errorf("log line %v: %s is not a string", l, k)
			}
		}
		if _, ok := l["latency_ms"].(float64); !ok {
			t.Errorf("log line %v: latency_ms is not a number", l)
		}
		want := r.code()
		if r.status == http.StatusOK {
			want = "OK"
			if l["account"] != e.acct.ID {
				t.Errorf("log line %v: account is not %s", l, e.acct.ID)
			}
		}
		if l["code"] != want {
			t.Errorf("log line %v: code is not %s", l, want)
		}
	}
	for name, secret := range map[string]string{
		"access key secret": e.acct.Key.Secret, "disabled key secret": offKey.Key.Secret,
		"secret of a disabled account": offAccount.Key.Secret,
		"bearer token":                 token, "expired token": expired, "token of a disabled account": offToken,
	} {
		if strings.Contains(logs, secret) {
			t.Errorf("the log holds the %s", name)
		}
		for _, r := range e.replies {
			if strings.Contains(string(r.body), secret) {
				t.Errorf("request %s answered the %s", r.requestID(), name)
			}
		}
	}
}

// TestSameSignatureTwice re-sends one signed request, as the SDK's retries do:
// there is no replay cache.
func TestSameSignatureTwice(t *testing.T) {
	parallel(t)
	e := setup(t, testkit.Options{})
	r := e.call("DescribeImageQuota", `{"zoneIds":["jp-tokyo-1a"]}`)
	first := e.send(t, r)
	second := e.send(t, r)
	first.wantOK(t)
	second.wantOK(t)
	if first.requestID() == second.requestID() {
		t.Errorf("two requests share the request id %s", first.requestID())
	}
}

// TestEmptyBodyIsEmptyObject checks that an empty body answers as {}.
func TestEmptyBodyIsEmptyObject(t *testing.T) {
	parallel(t)
	e := setup(t, testkit.Options{})
	for _, action := range []string{"DescribeImageQuota", "DescribeRegions", "DescribeZones", "DescribeImages"} {
		empty := e.send(t, e.call(action, "")).wantOK(t)
		object := e.send(t, e.call(action, "{}")).wantOK(t)
		delete(empty, "requestId")
		delete(object, "requestId")
		a, _ := json.Marshal(empty)
		b, _ := json.Marshal(object)
		if string(a) != string(b) {
			t.Errorf("%s: empty body answers %s; {} answers %s", action, a, b)
		}
	}
}

// TestDescribeImageNull checks the Terraform provider's "gone" answer.
func TestDescribeImageNull(t *testing.T) {
	parallel(t)
	e := setup(t, testkit.Options{})
	r := e.send(t, e.call("DescribeImage", `{"imageId":"img-0000"}`).set("X-ZC-Version", vmapi.VersionLegacy))
	if r.status != http.StatusOK || string(r.fields["response"]) != "null" {
		t.Fatalf("HTTP %d %s; want 200 with \"response\": null", r.status, r.body)
	}
}

// TestClientVersions goes through the signing client with each version.
func TestClientVersions(t *testing.T) {
	parallel(t)
	e := setup(t, testkit.Options{})
	ctx := context.Background()
	for _, v := range []string{"", vmapi.VersionLegacy, vmapi.VersionCurrent} {
		c := *e.acct.Client
		c.Version = v
		out, err := c.DescribeZones(ctx, &vmapi.DescribeZonesRequest{ZoneIDs: []string{"jp-tokyo-1a"}})
		if err != nil {
			t.Fatalf("version %q: %v", v, err)
		}
		if len(out.ZoneSet) != 1 || out.ZoneSet[0].ZoneID != "jp-tokyo-1a" || out.ZoneSet[0].RegionID != "jp-tokyo-1a" {
			t.Errorf("version %q: zones %+v", v, out.ZoneSet)
		}
	}
	c := *e.acct.Client
	c.Version = "2099-01-01"
	_, err := c.DescribeZones(ctx, nil)
	if ae := apiError(t, err); ae.HTTPStatus != 400 || ae.Code != quota.CodeInvalidParameterValue || !strings.Contains(ae.Message, "X-ZC-Version") {
		t.Errorf("bad version: %v; want 400 %s naming X-ZC-Version", ae, quota.CodeInvalidParameterValue)
	}
}

// TestAccountIsolation checks that a key acts only for its own account.
func TestAccountIsolation(t *testing.T) {
	parallel(t)
	e := setup(t, testkit.Options{})
	ctx := context.Background()
	other := e.newAccount()
	ids := e.createImages(t, e.acct, "jp-tokyo-1a", 2)

	mine, err := e.acct.Client.DescribeImageQuota(ctx, &vmapi.DescribeImageQuotaRequest{ZoneIDs: []string{"jp-tokyo-1a"}})
	if err != nil {
		t.Fatal(err)
	}
	theirs, err := other.Client.DescribeImageQuota(ctx, &vmapi.DescribeImageQuotaRequest{ZoneIDs: []string{"jp-tokyo-1a"}})
	if err != nil {
		t.Fatal(err)
	}
	if mine.Images[0].Count != 2 || theirs.Images[0].Count != 0 || theirs.ImageRegionQuota[0].Count != "0" {
		t.Errorf("counts: own account %+v, other account %+v; want 2 and 0", mine.Images, theirs.Images)
	}
	list, err := other.Client.DescribeImages(ctx, &vmapi.DescribeImagesRequest{ImageIDs: ids})
	if err != nil {
		t.Fatal(err)
	}
	if list.TotalCount != 0 || len(list.DataSet) != 0 {
		t.Errorf("another account sees the images: %+v", list)
	}
	err = other.Client.DeleteImages(ctx, &vmapi.DeleteImagesRequest{ImageIDs: ids[:1]})
	if ae := apiError(t, err); ae.HTTPStatus != 404 || ae.Code != quota.CodeImageNotFound || !strings.Contains(ae.Message, ids[0]) {
		t.Errorf("deleting another account's image: %v; want 404 %s naming %s", ae, quota.CodeImageNotFound, ids[0])
	}
	after, err := e.acct.Client.DescribeImageQuota(ctx, &vmapi.DescribeImageQuotaRequest{ZoneIDs: []string{"jp-tokyo-1a"}})
	if err != nil {
		t.Fatal(err)
	}
	if after.Images[0].Count != 2 {
		t.Errorf("count after another account's delete = %d; want 2", after.Images[0].Count)
	}
}
