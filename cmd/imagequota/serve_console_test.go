package main

import (
	"crypto/tls"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"regexp"
	"strings"
	"testing"
)

// TestServeConsole: serve serves the operator console under /console/ of
// its listener unless --console=false; over TLS its session cookie is
// Secure.
func TestServeConsole(t *testing.T) {
	t.Parallel()
	c := setup(t)
	var op struct {
		AccessKeyID       string `json:"accessKeyId"`
		AccessKeyPassword string `json:"accessKeyPassword"`
	}
	c.adminJSON(t, &op, "operator", "create", "--name", "console", "--role", "admin")
	certFile, keyFile := selfSigned(t)
	s := c.serve(t, "--tls-cert", certFile, "--tls-key", keyFile)
	s.stdout.waitFor(t, regexp.MustCompile(`Operator console: `+regexp.QuoteMeta(s.url)+`/console/`), s.done)
	jar, err := cookiejar.New(nil)
	if err != nil {
		t.Fatal(err)
	}
	hc := &http.Client{Timeout: waitLimit, Jar: jar, Transport: &http.Transport{TLSClientConfig: &tls.Config{InsecureSkipVerify: true}},
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	code, body := get(t, hc, s.url+"/console/signin")
	m := regexp.MustCompile(`name="csrf" value="([^"]+)"`).FindStringSubmatch(body)
	if code != http.StatusOK || m == nil {
		t.Fatalf("GET /console/signin: %d\n%s", code, body)
	}
	resp, err := hc.PostForm(s.url+"/console/signin", url.Values{"csrf": {m[1]}, "accessKeyId": {op.AccessKeyID}, "password": {op.AccessKeyPassword}})
	if err != nil {
		t.Fatal(err)
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	var session *http.Cookie
	for _, ck := range resp.Cookies() {
		if ck.Name == "imagequota_console" {
			session = ck
		}
	}
	if resp.StatusCode != http.StatusSeeOther || session == nil || !session.Secure || !session.HttpOnly || session.SameSite != http.SameSiteStrictMode {
		t.Fatalf("sign in over TLS: %d, session cookie %+v", resp.StatusCode, session)
	}
	if code, body := get(t, hc, s.url+"/console/"); code != http.StatusOK || !strings.Contains(body, "Custom images by location") {
		t.Fatalf("the overview over TLS: %d\n%s", code, body)
	}

	off := c.serve(t, "--console=false")
	off.stdout.waitFor(t, regexp.MustCompile(`Create credentials with`), off.done)
	if strings.Contains(off.stdout.String(), "Operator console") {
		t.Errorf("serve --console=false says where a console is:\n%s", off.stdout.String())
	}
	if code, body := get(t, &http.Client{Timeout: waitLimit}, off.url+"/console/signin"); code == http.StatusOK || strings.Contains(body, "<html") {
		t.Fatalf("/console/signin with --console=false: %d\n%s", code, body)
	}
}
