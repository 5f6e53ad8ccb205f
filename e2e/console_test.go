package e2e

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/page"
	"github.com/chromedp/chromedp"

	"github.com/imagequota/imagequota/client"
	"github.com/imagequota/imagequota/internal/quota"
	"github.com/imagequota/imagequota/internal/testkit"
	"github.com/imagequota/imagequota/vmapi"
)

// Browser tests of the operator console: a real Chromium, headless, driven
// through the DevTools protocol against a real server on a real listener.
// Without Chromium they skip, unless IMAGEQUOTA_REQUIRE_BROWSER is set (CI
// sets it), when they fail. With IMAGEQUOTA_SCREENSHOTS=DIR (relative to
// the module's root, as docs/images) they save screenshots of the pages
// there.
const (
	requireBrowserEnv = "IMAGEQUOTA_REQUIRE_BROWSER"
	screenshotsEnv    = "IMAGEQUOTA_SCREENSHOTS"
	chromiumEnv       = "IMAGEQUOTA_CHROMIUM"
)

// chromium returns the browser to run, or skips the test without one.
func chromium(t *testing.T) string {
	t.Helper()
	names := []string{"chromium", "chromium-browser", "google-chrome", "google-chrome-stable"}
	if p := os.Getenv(chromiumEnv); p != "" {
		names = []string{p}
	}
	for _, n := range names {
		if p, err := exec.LookPath(n); err == nil {
			return p
		}
	}
	if os.Getenv(requireBrowserEnv) != "" {
		t.Fatalf("no Chromium (looked for %s) and %s is set: install Debian's chromium and chromium-driver", strings.Join(names, ", "), requireBrowserEnv)
	}
	t.Skipf("no Chromium (looked for %s): the browser tests need Debian's chromium (set %s to fail instead)", strings.Join(names, ", "), requireBrowserEnv)
	return ""
}

// browser starts one headless Chromium for a test, with a fresh profile,
// and returns a tab's context; the dialogs the page opens are accepted and
// counted, and the console's messages kept.
type browser struct {
	ctx     context.Context
	mu      sync.Mutex
	dialogs []string
	console []string
}

func startBrowser(t *testing.T) *browser {
	t.Helper()
	path := chromium(t)
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(path),
		chromedp.Headless, chromedp.NoSandbox, chromedp.DisableGPU, chromedp.NoFirstRun,
		chromedp.Flag("disable-quic", true),
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		// chromedp's own two, and the address bar's pop-up, which Chromium
		// builds as web pages in a renderer of its own at start even when
		// headless: about a fifth of the browser's CPU in this test.
		chromedp.Flag("disable-features", "Translate,BlinkGenPropertyTrees,WebUIOmniboxPopup,WebUIOmniboxAimPopup,WebUIOmniboxFullPopup,PreloadTopChromeWebUI"),
		// A profile kept in memory: no history, favicon or session files
		// written for each page (0.5–1 of the browser's 11–13 CPU-seconds
		// in this test).
		chromedp.Flag("incognito", true),
		chromedp.UserDataDir(t.TempDir()),
		chromedp.WindowSize(1280, 900),
	)
	actx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	t.Cleanup(cancelAlloc)
	tctx, cancelTab := chromedp.NewContext(actx)
	t.Cleanup(cancelTab)
	// Every step of the test, together, within a bound.
	ctx, cancel := context.WithTimeout(tctx, 5*time.Minute)
	t.Cleanup(cancel)
	b := &browser{ctx: ctx}
	if err := chromedp.Do(ctx, chromedp.Navigate("about:blank")); err != nil {
		t.Fatalf("starting %s: %v", path, err)
	}
	dialogs := chromedp.Events(ctx, page.JavascriptDialogOpening)
	go func() {
		for ev, err := range dialogs {
			if err != nil {
				return
			}
			b.mu.Lock()
			b.dialogs = append(b.dialogs, ev.Message)
			b.mu.Unlock()
			_, _ = chromedp.Call(ctx, page.HandleJavaScriptDialog, page.HandleJavaScriptDialogParams{Accept: true})
		}
	}()
	messages := chromedp.Console(ctx)
	go func() {
		for m, err := range messages {
			if err != nil {
				return
			}
			b.mu.Lock()
			b.console = append(b.console, fmt.Sprintf("%s %s: %s", m.Type, m.URL, m.Text))
			b.mu.Unlock()
		}
	}()
	return b
}

func (b *browser) do(t *testing.T, what string, steps ...chromedp.Action[chromedp.Void]) {
	t.Helper()
	if err := chromedp.Do(b.ctx, steps...); err != nil {
		t.Fatalf("%s: %v", what, err)
	}
}

func (b *browser) text(t *testing.T, sel string) string {
	t.Helper()
	s, err := chromedp.Run(b.ctx, chromedp.Text(chromedp.CSS(sel)))
	if err != nil {
		t.Fatalf("the text of %s: %v", sel, err)
	}
	return strings.Join(strings.Fields(s), " ")
}

func (b *browser) eval(t *testing.T, js string) string {
	t.Helper()
	s, err := chromedp.Run(b.ctx, chromedp.Evaluate[string](js, chromedp.EvalAwaitPromise))
	if err != nil {
		t.Fatalf("evaluating %s: %v", js, err)
	}
	return s
}

func (b *browser) location(t *testing.T) string {
	t.Helper()
	s, err := chromedp.Run(b.ctx, chromedp.Location())
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// screenshot saves the page (whole, or what the window shows) as name.png
// in the screenshots directory, when one is given.
func (b *browser) screenshot(t *testing.T, name string, whole bool) {
	t.Helper()
	dir := os.Getenv(screenshotsEnv)
	if dir == "" {
		return
	}
	if !filepath.IsAbs(dir) {
		// Relative to the module's root: the tests run in e2e/.
		dir = filepath.Join("..", dir)
	}
	shot := chromedp.CaptureScreenshot()
	if whole {
		shot = chromedp.FullScreenshot(100)
	}
	png, err := chromedp.Run(b.ctx, shot)
	if err != nil {
		t.Fatalf("screenshot %s: %v", name, err)
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, name+".png"), png, 0o644); err != nil {
		t.Fatal(err)
	}
}

// tenant is an account with a name of its own, an access key, and a client
// that signs with it.
type tenant struct {
	id     string
	client *client.Client
}

// TestConsoleInBrowser: an operator signs in to the console in Chromium,
// reads the overview, opens an account, sets an override (after a bad
// one), disables a key (confirming in a dialog), approves a tenant's quota
// request and denies another, each seen at once by the tenant through the
// real signing client, reads the audit trail, sees the pages on a narrow
// screen and the console's 404, and signs out; then a readonly operator
// sees no button that changes anything and a post forged in its page is
// refused. No page breaks its Content-Security-Policy.
func TestConsoleInBrowser(t *testing.T) {
	parallelFirst(t)
	b := startBrowser(t)
	srv := testkit.Start(t, testkit.Options{Console: true})
	base := srv.URL
	ctx := context.Background()
	db := srv.DB

	// The service: six tenants with images in a few locations, overrides,
	// and three quota requests waiting.
	newTenant := func(name string) tenant {
		t.Helper()
		a, err := db.CreateAccount(ctx, name)
		if err != nil {
			t.Fatal(err)
		}
		k, err := db.CreateAccessKey(ctx, a.ID)
		if err != nil {
			t.Fatal(err)
		}
		return tenant{id: a.ID, client: client.New(base, k.ID, k.Secret)}
	}
	images := func(tn tenant, loc string, n int) {
		t.Helper()
		inst := srv.NewInstance(t, tn.id, loc)
		for i := range n {
			if _, _, err := db.CreateImage(ctx, quota.CreateImageInput{AccountID: tn.id, InstanceID: inst.ID, Name: fmt.Sprintf("ubuntu-22.04-build-%d", i+1),
				DefaultMax: 1000, Now: time.Now(), Actor: quota.Actor{Name: "seed"}}); err != nil {
				t.Fatal(err)
			}
		}
	}
	setLimit := func(o quota.LimitOverride) {
		t.Helper()
		if _, err := db.SetLimit(ctx, o, quota.AdminActor); err != nil {
			t.Fatal(err)
		}
	}
	acme, globex, initech := newTenant("acme-render"), newTenant("globex-ci"), newTenant("initech")
	umbrella, hooli, stark := newTenant("umbrella-labs"), newTenant("hooli"), newTenant("stark-media")
	images(acme, "jp-tokyo-1a", 5)
	images(acme, "sg-singapore-1a", 2)
	images(globex, "jp-tokyo-1a", 4)
	images(initech, "de-frankfurt-9a", 8)
	setLimit(quota.LimitOverride{LocationID: "de-frankfurt-9a", MaxCount: 10, Reason: "a larger zone"})
	images(umbrella, "us-losangeles-1a", 3)
	setLimit(quota.LimitOverride{AccountID: umbrella.id, MaxCount: 3, Reason: "trial account"})
	images(hooli, "gb-london-1a", 1)
	images(hooli, "hk-hongkong-1a", 2)
	images(stark, "br-saopaulo-1a", 5)
	setLimit(quota.LimitOverride{AccountID: stark.id, LocationID: "br-saopaulo-1a", MaxCount: 4, Reason: "lowered after an incident"})
	ask := func(tn tenant, zone string, desired int, reason string) string {
		t.Helper()
		r, err := tn.client.CreateImageQuotaRequest(ctx, &vmapi.CreateImageQuotaRequestRequest{ZoneID: client.String(zone),
			DesiredMaxCount: client.Int(desired), Reason: client.String(reason)})
		if err != nil {
			t.Fatal(err)
		}
		return r.QuotaRequestID
	}
	acmeAsk := ask(acme, "jp-tokyo-1a", 20, "a new render farm for the launch")
	globexAsk := ask(globex, "jp-tokyo-1a", 10, "more build caches")
	ask(initech, "de-frankfurt-9a", 15, "quarterly batch")
	_, admin, err := db.CreateOperator(ctx, "alice (on call)", quota.RoleAdmin, quota.AdminActor)
	if err != nil {
		t.Fatal(err)
	}
	_, ro, err := db.CreateOperator(ctx, "auditor", quota.RoleReadonly, quota.AdminActor)
	if err != nil {
		t.Fatal(err)
	}
	if _, max := quotaCount(t, acme.client, "jp-tokyo-1a"); max != quota.DefaultMaxCount {
		t.Fatalf("acme's Tokyo limit before = %d", max)
	}

	signIn := func(t *testing.T, keyID, password string) {
		t.Helper()
		b.do(t, "open the sign-in page",
			chromedp.Navigate(base+"/console/"),
			chromedp.WaitVisible(chromedp.ID("accessKeyId")),
			chromedp.SetValue(chromedp.ID("accessKeyId"), keyID),
			chromedp.SetValue(chromedp.ID("password"), password),
			chromedp.Click(chromedp.ID("signin")),
		)
	}

	t.Run("SignIn", func(t *testing.T) {
		signIn(t, admin.ID, "not the password")
		b.do(t, "a failed sign-in", chromedp.WaitVisible(chromedp.ID("signin-problem")))
		if got := b.text(t, "#signin-problem"); got != "The access key id or password is wrong, or the key or its operator is disabled." {
			t.Fatalf("a failed sign-in says %q", got)
		}
		signIn(t, admin.ID, admin.Secret)
		b.do(t, "the overview after signing in", chromedp.WaitVisible(chromedp.ID("pending-count")))
		if loc := b.location(t); loc != base+"/console/" {
			t.Fatalf("after signing in the browser is at %s", loc)
		}
		if c := b.eval(t, `document.cookie`); c != "" {
			t.Fatalf("the page's script can read cookies: %q", c)
		}
	})

	t.Run("Overview", func(t *testing.T) {
		// At their limit: acme in Tokyo (5 of 5), umbrella (3 of 3) and
		// stark (5 of 4); at 80% or more, those, globex in Tokyo (4 of 5)
		// and initech in Frankfurt (8 of 10).
		for sel, want := range map[string]string{"#pending-count": "3", "#total-images": "30", "#at-limit": "3", "#near-limit": "5"} {
			if got := b.text(t, sel); got != want {
				t.Errorf("%s = %q, want %q", sel, got, want)
			}
		}
		// The same figures as /metrics.
		sums := map[string]float64{}
		for series, v := range testkit.Metrics(t, base) {
			if name, _, ok := strings.Cut(series, `{location="`); ok {
				sums[name] += v
			}
		}
		for sel, name := range map[string]string{"#total-images": "imagequota_location_images", "#at-limit": "imagequota_location_accounts_at_limit",
			"#near-limit": "imagequota_location_accounts_near_limit"} {
			if got, want := b.text(t, sel), fmt.Sprint(sums[name]); got != want {
				t.Errorf("%s = %q; the sum of /metrics' %s is %s", sel, got, name, want)
			}
		}
		if n := b.eval(t, `String(document.querySelectorAll("figure.chart svg g.row").length)`); n != "42" {
			t.Errorf("the charts have %s rows, want 21 locations twice", n)
		}
		first := b.text(t, "#closest tbody tr:first-child")
		if !strings.Contains(first, "stark-media") || !strings.Contains(first, "5 / 4") || !strings.Contains(first, "125%") {
			t.Errorf("the first of the closest to their limits is %q, want stark-media at 5 of 4", first)
		}
		if got := b.text(t, "#closest"); !strings.Contains(got, "umbrella-labs") || !strings.Contains(got, "account override") {
			t.Errorf("the closest to their limits: %q", got)
		}
		b.screenshot(t, "console-overview", true)
	})

	t.Run("Account", func(t *testing.T) {
		b.do(t, "open acme's page from the overview",
			chromedp.Click(chromedp.CSS(`#closest a[href="/console/accounts/`+acme.id+`"]`)),
			chromedp.WaitVisible(chromedp.ID("account-id")),
		)
		if got := b.text(t, "#account-id"); got != acme.id {
			t.Fatalf("the account page is of %q", got)
		}
		if got := b.text(t, `#usage tr[data-location="jp-tokyo-1a"]`); !strings.Contains(got, "5 / 5") || !strings.Contains(got, "server default") {
			t.Errorf("acme's Tokyo usage row: %q", got)
		}
		// A bad expiry: the form says what is wrong with which field.
		b.do(t, "set an override that ended already",
			chromedp.SetValue(chromedp.ID("override-zone"), "sg-singapore-1a"),
			chromedp.SetValue(chromedp.ID("override-max"), "8"),
			chromedp.SetValue(chromedp.ID("override-expires"), "2020-01-01T10:00"),
			chromedp.SetValue(chromedp.ID("override-reason"), "launch week"),
			chromedp.Click(chromedp.ID("override-submit")),
			chromedp.WaitVisible(chromedp.ID("override-error")),
		)
		if got := b.text(t, "#override-error"); got != "expiresAt 2020-01-01T10:00:00Z is not in the future." {
			t.Errorf("the override form says %q", got)
		}
		if got := b.eval(t, `document.getElementById("override-expires").getAttribute("aria-invalid") + " " + document.getElementById("override-reason").value`); got != "true launch week" {
			t.Errorf("the form after the bad expiry: %q", got)
		}
		until := time.Now().UTC().Add(72 * time.Hour).Truncate(time.Minute)
		b.do(t, "set the override",
			chromedp.SetValue(chromedp.ID("override-expires"), until.Format("2006-01-02T15:04")),
			chromedp.Click(chromedp.ID("override-submit")),
			chromedp.WaitVisible(chromedp.CSS("p.flash")),
		)
		if got := b.text(t, "p.flash"); got != "The override is set." {
			t.Errorf("after setting the override the page says %q", got)
		}
		row := b.text(t, `#usage tr[data-location="sg-singapore-1a"]`)
		if !strings.Contains(row, "2 / 8") || !strings.Contains(row, "account+location override") || !strings.Contains(row, until.Format("2006-01-02 15:04 UTC")) {
			t.Errorf("acme's Singapore usage row after the override: %q", row)
		}
		if _, max := quotaCount(t, acme.client, "sg-singapore-1a"); max != 8 {
			t.Errorf("acme's DescribeImageQuota in Singapore says maxCount %d, want the 8 set in the console", max)
		}
		if got := b.text(t, "#recent-audit"); !strings.Contains(got, "SetLimit") || !strings.Contains(got, "operator:"+admin.OperatorID) {
			t.Errorf("acme's recent changes: %q", got)
		}
		b.screenshot(t, "console-account", true)

		// Disabling a key asks first (the page's script), then the key is refused.
		b.do(t, "disable hooli's key",
			chromedp.Navigate(base+"/console/accounts/"+hooli.id),
			chromedp.WaitVisible(chromedp.ID("key-list")),
			chromedp.Click(chromedp.CSS(`#key-list button.danger`)),
			chromedp.WaitVisible(chromedp.CSS("p.flash")),
		)
		b.mu.Lock()
		dialogs := append([]string(nil), b.dialogs...)
		b.mu.Unlock()
		if len(dialogs) != 1 || !strings.HasPrefix(dialogs[0], "Disable key ") {
			t.Errorf("dialogs = %q, want the one that asks before disabling the key", dialogs)
		}
		if _, err := hooli.client.DescribeImageQuota(ctx, &vmapi.DescribeImageQuotaRequest{}); quota.ErrorCode(err) == "" {
			t.Errorf("hooli's key still works after it was disabled in the console")
		}
	})

	t.Run("QuotaRequests", func(t *testing.T) {
		b.do(t, "open the queue",
			chromedp.Click(chromedp.CSS(`header.top nav a[href="/console/requests"]`)),
			chromedp.WaitVisible(chromedp.ID("request-list")),
		)
		if n := b.eval(t, `String(document.querySelectorAll("#request-list article.state-PENDING").length)`); n != "3" {
			t.Fatalf("the queue shows %s pending requests, want 3", n)
		}
		b.screenshot(t, "console-quota-requests", true)
		until := time.Now().UTC().Add(30 * 24 * time.Hour).Truncate(time.Minute)
		art := "#request-" + acmeAsk
		b.do(t, "approve acme's request",
			chromedp.SetValue(chromedp.CSS(art+` form.approve input[name="grantedMaxCount"]`), "12"),
			chromedp.SetValue(chromedp.CSS(art+` form.approve input[name="expiresAt"]`), until.Format("2006-01-02T15:04")),
			chromedp.SetValue(chromedp.CSS(art+` form.approve input[name="comment"]`), "12 for the launch month"),
			chromedp.Click(chromedp.CSS(art+` form.approve button`)),
			chromedp.WaitVisible(chromedp.CSS("p.flash")),
		)
		if got := b.text(t, "p.flash"); got != "The request is approved: the account's limit is raised." {
			t.Errorf("after approving the page says %q", got)
		}
		if _, max := quotaCount(t, acme.client, "jp-tokyo-1a"); max != 12 {
			t.Errorf("acme's DescribeImageQuota in Tokyo says maxCount %d after the approval, want the granted 12", max)
		}
		// A denial needs a comment: the page says so, on the form.
		art = "#request-" + globexAsk
		b.do(t, "deny globex's request without a comment",
			chromedp.Click(chromedp.CSS(art+` form.deny button`)),
			chromedp.WaitVisible(chromedp.ID("problem")),
		)
		if got := b.text(t, art+" form.deny .field-error"); got != "comment must not be empty: say why the request is denied." {
			t.Errorf("a denial without a comment says %q", got)
		}
		b.do(t, "deny globex's request",
			chromedp.SetValue(chromedp.CSS(art+` form.deny input[name="comment"]`), "use Osaka instead"),
			chromedp.Click(chromedp.CSS(art+` form.deny button`)),
			chromedp.WaitVisible(chromedp.CSS("p.flash")),
		)
		if _, max := quotaCount(t, globex.client, "jp-tokyo-1a"); max != quota.DefaultMaxCount {
			t.Errorf("globex's Tokyo limit after the denial = %d", max)
		}
		b.do(t, "the approved requests",
			chromedp.Click(chromedp.ID("tab-APPROVED")),
			chromedp.WaitVisible(chromedp.CSS("#request-"+acmeAsk+" dd.decided")),
		)
		if got := b.text(t, "#request-"+acmeAsk); !strings.Contains(got, "by operator:"+admin.OperatorID) || !strings.Contains(got, "Granted 12 until "+until.Format("2006-01-02 15:04 UTC")) {
			t.Errorf("the approved request says %q", got)
		}
	})

	t.Run("Audit", func(t *testing.T) {
		b.do(t, "filter the audit trail",
			chromedp.Navigate(base+"/console/audit"),
			chromedp.WaitVisible(chromedp.ID("audit-filter")),
			chromedp.SetValue(chromedp.ID("filter-account"), acme.id),
			chromedp.SetValue(chromedp.ID("filter-action"), "ApproveQuotaRequest"),
			chromedp.Submit(chromedp.ID("filter-account")),
			chromedp.WaitVisible(chromedp.CSS("#audit-records table")),
		)
		got := b.text(t, "#audit-records tbody")
		if !strings.Contains(got, "ApproveQuotaRequest") || !strings.Contains(got, "operator:"+admin.OperatorID) || strings.Contains(got, "SetLimit") ||
			b.eval(t, `String(document.querySelectorAll("#audit-records tbody tr").length)`) != "1" {
			t.Errorf("acme's ApproveQuotaRequest records: %q", got)
		}
		b.do(t, "a bad filter", chromedp.Navigate(base+"/console/audit?since=yesterday"), chromedp.WaitVisible(chromedp.ID("problem")))
		if got := b.text(t, "#problem"); !strings.Contains(got, `since "yesterday" is not a time like 2026-12-01T10:00 (UTC).`) {
			t.Errorf("a bad filter says %q", got)
		}
	})

	t.Run("NarrowScreen", func(t *testing.T) {
		for _, path := range []string{"/console/", "/console/accounts/" + acme.id, "/console/requests?state=ALL", "/console/audit"} {
			b.do(t, "open "+path+" on a phone's screen",
				chromedp.EmulateViewport(390, 844, chromedp.EmulateScale(2)),
				chromedp.Navigate(base+path),
				chromedp.WaitVisible(chromedp.CSS("main h1")),
			)
			if w := b.eval(t, `document.documentElement.scrollWidth + " " + window.innerWidth`); w != "390 390" {
				t.Errorf("%s on a 390 px screen is %s px wide (page, window): it scrolls sideways", path, w)
			}
			if path == "/console/" {
				b.screenshot(t, "console-overview-narrow", false)
			}
		}
		b.do(t, "back to a desktop's screen", chromedp.EmulateReset())
	})

	t.Run("NotFound", func(t *testing.T) {
		b.do(t, "open a page there is not", chromedp.Navigate(base+"/console/no-such-page"), chromedp.WaitVisible(chromedp.ID("error-message")))
		if got := b.text(t, "#error-message"); got != "There is no page /console/no-such-page in the console." {
			t.Errorf("the 404 page says %q", got)
		}
	})

	t.Run("SignOut", func(t *testing.T) {
		b.do(t, "sign out",
			chromedp.Navigate(base+"/console/"),
			chromedp.WaitVisible(chromedp.ID("signout")),
			chromedp.Click(chromedp.ID("signout")),
			chromedp.WaitVisible(chromedp.CSS("p.flash")),
		)
		if got := b.text(t, "p.flash"); got != "You are signed out." {
			t.Errorf("after signing out the page says %q", got)
		}
		b.do(t, "the overview after signing out", chromedp.Navigate(base+"/console/"), chromedp.WaitVisible(chromedp.ID("accessKeyId")))
		if loc := b.location(t); !strings.HasPrefix(loc, base+"/console/signin") {
			t.Errorf("after signing out the overview sends the browser to %s", loc)
		}
	})

	t.Run("Readonly", func(t *testing.T) {
		signIn(t, ro.ID, ro.Secret)
		b.do(t, "the overview of a readonly operator", chromedp.WaitVisible(chromedp.ID("pending-count")))
		for _, path := range []string{"/console/", "/console/accounts/" + acme.id, "/console/requests", "/console/requests?state=ALL", "/console/audit"} {
			b.do(t, "open "+path, chromedp.Navigate(base+path), chromedp.WaitVisible(chromedp.CSS("main h1")))
			got := b.eval(t, `Array.from(document.querySelectorAll('form[method="post"]')).map(f => f.getAttribute("action")).join(",") +
				" " + document.querySelectorAll('form[method="post"] button').length`)
			if got != "/console/signout 1" {
				t.Errorf("readonly %s has post forms and buttons %q; want only the sign-out", path, got)
			}
		}
		// A post forged in the page, with the page's own CSRF token.
		got := b.eval(t, `(async () => {
			const csrf = document.querySelector('input[name="csrf"]').value;
			const r = await fetch("/console/accounts/`+acme.id+`/overrides", {method: "POST",
				body: new URLSearchParams({csrf: csrf, zoneId: "jp-tokyo-1a", maxCount: "99"})});
			const doc = new DOMParser().parseFromString(await r.text(), "text/html");
			return r.status + " " + doc.getElementById("error-message").textContent;
		})()`)
		if !strings.HasPrefix(got, "403 Your role may not do this") {
			t.Errorf("a readonly operator's forged post: %q", got)
		}
		if _, max := quotaCount(t, acme.client, "jp-tokyo-1a"); max != 12 {
			t.Errorf("acme's Tokyo limit after the refused post = %d, want 12 still", max)
		}
	})

	b.mu.Lock()
	defer b.mu.Unlock()
	for _, m := range b.console {
		if strings.Contains(m, "Content Security Policy") || strings.Contains(m, "Refused to") {
			t.Errorf("the browser refused something of a page: %s", m)
		}
	}
}
