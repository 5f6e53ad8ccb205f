package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"runtime/pprof"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/imagequota/imagequota/client"
	"github.com/imagequota/imagequota/internal/store"
	"github.com/imagequota/imagequota/internal/store/seed"
)

// benchConfig is what a benchmark run is told.
type benchConfig struct {
	// Scenarios to run, in order: any of a, b, c, d, e.
	Scenarios   []string
	Concurrency int
	Duration    time.Duration
	Warmup      time.Duration
	// PGServer, when set, is a PostgreSQL server URL on which scenarios a–d
	// create (and drop) their own databases; otherwise they use SQLite files.
	PGServer string
	// PGForE is the PostgreSQL server of scenario e; empty skips it.
	PGForE string
	// Endpoint, when set, is an external server driven with Creds instead of
	// in-process servers (scenarios a, b and c only).
	Endpoint string
	Creds    []credential
	// Accounts is how many accounts the load is spread over (a, b, c, and
	// d's empty store); ImagesPerAccount is how many images each has in a and b.
	Accounts         int
	ImagesPerAccount int
	// BigAccounts and BigImages size the full store of scenario d.
	BigAccounts int
	BigImages   int
	// CPUProfile, when set, writes a CPU profile of the measured part of
	// scenarios a and c against imagequota: NAME-a.EXT and NAME-c.EXT.
	CPUProfile string
	// TempDir holds the SQLite stores; empty means the system's.
	TempDir string
	// BaselineProcess runs the baseline in a child process of its own (as
	// an external server runs in its own) instead of in this one.
	BaselineProcess bool
	// Scrape, when above 0, also measures scenarios a and c with the
	// server's /metrics scraped at that interval, against the same load
	// without, in turn (A B A B).
	Scrape time.Duration
	// MetricsTTL is the in-process servers' --metrics-cache-ttl (0: at
	// every scrape).
	MetricsTTL time.Duration
	// Replicas is how many servers scenario e runs on its one database,
	// the load split evenly between them; 0 or 1 means one.
	Replicas int
}

// report is the outcome of one scenario.
type report struct {
	ID     string
	Title  string
	Engine string
	Unit   string // "req/s" or "pairs/s"
	Op     string // the operation of the headline figures
	Ours   Run
	Base   Run
	// Empty is scenario d's run against the empty store (Ours is the full one).
	Empty *report
	// Scraped is the measurement with /metrics scraped (--scrape).
	Scraped *scraped
	Notes   []string
	Skipped string
}

// headline returns the operation the report's figures are about.
func (r *report) headline(run Run) *OpResult {
	if run == nil {
		return nil
	}
	return run[r.Op]
}

// unexpectedErrors counts every failed request of the report, on either server.
func (r *report) unexpectedErrors() int64 {
	var n int64
	for _, run := range []Run{r.Ours, r.Base} {
		for _, o := range run {
			n += o.ErrorCount()
		}
	}
	if r.Empty != nil {
		n += r.Empty.unexpectedErrors()
	}
	return n
}

// bench runs scenarios with one HTTP client.
type bench struct {
	cfg benchConfig
	tr  *http.Transport
	hc  *http.Client
	out io.Writer
	// last is what the last measured run took (its warm-up excluded).
	last cost
}

func newBench(cfg benchConfig, out io.Writer) *bench {
	tr := newTransport(cfg.Concurrency)
	return &bench{cfg: cfg, tr: tr, hc: &http.Client{Transport: tr, Timeout: 30 * time.Second}, out: out}
}

// run runs every configured scenario; each prints its figures as it finishes.
func (b *bench) run(ctx context.Context) ([]*report, error) {
	defer b.tr.CloseIdleConnections()
	var out []*report
	for _, id := range b.cfg.Scenarios {
		var rs []*report
		var err error
		switch id {
		case "a":
			rs, err = b.one(b.quota(ctx, "a", b.cfg.PGServer, authSigned, 1))
		case "b":
			rs, err = b.one(b.quota(ctx, "b", b.cfg.PGServer, authBearer, 1))
		case "c":
			rs, err = b.one(b.pairs(ctx, "c", b.cfg.PGServer, 1))
		case "d":
			rs, err = b.one(b.bigStore(ctx))
		case "e":
			rs, err = b.postgres(ctx)
		default:
			err = fmt.Errorf("unknown scenario %q", id)
		}
		if err != nil {
			return out, fmt.Errorf("scenario %s: %w", id, err)
		}
		for _, r := range rs {
			if r.Skipped != "" {
				r.print(b.out)
			}
		}
		out = append(out, rs...)
		if ctx.Err() != nil {
			return out, ctx.Err()
		}
	}
	return out, nil
}

func (b *bench) one(r *report, err error) ([]*report, error) {
	if err != nil {
		return nil, err
	}
	return []*report{r}, nil
}

// target is where a scenario's load goes.
type target struct {
	url    string   // API URL (the first replica's)
	urls   []string // every replica's API URL, url first
	engine string
	creds  []credential
	db     *store.DB // the in-process server's store (the first replica's); nil for an external one
	pgURL  string    // the in-process server's PostgreSQL database, if it is one
	close  func()
}

// setup starts an in-process server on a fresh store seeded as so says, or
// returns the external endpoint.
// With replicas above 1 (PostgreSQL only), that many servers share the
// store, each with its own pool and read cache, as replicas do.
func (b *bench) setup(ctx context.Context, pg string, so seed.Options, replicas int) (*target, error) {
	if b.cfg.Endpoint != "" {
		u, err := (&client.Client{Endpoint: b.cfg.Endpoint}).URL()
		if err != nil {
			return nil, err
		}
		return &target{url: u, urls: []string{u}, engine: "external", creds: b.cfg.Creds, close: func() {}}, nil
	}
	dbURL, remove, err := freshStore(ctx, b.cfg.TempDir, pg)
	if err != nil {
		return nil, err
	}
	if pg == "" {
		replicas = 1
	}
	var srvs []*server
	closeAll := func() {
		// The last one removes the store.
		for i := len(srvs) - 1; i >= 0; i-- {
			if err := srvs[i].Close(); err != nil {
				fmt.Fprintf(b.out, "   stopping the server: %v\n", err)
			}
		}
	}
	for i := range max(replicas, 1) {
		rm := func() {}
		if i == 0 {
			rm = remove
		}
		srv, err := startServerOn(ctx, dbURL, rm, b.metricsOptions()) // calls rm when it fails
		if err != nil {
			closeAll()
			return nil, err
		}
		srvs = append(srvs, srv)
	}
	srv := srvs[0]
	res, err := seed.Seed(ctx, srv.DB, so)
	if err != nil {
		closeAll()
		return nil, err
	}
	fmt.Fprintf(b.out, "   seeded %s: %d accounts, %d instances, %d images in %.2fs\n",
		srv.DB.Engine(), res.Accounts, res.Instances, res.Images, res.Elapsed.Seconds())
	t := &target{url: srv.APIURL(), engine: srv.DB.Engine(), creds: credentialsOf(res.Seeded), db: srv.DB, close: closeAll}
	for _, s := range srvs {
		t.urls = append(t.urls, s.APIURL())
	}
	if len(srvs) > 1 {
		t.engine = fmt.Sprintf("%s×%d", t.engine, len(srvs))
	}
	if pg != "" {
		t.pgURL = dbURL
	}
	return t, nil
}

// measure warms up, then measures, one step against url. With profile set
// the measured part is CPU-profiled into that file.
func (b *bench) measure(ctx context.Context, url string, s step, label, profile string) (Run, error) {
	return b.measureOn(ctx, &target{urls: []string{url}}, s, label, profile)
}

// measureOn is measure against every replica of t, the workers spread over
// them, also recording in b.last what the measured part took of the
// process, of t's store and of its PostgreSQL backends (when known).
func (b *bench) measureOn(ctx context.Context, t *target, s step, label, profile string) (Run, error) {
	var gs []*generator
	for _, u := range t.urls {
		g, err := newGenerator(u)
		if err != nil {
			return nil, err
		}
		gs = append(gs, g)
	}
	if b.cfg.Warmup > 0 {
		loadOn(ctx, gs, b.cfg.Concurrency, b.cfg.Warmup, label, s)
	}
	var pgc *pgCPU
	var pgBefore map[int]time.Duration
	if t.pgURL != "" {
		var err error
		if pgc, err = openPGCPU(ctx, t.pgURL); err == nil {
			pgBefore, err = pgc.take(ctx)
		}
		if err != nil {
			fmt.Fprintf(b.out, "   PostgreSQL CPU not measured: %v\n", err)
			pgc.Close()
			pgc = nil
		}
		defer pgc.Close()
	}
	if profile != "" {
		f, err := os.Create(profile)
		if err != nil {
			return nil, err
		}
		if err := pprof.StartCPUProfile(f); err != nil {
			f.Close()
			return nil, err
		}
		defer func() {
			pprof.StopCPUProfile()
			f.Close()
			fmt.Fprintf(b.out, "   CPU profile: %s (go tool pprof -top -tagfocus side=server %s)\n", profile, profile)
		}()
	}
	before := takeCost(t.db)
	run := loadOn(ctx, gs, b.cfg.Concurrency, b.cfg.Duration, label, s)
	b.last = takeCost(t.db).since(before)
	if pgc != nil {
		if after, err := pgc.take(ctx); err == nil {
			b.last.pg, b.last.pgOK = pgSince(after, pgBefore), true
		}
	}
	return run, ctx.Err()
}

// profileFile names the CPU profile of scenario id, or "" for none.
func (b *bench) profileFile(id string) string {
	if b.cfg.CPUProfile == "" || (id != "a" && id != "c") {
		return ""
	}
	ext := filepath.Ext(b.cfg.CPUProfile)
	return strings.TrimSuffix(b.cfg.CPUProfile, ext) + "-" + id + ext
}

// pick spreads workers over n accounts: worker w uses only accounts
// congruent to w modulo the concurrency (cycling through them), so no two
// workers share an account unless there are fewer accounts than workers.
func pick(w *worker, concurrency, n int) int {
	if n <= concurrency {
		return w.id % n
	}
	k := (n - w.id + concurrency - 1) / concurrency
	return w.id + (w.n%k)*concurrency
}

var quotaBody = []byte("{}")

// quotaStep calls DescribeImageQuota for every location, for one account after another.
func (b *bench) quotaStep(creds []credential, mode authMode) step {
	return func(ctx context.Context, w *worker) {
		c := &creds[pick(w, b.cfg.Concurrency, len(creds))]
		w.call(ctx, "DescribeImageQuota", quotaBody, c, mode)
	}
}

// probe sends one request through the package client, checks that it
// succeeds and returns the answer, which the baseline then serves.
func (b *bench) probe(ctx context.Context, url string, c credential, mode authMode, action string, body []byte) ([]byte, error) {
	cl := &client.Client{Endpoint: url, HTTP: b.hc}
	if mode == authBearer {
		if c.token == "" {
			return nil, fmt.Errorf("the credentials have no bearer token")
		}
		cl.Token = c.token
	} else {
		if c.keyID == "" {
			return nil, fmt.Errorf("the credentials have no access key")
		}
		cl.AccessKeyID, cl.AccessKeySecret = c.keyID, c.secret
	}
	r, err := cl.Do(ctx, action, body)
	if err != nil {
		return nil, fmt.Errorf("probe %s: %w", action, err)
	}
	if err := r.Decode(nil); err != nil {
		return nil, fmt.Errorf("probe %s: %w", action, err)
	}
	return r.Body, nil
}

// baseline measures the same step against a bare server answering answers.
// b.last is then what the baseline's run took.
func (b *bench) baseline(ctx context.Context, answers map[string][]byte, s step) (Run, error) {
	start := startBaseline
	if b.cfg.BaselineProcess {
		start = startBaselineProcess
	}
	bl, err := start(answers)
	if err != nil {
		return nil, err
	}
	defer bl.Close()
	defer b.tr.CloseIdleConnections()
	return b.measure(ctx, bl.URL, s, "client", "")
}

func authName(mode authMode) string {
	if mode == authBearer {
		return "bearer token"
	}
	return "signed ZC2-HMAC-SHA256"
}

// quota is scenarios a and b: DescribeImageQuota for all locations over many accounts.
func (b *bench) quota(ctx context.Context, id, pg string, mode authMode, replicas int) (*report, error) {
	seed := seed.Options{Accounts: b.cfg.Accounts, Images: b.cfg.Accounts * b.cfg.ImagesPerAccount}
	if mode == authBearer {
		seed.TokenTTL = 24 * time.Hour
	}
	r := &report{ID: id, Unit: "req/s", Op: "DescribeImageQuota",
		Title: fmt.Sprintf("DescribeImageQuota, all locations, %s, %d accounts × %d images", authName(mode), seed.Accounts, b.cfg.ImagesPerAccount)}
	fmt.Fprintf(b.out, "== (%s) %s\n", id, r.Title)
	t, err := b.setup(ctx, pg, seed, replicas)
	if err != nil {
		return nil, err
	}
	defer t.close()
	r.Engine = t.engine
	if b.cfg.Endpoint != "" {
		r.Title = fmt.Sprintf("DescribeImageQuota, all locations, %s, %d credentials at %s", authName(mode), len(t.creds), b.cfg.Endpoint)
	}
	answer, err := b.probe(ctx, t.url, t.creds[0], mode, "DescribeImageQuota", quotaBody)
	if err != nil {
		return nil, err
	}
	s := b.quotaStep(t.creds, mode)
	if b.cfg.Scrape > 0 {
		r.Ours, r.Scraped, err = b.measureScraped(ctx, t, s, r.Op, "client", b.profileFile(id))
	} else {
		r.Ours, err = b.measureOn(ctx, t, s, "client", b.profileFile(id))
	}
	if err != nil {
		return nil, err
	}
	ours := b.last
	if r.Base, err = b.baseline(ctx, map[string][]byte{"DescribeImageQuota": answer}, s); err != nil {
		return nil, err
	}
	if o, bo := r.headline(r.Ours), r.headline(r.Base); t.db != nil && o != nil && bo != nil {
		r.Notes = append(r.Notes, ours.perOp("req", o.OK, b.last, bo.OK)...)
	}
	r.Notes = append(r.Notes, fmt.Sprintf("answer %d bytes", len(answer)))
	r.print(b.out)
	return r, nil
}

// createAnswer is the part of a CreateImage answer the pairs need.
type createAnswer struct {
	Response struct {
		ImageID string `json:"imageId"`
	} `json:"response"`
}

// pairStep creates an image from the account's instance and deletes it.
// Every create of the scenario, warm-up included, names its image anew: the
// server answers a request it has seen (the same signed body in the same
// second) with its first answer, and would then answer for an image deleted
// already.
func (b *bench) pairStep(creds []credential) step {
	var seq atomic.Int64
	return func(ctx context.Context, w *worker) {
		c := &creds[pick(w, b.cfg.Concurrency, len(creds))]
		body := make([]byte, 0, 96)
		body = append(body, `{"instanceId":"`...)
		body = append(body, c.instance...)
		body = append(body, `","imageName":"bench-`...)
		body = strconv.AppendInt(body, seq.Add(1), 10)
		body = append(body, `"}`...)
		ok, d1, key := w.call(ctx, "CreateImage", body, c, authSigned)
		if !ok {
			if key != "" {
				w.record("pair", d1, "CreateImage: "+key)
			}
			return
		}
		var ca createAnswer
		if err := json.Unmarshal(w.buf.Bytes(), &ca); err != nil || ca.Response.ImageID == "" {
			w.record("pair", d1, "CreateImage: answer without imageId")
			return
		}
		body = append(body[:0], `{"imageIds":["`...)
		body = append(body, ca.Response.ImageID...)
		body = append(body, `"]}`...)
		ok, d2, key := w.call(ctx, "DeleteImages", body, c, authSigned)
		if !ok {
			if key != "" {
				w.record("pair", d1+d2, "DeleteImages: "+key)
			}
			return
		}
		w.record("pair", d1+d2, "")
	}
}

// pairs is scenario c: CreateImage then DeleteImages, over many accounts.
func (b *bench) pairs(ctx context.Context, id, pg string, replicas int) (*report, error) {
	r := &report{ID: id, Unit: "pairs/s", Op: "pair",
		Title: fmt.Sprintf("CreateImage + DeleteImages pairs, signed, %d accounts with an instance each", b.cfg.Accounts)}
	fmt.Fprintf(b.out, "== (%s) %s\n", id, r.Title)
	t, err := b.setup(ctx, pg, seed.Options{Accounts: b.cfg.Accounts}, replicas)
	if err != nil {
		return nil, err
	}
	defer t.close()
	r.Engine = t.engine
	var creds []credential
	for _, c := range t.creds {
		if c.instance != "" && c.keyID != "" {
			creds = append(creds, c)
		}
	}
	if len(creds) == 0 {
		return nil, fmt.Errorf("no credential has an access key and an instance")
	}
	if len(creds)*4 < b.cfg.Concurrency {
		r.Notes = append(r.Notes, fmt.Sprintf("only %d accounts for %d workers: some may hit the image quota", len(creds), b.cfg.Concurrency))
	}
	if b.cfg.Endpoint != "" {
		r.Title = fmt.Sprintf("CreateImage + DeleteImages pairs, signed, %d credentials at %s", len(creds), b.cfg.Endpoint)
	}
	c := creds[0]
	created, err := b.probe(ctx, t.url, c, authSigned, "CreateImage", []byte(`{"instanceId":"`+c.instance+`","imageName":"bench-probe"}`))
	if err != nil {
		return nil, err
	}
	var ca createAnswer
	if err := json.Unmarshal(created, &ca); err != nil || ca.Response.ImageID == "" {
		return nil, fmt.Errorf("probe CreateImage: no imageId in %s", created)
	}
	deleted, err := b.probe(ctx, t.url, c, authSigned, "DeleteImages", []byte(`{"imageIds":["`+ca.Response.ImageID+`"]}`))
	if err != nil {
		return nil, err
	}
	s := b.pairStep(creds)
	if b.cfg.Scrape > 0 {
		r.Ours, r.Scraped, err = b.measureScraped(ctx, t, s, r.Op, "client", b.profileFile(id))
	} else {
		r.Ours, err = b.measureOn(ctx, t, s, "client", b.profileFile(id))
	}
	if err != nil {
		return nil, err
	}
	ours := b.last
	if o := r.headline(r.Ours); t.db != nil && o != nil {
		r.Notes = append(r.Notes, ours.perPair(o.OK)...)
	}
	// The baseline answers the create with the probe's (deleted) image id.
	if r.Base, err = b.baseline(ctx, map[string][]byte{"CreateImage": created, "DeleteImages": deleted}, s); err != nil {
		return nil, err
	}
	if o, bo := r.headline(r.Ours), r.headline(r.Base); t.db != nil && o != nil && bo != nil {
		r.Notes = append(r.Notes, ours.perOp("pair", o.OK, b.last, bo.OK)...)
	}
	r.Notes = append(r.Notes, fmt.Sprintf("answers %d and %d bytes", len(created), len(deleted)))
	r.print(b.out)
	return r, nil
}

// bigStore is scenario d: scenario a's load, spread over Accounts accounts,
// against a store of BigImages images over BigAccounts accounts, compared with
// the same load against a store holding only those Accounts accounts and no
// image: what the other accounts' images cost each query. The same store is
// then also measured with the load spread over all BigAccounts accounts (most
// requests then miss the read cache), as a note.
func (b *bench) bigStore(ctx context.Context) (*report, error) {
	if b.cfg.Endpoint != "" {
		return &report{ID: "d", Skipped: "needs an in-process server (not --endpoint)"}, nil
	}
	empty := &report{ID: "d0", Unit: "req/s", Op: "DescribeImageQuota",
		Title: fmt.Sprintf("DescribeImageQuota, signed, empty store: %d accounts, no image", b.cfg.Accounts)}
	fmt.Fprintf(b.out, "== (d) %s\n", empty.Title)
	t, err := b.setup(ctx, b.cfg.PGServer, seed.Options{Accounts: b.cfg.Accounts}, 1)
	if err != nil {
		return nil, err
	}
	empty.Engine = t.engine
	s := b.quotaStep(t.creds, authSigned)
	empty.Ours, err = b.measure(ctx, t.url, s, "client", "")
	t.close()
	if err != nil {
		return nil, err
	}

	r := &report{ID: "d", Unit: "req/s", Op: "DescribeImageQuota", Empty: empty,
		Title: fmt.Sprintf("DescribeImageQuota, signed, full store: %d images over %d accounts, load over %d of them", b.cfg.BigImages, b.cfg.BigAccounts, min(b.cfg.Accounts, b.cfg.BigAccounts))}
	fmt.Fprintf(b.out, "== (d) %s\n", r.Title)
	t, err = b.setup(ctx, b.cfg.PGServer, seed.Options{Accounts: b.cfg.BigAccounts, Images: b.cfg.BigImages}, 1)
	if err != nil {
		return nil, err
	}
	defer t.close()
	r.Engine = t.engine
	answer, err := b.probe(ctx, t.url, t.creds[0], authSigned, "DescribeImageQuota", quotaBody)
	if err != nil {
		return nil, err
	}
	s = b.quotaStep(t.creds[:min(b.cfg.Accounts, len(t.creds))], authSigned)
	if r.Ours, err = b.measure(ctx, t.url, s, "client", ""); err != nil {
		return nil, err
	}
	if r.Base, err = b.baseline(ctx, map[string][]byte{"DescribeImageQuota": answer}, s); err != nil {
		return nil, err
	}
	empty.Base = r.Base
	r.Notes = append(r.Notes, fmt.Sprintf("answer %d bytes", len(answer)))
	if len(t.creds) > b.cfg.Accounts {
		all, err := b.measure(ctx, t.url, b.quotaStep(t.creds, authSigned), "client", "")
		if err != nil {
			return nil, err
		}
		if o, e := all[r.Op], empty.headline(empty.Ours); o != nil && e != nil {
			r.Notes = append(r.Notes, fmt.Sprintf("load over all %d accounts: %.0f req/s, p99 %s (%.2f of the empty store)",
				len(t.creds), o.Rate(), ms(o.Percentile(.99)), o.Rate()/e.Rate()))
		}
	}
	r.print(b.out)
	return r, nil
}

// postgres is scenario e: a and c on PostgreSQL.
func (b *bench) postgres(ctx context.Context) ([]*report, error) {
	switch {
	case b.cfg.Endpoint != "":
		return []*report{{ID: "e", Skipped: "needs an in-process server (not --endpoint)"}}, nil
	case b.cfg.PGForE == "":
		return []*report{{ID: "e", Skipped: "no PostgreSQL: set --db postgres://… or IMAGEQUOTA_TEST_POSTGRES"}}, nil
	}
	a, err := b.quota(ctx, "e/a", b.cfg.PGForE, authSigned, b.cfg.Replicas)
	if err != nil {
		return nil, err
	}
	c, err := b.pairs(ctx, "e/c", b.cfg.PGForE, b.cfg.Replicas)
	if err != nil {
		return nil, err
	}
	return []*report{a, c}, nil
}
