package main

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	httppprof "net/http/pprof"
	"os"
	"strings"
	"time"

	"imagequota/internal/app"
	"imagequota/internal/gctune"
	"imagequota/internal/logbuf"
	"imagequota/internal/quota"
	"imagequota/internal/store"
	"imagequota/internal/zcapi"
)

const serveUsage = `imagequota serve: run the API server.

Usage: imagequota serve [--addr 127.0.0.1:8080] [--data-dir DIR | --db URL] [--demo] [flags]

The API is served on POST /api/v2/vm (and POST /), with /healthz, /readyz and
/metrics on the same listener. SIGINT or SIGTERM stops it after the requests in
flight have been answered.

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
	rateBurst                       int
	demo                            bool
}

func runServe(ctx context.Context, args []string, env map[string]string, stdout, stderr io.Writer) error {
	c := newConfig("serve", serveUsage, env, stdout, stderr)
	sf := addStoreFlags(c)
	f := serveFlags{}
	c.String(&f.addr, "addr", "IMAGEQUOTA_ADDR", "127.0.0.1:8080", "address to listen on (host:port; port 0 picks one)")
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
	var pprofAddr string
	c.String(&pprofAddr, "pprof-addr", "IMAGEQUOTA_PPROF_ADDR", "", "serve Go's profiler (/debug/pprof/) on this address, e.g. 127.0.0.1:6060 (off when empty; never expose it)")
	pos, err := c.Parse(args)
	if err != nil {
		return err
	}
	if len(pos) > 0 {
		c.Problem("unexpected arguments: %s", strings.Join(pos, " "))
	}
	if sf.defaultMax < 0 || sf.defaultMax > quota.MaxLimit {
		c.Problem("--default-max-count must be 0-%d; it is %d", quota.MaxLimit, sf.defaultMax)
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
	cat := sf.loadCatalog(c)
	if err := c.Err(); err != nil {
		return err
	}
	// The log is buffered and written out every 100 ms rather than one
	// write per request line.
	logOut := logbuf.New(stderr, logbuf.DefaultInterval)
	defer logOut.Close()
	logger := slog.New(slog.NewJSONHandler(logOut, &slog.HandlerOptions{Level: level}))
	gogc, restoreGC := gctune.ForServer(env)
	defer restoreGC()

	sf.notices = stdout
	sc, err := sf.storeConfig()
	if err != nil {
		return err
	}
	srv, err := app.New(ctx, app.Config{
		Store: sc, Catalog: cat, DefaultMax: sf.defaultMax, BuildTime: f.buildTime,
		Logger: logger, RequestTimeout: f.requestTimeout, RateLimit: f.rateLimit, RateBurst: f.rateBurst,
		Timeouts: zcapi.Timeouts{Read: f.readTimeout, Idle: f.idleTimeout}, TLS: tlsConfig,
	})
	if err != nil {
		return err
	}
	defer srv.Close()

	if pprofAddr != "" {
		pln, err := net.Listen("tcp", pprofAddr)
		if err != nil {
			return fmt.Errorf("--pprof-addr: %w", err)
		}
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
	ln, err := net.Listen("tcp", f.addr)
	if err != nil {
		return err
	}
	url := srv.URL(ln)
	logger.Info("listening", "url", url, "engine", srv.DB.Engine(), "store", sc.URL.Redacted(), "locations", len(cat.Enabled()), "gogc", gogc)
	fmt.Fprintf(stdout, "imagequota %s listening on %s (store: %s)\n", version, url, sc.URL.Redacted())
	if f.demo {
		if err := printDemo(ctx, srv.DB, cat, url, stdout); err != nil {
			ln.Close()
			return err
		}
	} else {
		fmt.Fprintf(stdout, "Create credentials with: imagequota admin account create --name NAME, then imagequota admin key create --account ID\n")
		fmt.Fprintf(stdout, "Call it with: ZENLAYER_ENDPOINT=%s ZENLAYER_ACCESS_KEY_ID=… ZENLAYER_ACCESS_KEY_SECRET=… imagequota call DescribeImageQuota\n", url)
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

// printDemo creates the demo account when the store has none and prints how to call.
func printDemo(ctx context.Context, db *store.DB, cat *quota.Catalog, url string, stdout io.Writer) error {
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
	envs := fmt.Sprintf("ZENLAYER_ENDPOINT=%s ZENLAYER_ACCESS_KEY_ID=%s ZENLAYER_ACCESS_KEY_SECRET=%s", url, key.ID, key.Secret)
	fmt.Fprintf(stdout, "\nDemo account %s with access key %s and instances %s.\n", acct.ID, key.ID, strings.Join(ids, ", "))
	fmt.Fprintf(stdout, "Try it, from another shell:\n\n")
	fmt.Fprintf(stdout, "  %s %s call DescribeImageQuota\n", envs, self)
	if len(ids) > 0 {
		first, _, _ := strings.Cut(ids[0], " ")
		fmt.Fprintf(stdout, "  %s %s call CreateImage --body '{\"instanceId\":\"%s\",\"imageName\":\"my-image\"}'\n", envs, self, first)
	}
	fmt.Fprintln(stdout)
	return nil
}
