package main

import (
	"bufio"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"math/big"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/imagequota/imagequota/internal/signing"
	"github.com/imagequota/imagequota/vmapi"
)

// quotaByLocation decodes a DescribeImageQuota response and checks that its
// two lists agree.
func quotaByLocation(t *testing.T, resp vmapi.DescribeImageQuotaResponse) map[string]vmapi.ImageQuotaInfo {
	t.Helper()
	if len(resp.Images) != len(resp.ImageRegionQuota) {
		t.Fatalf("images has %d entries, imageRegionQuota %d", len(resp.Images), len(resp.ImageRegionQuota))
	}
	m := map[string]vmapi.ImageQuotaInfo{}
	for i, q := range resp.Images {
		r := resp.ImageRegionQuota[i]
		if r.RegionID != q.RegionID || r.Count != strconv.Itoa(q.Count) || r.MaxCount != strconv.Itoa(q.MaxCount) {
			t.Errorf("entry %d: images %+v and imageRegionQuota %+v disagree", i, q, r)
		}
		m[q.ZoneID] = q
	}
	return m
}

func TestServeAndCall(t *testing.T) {
	t.Parallel()
	c := setup(t)
	s := c.serve(t)
	if !strings.Contains(s.stdout.String(), "imagequota admin account create") {
		t.Errorf("serve does not say how to create credentials:\n%s", s.stdout.String())
	}
	// The log is written out every 100 ms: wait for the line.
	s.stderr.waitFor(t, regexp.MustCompile(`"msg":"listening","url":"`+regexp.QuoteMeta(s.url)+`"`), s.done)
	hc := &http.Client{Timeout: waitLimit}
	for _, path := range []string{"/healthz", "/readyz"} {
		if code, body := get(t, hc, s.url+path); code != http.StatusOK || body != `{"status":"ok"}` {
			t.Errorf("%s: %d %s", path, code, body)
		}
	}

	// The admin command works on the data directory the server is running on.
	acct, keyID, secret := c.newAccount(t, "live")
	var inst struct{ InstanceID string }
	c.adminJSON(t, &inst, "instance", "create", "--account", acct, "--location", "hk-hongkong-1a")
	c.adminOK(t, "quota", "set", "--account", acct, "--location", "hk-hongkong-1a", "--max", "1")
	var tok struct{ Token string }
	c.adminJSON(t, &tok, "token", "create", "--account", acct, "--ttl", "1h")
	env := callEnv(s.url, keyID, secret)

	var q vmapi.DescribeImageQuotaResponse
	callOK(t, env, &q, "DescribeImageQuota")
	all := quotaByLocation(t, q)
	if len(all) != 21 || all["hk-hongkong-1a"].MaxCount != 1 || all["jp-tokyo-1a"].MaxCount != 5 {
		t.Errorf("DescribeImageQuota: %+v", q.Images)
	}

	var img vmapi.CreateImageResponse
	callOK(t, env, &img, "CreateImage", "--body", `{"instanceId":"`+inst.InstanceID+`","imageName":"web-1"}`)
	if !strings.HasPrefix(img.ImageID, "img-") || img.ImageName != "web-1" {
		t.Errorf("CreateImage: %+v", img)
	}
	q = vmapi.DescribeImageQuotaResponse{}
	callOK(t, env, &q, "DescribeImageQuota", "--body", `{"zoneIds":["hk-hongkong-1a"],"regionIds":["jp-tokyo-1a"]}`)
	got := quotaByLocation(t, q)
	if len(got) != 2 || got["hk-hongkong-1a"].Count != 1 || got["jp-tokyo-1a"].Count != 0 {
		t.Errorf("DescribeImageQuota after CreateImage: %+v", q.Images)
	}

	bodyFile := filepath.Join(t.TempDir(), "body.json")
	if err := os.WriteFile(bodyFile, []byte(`{"regionIds":["hk-hongkong-1a"]}`), 0o600); err != nil {
		t.Fatal(err)
	}
	wrongEndpoint := callEnv("http://127.0.0.1:1", keyID, secret)
	tests := []struct {
		name   string
		env    []string
		args   []string
		code   int
		stdout string // a substring of stdout
		stderr string // a substring of stderr
	}{
		{"bearer token", []string{"ZENLAYER_ENDPOINT=" + s.url, "ZENLAYER_TOKEN=" + tok.Token}, []string{"DescribeImageQuota", "--body", `{"regionIds":["hk-hongkong-1a"]}`}, 0, `"count": 1`, ""},
		{"body from a file", env, []string{"DescribeImageQuota", "--body", "@" + bodyFile}, 0, `"regionId": "hk-hongkong-1a"`, ""},
		{"--endpoint beats the variable", wrongEndpoint, []string{"DescribeZones", "--endpoint", s.url}, 0, `"zoneSet"`, ""},
		{"legacy version", env, []string{"DescribeImage", "--version", "2023-03-13", "--body", `{"imageId":"` + img.ImageID + `"}`}, 0, `"imageName": "web-1"`, ""},
		{"unknown action", env, []string{"DescribeNothing"}, 1, "", "Error AUTHFAILURE_UNAUTHORIZED_OPERATION"},
		{"action of another version", env, []string{"DescribeImage", "--body", `{"imageId":"` + img.ImageID + `"}`}, 1, "", "Error AUTHFAILURE_UNAUTHORIZED_OPERATION"},
		{"over the quota", env, []string{"CreateImage", "--body", `{"instanceId":"` + inst.InstanceID + `","imageName":"web-2"}`}, 1, "", "Error LIMIT_EXCEEDED_IMAGE_QUOTA"},
		{"unknown region", env, []string{"DescribeImageQuota", "--body", `{"regionIds":["mars-1a"]}`}, 1, "", "Error INVALID_REGION_NOT_FOUND"},
		{"wrong secret", callEnv(s.url, keyID, "not-the-secret"), []string{"DescribeImageQuota"}, 1, "", "Error AUTHFAILURE_SIGNATURE_FAILURE"},
		{"unknown token", []string{"ZENLAYER_ENDPOINT=" + s.url, "ZENLAYER_TOKEN=zqt_nope"}, []string{"DescribeImageQuota"}, 1, "", "Error AUTHFAILURE_SIGNATURE_FAILURE"},
		{"no server", wrongEndpoint, []string{"DescribeImageQuota"}, 1, "", "connection refused"},
	}
	for _, tc := range tests {
		r := runWith(t, tc.env, append([]string{"call"}, tc.args...)...)
		if r.code != tc.code || !strings.Contains(r.stdout, tc.stdout) || !strings.Contains(r.stderr, tc.stderr) {
			t.Errorf("%s: exit %d (want %d)\nstdout: %s\nstderr: %s\nwant stdout with %q, stderr with %q", tc.name, r.code, tc.code, r.stdout, r.stderr, tc.stdout, tc.stderr)
		}
		if tc.code != 0 && r.stdout != "" {
			t.Errorf("%s: a failed call printed on stdout: %s", tc.name, r.stdout)
		}
	}

	// Disabling the key with the admin command takes effect at once.
	c.adminOK(t, "key", "disable", keyID)
	if r := runWith(t, env, "call", "DescribeImageQuota"); r.code != 1 || !strings.Contains(r.stderr, "AUTHFAILURE_SIGNATURE_FAILURE") {
		t.Errorf("call with a disabled key: exit %d, %s", r.code, r.stderr)
	}

	_, metrics := get(t, hc, s.url+"/metrics")
	for _, want := range []string{
		`imagequota_requests_total{action="DescribeImageQuota",code="OK"}`,
		`imagequota_requests_total{action="CreateImage",code="LIMIT_EXCEEDED_IMAGE_QUOTA"} 1`,
		`imagequota_requests_total{action="unknown",code="AUTHFAILURE_UNAUTHORIZED_OPERATION"}`,
		`imagequota_request_duration_seconds_bucket{action="CreateImage"`,
		"go_goroutines", "go_sql_open_connections",
	} {
		if !strings.Contains(metrics, want) {
			t.Errorf("/metrics lacks %s", want)
		}
	}
	// Stopping writes out the rest of the log.
	if code := s.stop(t); code != 0 {
		t.Errorf("serve exited with %d after cancel", code)
	}
	logs := s.stderr.String()
	for _, field := range []string{`"request_id":"T`, `"action":"CreateImage"`, `"account":"` + acct + `"`, `"code":"LIMIT_EXCEEDED_IMAGE_QUOTA"`, `"status":400`, `"latency_ms":`, `"remote":"127.0.0.1:`, `"client":"imagequota-client"`} {
		if !strings.Contains(logs, field) {
			t.Errorf("the request log lacks %s", field)
		}
	}
	if !strings.Contains(s.stderr.String(), `"msg":"stopped"`) {
		t.Errorf("no stopped line in the log:\n%s", s.stderr.String())
	}
}

// shellWords splits a printed command line: words separated by spaces, with
// single-quoted parts taken literally.
func shellWords(t *testing.T, line string) []string {
	t.Helper()
	var words []string
	var cur strings.Builder
	inWord, quoted := false, false
	for _, r := range line {
		switch {
		case quoted && r == '\'':
			quoted = false
		case quoted:
			cur.WriteRune(r)
		case r == '\'':
			quoted, inWord = true, true
		case r == ' ':
			if inWord {
				words = append(words, cur.String())
				cur.Reset()
				inWord = false
			}
		default:
			cur.WriteRune(r)
			inWord = true
		}
	}
	if quoted {
		t.Fatalf("unbalanced quote in %q", line)
	}
	if inWord {
		words = append(words, cur.String())
	}
	return words
}

// printedCall splits a printed "VAR=… imagequota call ACTION …" line into
// its environment and the arguments of run.
func printedCall(t *testing.T, line string) (env, args []string) {
	t.Helper()
	words := shellWords(t, line)
	i := 0
	for ; i < len(words) && regexp.MustCompile(`^[A-Z_]+=`).MatchString(words[i]); i++ {
		env = append(env, words[i])
	}
	for ; i < len(words) && words[i] != "call"; i++ {
	}
	if i == len(words) {
		t.Fatalf("no call in %q", line)
	}
	return env, words[i:]
}

func TestServeDemo(t *testing.T) {
	t.Parallel()
	c := setup(t)
	s := c.serve(t, "--demo")
	describe := s.stdout.waitFor(t, regexp.MustCompile(`(?m)^\s*(ZENLAYER_.*call DescribeImageQuota)$`), s.done)[1]
	create := s.stdout.waitFor(t, regexp.MustCompile(`(?m)^\s*(ZENLAYER_.*call CreateImage .*)$`), s.done)[1]

	env, args := printedCall(t, describe)
	for _, v := range []string{"ZENLAYER_ENDPOINT=" + s.url, "ZENLAYER_ACCESS_KEY_ID=", "ZENLAYER_ACCESS_KEY_SECRET="} {
		if !strings.Contains(strings.Join(env, " "), v) {
			t.Errorf("the printed line lacks %s: %q", v, describe)
		}
	}
	var before vmapi.DescribeImageQuotaResponse
	callOK(t, env, &before, args[1:]...)

	env, args = printedCall(t, create)
	var img vmapi.CreateImageResponse
	callOK(t, env, &img, args[1:]...)
	if !strings.HasPrefix(img.ImageID, "img-") {
		t.Errorf("CreateImage: %+v", img)
	}

	// The demo account has two instances in different locations; the image counts in the first.
	var insts []struct{ InstanceID, Location string }
	c.adminJSON(t, &insts, "instance", "list")
	if len(insts) != 2 || insts[0].Location == insts[1].Location {
		t.Fatalf("demo instances: %+v, want two in different locations", insts)
	}
	var after vmapi.DescribeImageQuotaResponse
	callOK(t, env, &after, "DescribeImageQuota")
	counts := quotaByLocation(t, after)
	imgLoc := ""
	for _, in := range insts {
		if strings.Contains(create, in.InstanceID) {
			imgLoc = in.Location
		}
	}
	if imgLoc == "" || counts[imgLoc].Count != 1 || quotaByLocation(t, before)[imgLoc].Count != 0 {
		t.Errorf("count in %q: before %+v, after %+v", imgLoc, before.Images, after.Images)
	}
	if code := s.stop(t); code != 0 {
		t.Fatalf("serve exited with %d", code)
	}

	// Started again on the same store, it creates no second demo account.
	s = c.serve(t, "--demo")
	s.stdout.waitFor(t, regexp.MustCompile(`already has accounts`), s.done)
	if strings.Contains(s.stdout.String(), "call DescribeImageQuota") {
		t.Errorf("a second demo start printed credentials:\n%s", s.stdout.String())
	}
	var accts []json.RawMessage
	c.adminJSON(t, &accts, "account", "list")
	if len(accts) != 1 {
		t.Errorf("%d accounts after two demo starts, want 1", len(accts))
	}
}

func TestServeFinishesInFlightRequestsOnShutdown(t *testing.T) {
	t.Parallel()
	c := setup(t)
	_, keyID, secret := c.newAccount(t, "slow")
	s := c.serve(t)
	u, err := url.Parse(s.url)
	if err != nil {
		t.Fatal(err)
	}
	conn, err := net.DialTimeout("tcp", u.Host, waitLimit)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	_ = conn.SetDeadline(time.Now().Add(waitLimit))

	// Send the headers with "Expect: 100-continue": the server answers 100
	// when the handler starts reading the body, so the request is in flight.
	body := []byte(`{"regionIds":["hk-hongkong-1a"]}`)
	ts := strconv.FormatInt(time.Now().Unix(), 10)
	sig := signing.Sign(secret, ts, "application/json", u.Host, body)
	fmt.Fprintf(conn, "POST /api/v2/vm HTTP/1.1\r\nHost: %s\r\nContent-Type: application/json\r\nContent-Length: %d\r\n"+
		"Expect: 100-continue\r\nX-ZC-Action: DescribeImageQuota\r\nX-ZC-Timestamp: %s\r\nAuthorization: %s\r\n\r\n",
		u.Host, len(body), ts, signing.AuthorizationHeader(keyID, sig))
	br := bufio.NewReader(conn)
	cont, err := http.ReadResponse(br, nil)
	if err != nil || cont.StatusCode != http.StatusContinue {
		t.Fatalf("want 100 Continue, got %v %v", cont, err)
	}

	s.cancel()
	s.stderr.waitFor(t, regexp.MustCompile(`shutting down`), s.done)
	if _, err := conn.Write(body); err != nil {
		t.Fatalf("sending the body after shutdown began: %v", err)
	}
	resp, err := http.ReadResponse(br, nil)
	if err != nil {
		t.Fatalf("the in-flight request got no answer: %v", err)
	}
	data, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || !strings.Contains(string(data), `"regionId":"hk-hongkong-1a"`) {
		t.Errorf("in-flight request: %d %s", resp.StatusCode, data)
	}
	select {
	case code := <-s.done:
		s.done <- code
		if code != 0 {
			t.Errorf("serve exited with %d", code)
		}
	case <-time.After(waitLimit):
		t.Fatal("serve did not stop after the in-flight request finished")
	}
	if _, err := net.DialTimeout("tcp", u.Host, time.Second); err == nil {
		t.Error("the listener still accepts connections after shutdown")
	}
}

// selfSigned writes a certificate for 127.0.0.1 and its key, and returns their paths.
func selfSigned(t *testing.T) (certFile, keyFile string) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1),
		Subject:      pkix.Name{CommonName: "imagequota test"},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(time.Hour),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		IPAddresses:  []net.IP{net.IPv4(127, 0, 0, 1)},
		DNSNames:     []string{"localhost"},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	pkcs8, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	certFile, keyFile = filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	if err := os.WriteFile(certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: pkcs8}), 0o600); err != nil {
		t.Fatal(err)
	}
	return certFile, keyFile
}

func TestServeTLS(t *testing.T) {
	t.Parallel()
	c := setup(t)
	_, keyID, secret := c.newAccount(t, "tls")
	certFile, keyFile := selfSigned(t)
	s := c.serve(t, "--tls-cert", certFile, "--tls-key", keyFile)
	if !strings.HasPrefix(s.url, "https://") {
		t.Fatalf("serve with a certificate listens on %s", s.url)
	}
	env := callEnv(s.url, keyID, secret)
	var q vmapi.DescribeImageQuotaResponse
	callOK(t, env, &q, "DescribeImageQuota", "--insecure")
	if len(quotaByLocation(t, q)) != 21 {
		t.Errorf("DescribeImageQuota over https: %+v", q.Images)
	}
	if r := runWith(t, env, "call", "DescribeImageQuota"); r.code != 1 || !strings.Contains(r.stderr, "certificate") {
		t.Errorf("call without --insecure on a self-signed certificate: exit %d, %s", r.code, r.stderr)
	}
	hc := &http.Client{Timeout: waitLimit, Transport: &http.Transport{TLSClientConfig: &tls.Config{InsecureSkipVerify: true}}}
	if code, body := get(t, hc, s.url+"/healthz"); code != http.StatusOK || body != `{"status":"ok"}` {
		t.Errorf("/healthz over https: %d %s", code, body)
	}
}

// TestServeMetricsFlags: serve --metrics-per-account --metrics-max-accounts 1
// --metrics-cache-ttl 0 serves the quota figures of the store at every
// scrape, with per-account series for the one account closest to its limit.
func TestServeMetricsFlags(t *testing.T) {
	t.Parallel()
	c := setup(t)
	s := c.serve(t, "--metrics-per-account", "--metrics-max-accounts", "1", "--metrics-cache-ttl", "0")
	s.stderr.waitFor(t, regexp.MustCompile(`"msg":"listening"`), s.done)
	const hk = "hk-hongkong-1a"
	var ids []string
	for i, max := range []string{"1", "5"} {
		acct, keyID, secret := c.newAccount(t, fmt.Sprintf("metrics-%d", i))
		var inst struct{ InstanceID string }
		c.adminJSON(t, &inst, "instance", "create", "--account", acct, "--location", hk)
		c.adminOK(t, "quota", "set", "--account", acct, "--location", hk, "--max", max)
		var img vmapi.CreateImageResponse
		callOK(t, callEnv(s.url, keyID, secret), &img, "CreateImage", "--body", `{"instanceId":"`+inst.InstanceID+`","imageName":"web-1"}`)
		if i == 0 {
			if r := runWith(t, callEnv(s.url, keyID, secret), "call", "CreateImage", "--body", `{"instanceId":"`+inst.InstanceID+`","imageName":"web-2"}`); r.code != 1 {
				t.Errorf("a second image under a limit of 1: exit %d, %s", r.code, r.stderr)
			}
		}
		ids = append(ids, acct)
	}
	_, metrics := get(t, &http.Client{Timeout: waitLimit}, s.url+"/metrics")
	for _, want := range []string{
		`imagequota_location_images{location="hk-hongkong-1a"} 2`,
		`imagequota_location_limit_sum{location="hk-hongkong-1a"} 6`,
		`imagequota_location_accounts_at_limit{location="hk-hongkong-1a"} 1`,
		`imagequota_image_quota_refusals_total{location="hk-hongkong-1a"} 1`,
		`imagequota_account_quota{account="` + ids[0] + `",location="hk-hongkong-1a",type="hard"} 1`,
		`imagequota_account_quota{account="` + ids[0] + `",location="hk-hongkong-1a",type="used"} 1`,
		"imagequota_account_quota_omitted_accounts 1",
	} {
		if !strings.Contains(metrics, want+"\n") {
			t.Errorf("/metrics lacks %s", want)
		}
	}
	if strings.Contains(metrics, `account="`+ids[1]+`"`) {
		t.Errorf("/metrics has series of the account beyond --metrics-max-accounts 1")
	}
}

func TestServeReportsConfigurationProblemsAtOnce(t *testing.T) {
	t.Parallel()
	c := newCLI(t)
	certFile, _ := selfSigned(t)
	tests := []struct {
		name string
		env  []string
		args []string
		want []string
	}{
		{"variable and flag", []string{"IMAGEQUOTA_DEFAULT_MAX_COUNT=lots"}, []string{"--log-level", "loud"},
			[]string{`IMAGEQUOTA_DEFAULT_MAX_COUNT="lots" is not an integer`, `--log-level "loud" is not debug, info, warn or error`}},
		{"flags", nil, []string{"--tls-cert", certFile, "--request-timeout", "0s", "--image-build-time", "-1s", "--default-max-count", "-1"},
			[]string{"--tls-cert and --tls-key go together", "--request-timeout must be positive", "--image-build-time must not be negative", "--default-max-count must be 0-1000000; it is -1"}},
		{"variables", []string{"IMAGEQUOTA_REQUEST_TIMEOUT=soon", "IMAGEQUOTA_DEMO=maybe", "IMAGEQUOTA_DB_MAX_CONNS=many", "IMAGEQUOTA_DB_FILE=" + filepath.Join(c.dir, "missing")}, nil,
			[]string{`IMAGEQUOTA_REQUEST_TIMEOUT="soon" is not a duration`, `IMAGEQUOTA_DEMO="maybe" is not a boolean`, `IMAGEQUOTA_DB_MAX_CONNS="many" is not an integer`, "IMAGEQUOTA_DB_FILE:"}},
		{"files", nil, []string{"--catalog", filepath.Join(c.dir, "missing.json"), "--tls-cert", certFile, "--tls-key", certFile},
			[]string{"--catalog: catalog: open", "--tls-cert and --tls-key: tls:"}},
		{"webhook", nil, []string{"--webhook-url", "ftp://example.com/hook", "--auto-approve-up-to", "-1"},
			[]string{`--webhook-url "ftp://example.com/hook" is not an http:// or https:// URL`, "--webhook-url needs --webhook-secret-file", "--auto-approve-up-to must be 0-1000000; it is -1"}},
		{"webhook secret", []string{"IMAGEQUOTA_WEBHOOK_URL=http://127.0.0.1:9/hook", "IMAGEQUOTA_WEBHOOK_SECRET_FILE=" + filepath.Join(c.dir, "missing")}, nil,
			[]string{"--webhook-secret-file: open"}},
		{"webhook secret alone", nil, []string{"--webhook-secret-file", certFile}, []string{"--webhook-secret-file is for --webhook-url, which is not set"}},
		{"metrics", nil, []string{"--metrics-cache-ttl", "-1s", "--metrics-max-accounts", "0"},
			[]string{"--metrics-cache-ttl must not be negative", "--metrics-max-accounts must be at least 1; it is 0"}},
	}
	for _, tc := range tests {
		args := append([]string{"serve", "--addr", "127.0.0.1:0", "--data-dir", c.dir}, tc.args...)
		r := runWith(t, tc.env, args...)
		if r.code != 2 {
			t.Errorf("%s: exit %d, want 2\nstderr: %s", tc.name, r.code, r.stderr)
		}
		for _, w := range tc.want {
			if !strings.Contains(r.stderr, w) {
				t.Errorf("%s: stderr lacks %q:\n%s", tc.name, w, r.stderr)
			}
		}
		if strings.Contains(r.stdout, "listening") {
			t.Errorf("%s: it listened:\n%s", tc.name, r.stdout)
		}
	}
	if _, err := os.Stat(c.dir); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("a server with configuration problems created its data directory (%v)", err)
	}
}

func TestEnvironmentDefaults(t *testing.T) {
	t.Parallel()
	c := setup(t)
	dbFile := filepath.Join(t.TempDir(), "db-url")
	if err := os.WriteFile(dbFile, []byte("sqlite:"+filepath.Join(c.dir, "imagequota.db")+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	catalog := filepath.Join(t.TempDir(), "catalog.json")
	if err := os.WriteFile(catalog, []byte(`{"locations":[{"id":"xx-one-1a","name":"One"},{"id":"xx-two-1a","name":"Two","disabled":true}]}`), 0o600); err != nil {
		t.Fatal(err)
	}
	c.env = []string{"IMAGEQUOTA_DB_FILE=" + dbFile, "IMAGEQUOTA_DEFAULT_MAX_COUNT=2", "IMAGEQUOTA_CATALOG=" + catalog}

	// The admin command reads the store and the catalogue from the environment.
	r := c.run(t, "admin", "account", "create", "--name", "env", "--output", "json")
	var acct struct{ AccountID string }
	mustUnmarshal(t, []byte(r.stdout), &acct)
	r = c.run(t, "admin", "location", "list")
	if r.code != 0 || !regexp.MustCompile(`xx-one-1a\s+One\s+enabled`).MatchString(r.stdout) || !regexp.MustCompile(`xx-two-1a\s+Two\s+disabled`).MatchString(r.stdout) {
		t.Errorf("location list with IMAGEQUOTA_CATALOG: %s", r.stdout)
	}
	// The default limit is the store's: until a server records the one it
	// is given, the built-in one applies.
	r = c.run(t, "admin", "quota", "show", "--account", acct.AccountID)
	if r.code != 0 || !regexp.MustCompile(`xx-one-1a\s+0\s+5\s+server-default`).MatchString(r.stdout) || strings.Contains(r.stdout, "xx-two-1a") {
		t.Errorf("quota show before a server ran: %s", r.stdout)
	}
	var key struct{ AccessKeyID, AccessKeyPassword string }
	mustUnmarshal(t, []byte(c.run(t, "admin", "key", "create", "--account", acct.AccountID, "--output", "json").stdout), &key)

	// So does the server, which records IMAGEQUOTA_DEFAULT_MAX_COUNT in the
	// store; the flags it is started with leave the rest alone.
	s := c.serve(t)
	var q vmapi.DescribeImageQuotaResponse
	callOK(t, callEnv(s.url, key.AccessKeyID, key.AccessKeyPassword), &q, "DescribeImageQuota")
	if len(q.Images) != 1 || q.Images[0].ZoneID != "xx-one-1a" || q.Images[0].MaxCount != 2 {
		t.Errorf("DescribeImageQuota with the environment's configuration: %+v", q.Images)
	}
	r = c.run(t, "admin", "quota", "show", "--account", acct.AccountID)
	if r.code != 0 || !regexp.MustCompile(`xx-one-1a\s+0\s+2\s+default`).MatchString(r.stdout) {
		t.Errorf("quota show once the server recorded IMAGEQUOTA_DEFAULT_MAX_COUNT=2: %s", r.stdout)
	}
	if _, err := os.Stat(filepath.Join(c.dir, "imagequota.db")); err != nil {
		t.Errorf("the store is not where IMAGEQUOTA_DB_FILE says: %v", err)
	}
}
