package e2e

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/imagequota/imagequota/client"
	"github.com/imagequota/imagequota/internal/quota"
	"github.com/imagequota/imagequota/internal/testkit"
	"github.com/imagequota/imagequota/internal/testkit/pgtest"
	"github.com/imagequota/imagequota/internal/zcapi"
	"github.com/imagequota/imagequota/vmapi"
)

// badFields is a request body as JSON name → raw JSON value; it renders with
// sorted keys so that every case is reproducible.
type badFields map[string]string

func (f badFields) json() string {
	keys := make([]string, 0, len(f))
	for k := range f {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	var b strings.Builder
	b.WriteByte('{')
	for i, k := range keys {
		if i > 0 {
			b.WriteByte(',')
		}
		b.WriteString(strconv.Quote(k) + ":" + f[k])
	}
	b.WriteByte('}')
	return b.String()
}

// badAbsent, as a value for with, removes the field.
const badAbsent = ""

// with returns a copy of f with field k set to the raw JSON value v.
func (f badFields) with(k, v string) badFields {
	out := badFields{}
	for key, val := range f {
		out[key] = val
	}
	if v == badAbsent {
		delete(out, k)
	} else {
		out[k] = v
	}
	return out
}

// jstr is s as a JSON string; jids is a JSON array of strings.
func jstr(s string) string {
	b, _ := json.Marshal(s)
	return string(b)
}

func jids(ids ...string) string {
	b, _ := json.Marshal(ids)
	return string(b)
}

// badCase is one request and the answer it must get. Every case must leave
// the state exactly as it was.
type badCase struct {
	name string
	req  request
	// raw, when set, sends req on a connection of its own (for what an HTTP
	// client cannot send, or what net/http answers before the API sees it),
	// checks what it can of the answer and returns its status.
	raw    func(t *testing.T, r request) int
	status int
	code   string
	names  []string
	// check inspects the "response" of a 200 answer.
	check func(t *testing.T, r reply)
}

// badState is everything a request could change: the first account's quota
// and custom images (names and descriptions included), the second account's
// custom images, and the length of the audit trail.
type badState struct {
	Quota    *vmapi.DescribeImageQuotaResponse
	Images   []vmapi.ImageInfo
	Others   []vmapi.ImageInfo
	AuditLen int
}

func badSnapshot(t *testing.T, e *env, other testkit.Account) badState {
	t.Helper()
	ctx := context.Background()
	q, err := e.acct.Client.DescribeImageQuota(ctx, &vmapi.DescribeImageQuotaRequest{})
	if err != nil {
		t.Fatalf("snapshot: DescribeImageQuota: %v", err)
	}
	list := func(a testkit.Account) []vmapi.ImageInfo {
		out, err := a.Client.DescribeImages(ctx, &vmapi.DescribeImagesRequest{
			ImageType: client.String(quota.ImageTypeCustom), PageSize: client.Int(1000),
		})
		if err != nil {
			t.Fatalf("snapshot: DescribeImages: %v", err)
		}
		return out.DataSet
	}
	audit, err := e.srv.DB.ListAudit(ctx, quota.AuditFilter{})
	if err != nil {
		t.Fatalf("snapshot: ListAudit: %v", err)
	}
	return badState{Quota: q, Images: list(e.acct), Others: list(other), AuditLen: len(audit)}
}

// badRawRequest renders r as HTTP/1.1 bytes with Content-Length contentLength.
func badRawRequest(r request, host string, contentLength int) []byte {
	var b bytes.Buffer
	fmt.Fprintf(&b, "POST %s HTTP/1.1\r\nHost: %s\r\n", vmapi.Path, host)
	for k, vs := range r.header {
		for _, v := range vs {
			fmt.Fprintf(&b, "%s: %s\r\n", k, v)
		}
	}
	fmt.Fprintf(&b, "Content-Length: %d\r\nConnection: close\r\n\r\n", contentLength)
	b.Write(r.body)
	return b.Bytes()
}

// badSendRaw writes raw on a new connection to host and reads the answer while
// the server may still be refusing the rest. closeWrite closes the writing
// side after raw, as a client that sends no more does (net/http then cancels
// the request's context once the body is read, so only a request that fails
// while reading its body may use it).
func badSendRaw(t *testing.T, host string, raw []byte, closeWrite bool) (*http.Response, []byte) {
	t.Helper()
	conn, err := net.DialTimeout("tcp", host, 10*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	if err := conn.SetDeadline(time.Now().Add(time.Minute)); err != nil {
		t.Fatal(err)
	}
	go func() {
		// A server that answers before reading everything (431) may reset
		// the connection under this write; only the answer matters.
		_, _ = conn.Write(raw)
		if closeWrite {
			_ = conn.(*net.TCPConn).CloseWrite()
		}
	}()
	resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil {
		t.Fatalf("reading the answer: %v", err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return resp, body
}

// badHugeHeaders adds n bytes of unsigned headers to r.
func badHugeHeaders(r request, n int) request {
	return r.with(func(r *request) {
		chunk := strings.Repeat("h", 8<<10)
		for i := 0; i*len(chunk) < n; i++ {
			r.header.Set("X-Pad-"+strconv.Itoa(i), chunk)
		}
	})
}

// TestBadInput sends every kind of hostile input to every action — each
// parameter missing, null, of the wrong JSON type, empty, too long, out of
// range, outside its enumeration, duplicated, with NUL bytes; bodies that are
// not one JSON object, truncated, over 1 MiB, of the wrong Content-Type;
// oversized headers; unknown actions and versions; missing, garbled, stale
// and mismatched signatures; another account's key — through raw signed
// requests to a real listener on each engine. Each case must get its
// documented status and code with a message naming the parameter, never a
// 500, and must change nothing: the quota, the image lists (names and
// descriptions included) and the audit trail are compared after every group
// of cases sent together, and after all of them.
func TestBadInput(t *testing.T) {
	parallelFirst(t)
	// The engines run at once, within this test's turn among the parallel
	// tests, rather than as parallel subtests, which would start only after
	// every other test has.
	var wg sync.WaitGroup
	for _, engine := range []string{"sqlite", "postgres"} {
		wg.Go(func() {
			t.Run(engine, func(t *testing.T) {
				o := testkit.Options{}
				if engine == "postgres" {
					o.DBURL = pgtest.NewSchema(t)
				}
				runBadInput(t, setup(t, o))
			})
		})
	}
	wg.Wait()
}

// badWorkers is how many bad-input cases run at once on each store.
const badWorkers = 8

func runBadInput(t *testing.T, e *env) {
	ctx := context.Background()
	other := e.newAccount()
	const (
		loc      = "jp-tokyo-1a"
		otherLoc = "sg-singapore-1a"
	)
	// The first account has two described images and a spare instance in
	// Tokyo; every base request below would change them or read them.
	var imgs []string
	for i, d := range []string{"first image", "second image"} {
		inst := e.srv.NewInstance(t, e.acct.ID, loc)
		out, err := e.acct.Client.CreateImage(ctx, &vmapi.CreateImageRequest{
			InstanceID: client.String(inst.ID), ImageName: client.String("orig-" + strconv.Itoa(i)), ImageDescription: client.String(d),
		})
		if err != nil {
			t.Fatalf("CreateImage: %v", err)
		}
		imgs = append(imgs, out.ImageID)
	}
	spare := e.srv.NewInstance(t, e.acct.ID, loc)

	long := "x" + strings.Repeat("a", 64)       // 65 characters
	longImg := "img-" + strings.Repeat("a", 61) // 65 characters
	nul := `"img-\u0000"`
	const missingImg = "img-0000000000000000"
	const missingIns = "ins-0000000000000000"

	base := map[string]badFields{
		"DescribeRegions":    {"regionIds": jids(loc)},
		"DescribeZones":      {"zoneIds": jids(loc)},
		"DescribeImageQuota": {"regionIds": jids(loc), "zoneIds": jids(otherLoc)},
		"CreateImage": {"instanceId": jstr(spare.ID), "imageName": jstr("new-image"),
			"imageDescription": jstr("new description"), "clientToken": jstr("token-1")},
		"DescribeImages": {"imageIds": jids(imgs[0]), "zoneId": jstr(loc), "pageNum": "1", "pageSize": "10"},
		"DescribeImage":  {"imageId": jstr(imgs[0])},
		"ModifyImagesAttributes": {"imageIds": jids(imgs...), "imageName": jstr("renamed"),
			"imageDescription": jstr("changed")},
		"DeleteImages": {"imageIds": jids(imgs...)},
	}
	actions := []string{"DescribeRegions", "DescribeZones", "DescribeImageQuota", "CreateImage",
		"DescribeImages", "DescribeImage", "ModifyImagesAttributes", "DeleteImages"}

	// callAs is a request of action signed by account a, in the version the
	// action exists in.
	callAs := func(a testkit.Account, action, body string) request {
		r := e.callAs(a, action, body)
		if action == "DescribeImage" {
			r = r.set("X-ZC-Version", vmapi.VersionLegacy)
		}
		return r
	}
	call := func(action, body string) request { return callAs(e.acct, action, body) }

	const (
		missing  = quota.CodeMissingParameter
		badType  = quota.CodeInvalidParameterType
		badValue = quota.CodeInvalidParameterValue
		tooLong  = quota.CodeExceedLength
		empty    = quota.CodeLessLength
		tooBig   = quota.CodeExceedMaximum
		tooSmall = quota.CodeLessMinimum
		pattern  = quota.CodePatternError
	)
	var cases []badCase
	bad := func(action, name string, body badFields, status int, code string, names ...string) {
		cases = append(cases, badCase{name: action + "/" + name, req: call(action, body.json()), status: status, code: code, names: names})
	}
	ok := func(action, name string, body badFields, check func(t *testing.T, r reply)) {
		cases = append(cases, badCase{name: action + "/" + name, req: call(action, body.json()), status: http.StatusOK, check: check})
	}
	field := func(r reply, k string) any {
		var m map[string]any
		_ = json.Unmarshal(r.fields["response"], &m)
		return m[k]
	}
	listLen := func(k string, n int) func(t *testing.T, r reply) {
		return func(t *testing.T, r reply) {
			if l, _ := field(r, k).([]any); len(l) != n {
				t.Errorf("%s has %d entries; want %d: %s", k, len(l), n, r.fields["response"])
			}
		}
	}
	total := func(n int) func(t *testing.T, r reply) {
		return func(t *testing.T, r reply) {
			if got, _ := field(r, "totalCount").(float64); int(got) != n {
				t.Errorf("totalCount %v; want %d: %s", field(r, "totalCount"), n, r.fields["response"])
			}
		}
	}
	isNull := func(t *testing.T, r reply) {
		if string(r.fields["response"]) != "null" {
			t.Errorf("response %s; want null", r.fields["response"])
		}
	}
	enabled := len(e.srv.Catalog.Enabled())

	// A list of location ids, on each action that takes one.
	for _, l := range []struct {
		action, param, notFound string
		all                     func(n int) func(t *testing.T, r reply)
	}{
		{"DescribeRegions", "regionIds", quota.CodeRegionNotFound, func(n int) func(*testing.T, reply) { return listLen("regions", n) }},
		{"DescribeZones", "zoneIds", quota.CodeZoneNotFound, func(n int) func(*testing.T, reply) { return listLen("zoneSet", n) }},
		{"DescribeImageQuota", "regionIds", quota.CodeRegionNotFound, func(n int) func(*testing.T, reply) { return listLen("images", n) }},
		{"DescribeImageQuota", "zoneIds", quota.CodeRegionNotFound, func(n int) func(*testing.T, reply) { return listLen("images", n) }},
	} {
		a, p := l.action, l.param
		only := badFields{p: jids(loc)}
		bad(a, p+" is a string", only.with(p, jstr(loc)), 400, badType, p)
		bad(a, p+" holds a number", only.with(p, `["`+loc+`",7]`), 400, badType, p)
		bad(a, p+" is an object", only.with(p, `{"0":"`+loc+`"}`), 400, badType, p)
		bad(a, p+" holds null", only.with(p, `[null]`), 400, empty, p)
		bad(a, p+" holds an empty id", only.with(p, jids(loc, "")), 400, empty, p)
		bad(a, p+" holds a 65-character id", only.with(p, jids(long)), 400, tooLong, p, "64")
		bad(a, p+" holds a NUL byte", only.with(p, `["jp-tokyo\u00001a"]`), 400, badValue, p, "NUL")
		bad(a, p+" holds 101 ids", only.with(p, idList(loc, 101)), 400, tooLong, p, "100")
		bad(a, p+" holds an unknown id", only.with(p, jids(loc, "xx-nowhere-1a")), 404, l.notFound, "xx-nowhere-1a")
		bad(a, p+" in other case", only.with(p, jids("JP-TOKYO-1A")), 404, l.notFound, "JP-TOKYO-1A")
		ok(a, p+" is null", only.with(p, "null"), l.all(enabled))
		ok(a, p+" is empty", only.with(p, "[]"), l.all(enabled))
		ok(a, p+" is duplicated", only.with(p, jids(loc, loc, loc)), l.all(1))
	}
	ok("DescribeImageQuota", "both lists overlap", badFields{"regionIds": jids(loc, otherLoc), "zoneIds": jids(otherLoc, loc)}, listLen("imageRegionQuota", 2))

	// CreateImage.
	create := base["CreateImage"]
	for _, p := range []struct{ name, param, raw, code string }{
		{"missing", "instanceId", badAbsent, missing},
		{"null", "instanceId", "null", missing},
		{"a number", "instanceId", "42", badType},
		{"an array", "instanceId", jids(spare.ID), badType},
		{"an object", "instanceId", `{"id":"` + spare.ID + `"}`, badType},
		{"empty", "instanceId", `""`, empty},
		{"65 characters", "instanceId", jstr(long), tooLong},
		{"with a NUL byte", "instanceId", `"` + spare.ID + `\u0000"`, badValue},
		{"missing", "imageName", badAbsent, missing},
		{"null", "imageName", "null", missing},
		{"a number", "imageName", "7", badType},
		{"a boolean", "imageName", "true", badType},
		{"empty", "imageName", `""`, empty},
		{"25 characters", "imageName", jstr(strings.Repeat("n", 25)), tooLong},
		{"with a space", "imageName", jstr("new image"), pattern},
		{"with a slash", "imageName", jstr("a/b"), pattern},
		{"with an emoji", "imageName", jstr("img-\U0001F600"), pattern},
		{"with a NUL byte", "imageName", `"new\u0000image"`, badValue},
		{"a number", "imageDescription", "1", badType},
		{"an array", "imageDescription", `["d"]`, badType},
		{"256 characters", "imageDescription", jstr(strings.Repeat("d", 256)), tooLong},
		{"with a NUL byte", "imageDescription", `"new\u0000description"`, badValue},
		{"a number", "clientToken", "1", badType},
		{"65 characters", "clientToken", jstr(strings.Repeat("t", 65)), tooLong},
		{"with a space", "clientToken", jstr("token 1"), pattern},
		{"with a NUL byte", "clientToken", `"token\u00001"`, pattern},
	} {
		bad("CreateImage", p.param+" "+p.name, create.with(p.param, p.raw), 400, p.code, p.param)
	}
	bad("CreateImage", "instanceId unknown", create.with("instanceId", jstr(missingIns)), 404, quota.CodeInstanceNotFound, "instanceId", missingIns)
	bad("CreateImage", "empty object", badFields{}, 400, missing, "instanceId")

	// DescribeImages.
	di := base["DescribeImages"]
	for _, p := range []struct{ name, param, raw, code string }{
		{"a string", "imageIds", jstr(imgs[0]), badType},
		{"holding a number", "imageIds", `[1]`, badType},
		{"holding an empty id", "imageIds", jids(""), empty},
		{"holding a 65-character id", "imageIds", jids(longImg), tooLong},
		{"holding a NUL byte", "imageIds", `[` + nul + `]`, badValue},
		{"holding 101 ids", "imageIds", idList(imgs[0], 101), tooLong},
		{"a number", "imageName", "1", badType},
		{"256 characters", "imageName", jstr(strings.Repeat("n", 256)), tooLong},
		{"a number", "zoneId", "1", badType},
		{"an array", "zoneId", jids(loc), badType},
		{"65 characters", "zoneId", jstr(long), tooLong},
		{"with a NUL byte", "zoneId", `"jp-tokyo\u00001a"`, badValue},
		{"an array", "regionId", jids(loc), badType},
		{"65 characters", "regionId", jstr(long), tooLong},
		{"with a NUL byte", "regionId", `"jp-tokyo\u00001a"`, badValue},
		{"a number", "category", "1", badType},
		{"65 characters", "category", jstr(strings.Repeat("c", 65)), tooLong},
		{"a number", "imageType", "1", badType},
		{"unknown", "imageType", jstr("SHARED_IMAGE"), badValue},
		{"a number", "osType", "1", badType},
		{"unknown", "osType", jstr("plan9"), badValue},
		{"a boolean", "imageStatus", "false", badType},
		{"unknown", "imageStatus", jstr("DELETED"), badValue},
		{"0", "pageNum", "0", tooSmall},
		{"negative", "pageNum", "-1", tooSmall},
		{"1000001", "pageNum", "1000001", tooBig},
		{"a string", "pageNum", `"1"`, badType},
		{"a fraction", "pageNum", "1.5", badType},
		{"1e30", "pageNum", "1e30", badType},
		{"0", "pageSize", "0", tooSmall},
		{"negative", "pageSize", "-10", tooSmall},
		{"1001", "pageSize", "1001", tooBig},
		{"a string", "pageSize", `"10"`, badType},
		{"a fraction", "pageSize", "10.5", badType},
	} {
		bad("DescribeImages", p.param+" "+p.name, di.with(p.param, p.raw), 400, p.code, p.param)
	}
	bad("DescribeImages", "zoneId unknown", di.with("zoneId", jstr("xx-nowhere-1a")), 404, quota.CodeZoneNotFound, "zoneId", "xx-nowhere-1a")
	bad("DescribeImages", "regionId unknown", di.with("zoneId", badAbsent).with("regionId", jstr("xx-nowhere-1a")), 404, quota.CodeRegionNotFound, "regionId", "xx-nowhere-1a")
	bad("DescribeImages", "zoneId and regionId differ", di.with("regionId", jstr(otherLoc)), 400, badValue, "zoneId", "regionId")
	ok("DescribeImages", "imageIds duplicated", di.with("imageIds", jids(imgs[0], imgs[0], imgs[0])), total(1))
	ok("DescribeImages", "imageIds unknown", di.with("imageIds", jids(missingImg)), total(0))
	ok("DescribeImages", "imageIds empty", di.with("imageIds", "[]").with("imageType", jstr(quota.ImageTypeCustom)), total(2))
	ok("DescribeImages", "every filter null", badFields{"imageIds": "null", "imageName": "null", "zoneId": "null", "regionId": "null",
		"category": "null", "imageType": "null", "osType": "null", "imageStatus": "null", "pageNum": "null", "pageSize": "null"}, total(2+6*enabled))
	ok("DescribeImages", "every filter empty", badFields{"imageIds": "[]", "imageName": `""`, "zoneId": `""`, "regionId": `""`,
		"category": `""`, "imageType": `""`, "osType": `""`, "imageStatus": `""`}, total(2+6*enabled))
	ok("DescribeImages", "imageType in lower case", di.with("imageType", jstr("custom_image")), total(1))
	ok("DescribeImages", "page past the end", di.with("pageNum", "1000000"), listLen("dataSet", 0))

	// DescribeImage (2023-03-13).
	one := base["DescribeImage"]
	for _, p := range []struct{ name, raw, code string }{
		{"missing", badAbsent, missing},
		{"null", "null", missing},
		{"a number", "1", badType},
		{"an array", jids(imgs[0]), badType},
		{"empty", `""`, empty},
		{"65 characters", jstr(longImg), tooLong},
		{"with a NUL byte", nul, badValue},
	} {
		bad("DescribeImage", "imageId "+p.name, one.with("imageId", p.raw), 400, p.code, "imageId")
	}
	ok("DescribeImage", "imageId unknown", one.with("imageId", jstr(missingImg)), isNull)

	// ModifyImagesAttributes and DeleteImages share the id list rules.
	for _, a := range []string{"ModifyImagesAttributes", "DeleteImages"} {
		b := base[a]
		for _, p := range []struct{ name, raw, code string }{
			{"missing", badAbsent, missing},
			{"null", "null", missing},
			{"a string", jstr(imgs[0]), badType},
			{"holding a number", `["` + imgs[0] + `",1]`, badType},
			{"holding null", `["` + imgs[0] + `",null]`, empty},
			{"empty", "[]", empty},
			{"holding an empty id", jids(imgs[0], ""), empty},
			{"holding a 65-character id", jids(imgs[0], longImg), tooLong},
			{"holding a NUL byte", `["` + imgs[0] + `",` + nul + `]`, badValue},
			{"holding 101 ids", idList(imgs[0], 101), tooLong},
			{"holding an id twice", jids(imgs[0], imgs[1], imgs[0]), badValue},
		} {
			bad(a, "imageIds "+p.name, b.with("imageIds", p.raw), 400, p.code, "imageIds")
		}
		bad(a, "imageIds holding an unknown id", b.with("imageIds", jids(imgs[0], missingImg)), 404, quota.CodeImageNotFound, "imageId", missingImg)
		bad(a, "empty object", badFields{}, 400, missing, "imageIds")
	}
	mod := base["ModifyImagesAttributes"]
	for _, p := range []struct{ name, param, raw, code string }{
		{"a number", "imageName", "1", badType},
		{"empty", "imageName", `""`, empty},
		{"25 characters", "imageName", jstr(strings.Repeat("n", 25)), tooLong},
		{"with a space", "imageName", jstr("re named"), pattern},
		{"with a NUL byte", "imageName", `"re\u0000named"`, badValue},
		{"an object", "imageDescription", `{}`, badType},
		{"256 characters", "imageDescription", jstr(strings.Repeat("d", 256)), tooLong},
		{"with a NUL byte", "imageDescription", `"changed\u0000"`, badValue},
	} {
		bad("ModifyImagesAttributes", p.param+" "+p.name, mod.with(p.param, p.raw), 400, p.code, p.param)
	}
	// Neither attribute, as the Terraform provider sends when a description
	// is removed: a change of nothing, which writes nothing.
	nothing := mod.with("imageName", badAbsent).with("imageDescription", badAbsent)
	ok("ModifyImagesAttributes", "nothing to change", nothing, nil)
	ok("ModifyImagesAttributes", "both changes null", mod.with("imageName", "null").with("imageDescription", "null"), nil)
	bad("ModifyImagesAttributes", "nothing to change of an unknown image", nothing.with("imageIds", jids(imgs[0], missingImg)), 404, quota.CodeImageNotFound, "imageId", missingImg)

	// What is wrong with the whole request, on every action.
	pad := strings.Repeat(" ", zcapi.MaxBodyBytes)
	garbled := []struct{ value, names string }{
		{"garbage", "Authorization"},
		{"ZC2-HMAC-SHA256", "Authorization"},
		{"ZC2-HMAC-SHA256 Credential=, SignedHeaders=, Signature=", "Authorization"},
		{"ZC2-HMAC-SHA256 Credential=" + e.acct.Key.ID + ", SignedHeaders=content-type;host, Signature=" + strings.Repeat("z", 64), "Signature"},
		{"ZC2-HMAC-SHA256 Credential=" + e.acct.Key.ID + ",,,,Signature", "Authorization"},
		{"Bearer", "Authorization"},
		{"Bearer " + strings.Repeat("t", 600), "token"},
	}
	otherWant := map[string]badCase{
		"DescribeRegions":        {status: 200, check: listLen("regions", 1)},
		"DescribeZones":          {status: 200, check: listLen("zoneSet", 1)},
		"DescribeImageQuota":     {status: 200, check: badZeroCounts},
		"CreateImage":            {status: 404, code: quota.CodeInstanceNotFound, names: []string{"instanceId", spare.ID}},
		"DescribeImages":         {status: 200, check: total(0)},
		"DescribeImage":          {status: 200, check: isNull},
		"ModifyImagesAttributes": {status: 404, code: quota.CodeImageNotFound, names: []string{"imageId", imgs[0]}},
		"DeleteImages":           {status: 404, code: quota.CodeImageNotFound, names: []string{"imageId", imgs[0]}},
	}
	for _, a := range actions {
		body := base[a].json()
		r := call(a, body)
		add := func(name string, req request, status int, code string, names ...string) {
			cases = append(cases, badCase{name: a + "/" + name, req: req, status: status, code: code, names: names})
		}
		add("malformed JSON", call(a, strings.TrimSuffix(body, "}")+",}"), 400, badValue, "JSON")
		add("single quotes", call(a, strings.ReplaceAll(body, `"`, `'`)), 400, badValue, "JSON")
		add("second object after the body", call(a, body+`{}`), 400, badValue, "after the JSON object")
		add("garbage after the body", call(a, body+`x`), 400, badValue, "after the JSON object")
		add("truncated body", call(a, body[:len(body)/2]), 400, badValue, "JSON")
		add("body is an array", call(a, "["+body+"]"), 400, badValue, "JSON object")
		add("body over 1 MiB", call(a, body+pad), 413, tooLong, "1 MiB")
		add("Content-Type text/plain", r.set("Content-Type", "text/plain").signed(e.acct.Key, e.host, e.now), 400, badValue, "Content-Type", "text/plain")
		add("no Content-Type", r.set("Content-Type", ""), 400, badValue, "Content-Type")
		add("unknown version", r.set("X-ZC-Version", "2024-01-01"), 400, badValue, "X-ZC-Version", "2024-01-01")
		add("no Authorization", r.set("Authorization", ""), 401, quota.CodeInvalidAuthorization, "Authorization")
		for i, g := range garbled {
			add("garbled Authorization "+strconv.Itoa(i), r.set("Authorization", g.value), 401, quota.CodeInvalidAuthorization, g.names)
		}
		add("signature over another body", r.with(func(r *request) { r.body = []byte(`{"other":true}`) }), 401, quota.CodeSignatureFailure, "signature")
		add("signature over the body without a trailing space", r.with(func(r *request) { r.body = append(r.body, ' ') }), 401, quota.CodeSignatureFailure, "signature")
		add("signature with another key's secret", r.signed(quota.AccessKey{ID: e.acct.Key.ID, Secret: other.Key.Secret}, e.host, e.now), 401, quota.CodeSignatureFailure, "signature")
		add("unknown access key", r.signed(quota.AccessKey{ID: "AK" + strings.Repeat("0", 22), Secret: e.acct.Key.Secret}, e.host, e.now), 401, quota.CodeSignatureFailure, "credential")
		add("timestamp 301 s behind", r.signed(e.acct.Key, e.host, e.now.Add(-301*time.Second)), 401, quota.CodeSignatureExpired, "X-ZC-Timestamp")
		add("timestamp 301 s ahead", r.signed(e.acct.Key, e.host, e.now.Add(301*time.Second)), 401, quota.CodeSignatureExpired, "X-ZC-Timestamp")
		add("no timestamp", r.set("X-ZC-Timestamp", ""), 401, quota.CodeSignatureExpired, "X-ZC-Timestamp")
		cases = append(cases, badCase{
			name: a + "/body shorter than its Content-Length", req: r,
			raw: func(t *testing.T, r request) int {
				resp, body := badSendRaw(t, e.host, badRawRequest(r.with(func(r *request) { r.body = r.body[:len(r.body)-1] }), e.host, len(r.body)), true)
				rep := reply{status: resp.StatusCode, header: resp.Header, body: body}
				rep.fields = checkEnvelope(t, rep.status, rep.requestID(), body)
				rep.wantError(t, 400, badValue, "body")
				return resp.StatusCode
			},
			status: 400,
		})
		cases = append(cases, badCase{
			name: a + "/headers over 64 KiB", req: badHugeHeaders(r, zcapi.MaxHeaderBytes+8<<10),
			raw: func(t *testing.T, r request) int {
				resp, _ := badSendRaw(t, e.host, badRawRequest(r, e.host, len(r.body)), false)
				return resp.StatusCode
			},
			status: http.StatusRequestHeaderFieldsTooLarge,
		})
		w := otherWant[a]
		w.name, w.req = a+"/another account's key", callAs(other, a, body)
		cases = append(cases, w)
	}
	cases = append(cases,
		badCase{
			name: "headers under 64 KiB are served", req: badHugeHeaders(call("DescribeImageQuota", "{}"), zcapi.MaxHeaderBytes-16<<10),
			raw: func(t *testing.T, r request) int {
				resp, body := badSendRaw(t, e.host, badRawRequest(r, e.host, len(r.body)), false)
				checkEnvelope(t, resp.StatusCode, resp.Header.Get("X-ZC-Request-Id"), body)
				return resp.StatusCode
			},
			status: http.StatusOK,
		},
		badCase{name: "unknown action", req: call("DestroyEverything", base["DeleteImages"].json()), status: 401, code: quota.CodeUnauthorizedOperation, names: []string{"DestroyEverything"}},
		badCase{name: "action in other case", req: call("deleteimages", base["DeleteImages"].json()), status: 401, code: quota.CodeUnauthorizedOperation, names: []string{"deleteimages"}},
		badCase{name: "no action", req: call("", base["DeleteImages"].json()), status: 400, code: missing, names: []string{"X-ZC-Action"}},
		badCase{name: "DescribeImage in 2026-04-01", req: call("DescribeImage", base["DescribeImage"].json()).set("X-ZC-Version", vmapi.VersionCurrent), status: 401, code: quota.CodeUnauthorizedOperation, names: []string{"DescribeImage", vmapi.VersionCurrent}},
	)

	want := badSnapshot(t, e, other)
	if len(want.Images) != 2 || want.AuditLen == 0 {
		t.Fatalf("setup: %d images, %d audit records", len(want.Images), want.AuditLen)
	}
	// The cases run in groups of badWorkers, the cases of a group at once,
	// each in a subtest of "cases": every one must change nothing, so none
	// can see another's effect unless one of them is a defect. The state is
	// compared after each group holding a case of an action that changes
	// something (or of no or an unknown action), naming the group's cases
	// when it changed, and once more after all of them. A change one case
	// makes stays (nothing undoes it), so the final comparison alone would
	// catch it; the comparisons after the groups say where it came from.
	// The Describe actions' cases, which change nothing when they succeed,
	// are checked by those comparisons.
	t.Run("cases", func(t *testing.T) {
		for group := range slices.Chunk(cases, badWorkers) {
			var wg sync.WaitGroup
			changing := false
			for _, c := range group {
				changing = changing || !strings.HasPrefix(c.name, "Describe")
				wg.Go(func() { t.Run(c.name, func(t *testing.T) { runBadCase(t, e, c) }) })
			}
			wg.Wait()
			if !changing {
				continue
			}
			if got := badSnapshot(t, e, other); !reflect.DeepEqual(got, want) {
				names := make([]string, len(group))
				for i, c := range group {
					names[i] = c.name
				}
				gj, _ := json.Marshal(got)
				wj, _ := json.Marshal(want)
				t.Fatalf("the state changed in one of the cases %s, run together:\nbefore %s\nafter  %s", strings.Join(names, ", "), wj, gj)
			}
		}
	})
	if got := badSnapshot(t, e, other); !reflect.DeepEqual(got, want) {
		gj, _ := json.Marshal(got)
		wj, _ := json.Marshal(want)
		t.Errorf("after all the cases the state had changed:\nbefore %s\nafter  %s", wj, gj)
	}
}

// runBadCase sends c's request and checks its answer.
func runBadCase(t *testing.T, e *env, c badCase) {
	switch {
	case c.raw != nil:
		if got := c.raw(t, c.req); got != c.status {
			t.Errorf("HTTP %d; want %d", got, c.status)
		}
	case c.status == http.StatusOK:
		r := e.send(t, c.req)
		r.wantOK(t)
		if c.check != nil {
			c.check(t, r)
		}
	default:
		r := e.send(t, c.req)
		r.wantError(t, c.status, c.code, c.names...)
	}
}

// badZeroCounts checks that every location of a DescribeImageQuota answer has
// count 0 in both lists.
func badZeroCounts(t *testing.T, r reply) {
	t.Helper()
	var resp vmapi.DescribeImageQuotaResponse
	if err := json.Unmarshal(r.fields["response"], &resp); err != nil {
		t.Fatal(err)
	}
	if len(resp.Images) == 0 {
		t.Fatalf("no locations: %s", r.fields["response"])
	}
	for i, q := range resp.Images {
		if q.Count != 0 || resp.ImageRegionQuota[i].Count != "0" {
			t.Errorf("another account sees count %d / %q in %s", q.Count, resp.ImageRegionQuota[i].Count, q.ZoneID)
		}
	}
}
