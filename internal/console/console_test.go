package console_test

import (
	"context"
	"html"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/imagequota/imagequota/client"
	"github.com/imagequota/imagequota/internal/console"
	"github.com/imagequota/imagequota/internal/quota"
	"github.com/imagequota/imagequota/internal/testkit"
	"github.com/imagequota/imagequota/vmapi"
)

// web is a browser without a browser: a cookie jar and plain HTTP, with
// redirects shown rather than followed.
type web struct {
	t    *testing.T
	base string
	hc   *http.Client
}

func newWeb(t *testing.T, base string) *web {
	t.Helper()
	jar, err := cookiejar.New(nil)
	if err != nil {
		t.Fatal(err)
	}
	return &web{t: t, base: base, hc: &http.Client{Jar: jar, Timeout: time.Minute,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}}
}

type page struct {
	status int
	body   string
	resp   *http.Response
}

func (w *web) do(req *http.Request) page {
	w.t.Helper()
	resp, err := w.hc.Do(req)
	if err != nil {
		w.t.Fatalf("%s %s: %v", req.Method, req.URL, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		w.t.Fatal(err)
	}
	return page{resp.StatusCode, string(b), resp}
}

func (w *web) get(path string) page {
	w.t.Helper()
	req, err := http.NewRequest(http.MethodGet, w.base+path, nil)
	if err != nil {
		w.t.Fatal(err)
	}
	return w.do(req)
}

// post sends a form, with headers set as given.
func (w *web) post(path string, form url.Values, headers ...string) page {
	w.t.Helper()
	req, err := http.NewRequest(http.MethodPost, w.base+path, strings.NewReader(form.Encode()))
	if err != nil {
		w.t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Set(headers[i], headers[i+1])
	}
	return w.do(req)
}

var csrfRE = regexp.MustCompile(`name="csrf" value="([^"]+)"`)

// csrf is the CSRF token of a page's forms.
func (w *web) csrf(p page) string {
	w.t.Helper()
	m := csrfRE.FindStringSubmatch(p.body)
	if m == nil {
		w.t.Fatalf("no CSRF token on the page:\n%s", p.body)
	}
	return m[1]
}

// signIn signs in with an operator key and returns the answer to the post.
func (w *web) signIn(keyID, password string) page {
	w.t.Helper()
	form := w.get("/console/signin")
	if form.status != http.StatusOK {
		w.t.Fatalf("GET /console/signin: %d\n%s", form.status, form.body)
	}
	return w.post("/console/signin", url.Values{"csrf": {w.csrf(form)}, "accessKeyId": {keyID}, "password": {password}})
}

func (w *web) mustSignIn(keyID, password string) {
	w.t.Helper()
	p := w.signIn(keyID, password)
	if p.status != http.StatusSeeOther || p.resp.Header.Get("Location") != "/console/" {
		w.t.Fatalf("sign in: %d to %q\n%s", p.status, p.resp.Header.Get("Location"), p.body)
	}
}

// text is a page's text with its markup and spacing reduced, for looking
// for sentences in it.
func text(body string) string {
	body = regexp.MustCompile(`(?s)<[^>]*>`).ReplaceAllString(body, " ")
	return strings.Join(strings.Fields(html.UnescapeString(body)), " ")
}

func wantPage(t *testing.T, what string, p page, status int, texts ...string) {
	t.Helper()
	if p.status != status {
		t.Fatalf("%s: status %d, want %d\n%s", what, p.status, status, text(p.body))
	}
	for _, s := range texts {
		if !strings.Contains(text(p.body), s) {
			t.Fatalf("%s: the page does not say %q:\n%s", what, s, text(p.body))
		}
	}
}

func start(t *testing.T) *testkit.Server {
	t.Helper()
	return testkit.Start(t, testkit.Options{Console: true})
}

// TestConsoleSignInAndHeaders: every answer of the console carries its
// security headers; a failed sign-in says the same whatever the cause and
// is logged; a sign-in sets a strict session cookie and leads to the page
// asked for; sign-out ends the session, whose cookie then opens nothing.
func TestConsoleSignInAndHeaders(t *testing.T) {
	t.Parallel()
	srv := start(t)
	ctx := context.Background()
	_, key := testkit.NewOperator(t, srv.DB, srv.URL, quota.RoleAdmin)
	_, offKey := testkit.NewOperator(t, srv.DB, srv.URL, quota.RoleAdmin)
	if err := srv.DB.SetOperatorKeyDisabled(ctx, offKey.ID, true, quota.AdminActor); err != nil {
		t.Fatal(err)
	}
	tenant := srv.NewAccount(t)
	w := newWeb(t, srv.URL)

	for _, path := range []string{"/console/signin", "/console/", "/console/no-such-page", "/console/static/console.css", "/console/static/nope.js"} {
		p := w.get(path)
		for h, want := range map[string]string{
			"Content-Security-Policy": "default-src 'self'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'; object-src 'none'",
			"X-Frame-Options":         "DENY",
			"X-Content-Type-Options":  "nosniff",
			"Referrer-Policy":         "same-origin",
		} {
			if got := p.resp.Header.Get(h); got != want {
				t.Errorf("GET %s: %s = %q, want %q", path, h, got, want)
			}
		}
	}
	if p := w.get("/console/"); p.status != http.StatusSeeOther || p.resp.Header.Get("Location") != "/console/signin?next=%2Fconsole%2F" {
		t.Fatalf("the overview without a session: %d to %q", p.status, p.resp.Header.Get("Location"))
	}
	if p := w.get("/console/static/console.css"); p.status != http.StatusOK || !strings.HasPrefix(p.resp.Header.Get("Content-Type"), "text/css") ||
		!strings.Contains(p.body, "@media (max-width") {
		t.Fatalf("the stylesheet: %d %s", p.status, p.resp.Header.Get("Content-Type"))
	}
	if p := w.get("/console/static/console.js"); p.status != http.StatusOK || !strings.HasPrefix(p.resp.Header.Get("Content-Type"), "text/javascript") {
		t.Fatalf("the script: %d %s", p.status, p.resp.Header.Get("Content-Type"))
	}
	wantPage(t, "an unknown static file", w.get("/console/static/nope.js"), http.StatusNotFound, "Not found", "There is no file nope.js in the console.")
	// Unknown pages are the console's 404 page, with or without a session.
	wantPage(t, "an unknown page", w.get("/console/no-such-page"), http.StatusNotFound, "There is no page /console/no-such-page in the console.")

	// Every failed sign-in gets one message.
	for _, tc := range []struct{ name, key, password string }{
		{"a wrong password", key.ID, key.Secret + "x"},
		{"an unknown key", "OPKNOSUCHKEY000000000000", key.Secret},
		{"a disabled key", offKey.ID, offKey.Secret},
		{"a tenant's key", tenant.Key.ID, tenant.Key.Secret},
	} {
		wantPage(t, "sign-in with "+tc.name, w.signIn(tc.key, tc.password), http.StatusUnauthorized,
			"The access key id or password is wrong, or the key or its operator is disabled.")
	}
	for _, reason := range []string{"wrong password", "unknown access key", "the key is disabled"} {
		if !strings.Contains(srv.Logs(), `"msg":"console: sign-in failed"`) || !strings.Contains(srv.Logs(), `"reason":"`+reason+`"`) {
			t.Errorf("no log line of a failed sign-in for %q:\n%s", reason, srv.Logs())
		}
	}
	if strings.Contains(srv.Logs(), key.Secret) {
		t.Errorf("the log holds a password")
	}
	// A sign-in form without its token is refused.
	wantPage(t, "sign-in without the form's token", w.post("/console/signin", url.Values{"accessKeyId": {key.ID}, "password": {key.Secret}}),
		http.StatusForbidden, "security token")

	// Signing in leads to the page asked for, with a strict cookie.
	form := w.get("/console/signin?next=" + url.QueryEscape("/console/accounts?q=x"))
	p := w.post("/console/signin", url.Values{"csrf": {w.csrf(form)}, "accessKeyId": {key.ID}, "password": {key.Secret}, "next": {"/console/accounts?q=x"}})
	if p.status != http.StatusSeeOther || p.resp.Header.Get("Location") != "/console/accounts?q=x" {
		t.Fatalf("sign in: %d to %q\n%s", p.status, p.resp.Header.Get("Location"), text(p.body))
	}
	var session *http.Cookie
	for _, c := range p.resp.Cookies() {
		if c.Name == console.SessionCookie {
			session = c
		}
	}
	if session == nil || !session.HttpOnly || session.SameSite != http.SameSiteStrictMode || session.Path != "/console/" ||
		session.MaxAge != int(console.DefaultSessionTTL/time.Second) || session.Secure || len(session.Value) < 40 {
		t.Fatalf("the session cookie: %+v", session)
	}
	// Somewhere outside the console is never a place to go after.
	for _, next := range []string{"https://example.com/", "//example.com/console/", "/api/v2/vm", "/console\\..\\x"} {
		w2 := newWeb(t, srv.URL)
		form := w2.get("/console/signin")
		p := w2.post("/console/signin", url.Values{"csrf": {w2.csrf(form)}, "accessKeyId": {key.ID}, "password": {key.Secret}, "next": {next}})
		if p.status != http.StatusSeeOther || p.resp.Header.Get("Location") != "/console/" {
			t.Errorf("sign in with next %q: %d to %q", next, p.status, p.resp.Header.Get("Location"))
		}
	}

	ov := w.get("/console/")
	wantPage(t, "the overview", ov, http.StatusOK, "Overview", "quota requests pending", "Custom images by location", "Tokyo", "Sign out", "admin")

	// Signing out ends the session: its cookie, sent again, opens nothing.
	out := w.post("/console/signout", url.Values{"csrf": {w.csrf(ov)}})
	if out.status != http.StatusSeeOther || out.resp.Header.Get("Location") != "/console/signin?signedout=1" {
		t.Fatalf("sign out: %d to %q", out.status, out.resp.Header.Get("Location"))
	}
	stale := newWeb(t, srv.URL)
	u, _ := url.Parse(srv.URL + "/console/")
	stale.hc.Jar.SetCookies(u, []*http.Cookie{{Name: console.SessionCookie, Value: session.Value, Path: "/console/"}})
	if p := stale.get("/console/"); p.status != http.StatusSeeOther || !strings.HasPrefix(p.resp.Header.Get("Location"), "/console/signin") {
		t.Fatalf("the overview with a signed-out session's cookie: %d to %q", p.status, p.resp.Header.Get("Location"))
	}
	recs, err := srv.DB.ListAudit(ctx, quota.AuditFilter{Action: "ConsoleSignOut"})
	if err != nil || len(recs) != 1 || recs[0].Actor != quota.OperatorActor(key.OperatorID) {
		t.Fatalf("ConsoleSignOut audit records = %+v, %v", recs, err)
	}
}

// TestConsoleSessionEndsWithItsKey: disabling the key an operator signed
// in with, or the operator, ends its session at the next page.
func TestConsoleSessionEndsWithItsKey(t *testing.T) {
	t.Parallel()
	srv := start(t)
	ctx := context.Background()
	_, key := testkit.NewOperator(t, srv.DB, srv.URL, quota.RoleAdmin)
	w := newWeb(t, srv.URL)
	w.mustSignIn(key.ID, key.Secret)
	wantPage(t, "the overview", w.get("/console/"), http.StatusOK, "Overview")
	if err := srv.DB.SetOperatorDisabled(ctx, key.OperatorID, true, quota.AdminActor); err != nil {
		t.Fatal(err)
	}
	if p := w.get("/console/"); p.status != http.StatusSeeOther {
		t.Fatalf("the overview once the operator is disabled: %d\n%s", p.status, text(p.body))
	}
	wantPage(t, "a post once the operator is disabled", w.post("/console/signout", url.Values{"csrf": {"x"}}), http.StatusForbidden,
		"You are not signed in, or your session has ended")
}

// TestConsoleRefusesForgedPosts: a post without the session's CSRF token,
// or from another origin, changes nothing; a readonly operator's pages
// have no forms that change anything, and its posts are refused even with
// its own valid token.
func TestConsoleRefusesForgedPosts(t *testing.T) {
	t.Parallel()
	srv := start(t)
	ctx := context.Background()
	_, admin := testkit.NewOperator(t, srv.DB, srv.URL, quota.RoleAdmin)
	_, ro := testkit.NewOperator(t, srv.DB, srv.URL, quota.RoleReadonly)
	tenant := srv.NewAccount(t)
	r, err := tenant.Client.CreateImageQuotaRequest(ctx, &vmapi.CreateImageQuotaRequestRequest{ZoneID: client.String("jp-tokyo-1a"), DesiredMaxCount: client.Int(9)})
	if err != nil {
		t.Fatal(err)
	}
	setPath := "/console/accounts/" + tenant.ID + "/overrides"
	set := url.Values{"zoneId": {"jp-tokyo-1a"}, "maxCount": {"7"}}

	a := newWeb(t, srv.URL)
	a.mustSignIn(admin.ID, admin.Secret)
	acct := a.get("/console/accounts/" + tenant.ID)
	wantPage(t, "the account page", acct, http.StatusOK, "Set an override", "Disable")
	token := a.csrf(acct)
	for _, tc := range []struct {
		name    string
		form    url.Values
		headers []string
		says    string
	}{
		{"without a token", set, nil, "security token"},
		{"with a wrong token", withCSRF(set, strings.Repeat("0", 64)), nil, "security token"},
		{"with another session's token", withCSRF(set, "x"+token[1:]), nil, "security token"},
		{"from another origin", withCSRF(set, token), []string{"Origin", "http://evil.example"}, "not sent from this console"},
		{"from another site", withCSRF(set, token), []string{"Sec-Fetch-Site", "cross-site"}, "not sent from this console"},
	} {
		wantPage(t, "a post "+tc.name, a.post(setPath, tc.form, tc.headers...), http.StatusForbidden, tc.says)
	}

	ro1 := newWeb(t, srv.URL)
	ro1.mustSignIn(ro.ID, ro.Secret)
	for _, path := range []string{"/console/", "/console/accounts/" + tenant.ID, "/console/requests", "/console/audit", "/console/accounts"} {
		p := ro1.get(path)
		wantPage(t, "readonly "+path, p, http.StatusOK, "readonly")
		forms := regexp.MustCompile(`<form method="post" action="([^"]+)"`).FindAllStringSubmatch(p.body, -1)
		if len(forms) != 1 || forms[0][1] != "/console/signout" {
			t.Errorf("readonly %s has forms %v; want only the sign-out", path, forms)
		}
		if strings.Contains(p.body, ">Approve<") || strings.Contains(p.body, ">Set override<") || strings.Contains(p.body, ">Disable<") {
			t.Errorf("readonly %s shows a button that changes something", path)
		}
	}
	roToken := ro1.csrf(ro1.get("/console/"))
	for _, tc := range []struct{ path, action string }{
		{setPath, "SetImageQuota"},
		{"/console/accounts/" + tenant.ID + "/overrides/remove", "UnsetImageQuota"},
		{"/console/accounts/" + tenant.ID + "/keys/" + tenant.Key.ID + "/disable", "DisableAccessKey"},
		{"/console/accounts/" + tenant.ID + "/status", "ModifyAccountStatus"},
		{"/console/requests/" + r.QuotaRequestID + "/approve", "ApproveQuotaRequest"},
		{"/console/requests/" + r.QuotaRequestID + "/deny", "DenyQuotaRequest"},
	} {
		form := withCSRF(url.Values{"zoneId": {"jp-tokyo-1a"}, "maxCount": {"7"}, "disabled": {"true"}, "comment": {"no"}}, roToken)
		wantPage(t, "a readonly post to "+tc.path, ro1.post(tc.path, form), http.StatusForbidden,
			"Your role may not do this", "Action "+tc.action+" is not allowed to operator role \"readonly\"")
	}

	// Nothing changed: no override, the key enabled, the request pending.
	limits, err := srv.DB.ListLimits(ctx)
	if err != nil || len(limits) != 0 {
		t.Fatalf("overrides after the refused posts: %+v, %v", limits, err)
	}
	keys, err := srv.DB.ListAccessKeys(ctx, tenant.ID)
	if err != nil || keys[0].Disabled {
		t.Fatalf("the key after the refused posts: %+v, %v", keys, err)
	}
	q, err := srv.DB.QuotaRequest(ctx, r.QuotaRequestID, "")
	if err != nil || q.State != quota.RequestPending {
		t.Fatalf("the request after the refused posts: %+v, %v", q, err)
	}
	if !strings.Contains(srv.Logs(), "console: refused a change the role does not allow") {
		t.Errorf("the refusals are not logged")
	}
}

func withCSRF(v url.Values, token string) url.Values {
	out := url.Values{}
	for k, vs := range v {
		out[k] = vs
	}
	out.Set("csrf", token)
	return out
}

// TestConsoleShowsBadInput: what an operator can get wrong shows a message
// on the page naming the field, keeps what was typed, and changes nothing;
// what does not exist is the console's 404 page.
func TestConsoleShowsBadInput(t *testing.T) {
	t.Parallel()
	srv := start(t)
	ctx := context.Background()
	_, admin := testkit.NewOperator(t, srv.DB, srv.URL, quota.RoleAdmin)
	tenant := srv.NewAccount(t)
	r, err := tenant.Client.CreateImageQuotaRequest(ctx, &vmapi.CreateImageQuotaRequestRequest{ZoneID: client.String("jp-tokyo-1a"), DesiredMaxCount: client.Int(9)})
	if err != nil {
		t.Fatal(err)
	}
	w := newWeb(t, srv.URL)
	w.mustSignIn(admin.ID, admin.Secret)
	token := w.csrf(w.get("/console/"))
	setPath := "/console/accounts/" + tenant.ID + "/overrides"
	for _, tc := range []struct {
		name   string
		path   string
		form   url.Values
		status int
		says   []string
	}{
		{"a limit that is not a number", setPath, url.Values{"form": {"override"}, "zoneId": {"jp-tokyo-1a"}, "maxCount": {"ten"}, "reason": {"kept"}},
			400, []string{`maxCount must be a whole number; it is "ten".`}},
		{"no limit", setPath, url.Values{"form": {"override"}, "maxCount": {""}}, 400, []string{"maxCount is required"}},
		{"a negative limit", setPath, url.Values{"form": {"override"}, "maxCount": {"-1"}}, 400, []string{"maxCount must be at least 0; it is -1."}},
		{"a limit too high", setPath, url.Values{"form": {"override"}, "maxCount": {"2000000"}}, 400, []string{"maxCount must be at most 1000000"}},
		{"an expiry in the past", setPath, url.Values{"form": {"override"}, "maxCount": {"3"}, "expiresAt": {"2020-01-01T10:00"}}, 400,
			[]string{"expiresAt 2020-01-01T10:00:00Z is not in the future."}},
		{"an expiry that is not a time", setPath, url.Values{"form": {"override"}, "maxCount": {"3"}, "expiresAt": {"next week"}}, 400,
			[]string{`expiresAt "next week" is not a time like 2026-12-01T10:00 (UTC).`}},
		{"an unknown zone", setPath, url.Values{"form": {"override"}, "maxCount": {"3"}, "zoneId": {"xx-nowhere-1a"}}, 404,
			[]string{`zone "xx-nowhere-1a" does not exist`}},
		{"an override of an unknown account", "/console/accounts/acc-missing/overrides", url.Values{"maxCount": {"3"}}, 404,
			[]string{`account "acc-missing" does not exist.`}},
		{"removing an override there is not", setPath + "/remove", url.Values{"zoneId": {"jp-tokyo-1a"}}, 404, []string{"The account has no such override"}},
		{"disabling another account's key", "/console/accounts/" + tenant.ID + "/keys/AKNOTHERS/disable", nil, 404, []string{"has no access key AKNOTHERS"}},
		{"a status that is not one", "/console/accounts/" + tenant.ID + "/status", url.Values{"disabled": {"maybe"}}, 400, []string{"disabled must be true or false."}},
		{"a denial without a comment", "/console/requests/" + r.QuotaRequestID + "/deny", url.Values{"comment": {" "}, "state": {"PENDING"}}, 400,
			[]string{"comment must not be empty: say why the request is denied."}},
		{"a grant that is not a number", "/console/requests/" + r.QuotaRequestID + "/approve", url.Values{"grantedMaxCount": {"1e3"}}, 400,
			[]string{`grantedMaxCount must be a whole number; it is "1e3".`}},
		{"a grant below 0", "/console/requests/" + r.QuotaRequestID + "/approve", url.Values{"grantedMaxCount": {"-4"}}, 400,
			[]string{"grantedMaxCount must be 0-1000000; it is -4."}},
		{"approving an unknown request", "/console/requests/qr-0000000000000000/approve", nil, 404, []string{`quotaRequestId "qr-0000000000000000" does not exist.`}},
	} {
		p := w.post(tc.path, withCSRF(tc.form, token))
		wantPage(t, tc.name, p, tc.status, tc.says...)
		if p.status == 400 && strings.HasPrefix(tc.path, setPath) && !strings.Contains(p.body, `aria-invalid="true"`) {
			t.Errorf("%s: no field is marked invalid", tc.name)
		}
	}
	// The form keeps what was typed.
	p := w.post(setPath, withCSRF(url.Values{"form": {"override"}, "zoneId": {"sg-singapore-1a"}, "maxCount": {"x1"}, "reason": {"a launch"}}, token))
	if !strings.Contains(p.body, `value="x1"`) || !strings.Contains(p.body, `value="a launch"`) || !strings.Contains(p.body, `<option value="sg-singapore-1a" selected>`) {
		t.Errorf("the override form does not keep what was typed:\n%s", p.body)
	}
	// A decision on a request already decided.
	if _, err := srv.DB.DenyQuotaRequest(ctx, quota.DenyQuotaRequestInput{ID: r.QuotaRequestID, Comment: "no", Actor: quota.AdminActor}); err != nil {
		t.Fatal(err)
	}
	wantPage(t, "approving a denied request", w.post("/console/requests/"+r.QuotaRequestID+"/approve", withCSRF(nil, token)), http.StatusConflict,
		"Not done:", "DENIED")

	for _, tc := range []struct {
		path   string
		status int
		says   string
	}{
		{"/console/accounts/acc-missing", 404, `account "acc-missing" does not exist.`},
		{"/console/accounts?page=0", 400, `page must be a whole number from 1 to 1000000; it is "0".`},
		{"/console/accounts?page=x", 400, `page must be a whole number`},
		{"/console/requests?state=OPEN", 400, `state.0 "OPEN" is not one of PENDING, APPROVED, DENIED, CANCELLED.`},
		{"/console/audit?since=yesterday", 400, `since "yesterday" is not a time like 2026-12-01T10:00 (UTC).`},
		{"/console/audit?since=2026-01-02T00:00&until=2026-01-01T00:00", 400, `since must be before until.`},
		{"/console/audit?accountId=" + strings.Repeat("a", 200), 400, `accountId must be at most`},
		{"/console/accounts/" + tenant.ID + "/nothing", 404, "There is no page"},
	} {
		wantPage(t, "GET "+tc.path, w.get(tc.path), tc.status, tc.says)
	}
	limits, err := srv.DB.ListLimits(ctx)
	if err != nil || len(limits) != 0 {
		t.Fatalf("overrides after the bad posts: %+v, %v", limits, err)
	}
}

// TestConsoleChangesAreTheOperatorAPIs: the console's changes are made as
// the operator API's actions by the signed-in operator: audited with it as
// actor, and seen by the tenant.
func TestConsoleChangesAreTheOperatorAPIs(t *testing.T) {
	t.Parallel()
	srv := start(t)
	ctx := context.Background()
	_, admin := testkit.NewOperator(t, srv.DB, srv.URL, quota.RoleAdmin)
	tenant := srv.NewAccount(t)
	w := newWeb(t, srv.URL)
	w.mustSignIn(admin.ID, admin.Secret)
	token := w.csrf(w.get("/console/"))
	base := "/console/accounts/" + tenant.ID
	expires := time.Now().Add(48 * time.Hour).UTC().Truncate(time.Minute)
	p := w.post(base+"/overrides", withCSRF(url.Values{"form": {"override"}, "zoneId": {"jp-tokyo-1a"}, "maxCount": {"12"},
		"expiresAt": {expires.Format("2006-01-02T15:04")}, "reason": {"a launch"}}, token))
	if p.status != http.StatusSeeOther || p.resp.Header.Get("Location") != base+"?done=override-set#overrides" {
		t.Fatalf("set an override: %d to %q\n%s", p.status, p.resp.Header.Get("Location"), text(p.body))
	}
	wantPage(t, "the account after setting an override", w.get(base+"?done=override-set"), http.StatusOK,
		"The override is set.", "0 / 12", "account+location override", expires.Format("2006-01-02 15:04 UTC"), "a launch")
	q, err := tenant.Client.DescribeImageQuota(ctx, &vmapi.DescribeImageQuotaRequest{ZoneIDs: []string{"jp-tokyo-1a"}})
	if err != nil || len(q.Images) != 1 || q.Images[0].MaxCount != 12 {
		t.Fatalf("the tenant's quota after the override: %+v, %v", q, err)
	}
	recs, err := srv.DB.ListAudit(ctx, quota.AuditFilter{AccountID: tenant.ID, Action: "SetLimit"})
	if err != nil || len(recs) != 1 || recs[0].Actor != quota.OperatorActor(admin.OperatorID) || !strings.HasPrefix(recs[0].RequestID, "T") {
		t.Fatalf("SetLimit records = %+v, %v", recs, err)
	}
	// Disable the tenant's key: the tenant is refused.
	p = w.post(base+"/keys/"+tenant.Key.ID+"/disable", withCSRF(nil, token))
	if p.status != http.StatusSeeOther {
		t.Fatalf("disable the key: %d\n%s", p.status, text(p.body))
	}
	if _, err := tenant.Client.DescribeImageQuota(ctx, &vmapi.DescribeImageQuotaRequest{}); quota.ErrorCode(err) == "" {
		t.Fatalf("the tenant's disabled key still works")
	}
	wantPage(t, "the account's recent changes", w.get(base), http.StatusOK, "DisableAccessKey", "SetLimit", "operator:"+admin.OperatorID)
	// Remove the override.
	p = w.post(base+"/overrides/remove", withCSRF(url.Values{"zoneId": {"jp-tokyo-1a"}}, token))
	if p.status != http.StatusSeeOther {
		t.Fatalf("remove the override: %d\n%s", p.status, text(p.body))
	}
	if limits, err := srv.DB.ListLimits(ctx); err != nil || len(limits) != 0 {
		t.Fatalf("overrides after the removal: %+v, %v", limits, err)
	}
	wantPage(t, "the audit page filtered", w.get("/console/audit?action=UnsetLimit&accountId="+tenant.ID), http.StatusOK, "UnsetLimit", "1 in all")
}

// TestConsoleRateLimitsSignIns: past the failures allowed from one
// address, its sign-ins are refused, a right password too.
func TestConsoleRateLimitsSignIns(t *testing.T) {
	t.Parallel()
	srv := start(t)
	_, key := testkit.NewOperator(t, srv.DB, srv.URL, quota.RoleAdmin)
	w := newWeb(t, srv.URL)
	for range 10 {
		wantPage(t, "a wrong password", w.signIn(key.ID, "wrong"), http.StatusUnauthorized, "is wrong")
	}
	wantPage(t, "the right password after ten failures", w.signIn(key.ID, key.Secret), http.StatusTooManyRequests,
		"Too many failed sign-ins from your address")
	if !strings.Contains(srv.Logs(), "too many failures from the address") {
		t.Errorf("the refusal is not logged")
	}
}

// TestConsoleOff: a server without the console answers its paths as the
// API answers any unknown path.
func TestConsoleOff(t *testing.T) {
	t.Parallel()
	srv := testkit.Start(t, testkit.Options{})
	w := newWeb(t, srv.URL)
	p := w.get("/console/signin")
	if p.status == http.StatusOK || strings.Contains(p.body, "<html") || p.resp.Header.Get("Content-Security-Policy") != "" {
		t.Fatalf("/console/signin without the console: %d %s", p.status, p.body)
	}
}
