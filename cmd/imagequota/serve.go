package main

import (
	"bytes"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	httppprof "net/http/pprof"
	"net/url"
	"os"
	"runtime"
	"strconv"
	"strings"
	"time"

	"github.com/imagequota/imagequota/internal/app"
	"github.com/imagequota/imagequota/internal/gctune"
	"github.com/imagequota/imagequota/internal/logbuf"
	"github.com/imagequota/imagequota/internal/quota"
	"github.com/imagequota/imagequota/internal/store"
	"github.com/imagequota/imagequota/internal/usagemetrics"
	"github.com/imagequota/imagequota/internal/webhook"
	"github.com/imagequota/imagequota/internal/zcapi"
)

const serveUsage = `imagequota serve: run the API server.

Usage: imagequota serve [--addr 127.0.0.1:8080] [--data-dir DIR | --db URL] [--demo] [flags]

The API is served on POST /api/v2/vm (and POST /), with /healthz, /readyz and
/metrics on the same listener. SIGINT or SIGTERM stops it after the requests in
flight have been answered. The operator API, for operator keys only (made with
"imagequota admin operator create"), is served on POST /api/v2/operator of the
same listener.

The log goes to standard error as JSON lines, written out every 100 ms. Unless
the environment sets GOGC, the garbage collector's heap goal is kept at 32 MiB
or more (GOGC adjusted once a second, 100 once the live heap reaches 16 MiB):
the live heap is small, so the default would collect hundreds of times a second
under load. GOMEMLIMIT is honoured as usual.`

type serveFlags struct {
	addr, tlsCert, tlsKey, logLevel string
	buildTime, requestTimeout       time.Duration
	readTimeout, idleTimeout        time.Duration
	rateLimit                       float64
	rateBurst, defaultMax           int
	demo                            bool
	auditRetention                  store.AuditRetention
	autoApproveUpTo                 int
	webhookURL, webhookSecretFile   string
	metricsTTL                      time.Duration
	metricsPerAccount               bool
	metricsMaxAccounts              int
	console                         bool
}

func runServe(ctx context.Context, args []string, env map[string]string, stdout, stderr io.Writer) error {
	c := newConfig("serve", serveUsage, env, stdout, stderr)
	sf := addStoreFlags(c)
	f := serveFlags{auditRetention: store.AuditRetention{MaxAge: store.DefaultAuditMaxAge}}
	c.String(&f.addr, "addr", "IMAGEQUOTA_ADDR", "127.0.0.1:8080", "address to listen on (host:port; port 0 picks one)")
	c.Int(&f.defaultMax, "default-max-count", "IMAGEQUOTA_DEFAULT_MAX_COUNT", quota.DefaultMaxCount,
		"when given, recorded in the store at start as the server-wide limit (as admin quota set --max N does), which every replica and admin command reads; without it the store's, or 5")
	c.Duration(&f.buildTime, "image-build-time", "IMAGEQUOTA_IMAGE_BUILD_TIME", 2*time.Second, "how long a new image stays CREATING (0: available at once)")
	c.Duration(&f.requestTimeout, "request-timeout", "IMAGEQUOTA_REQUEST_TIMEOUT", 4*time.Second, "deadline of each API request, authentication and store calls included (past it: 503)")
	c.Duration(&f.readTimeout, "read-timeout", "IMAGEQUOTA_READ_TIMEOUT", 15*time.Second, "time a client has to send a whole request, body included")
	c.Duration(&f.idleTimeout, "idle-timeout", "IMAGEQUOTA_IDLE_TIMEOUT", 120*time.Second, "how long an idle keep-alive connection is kept")
	c.Float(&f.rateLimit, "rate-limit", "IMAGEQUOTA_RATE_LIMIT", 0, "requests per second allowed to each access key or token (0: no limit); over it, 429 REQUEST_LIMIT_EXCEEDED")
	c.Int(&f.rateBurst, "rate-burst", "IMAGEQUOTA_RATE_BURST", 0, "requests a key or token may send at once above --rate-limit (0: the rate, at least 1)")
	c.String(&f.tlsCert, "tls-cert", "IMAGEQUOTA_TLS_CERT", "", "TLS certificate file (PEM); with --tls-key, serve HTTPS")
	c.String(&f.tlsKey, "tls-key", "IMAGEQUOTA_TLS_KEY", "", "TLS private key file (PEM)")
	c.String(&f.logLevel, "log-level", "IMAGEQUOTA_LOG_LEVEL", "info", "log level: debug, info, warn or error")
	c.Bool(&f.demo, "demo", "IMAGEQUOTA_DEMO", false, "create a demo account, key and instances when the store has no account, and print how to call")
	c.Var(&f.auditRetention, "audit-retention", "IMAGEQUOTA_AUDIT_RETENTION",
		"how long audit records are kept: AGE[,COUNT], AGE in days (400d) or a duration (36h), 0 keeps everything; pruned at start and hourly")
	c.Int(&f.autoApproveUpTo, "auto-approve-up-to", "IMAGEQUOTA_AUTO_APPROVE_UP_TO", 0, "approve at once every quota request for at most N images, as \"policy\" (0: none; operators decide the others)")
	c.String(&f.webhookURL, "webhook-url", "IMAGEQUOTA_WEBHOOK_URL", "", "deliver events (quota requests, limits reached, overrides expired) to this http(s) URL, signed with --webhook-secret-file")
	c.String(&f.webhookSecretFile, "webhook-secret-file", "IMAGEQUOTA_WEBHOOK_SECRET_FILE", "", "file holding the secret that signs webhook deliveries (required with --webhook-url)")
	c.Duration(&f.metricsTTL, "metrics-cache-ttl", "IMAGEQUOTA_METRICS_CACHE_TTL", usagemetrics.DefaultTTL,
		"how long the quota figures on /metrics, read from the store, are served before a scrape reads them again (0: at every scrape)")
	c.Bool(&f.metricsPerAccount, "metrics-per-account", "IMAGEQUOTA_METRICS_PER_ACCOUNT", false,
		"also serve imagequota_account_quota{account,location,type=used|hard} on /metrics, for the accounts closest to their limits")
	c.Int(&f.metricsMaxAccounts, "metrics-max-accounts", "IMAGEQUOTA_METRICS_MAX_ACCOUNTS", usagemetrics.DefaultMaxAccounts,
		"the most accounts --metrics-per-account serves (those closest to their limits); how many are left out is imagequota_account_quota_omitted_accounts")
	c.Bool(&f.console, "console", "IMAGEQUOTA_CONSOLE", true, "serve the operator console (sign in with an operator access key) under /console/ of --addr; --console=false turns it off")
	var pprofAddr string
	c.String(&pprofAddr, "pprof-addr", "IMAGEQUOTA_PPROF_ADDR", "", "serve Go's profiler (/debug/pprof/) on this address, e.g. 127.0.0.1:6060 (off when empty; never expose it)")
	pos, err := c.Parse(args)
	if err != nil {
		return err
	}
	if len(pos) > 0 {
		c.Problem("unexpected arguments: %s", strings.Join(pos, " "))
	}
	sf.check(c)
	checkAddr(c, "--addr", f.addr)
	if pprofAddr != "" {
		checkAddr(c, "--pprof-addr", pprofAddr)
	}
	if f.defaultMax < 0 || f.defaultMax > quota.MaxLimit {
		c.Problem("--default-max-count must be 0-%d; it is %d", quota.MaxLimit, f.defaultMax)
	}
	if f.buildTime < 0 {
		c.Problem("--image-build-time must not be negative")
	}
	if f.rateLimit < 0 || f.rateBurst < 0 {
		c.Problem("--rate-limit and --rate-burst must not be negative")
	}
	if f.readTimeout <= 0 || f.idleTimeout <= 0 {
		c.Problem("--read-timeout and --idle-timeout must be positive")
	}
	if f.requestTimeout <= 0 {
		c.Problem("--request-timeout must be positive")
	}
	if (f.tlsCert == "") != (f.tlsKey == "") {
		c.Problem("--tls-cert and --tls-key go together")
	}
	var level slog.Level
	if err := level.UnmarshalText([]byte(f.logLevel)); err != nil {
		c.Problem("--log-level %q is not debug, info, warn or error", f.logLevel)
	}
	var tlsConfig *tls.Config
	if f.tlsCert != "" && f.tlsKey != "" {
		cert, err := tls.LoadX509KeyPair(f.tlsCert, f.tlsKey)
		if err != nil {
			c.Problem("--tls-cert and --tls-key: %v", err)
		}
		tlsConfig = &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}
	}
	if f.metricsTTL < 0 {
		c.Problem("--metrics-cache-ttl must not be negative")
	}
	if f.metricsMaxAccounts < 1 {
		c.Problem("--metrics-max-accounts must be at least 1; it is %d", f.metricsMaxAccounts)
	}
	if f.autoApproveUpTo < 0 || f.autoApproveUpTo > quota.MaxLimit {
		c.Problem("--auto-approve-up-to must be 0-%d; it is %d", quota.MaxLimit, f.autoApproveUpTo)
	}
	hook := f.webhook(c)
	cat := sf.loadCatalog(c)
	if err := c.Err(); err != nil {
		return err
	}
	// The default limit lives in the store: only a value the operator gave
	// is recorded there, never the flag's default over an admin's choice.
	var defaultMax *int
	if c.given("default-max-count", "IMAGEQUOTA_DEFAULT_MAX_COUNT") {
		defaultMax = &f.defaultMax
	}

	// Listen before the store is opened or created: an address that cannot
	// be had stops the start with nothing made.
	ln, err := net.Listen("tcp", f.addr)
	if err != nil {
		return fmt.Errorf("--addr: %w", err)
	}
	defer ln.Close()
	var pln net.Listener
	if pprofAddr != "" {
		if pln, err = net.Listen("tcp", pprofAddr); err != nil {
			return fmt.Errorf("--pprof-addr: %w", err)
		}
		defer pln.Close()
	}

	// The log is buffered and written out every 100 ms rather than one
	// write per request line.
	logOut := logbuf.New(stderr, logbuf.DefaultInterval)
	defer logOut.Close()
	logger := slog.New(slog.NewJSONHandler(logOut, &slog.HandlerOptions{Level: level}))
	gogc, restoreGC := gctune.ForServer(env)
	defer restoreGC()

	sf.notices = stdout
	sc, err := sf.storeConfig(sf.isDefault(), sf.masterKey(true, app.ServeActor))
	if err != nil {
		return err
	}
	srv, err := app.New(ctx, app.Config{
		Store: sc, Catalog: cat, DefaultMax: defaultMax, BuildTime: f.buildTime,
		Logger: logger, RequestTimeout: f.requestTimeout, RateLimit: f.rateLimit, RateBurst: f.rateBurst,
		Timeouts: zcapi.Timeouts{Read: f.readTimeout, Idle: f.idleTimeout}, TLS: tlsConfig,
		AuditRetention: f.auditRetention,
		AutoApprove:    quota.AutoApproval{UpTo: f.autoApproveUpTo}, Webhook: hook,
		Metrics: f.metricsOptions(),
		Console: f.console,
	})
	if err != nil {
		return sf.explain(err)
	}
	defer srv.Close()

	if pln != nil {
		// Where goroutines wait (mutexes, channels, selects), for
		// /debug/pprof/mutex and /debug/pprof/block: sampled, and only
		// while the profiler is served.
		runtime.SetMutexProfileFraction(100)
		runtime.SetBlockProfileRate(int(100 * time.Microsecond))
		mux := http.NewServeMux()
		mux.HandleFunc("/debug/pprof/", httppprof.Index)
		mux.HandleFunc("/debug/pprof/cmdline", httppprof.Cmdline)
		mux.HandleFunc("/debug/pprof/profile", httppprof.Profile)
		mux.HandleFunc("/debug/pprof/symbol", httppprof.Symbol)
		mux.HandleFunc("/debug/pprof/trace", httppprof.Trace)
		psrv := &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second}
		go func() { _ = psrv.Serve(pln) }()
		defer psrv.Close()
		logger.Info("profiler listening", "url", "http://"+pln.Addr().String()+"/debug/pprof/")
	}
	url := srv.URL(ln)
	logger.Info("listening", "url", url, "engine", srv.DB.Engine(), "store", sc.URL.Redacted(), "locations", len(cat.Enabled()), "gogc", gogc,
		"auditRetention", f.auditRetention.String())
	fmt.Fprintf(stdout, "imagequota %s listening on %s (store: %s)\n", version, url, sc.URL.Redacted())
	if f.console {
		fmt.Fprintf(stdout, "Operator console: %s/console/ (sign in with an operator access key)\n", url)
	}
	if hook != nil {
		logger.Info("delivering events to the webhook", "webhook_url", redactedURL(hook.URL))
	}
	ep := endpointOf(ln.Addr(), tlsConfig != nil)
	if f.demo {
		if err := printDemo(ctx, srv.DB, cat, ep, stdout); err != nil {
			return err
		}
	} else {
		fmt.Fprintf(stdout, "Create credentials with: imagequota admin account create --name NAME, then imagequota admin key create --account ID\n")
		fmt.Fprint(stdout, clientHints(ep, "ZENLAYER_ACCESS_KEY_ID=… ZENLAYER_ACCESS_KEY_SECRET=…", "imagequota"))
	}

	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	logger.Info("shutting down: finishing in-flight requests")
	sctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := srv.Shutdown(sctx); err != nil {
		return fmt.Errorf("shutdown: %w", err)
	}
	if err := <-errc; err != nil && !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	logger.Info("stopped")
	return nil
}

// metricsOptions are the --metrics-* flags as the server takes them.
func (f *serveFlags) metricsOptions() usagemetrics.Options {
	ttl := f.metricsTTL
	if ttl == 0 {
		ttl = -1 // at every scrape
	}
	return usagemetrics.Options{TTL: ttl, PerAccount: f.metricsPerAccount, MaxAccounts: f.metricsMaxAccounts}
}

// checkAddr records a problem in c when addr is not a host:port to listen on.
func checkAddr(c *config, name, addr string) {
	_, port, err := net.SplitHostPort(addr)
	if err == nil {
		if _, perr := net.LookupPort("tcp", port); perr != nil {
			err = fmt.Errorf("port %q is neither a number from 0 to 65535 nor a service name", port)
		}
	}
	if err != nil {
		c.Problem("%s %q is not a host:port to listen on, like 127.0.0.1:8080 or :8080 (%v)", name, addr, err)
	}
}

// endpoint is where clients reach the server, in the forms they want it.
type endpoint struct {
	// hostPort is the address to connect to: the listener's, with a
	// loopback address in place of an unspecified one (0.0.0.0, ::).
	hostPort string
	tls      bool
}

func endpointOf(addr net.Addr, tls bool) endpoint {
	hostPort := addr.String()
	if ta, ok := addr.(*net.TCPAddr); ok && ta.IP.IsUnspecified() {
		hostPort = net.JoinHostPort("127.0.0.1", strconv.Itoa(ta.Port))
	}
	return endpoint{hostPort: hostPort, tls: tls}
}

// url is the endpoint as imagequota call (and the Python and Java SDKs) take it.
func (e endpoint) url() string {
	if e.tls {
		return "https://" + e.hostPort
	}
	return "http://" + e.hostPort
}

func (e endpoint) scheme() string {
	if e.tls {
		return "https"
	}
	return "http"
}

// clientHints says how each client is pointed at the server, with creds
// (the credential variables) and self (how to run imagequota): imagequota
// call takes the URL; the Go SDK a scheme and a domain; the zeno CLI a bare
// host:port, which it always reaches over HTTPS.
func clientHints(e endpoint, creds, self string) string {
	var b strings.Builder
	fmt.Fprintf(&b, "Call it with: ZENLAYER_ENDPOINT=%s %s %s call DescribeImageQuota\n", e.url(), creds, self)
	fmt.Fprintf(&b, "Go SDK: config := common.NewConfig(); config.Scheme = %q; config.Domain = %q\n", e.scheme(), e.hostPort)
	if e.tls {
		fmt.Fprintf(&b, "zeno CLI: ZENLAYER_ENDPOINT=%s %s zeno vm describe-image-quota (zeno must trust the certificate)\n", e.hostPort, creds)
	} else {
		fmt.Fprintf(&b, "zeno CLI: it speaks only HTTPS; serve with --tls-cert and --tls-key, then give it ZENLAYER_ENDPOINT=%s (host:port, no scheme)\n", e.hostPort)
	}
	return b.String()
}

// webhook is the delivery the flags ask for (nil for none), recording a
// problem in c when they are wrong.
func (f *serveFlags) webhook(c *config) *webhook.Config {
	if f.webhookURL == "" {
		if f.webhookSecretFile != "" {
			c.Problem("--webhook-secret-file is for --webhook-url, which is not set")
		}
		return nil
	}
	if u, err := url.Parse(f.webhookURL); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		c.Problem("--webhook-url %q is not an http:// or https:// URL", f.webhookURL)
	}
	if f.webhookSecretFile == "" {
		c.Problem("--webhook-url needs --webhook-secret-file: deliveries are always signed")
		return nil
	}
	b, err := os.ReadFile(f.webhookSecretFile)
	if err != nil {
		c.Problem("--webhook-secret-file: %v", err)
		return nil
	}
	secret := bytes.TrimSpace(b)
	if len(secret) == 0 {
		c.Problem("--webhook-secret-file %s is empty", f.webhookSecretFile)
	}
	return &webhook.Config{URL: f.webhookURL, Secret: secret}
}

// redactedURL is u without a password it may hold.
func redactedURL(u string) string {
	p, err := url.Parse(u)
	if err != nil {
		return ""
	}
	return p.Redacted()
}

// printDemo creates the demo account when the store has none and prints how to call.
func printDemo(ctx context.Context, db *store.DB, cat *quota.Catalog, ep endpoint, stdout io.Writer) error {
	accts, err := db.ListAccounts(ctx)
	if err != nil {
		return err
	}
	if len(accts) > 0 {
		fmt.Fprintf(stdout, "The store already has accounts; no demo account was created. List them with: imagequota admin account list\n")
		return nil
	}
	acct, err := db.CreateAccount(ctx, "demo")
	if err != nil {
		return err
	}
	key, err := db.CreateAccessKey(ctx, acct.ID)
	if err != nil {
		return err
	}
	locs := cat.Enabled()
	var ids []string
	for i := 0; i < 2 && i < len(locs); i++ {
		inst, err := db.CreateInstance(ctx, quota.Instance{AccountID: acct.ID, LocationID: locs[i].ID, DiskGB: 40,
			OSCategory: "Ubuntu", OSType: "linux", OSVersion: "22.04"})
		if err != nil {
			return err
		}
		ids = append(ids, inst.ID+" ("+locs[i].ID+")")
	}
	self := "imagequota"
	if exe, err := os.Executable(); err == nil && strings.Contains(exe, "go-build") {
		self = "go run ./cmd/imagequota"
	}
	creds := fmt.Sprintf("ZENLAYER_ACCESS_KEY_ID=%s ZENLAYER_ACCESS_KEY_SECRET=%s", key.ID, key.Secret)
	envs := "ZENLAYER_ENDPOINT=" + ep.url() + " " + creds
	fmt.Fprintf(stdout, "\nDemo account %s with access key %s and instances %s.\n", acct.ID, key.ID, strings.Join(ids, ", "))
	fmt.Fprintf(stdout, "Try it, from another shell:\n\n")
	fmt.Fprintf(stdout, "  %s %s call DescribeImageQuota\n", envs, self)
	if len(ids) > 0 {
		first, _, _ := strings.Cut(ids[0], " ")
		fmt.Fprintf(stdout, "  %s %s call CreateImage --body '{\"instanceId\":\"%s\",\"imageName\":\"my-image\"}'\n", envs, self, first)
	}
	fmt.Fprintf(stdout, "\nOther clients:\n\n")
	hints := strings.SplitAfter(clientHints(ep, creds, self), "\n")
	for _, h := range hints[1:] { // the first is the call above
		if h != "" {
			fmt.Fprint(stdout, "  "+h)
		}
	}
	fmt.Fprintln(stdout)
	return nil
}
