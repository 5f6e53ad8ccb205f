package e2e

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/imagequota/imagequota/client"
	"github.com/imagequota/imagequota/internal/quota"
	"github.com/imagequota/imagequota/internal/testkit"
	"github.com/imagequota/imagequota/internal/zcapi"
	"github.com/imagequota/imagequota/vmapi"
)

// TestBodyTextIsNotChanged: a body whose text encoding/json would change on
// the way in (bytes that are not UTF-8 or a lone surrogate escape, stored as
// U+FFFD; a parameter given twice, of which the last would win) is refused
// with 400 naming the parameter, and changes nothing.
func TestBodyTextIsNotChanged(t *testing.T) {
	parallel(t)
	e := setup(t, testkit.Options{})
	ctx := context.Background()
	inst := e.srv.NewInstance(t, e.acct.ID, tokyo)
	kept, err := e.acct.Client.CreateImage(ctx, &vmapi.CreateImageRequest{InstanceID: &inst.ID, ImageName: client.String("kept")})
	if err != nil {
		t.Fatal(err)
	}
	auditLen := func() int {
		t.Helper()
		recs, err := e.srv.DB.ListAudit(ctx, quota.AuditFilter{AccountID: e.acct.ID})
		if err != nil {
			t.Fatal(err)
		}
		return len(recs)
	}
	audited := auditLen()
	create := func(fields string) string { return `{"instanceId":"` + inst.ID + `",` + fields + `}` }
	img := `["` + kept.ImageID + `"]`
	const badValue = quota.CodeInvalidParameterValue

	tests := []struct {
		name, action, body string
		names              []string
	}{
		{"imageDescription not UTF-8", "CreateImage", create("\"imageName\":\"web-1\",\"imageDescription\":\"caf\xe9\""), []string{"imageDescription", "UTF-8"}},
		{"imageName not UTF-8", "CreateImage", create("\"imageName\":\"web-\xff\""), []string{"imageName", "UTF-8"}},
		{"imageName with a truncated sequence", "CreateImage", create("\"imageName\":\"web-\xe4\xb8\""), []string{"imageName", "UTF-8"}},
		{"imageDescription with a lone surrogate", "CreateImage", create(`"imageName":"web-1","imageDescription":"\ud83d"`), []string{"imageDescription", `\ud83d`}},
		{"clientToken not UTF-8", "CreateImage", create("\"imageName\":\"web-1\",\"clientToken\":\"t\xc0\""), []string{"clientToken", "UTF-8"}},
		{"modify: imageDescription not UTF-8", "ModifyImagesAttributes", "{\"imageIds\":" + img + ",\"imageDescription\":\"\xfe\xff\"}", []string{"imageDescription", "UTF-8"}},
		{"modify: imageName not UTF-8", "ModifyImagesAttributes", "{\"imageIds\":" + img + ",\"imageName\":\"n\x80\"}", []string{"imageName", "UTF-8"}},
		{"quota: zone id not UTF-8", "DescribeImageQuota", "{\"zoneIds\":[\"" + tokyo + "\xff\"]}", []string{"zoneIds", "UTF-8"}},
		{"a parameter name not UTF-8", "DescribeImageQuota", "{\"zone\xffIds\":[]}", []string{"parameter name", "UTF-8"}},

		{"imageName twice", "CreateImage", create(`"imageName":"a","imageName":"b"`), []string{"imageName", "more than once"}},
		{"imageName twice in other case", "CreateImage", create(`"imageName":"a","ImageName":"b"`), []string{"imageName", "ImageName"}},
		{"instanceId twice", "CreateImage", `{"instanceId":"ins-none","imageName":"a","instanceId":"` + inst.ID + `"}`, []string{"instanceId", "more than once"}},
		{"modify: imageIds twice", "ModifyImagesAttributes", `{"imageIds":["img-none"],"imageName":"x","imageIds":` + img + `}`, []string{"imageIds", "more than once"}},
		{"delete: imageIds twice", "DeleteImages", `{"imageIds":["img-none"],"imageIds":` + img + `}`, []string{"imageIds", "more than once"}},
		{"quota: zoneIds twice", "DescribeImageQuota", `{"zoneIds":["xx-nowhere-1a"],"zoneIds":["` + tokyo + `"]}`, []string{"zoneIds", "more than once"}},
		{"a name twice in a nested object", "DescribeImageQuota", `{"zoneIds":[],"extra":{"a":1,"a":2}}`, []string{`"a"`, "extra", "more than once"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e.send(t, e.call(tt.action, tt.body)).wantError(t, 400, badValue, tt.names...)
		})
	}

	// Nothing was created, renamed, re-described or deleted.
	if n, _ := quotaCount(t, e.acct.Client, tokyo); n != 1 {
		t.Errorf("count %d in %s; want 1 (only the image made first)", n, tokyo)
	}
	imgs, err := e.acct.Client.DescribeImages(ctx, &vmapi.DescribeImagesRequest{ImageType: client.String(quota.ImageTypeCustom)})
	if err != nil {
		t.Fatal(err)
	}
	if len(imgs.DataSet) != 1 || imgs.DataSet[0].ImageName != "kept" || imgs.DataSet[0].ImageDescription != nil {
		t.Errorf("images after the refused requests: %+v; want only %s, named kept, without a description", imgs.DataSet, kept.ImageID)
	}
	if n := auditLen(); n != audited {
		t.Errorf("%d audit records were added; want none", n-audited)
	}

	// Text that is UTF-8, escaped or not, is taken as sent.
	desc := "café — 東京 \U0001F600"
	out, err := e.acct.Client.CreateImage(ctx, &vmapi.CreateImageRequest{InstanceID: &inst.ID, ImageName: client.String("utf-8"), ImageDescription: &desc})
	if err != nil {
		t.Fatal(err)
	}
	r := e.send(t, e.call("ModifyImagesAttributes", `{"imageIds":["`+out.ImageID+`"],"imageDescription":"caf\u00e9 \ud83d\ude00"}`))
	r.wantOK(t)
	got, err := e.acct.Client.DescribeImages(ctx, &vmapi.DescribeImagesRequest{ImageIDs: []string{out.ImageID}})
	if err != nil || len(got.DataSet) != 1 || got.DataSet[0].ImageDescription == nil || *got.DataSet[0].ImageDescription != "café \U0001F600" {
		t.Errorf("description after an escaped modify: %+v, %v; want %q", got, err, "café \U0001F600")
	}
}

// TestEveryPathGetsTheEnvelope: a path the API does not serve, even one that
// cleans to the API's path, and "OPTIONS *" get the documented JSON 404 with
// a request id and a log line, never an empty redirect.
func TestEveryPathGetsTheEnvelope(t *testing.T) {
	parallel(t)
	e := setup(t, testkit.Options{})
	regions := e.call("DescribeRegions", "{}")
	var ids []string
	for _, path := range []string{"/api/v2/./vm", "/api/v2/vm/../vm", "/api/v2/vm/../x", "//api/v2/vm", "/api//v2/vm", "/api/v2/vm/", "/./", "/.."} {
		for _, method := range []string{http.MethodPost, http.MethodGet, http.MethodDelete} {
			t.Run(method+" "+path, func(t *testing.T) {
				r := e.send(t, regions.with(func(r *request) { r.method, r.path = method, path }))
				r.wantError(t, 404, quota.CodeResourceNotFound, path, "POST /api/v2/vm")
				if loc := r.header.Get("Location"); loc != "" {
					t.Errorf("Location %q; an API answer is never a redirect", loc)
				}
				ids = append(ids, r.requestID())
			})
		}
	}

	// "OPTIONS *" is not a path; net/http would answer it itself.
	conn, err := net.Dial("tcp", e.host)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	_ = conn.SetDeadline(time.Now().Add(30 * time.Second))
	fmt.Fprintf(conn, "OPTIONS * HTTP/1.1\r\nHost: %s\r\n\r\n", e.host)
	resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil {
		t.Fatal(err)
	}
	body, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err != nil {
		t.Fatal(err)
	}
	fields := checkEnvelope(t, resp.StatusCode, resp.Header.Get("X-ZC-Request-Id"), body)
	if resp.StatusCode != http.StatusNotFound || string(fields["code"]) != `"`+quota.CodeResourceNotFound+`"` {
		t.Errorf("OPTIONS *: HTTP %d %s; want 404 %s", resp.StatusCode, body, quota.CodeResourceNotFound)
	}
	ids = append(ids, resp.Header.Get("X-ZC-Request-Id"))

	logged := map[string]bool{}
	for _, l := range logLines(t, e.srv.Logs()) {
		if id, ok := l["request_id"].(string); ok && l["code"] == quota.CodeResourceNotFound {
			logged[id] = true
		}
	}
	for _, id := range ids {
		if !logged[id] {
			t.Errorf("no log line with code %s for request %s", quota.CodeResourceNotFound, id)
		}
	}
}

// TestDeclaredBodyTooLarge: a request whose Content-Length is over 1 MiB is
// answered 413 as soon as its headers are in, not after the read timeout
// while the server waits for a body the client never sends.
func TestDeclaredBodyTooLarge(t *testing.T) {
	parallel(t)
	const readTimeout = 15 * time.Second
	e := setup(t, testkit.Options{Timeouts: zcapi.Timeouts{Read: readTimeout}})
	for _, tt := range []struct {
		name   string
		length int64
		expect bool
	}{
		{"one byte over", zcapi.MaxBodyBytes + 1, false},
		{"a gigabyte", 1 << 30, false},
		{"a gigabyte, 100-continue", 1 << 30, true},
	} {
		t.Run(tt.name, func(t *testing.T) {
			parallelSub(t)
			conn, err := net.Dial("tcp", e.host)
			if err != nil {
				t.Fatal(err)
			}
			defer conn.Close()
			start := time.Now()
			_ = conn.SetDeadline(start.Add(readTimeout + 10*time.Second))
			expect := ""
			if tt.expect {
				expect = "Expect: 100-continue\r\n"
			}
			// The headers and the first bytes of the body; then nothing.
			fmt.Fprintf(conn, "POST /api/v2/vm HTTP/1.1\r\nHost: %s\r\nContent-Type: application/json\r\nX-ZC-Action: DescribeRegions\r\n%sContent-Length: %d\r\n\r\n{\"pad\":\"",
				e.host, expect, tt.length)
			resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
			if err != nil {
				t.Fatalf("no answer after %v: %v", time.Since(start), err)
			}
			elapsed := time.Since(start)
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			fields := checkEnvelope(t, resp.StatusCode, resp.Header.Get("X-ZC-Request-Id"), body)
			if resp.StatusCode != http.StatusRequestEntityTooLarge || string(fields["code"]) != `"`+quota.CodeExceedLength+`"` {
				t.Fatalf("HTTP %d %s; want 413 %s", resp.StatusCode, body, quota.CodeExceedLength)
			}
			// Generous: the point is that the read timeout (15 s) is not awaited.
			if elapsed > 5*time.Second {
				t.Errorf("the 413 came after %v; want it at once, long before the read timeout of %v", elapsed, readTimeout)
			}
		})
	}
}

// TestCredentialRefusalsLookAlike: before a request is authenticated, its
// answer does not say whether an access key or token exists, is disabled or
// has expired, or whether its account is disabled: one code and one message
// for all of these and for a signature that does not match. The log line of
// the request says which it was. A timestamp outside the window is a fault
// of the request and keeps its own code.
func TestCredentialRefusalsLookAlike(t *testing.T) {
	parallel(t)
	e := setup(t, testkit.Options{})
	ctx := context.Background()
	db := e.srv.DB
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
	bearer := func(tok string) request {
		r := e.call("DescribeImageQuota", "{}")
		r.header.Del("X-ZC-Timestamp")
		r.header.Set("Authorization", "Bearer "+tok)
		return r
	}
	regions := e.call("DescribeRegions", "{}")
	unknownKey := quota.AccessKey{ID: "AK" + strings.Repeat("7", 22), Secret: e.acct.Key.Secret}
	cases := []struct {
		name   string
		req    request
		detail string // what the log line says
	}{
		{"unknown access key", regions.signed(unknownKey, e.host, e.now), "unknown access key"},
		{"disabled access key", regions.signed(offKey.Key, e.host, e.now), "is disabled"},
		{"access key of a disabled account", regions.signed(offAccount.Key, e.host, e.now), "account " + offAccount.ID},
		{"wrong secret", regions.signed(quota.AccessKey{ID: e.acct.Key.ID, Secret: "not-the-secret"}, e.host, e.now), "signature does not match"},
		{"signature over another body", regions.with(func(r *request) { r.body = []byte(`{"regionIds":[]}`) }), "signature does not match"},
		{"unknown token", bearer("zqt_" + strings.Repeat("0", 40)), "unknown token:"},
		{"expired token", bearer(expired), "expired"},
		{"token of a disabled account", bearer(offToken), "account " + offAccount.ID},
	}
	var message string
	replies := map[string]reply{}
	for _, c := range cases {
		r := e.send(t, c.req)
		r.wantError(t, 401, quota.CodeSignatureFailure)
		if message == "" {
			message = r.message()
		}
		if r.message() != message {
			t.Errorf("%s: message %q; want the same as for every refused credential, %q", c.name, r.message(), message)
		}
		replies[c.name] = r
	}
	for _, leak := range []string{offKey.Key.ID, offAccount.Key.ID, offAccount.ID, unknownKey.ID, "exist", "expired at"} {
		if strings.Contains(message, leak) {
			t.Errorf("message %q reveals %q", message, leak)
		}
	}

	// A timestamp outside the window says so, whatever the key.
	for _, key := range []quota.AccessKey{e.acct.Key, unknownKey, offKey.Key} {
		r := e.send(t, regions.signed(key, e.host, e.now.Add(-301*time.Second)))
		r.wantError(t, 401, quota.CodeSignatureExpired, "X-ZC-Timestamp")
	}

	lines := map[string]map[string]any{}
	for _, l := range logLines(t, e.srv.Logs()) {
		if id, ok := l["request_id"].(string); ok {
			lines[id] = l
		}
	}
	secrets := []string{e.acct.Key.Secret, offKey.Key.Secret, offAccount.Key.Secret, expired, offToken}
	for _, c := range cases {
		l := lines[replies[c.name].requestID()]
		detail, _ := l["detail"].(string)
		if !strings.Contains(detail, c.detail) {
			t.Errorf("%s: log line %v; want a detail that says %q", c.name, l, c.detail)
		}
		for _, s := range secrets {
			if strings.Contains(detail, s) {
				t.Errorf("%s: the log's detail %q holds a secret", c.name, detail)
			}
		}
	}
}

// TestModifyNothing: the Terraform provider's image resource sends
// ModifyImagesAttributes with imageIds alone when a user removes the
// description. It succeeds and writes nothing (the image as it was, no audit
// record); an image the account does not have is still 404.
func TestModifyNothing(t *testing.T) {
	parallel(t)
	e := setup(t, testkit.Options{})
	ctx := context.Background()
	inst := e.srv.NewInstance(t, e.acct.ID, tokyo)
	out, err := e.acct.Client.CreateImage(ctx, &vmapi.CreateImageRequest{
		InstanceID: &inst.ID, ImageName: client.String("web"), ImageDescription: client.String("described"),
	})
	if err != nil {
		t.Fatal(err)
	}
	other := e.newAccount()
	otherInst := e.srv.NewInstance(t, other.ID, tokyo)
	theirs, err := other.Client.CreateImage(ctx, &vmapi.CreateImageRequest{InstanceID: &otherInst.ID, ImageName: client.String("theirs")})
	if err != nil {
		t.Fatal(err)
	}
	audit := func() int {
		t.Helper()
		recs, err := e.srv.DB.ListAudit(ctx, quota.AuditFilter{})
		if err != nil {
			t.Fatal(err)
		}
		return len(recs)
	}
	before := audit()

	// As the provider sends it, and with both attributes null.
	for _, body := range []string{`{"imageIds":["` + out.ImageID + `"]}`, `{"imageIds":["` + out.ImageID + `"],"imageName":null,"imageDescription":null}`} {
		e.send(t, e.call("ModifyImagesAttributes", body)).wantOK(t)
	}
	if err := e.acct.Client.ModifyImagesAttributes(ctx, &vmapi.ModifyImagesAttributesRequest{ImageIDs: []string{out.ImageID}}); err != nil {
		t.Fatalf("ModifyImagesAttributes through the client: %v", err)
	}
	got, err := e.acct.Client.DescribeImages(ctx, &vmapi.DescribeImagesRequest{ImageIDs: []string{out.ImageID}})
	if err != nil || len(got.DataSet) != 1 {
		t.Fatalf("DescribeImages: %+v, %v", got, err)
	}
	if im := got.DataSet[0]; im.ImageName != "web" || im.ImageDescription == nil || *im.ImageDescription != "described" {
		t.Errorf("after a modify of nothing: %+v; want web, described", im)
	}

	// Unknown, and another account's: the same answer as a change of them.
	for _, id := range []string{"img-0000000000000000", theirs.ImageID} {
		noop := e.send(t, e.call("ModifyImagesAttributes", `{"imageIds":["`+out.ImageID+`","`+id+`"]}`))
		noop.wantError(t, 404, quota.CodeImageNotFound, id)
		change := e.send(t, e.call("ModifyImagesAttributes", `{"imageIds":["`+out.ImageID+`","`+id+`"],"imageName":"x"}`))
		if noop.message() != change.message() {
			t.Errorf("%s: a modify of nothing answers %q; a change answers %q", id, noop.message(), change.message())
		}
	}
	if n := audit(); n != before {
		t.Errorf("%d audit records were added; want none", n-before)
	}
}
