package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/imagequota/imagequota/internal/quota"
	"github.com/imagequota/imagequota/internal/store/seed"
)

const postgresEnv = "IMAGEQUOTA_TEST_POSTGRES"

// TestMain lets this test binary be the baseline process that
// startBaselineProcess starts (it runs os.Executable again).
func TestMain(m *testing.M) {
	if len(os.Args) > 1 && os.Args[1] == baselineCommand {
		os.Exit(run(context.Background(), os.Args[1:], os.Environ(), os.Stdout, os.Stderr))
	}
	os.Exit(m.Run())
}

// TestBaselineProcess starts the baseline in a child process, checks its
// answers, and that it is gone once closed.
func TestBaselineProcess(t *testing.T) {
	t.Parallel()
	answers := map[string][]byte{"DescribeImageQuota": []byte(`{"requestId":"x","response":{"images":[]}}`)}
	bl, err := startBaselineProcess(answers)
	if err != nil {
		t.Fatal(err)
	}
	post := func(action string) (int, string, error) {
		req, err := http.NewRequest(http.MethodPost, bl.URL, strings.NewReader("{}"))
		if err != nil {
			return 0, "", err
		}
		req.Header.Set("X-ZC-Action", action)
		req.Close = true
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			return 0, "", err
		}
		defer resp.Body.Close()
		body, err := io.ReadAll(resp.Body)
		return resp.StatusCode, string(body), err
	}
	code, body, err := post("DescribeImageQuota")
	if err != nil || code != http.StatusOK || body != string(answers["DescribeImageQuota"]) {
		t.Errorf("DescribeImageQuota: %d %q %v", code, body, err)
	}
	if code, _, err := post("CreateImage"); err != nil || code != http.StatusNotFound {
		t.Errorf("an action without an answer: %d %v, want 404", code, err)
	}
	if err := bl.Close(); err != nil {
		t.Fatal(err)
	}
	if _, _, err := post("DescribeImageQuota"); err == nil {
		t.Error("the baseline process still answers after Close")
	}
}

// setup returns a configuration that runs every scenario briefly with few accounts.
func setup(t *testing.T) benchConfig {
	t.Helper()
	return benchConfig{
		Concurrency:      4,
		Duration:         700 * time.Millisecond,
		Warmup:           100 * time.Millisecond,
		Accounts:         20,
		ImagesPerAccount: 3,
		BigAccounts:      200,
		BigImages:        2000,
		TempDir:          t.TempDir(),
		PGForE:           os.Getenv(postgresEnv),
	}
}

// checkRun fails unless the run answered requests of op and nothing failed.
func checkRun(t *testing.T, what string, run Run, op string) {
	t.Helper()
	o := run[op]
	if o == nil || o.OK == 0 {
		t.Errorf("%s: no successful %s", what, op)
		return
	}
	if n := o.ErrorCount(); n != 0 {
		t.Errorf("%s: %d failed %s: %v", what, n, op, o.Errors)
	}
	if int64(len(o.Lat)) != o.OK+o.ErrorCount() || o.Percentile(.5) <= 0 || o.Percentile(.99) > o.Max() {
		t.Errorf("%s: %d latencies for %d requests, p50 %s, p99 %s, max %s", what, len(o.Lat), o.OK, o.Percentile(.5), o.Percentile(.99), o.Max())
	}
}

func TestScenarios(t *testing.T) {
	t.Parallel()
	tests := []struct {
		scenario string
		profile  bool
		// ids are the reports the scenario produces.
		ids []string
	}{
		{scenario: "a", profile: true, ids: []string{"a"}},
		{scenario: "b", ids: []string{"b"}},
		{scenario: "c", ids: []string{"c"}},
		{scenario: "d", ids: []string{"d"}},
		{scenario: "e", ids: []string{"e/a", "e/c"}},
	}
	for _, tt := range tests {
		t.Run(tt.scenario, func(t *testing.T) {
			t.Parallel()
			cfg := setup(t)
			if tt.scenario == "e" && cfg.PGForE == "" {
				t.Skip("scenario e needs " + postgresEnv)
			}
			cfg.Scenarios = []string{tt.scenario}
			if tt.profile {
				cfg.CPUProfile = filepath.Join(t.TempDir(), "cpu.pprof")
			}
			var out bytes.Buffer
			reports, err := newBench(cfg, &out).run(context.Background())
			if err != nil {
				t.Fatalf("run: %v\n%s", err, out.String())
			}
			if len(reports) != len(tt.ids) {
				t.Fatalf("%d reports, want %d\n%s", len(reports), len(tt.ids), out.String())
			}
			for i, r := range reports {
				if r.ID != tt.ids[i] || r.Skipped != "" {
					t.Errorf("report %d: id %q (skipped %q), want %q", i, r.ID, r.Skipped, tt.ids[i])
					continue
				}
				checkRun(t, r.ID+" imagequota", r.Ours, r.Op)
				checkRun(t, r.ID+" baseline", r.Base, r.Op)
				if r.Op == "pair" {
					checkRun(t, r.ID+" imagequota", r.Ours, "CreateImage")
					checkRun(t, r.ID+" imagequota", r.Ours, "DeleteImages")
					notes := strings.Join(r.Notes, "; ")
					if !strings.Contains(notes, "µs/pair") || !strings.Contains(notes, "writes/commit") ||
						strings.Contains(notes, "written/pair") != (r.Engine == "sqlite") {
						t.Errorf("%s notes %q: want the process CPU per pair, writes per commit, and bytes written only on SQLite", r.ID, notes)
					}
				}
				if tt.scenario == "d" {
					if r.Empty == nil {
						t.Fatalf("d: no empty-store run")
					}
					checkRun(t, "d empty store", r.Empty.Ours, r.Op)
				}
				if r.unexpectedErrors() != 0 {
					t.Errorf("%s: %d errors", r.ID, r.unexpectedErrors())
				}
			}
			if !strings.Contains(out.String(), "throughput ratio") {
				t.Errorf("output has no ratios:\n%s", out.String())
			}
			if tt.profile {
				st, err := os.Stat(strings.TrimSuffix(cfg.CPUProfile, ".pprof") + "-a.pprof")
				if err != nil || st.Size() == 0 {
					t.Errorf("CPU profile of a: %v", err)
				}
			}
		})
	}
}

// TestScrape: with --scrape, a and c are also measured with /metrics
// scraped throughout, and the figures are set against the same load
// without scraping.
func TestScrape(t *testing.T) {
	t.Parallel()
	for _, scenario := range []string{"a", "c"} {
		t.Run(scenario, func(t *testing.T) {
			t.Parallel()
			cfg := setup(t)
			cfg.Scenarios = []string{scenario}
			cfg.Scrape, cfg.MetricsTTL = 100*time.Millisecond, 0
			var out bytes.Buffer
			reports, err := newBench(cfg, &out).run(context.Background())
			if err != nil || len(reports) != 1 {
				t.Fatalf("run: %d reports, %v\n%s", len(reports), err, out.String())
			}
			r := reports[0]
			if r.Scraped == nil {
				t.Fatalf("%s: no scraped run\n%s", r.ID, out.String())
			}
			checkRun(t, r.ID+" imagequota", r.Ours, r.Op)
			checkRun(t, r.ID+" scraped", r.Scraped.Run, r.Op)
			if r.unexpectedErrors() != 0 {
				t.Errorf("%s: %d errors", r.ID, r.unexpectedErrors())
			}
			if !strings.Contains(r.Scraped.Note, "scrapes every 100ms") || !strings.Contains(out.String(), "scraped/unscraped: throughput ratio") {
				t.Errorf("%s: scrape note %q; output:\n%s", r.ID, r.Scraped.Note, out.String())
			}
		})
	}
}

// checkSeeded opens the store at url and checks what Seed made there against
// the result: every account with one key (and token), instances in the
// locations of its images, images spread evenly and never more than the
// default limit per location.
func checkSeeded(t *testing.T, url string, o seed.Options, res seed.Result) {
	t.Helper()
	ctx := context.Background()
	db, err := openStore(ctx, url)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	accts, err := db.ListAccounts(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(accts) != o.Accounts || res.Accounts != o.Accounts || len(res.Seeded) != o.Accounts || res.AccessKeys != o.Accounts {
		t.Fatalf("%d accounts in the store, result says %d accounts (%d seeded, %d keys); want %d",
			len(accts), res.Accounts, len(res.Seeded), res.AccessKeys, o.Accounts)
	}
	images, instances := 0, 0
	for i, a := range res.Seeded {
		want := o.Images / o.Accounts
		if i < o.Images%o.Accounts {
			want++
		}
		u, err := db.Usage(ctx, a.ID)
		if err != nil {
			t.Fatal(err)
		}
		n := 0
		for loc, c := range u.Counts {
			n += c
			if c > quota.DefaultMaxCount {
				t.Errorf("account %s: %d images in %s, more than %d", a.ID, c, loc, quota.DefaultMaxCount)
			}
		}
		if n != want {
			t.Errorf("account %s: %d images, want %d", a.ID, n, want)
		}
		if want >= 2 && len(u.Counts) < 2 {
			t.Errorf("account %s: %d images in %d location(s), want at least 2", a.ID, n, len(u.Counts))
		}
		ins, err := db.ListInstances(ctx, a.ID)
		if err != nil {
			t.Fatal(err)
		}
		locs := map[string]bool{}
		for _, in := range ins {
			locs[in.LocationID] = true
		}
		for loc := range u.Counts {
			if !locs[loc] {
				t.Errorf("account %s: images in %s but no instance there", a.ID, loc)
			}
		}
		if len(ins) == 0 || len(ins) != len(a.Instances) {
			t.Errorf("account %s: %d instances in the store, %d in the result", a.ID, len(ins), len(a.Instances))
		}
		cred, err := db.AccessKeyCredential(ctx, a.AccessKeyID)
		if err != nil || cred.AccountID != a.ID || cred.Secret != a.Secret {
			t.Errorf("account %s: key %s: %+v, %v", a.ID, a.AccessKeyID, cred, err)
		}
		if o.TokenTTL > 0 {
			cred, err := db.TokenCredential(ctx, a.Token)
			if err != nil || cred.AccountID != a.ID {
				t.Errorf("account %s: token: %+v, %v", a.ID, cred, err)
			}
		}
		images += n
		instances += len(ins)
	}
	if images != o.Images || res.Images != o.Images || res.Instances != instances {
		t.Errorf("%d images and %d instances in the store; result says %d and %d; want %d images",
			images, instances, res.Images, res.Instances, o.Images)
	}
}

func TestSeed(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name     string
		postgres bool
		opts     seed.Options
		wantErr  string
	}{
		{name: "ten per account", opts: seed.Options{Accounts: 12, Images: 120}},
		{name: "uneven", opts: seed.Options{Accounts: 7, Images: 23}},
		{name: "no images, tokens", opts: seed.Options{Accounts: 5, TokenTTL: time.Hour}},
		{name: "many per account", opts: seed.Options{Accounts: 3, Images: 50, BatchRows: 7, TxAccounts: 2}},
		{name: "more than the limit allows", opts: seed.Options{Accounts: 1, Images: 21*quota.DefaultMaxCount + 1}, wantErr: "more than 5 per location"},
		{name: "images without accounts", opts: seed.Options{Images: 3}, wantErr: "need at least one account"},
		{name: "postgres", postgres: true, opts: seed.Options{Accounts: 9, Images: 61, TokenTTL: time.Hour, BatchRows: 10}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			ctx := context.Background()
			url := "sqlite:" + filepath.Join(t.TempDir(), "imagequota.db")
			if tt.postgres {
				server := os.Getenv(postgresEnv)
				if server == "" {
					t.Skip("needs " + postgresEnv)
				}
				u, drop, err := freshStore(ctx, "", server)
				if err != nil {
					t.Fatal(err)
				}
				t.Cleanup(drop)
				url = u
			}
			db, err := openStore(ctx, url)
			if err != nil {
				t.Fatal(err)
			}
			res, err := seed.Seed(ctx, db, tt.opts)
			db.Close()
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("err = %v, want %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			checkSeeded(t, url, tt.opts, res)
		})
	}
}

// TestSeedProgress checks that Seed reports each committed transaction and
// that the command prints those reports except the last.
func TestSeedProgress(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	db, err := openStore(ctx, "sqlite:"+filepath.Join(t.TempDir(), "imagequota.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	var calls [][2]int
	var printed bytes.Buffer
	printer := seedProgress(&printed, time.Now(), 0)
	_, err = seed.Seed(ctx, db, seed.Options{Accounts: 7, Images: 14, TxAccounts: 3, Progress: func(done, total int) {
		calls = append(calls, [2]int{done, total})
		printer(done, total)
	}})
	if err != nil {
		t.Fatal(err)
	}
	if want := [][2]int{{3, 7}, {6, 7}, {7, 7}}; fmt.Sprint(calls) != fmt.Sprint(want) {
		t.Errorf("progress calls %v, want %v", calls, want)
	}
	lines := strings.Split(strings.TrimSpace(printed.String()), "\n")
	if len(lines) != 2 || !strings.HasPrefix(lines[0], "seeding: 3 of 7 accounts committed (43%) after ") ||
		!strings.HasPrefix(lines[1], "seeding: 6 of 7 accounts committed (86%) after ") {
		t.Errorf("printed progress:\n%s", printed.String())
	}
}

// TestSeedCommandAndEndpoint runs the seed command with a key file, then
// drives a running server through --endpoint with a key file of its accounts.
func TestSeedCommandAndEndpoint(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	dir := t.TempDir()
	keys := filepath.Join(dir, "keys.txt")
	var out, errOut bytes.Buffer
	code := run(ctx, []string{"seed", "--data-dir", dir, "--accounts", "30", "--images", "75", "--tokens", "--key-file", keys}, nil, &out, &errOut)
	if code != 0 {
		t.Fatalf("seed: exit %d: %s", code, errOut.String())
	}
	if !strings.Contains(out.String(), "30 accounts, 30 access keys, 30 tokens") || !strings.Contains(out.String(), "75 images") {
		t.Errorf("seed output: %s", out.String())
	}
	creds, err := readKeyFile(keys)
	if err != nil {
		t.Fatal(err)
	}
	if len(creds) != 30 {
		t.Fatalf("%d credentials in the key file, want 30", len(creds))
	}
	for _, c := range creds {
		if c.keyID == "" || c.secret == "" || c.token == "" || c.instance == "" {
			t.Fatalf("incomplete credential %+v", c)
		}
	}

	// A server as "imagequota serve --image-build-time 0" runs it, with seeded accounts.
	srv, err := startServer(ctx, t.TempDir(), "")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { srv.Close() })
	seeded, err := seed.Seed(ctx, srv.DB, seed.Options{Accounts: 10, Images: 20, TokenTTL: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	keys2 := filepath.Join(dir, "served.txt")
	if err := writeKeyFile(keys2, credentialsOf(seeded.Seeded)); err != nil {
		t.Fatal(err)
	}
	out.Reset()
	errOut.Reset()
	code = run(ctx, []string{"--endpoint", srv.URL, "--key-file", keys2, "--scenario", "a,b,c,d,e",
		"--concurrency", "3", "--duration", "500ms", "--warmup", "50ms"}, nil, &out, &errOut)
	if code != 0 {
		t.Fatalf("bench: exit %d: %s\n%s", code, errOut.String(), out.String())
	}
	for _, want := range []string{"a  ", "b  ", "c  ", "d", "skipped", "external"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("output lacks %q:\n%s", want, out.String())
		}
	}
	if strings.Contains(out.String(), " error ") {
		t.Errorf("requests failed:\n%s", out.String())
	}
}

func TestUsageErrors(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	bad := filepath.Join(dir, "bad.txt")
	if err := os.WriteFile(bad, []byte("key=AK1\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		args []string
		code int
		want string
	}{
		{"unknown scenario", []string{"--scenario", "x"}, 1, `"x" is not a, b, c, d, e or all`},
		{"endpoint without keys", []string{"--endpoint", "http://127.0.0.1:1"}, 1, "--endpoint and --key-file go together"},
		{"sqlite db", []string{"--db", "sqlite:/tmp/x.db"}, 1, "--db must be a postgres:// URL"},
		{"unknown baseline place", []string{"--baseline", "remote"}, 1, `--baseline: "remote" is not in-process or process`},
		{"bad key file", []string{"--endpoint", "http://127.0.0.1:1", "--key-file", bad}, 1, "key and secret go together"},
		{"zero concurrency", []string{"--concurrency", "0"}, 1, "--concurrency must be at least 1"},
		{"negative scrape", []string{"--scrape", "-1s"}, 1, "--scrape and --metrics-cache-ttl must not be negative"},
		{"unknown flag", []string{"--nope"}, 2, "flag provided but not defined"},
		{"seed without store", []string{"seed"}, 1, "--data-dir or --db is required"},
		{"help", []string{"--help"}, 0, "Scenarios"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			var out, errOut bytes.Buffer
			code := run(context.Background(), tt.args, nil, &out, &errOut)
			if code != tt.code || !strings.Contains(errOut.String(), tt.want) {
				t.Errorf("exit %d, stderr %q; want exit %d and %q", code, errOut.String(), tt.code, tt.want)
			}
		})
	}
}

func TestPick(t *testing.T) {
	t.Parallel()
	tests := []struct{ concurrency, accounts int }{{4, 10}, {4, 4}, {8, 3}, {64, 1000}, {3, 100}}
	for _, tt := range tests {
		owner := map[int]int{}
		for id := 0; id < tt.concurrency; id++ {
			w := &worker{id: id}
			for w.n = 0; w.n < 3*tt.accounts; w.n++ {
				a := pick(w, tt.concurrency, tt.accounts)
				if a < 0 || a >= tt.accounts {
					t.Fatalf("%+v: worker %d picked %d", tt, id, a)
				}
				if o, ok := owner[a]; ok && o != id && tt.accounts > tt.concurrency {
					t.Errorf("%+v: account %d used by workers %d and %d", tt, a, o, id)
				}
				owner[a] = id
			}
		}
		if len(owner) != tt.accounts {
			t.Errorf("%+v: %d accounts used, want all %d", tt, len(owner), tt.accounts)
		}
	}
}

func TestPercentile(t *testing.T) {
	t.Parallel()
	lat := make([]time.Duration, 100)
	for i := range lat {
		lat[i] = time.Duration(i+1) * time.Millisecond
	}
	o := &OpResult{OK: 100, Lat: lat, Elapsed: 2 * time.Second}
	tests := []struct {
		p    float64
		want time.Duration
	}{{0.5, 50 * time.Millisecond}, {0.9, 90 * time.Millisecond}, {0.99, 99 * time.Millisecond}, {1, 100 * time.Millisecond}, {0, time.Millisecond}}
	for _, tt := range tests {
		if got := o.Percentile(tt.p); got != tt.want {
			t.Errorf("p%v = %s, want %s", tt.p*100, got, tt.want)
		}
	}
	if o.Rate() != 50 || o.Max() != 100*time.Millisecond {
		t.Errorf("rate %v, max %s", o.Rate(), o.Max())
	}
	if (&OpResult{}).Percentile(.99) != 0 {
		t.Error("percentile of no samples is not 0")
	}
}
