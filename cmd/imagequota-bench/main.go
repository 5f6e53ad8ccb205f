// Command imagequota-bench measures an imagequota server: it drives it with
// correctly signed requests at a fixed concurrency for a fixed time, prints
// throughput, latency percentiles and errors by code, and sets them against a
// baseline — a bare net/http server that answers the same bytes, in this
// process or in a child process of its own — measured with the same client.
// It also bulk-seeds stores.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"runtime"
	"slices"
	"strings"
	"syscall"
	"time"

	"github.com/imagequota/imagequota/internal/gctune"
	"github.com/imagequota/imagequota/internal/usagemetrics"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, os.Args[1:], os.Environ(), os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

const usage = `imagequota-bench measures imagequota against a bare net/http baseline.

Usage:
  imagequota-bench [flags]               run benchmark scenarios (default: all)
  imagequota-bench seed [flags]          bulk-load a store (see "imagequota-bench seed --help")

Scenarios (--scenario a|b|c|d|e|all, or a comma-separated list):
  a  DescribeImageQuota for all 21 locations, signed, spread over --accounts accounts
     with --images-per-account images each
  b  the same with bearer tokens
  c  CreateImage then DeleteImages pairs over --accounts accounts (one instance each,
     image build time 0); pairs/s and per-operation latency
  d  a's load against a store of --big-images images over --big-accounts accounts,
     compared with an empty store of --accounts accounts
  e  a and c on PostgreSQL (--db postgres://… or IMAGEQUOTA_TEST_POSTGRES); each run
     creates and drops its own database; with --replicas N, on N servers sharing it,
     the load split evenly between them

Each scenario starts a server in this process on a fresh store (a SQLite file in a
temporary directory, or a new database on the --db PostgreSQL server), unless
--endpoint names an external server and --key-file its credentials (a, b and c only).
The baseline runs where the server does: in this process, or with --endpoint in a
child process of its own (--baseline chooses).

Flags:
`

// errUsage is returned after a usage problem was already printed.
var errUsage = errors.New("usage")

func run(ctx context.Context, args, environ []string, stdout, stderr io.Writer) int {
	env := map[string]string{}
	for _, kv := range environ {
		if k, v, ok := strings.Cut(kv, "="); ok {
			env[k] = v
		}
	}
	var err error
	switch {
	case len(args) > 0 && args[0] == "seed":
		err = runSeed(ctx, args[1:], env, stdout, stderr)
	case len(args) > 0 && args[0] == baselineCommand:
		err = runBaselineServer(args[1:], env, os.Stdin, stdout, stderr)
	default:
		err = runBench(ctx, args, env, stdout, stderr)
	}
	switch {
	case err == nil, errors.Is(err, flag.ErrHelp):
		return 0
	case errors.Is(err, errUsage):
		return 2
	default:
		fmt.Fprintln(stderr, "imagequota-bench:", err)
		return 1
	}
}

// allScenarios are the scenarios "all" runs, in order.
var allScenarios = []string{"a", "b", "c", "d", "e"}

func runBench(ctx context.Context, args []string, env map[string]string, stdout, stderr io.Writer) error {
	// The in-process servers run with serve's GC target (the baseline shares it).
	gogc, restoreGC := gctune.ForServer(env)
	defer restoreGC()
	fs := flag.NewFlagSet("imagequota-bench", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() { fmt.Fprint(stderr, usage); fs.PrintDefaults() }
	cfg := benchConfig{}
	scenarios := fs.String("scenario", "all", "scenarios to run: a, b, c, d, e, a comma-separated list, or all")
	fs.IntVar(&cfg.Concurrency, "concurrency", 64, "concurrent clients (each with its own keep-alive connection)")
	fs.DurationVar(&cfg.Duration, "duration", 10*time.Second, "measured time of each run")
	fs.DurationVar(&cfg.Warmup, "warmup", 2*time.Second, "unmeasured time before each run")
	fs.StringVar(&cfg.PGServer, "db", "", "PostgreSQL server URL: scenarios a-e create and drop their own databases there (default: SQLite files)")
	fs.StringVar(&cfg.Endpoint, "endpoint", "", "drive this external server instead of in-process ones (with --key-file)")
	keyFile := fs.String("key-file", "", "credentials for --endpoint: lines of key=ID secret=SECRET [token=T] [instance=ID] (\"seed --key-file\" writes them)")
	fs.IntVar(&cfg.Accounts, "accounts", 1000, "accounts the load is spread over (a, b, c, d's empty store)")
	fs.IntVar(&cfg.ImagesPerAccount, "images-per-account", 3, "images of each account in a and b")
	fs.IntVar(&cfg.BigAccounts, "big-accounts", 100_000, "accounts of d's full store")
	fs.IntVar(&cfg.BigImages, "big-images", 1_000_000, "images of d's full store")
	fs.StringVar(&cfg.CPUProfile, "cpuprofile", "", "write CPU profiles of the measured runs of a and c to FILE-a.EXT and FILE-c.EXT")
	fs.StringVar(&cfg.TempDir, "temp-dir", "", "directory for the SQLite stores (default: the system's temporary directory)")
	fs.DurationVar(&cfg.Scrape, "scrape", 0, "also measure a and c with the server's /metrics scraped at this interval (e.g. 1s), against the same load without, A B A B (0: off)")
	fs.DurationVar(&cfg.MetricsTTL, "metrics-cache-ttl", usagemetrics.DefaultTTL, "the in-process servers' --metrics-cache-ttl: how long the store figures on /metrics are served before a scrape computes them again (0: at every scrape)")
	fs.IntVar(&cfg.Replicas, "replicas", 1, "servers scenario e runs on its one database, the load split evenly between them")
	markdown := fs.Bool("markdown", false, "also print the summary as a Markdown table")
	baselineWhere := fs.String("baseline", "", "where the baseline runs: in-process, or process (a child process of its own); default process with --endpoint, in-process otherwise")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return err
		}
		return errUsage
	}
	var problems []string
	if fs.NArg() > 0 {
		problems = append(problems, "unexpected arguments: "+strings.Join(fs.Args(), " "))
	}
	for _, s := range strings.Split(*scenarios, ",") {
		s = strings.TrimSpace(s)
		switch {
		case s == "all":
			cfg.Scenarios = append(cfg.Scenarios, allScenarios...)
		case slices.Contains(allScenarios, s):
			cfg.Scenarios = append(cfg.Scenarios, s)
		default:
			problems = append(problems, fmt.Sprintf("--scenario: %q is not a, b, c, d, e or all", s))
		}
	}
	switch *baselineWhere {
	case "":
		cfg.BaselineProcess = cfg.Endpoint != ""
	case "in-process", "process":
		cfg.BaselineProcess = *baselineWhere == "process"
	default:
		problems = append(problems, fmt.Sprintf("--baseline: %q is not in-process or process", *baselineWhere))
	}
	if cfg.Scrape < 0 || cfg.MetricsTTL < 0 {
		problems = append(problems, "--scrape and --metrics-cache-ttl must not be negative")
	}
	if cfg.Replicas < 1 {
		problems = append(problems, "--replicas must be at least 1")
	}
	if cfg.Concurrency < 1 {
		problems = append(problems, "--concurrency must be at least 1")
	}
	if cfg.Duration <= 0 || cfg.Warmup < 0 {
		problems = append(problems, "--duration must be positive and --warmup not negative")
	}
	if cfg.Accounts < 1 || cfg.BigAccounts < 1 || cfg.ImagesPerAccount < 0 || cfg.BigImages < 0 {
		problems = append(problems, "--accounts and --big-accounts must be at least 1, image counts not negative")
	}
	if cfg.PGServer != "" && !isPostgres(cfg.PGServer) {
		problems = append(problems, "--db must be a postgres:// URL (SQLite stores are made in --temp-dir)")
	}
	if (cfg.Endpoint == "") != (*keyFile == "") {
		problems = append(problems, "--endpoint and --key-file go together")
	}
	if *keyFile != "" {
		creds, err := readKeyFile(*keyFile)
		if err != nil {
			problems = append(problems, "--key-file: "+err.Error())
		}
		cfg.Creds = creds
	}
	if len(problems) > 0 {
		return fmt.Errorf("configuration:\n  %s", strings.Join(problems, "\n  "))
	}
	cfg.PGForE = cfg.PGServer
	if cfg.PGForE == "" {
		cfg.PGForE = env["IMAGEQUOTA_TEST_POSTGRES"]
	}
	where := "in this process"
	if cfg.BaselineProcess {
		where = "in a process of its own"
	}
	fmt.Fprintf(stdout, "imagequota-bench: %d CPUs (%s), GOMAXPROCS %d, GOGC %s, concurrency %d, warmup %s, duration %s, baseline %s\n",
		runtime.NumCPU(), cpuModel(), runtime.GOMAXPROCS(0), gogc, cfg.Concurrency, cfg.Warmup, cfg.Duration, where)
	reports, err := newBench(cfg, stdout).run(ctx)
	if len(reports) > 0 {
		printSummary(stdout, reports, cfg.Concurrency, cfg.Duration, where)
		if *markdown {
			fmt.Fprintln(stdout)
			printMarkdown(stdout, reports)
		}
	}
	return err
}

// cpuModel is the processor's model name, from /proc/cpuinfo where there is one.
func cpuModel() string {
	b, err := os.ReadFile("/proc/cpuinfo")
	if err != nil {
		return runtime.GOARCH
	}
	for _, l := range strings.Split(string(b), "\n") {
		if k, v, ok := strings.Cut(l, ":"); ok && strings.TrimSpace(k) == "model name" {
			return strings.TrimSpace(v)
		}
	}
	return runtime.GOARCH
}
