package main

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"slices"
	"sync"
	"time"

	"github.com/imagequota/imagequota/internal/usagemetrics"
)

// scraper GETs /metrics at a fixed interval, as a Prometheus server does,
// and records how long each scrape took.
type scraper struct {
	url      string
	interval time.Duration
	hc       *http.Client

	mu    sync.Mutex
	took  []time.Duration
	fails int

	stop context.CancelFunc
	done chan struct{}
}

// metricsURL is the /metrics URL of the server whose API is at apiURL.
func metricsURL(apiURL string) (string, error) {
	u, err := url.Parse(apiURL)
	if err != nil {
		return "", err
	}
	u.Path, u.RawQuery = "/metrics", ""
	return u.String(), nil
}

// startScraper scrapes the /metrics of the server at apiURL every interval
// (the first scrape at once) until stopped.
func startScraper(apiURL string, interval time.Duration) (*scraper, error) {
	u, err := metricsURL(apiURL)
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithCancel(context.Background())
	s := &scraper{url: u, interval: interval, hc: &http.Client{Timeout: 30 * time.Second}, stop: cancel, done: make(chan struct{})}
	go s.run(ctx)
	return s, nil
}

func (s *scraper) run(ctx context.Context) {
	defer close(s.done)
	t := time.NewTicker(s.interval)
	defer t.Stop()
	for {
		s.scrape(ctx)
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

func (s *scraper) scrape(ctx context.Context) {
	start := time.Now()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, s.url, nil)
	ok := false
	if err == nil {
		var resp *http.Response
		if resp, err = s.hc.Do(req); err == nil {
			_, err = io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			ok = err == nil && resp.StatusCode == http.StatusOK
		}
	}
	if ctx.Err() != nil {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if ok {
		s.took = append(s.took, time.Since(start))
	} else {
		s.fails++
	}
}

// close stops the scraper and describes its scrapes.
func (s *scraper) close() string {
	s.stop()
	<-s.done
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.took) == 0 {
		return fmt.Sprintf("no scrape answered (%d failed)", s.fails)
	}
	slices.Sort(s.took)
	var sum time.Duration
	for _, d := range s.took {
		sum += d
	}
	note := fmt.Sprintf("%d scrapes every %s, mean %s, max %s", len(s.took), s.interval, ms(sum/time.Duration(len(s.took))), ms(s.took[len(s.took)-1]))
	if s.fails > 0 {
		note += fmt.Sprintf(", %d failed", s.fails)
	}
	return note
}

// idleScrapes is how many scrapes scrapeCost makes.
const idleScrapes = 20

// scrapeCost scrapes the /metrics of the server at apiURL idleScrapes
// times back to back, with no other load, and describes what one took of
// this process's CPU (the in-process server's: nothing else runs) and of
// wall-clock time.
func scrapeCost(apiURL string) (string, error) {
	u, err := metricsURL(apiURL)
	if err != nil {
		return "", err
	}
	hc := &http.Client{Timeout: 30 * time.Second}
	defer hc.CloseIdleConnections()
	before := takeCost(nil)
	start := time.Now()
	for range idleScrapes {
		resp, err := hc.Get(u)
		if err != nil {
			return "", err
		}
		_, err = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if err != nil || resp.StatusCode != http.StatusOK {
			return "", fmt.Errorf("GET %s: HTTP %d, %v", u, resp.StatusCode, err)
		}
	}
	wall := time.Since(start) / idleScrapes
	cpu := takeCost(nil).since(before).cpu / idleScrapes
	return fmt.Sprintf("an idle scrape takes %s of CPU, %s of wall clock (mean of %d)", ms(cpu), ms(wall), idleScrapes), nil
}

// scraped is a report's measurement with /metrics scraped throughout,
// set against the same load without.
type scraped struct {
	Run  Run
	Note string
	// cpu is the process CPU per operation without and with the scrapes.
	cpuWithout, cpuWith time.Duration
}

// measureScraped measures step s against t (as measureOn)
// without, then with, a scraper of its /metrics, twice in turn (A B A B),
// and keeps the better of each by its op's successes: the two are
// measured in the same conditions, however the machine's load changes over
// the run. It returns the unscraped measurement, whose cost it leaves in
// b.last, and the scraped one.
func (b *bench) measureScraped(ctx context.Context, t *target, s step, op, label, profile string) (Run, *scraped, error) {
	var best [2]Run
	var cpu [2]time.Duration
	var costs [2]cost
	idle, err := scrapeCost(t.url)
	if err != nil {
		return nil, nil, err
	}
	var note string
	better := func(a, b Run) bool { return b == nil || okOf(a, op) > okOf(b, op) }
	for round := range 4 {
		with := round%2 == 1
		var sc *scraper
		if with {
			var err error
			if sc, err = startScraper(t.url, b.cfg.Scrape); err != nil {
				return nil, nil, err
			}
		}
		p := ""
		if round == 0 {
			p = profile
		}
		run, err := b.measureOn(ctx, t, s, label, p)
		if sc != nil {
			n := sc.close()
			if note == "" || better(run, best[1]) {
				note = n
			}
		}
		if err != nil {
			return nil, nil, err
		}
		i := 0
		if with {
			i = 1
		}
		if better(run, best[i]) {
			best[i], costs[i] = run, b.last
			if n := okOf(run, op); n > 0 {
				cpu[i] = b.last.cpu / time.Duration(n)
			}
		}
	}
	b.last = costs[0]
	return best[0], &scraped{Run: best[1], Note: note + "; " + idle, cpuWithout: cpu[0], cpuWith: cpu[1]}, nil
}

// okOf is the successes of op in run.
func okOf(r Run, op string) int64 {
	if o := r[op]; o != nil {
		return o.OK
	}
	return 0
}

// print writes the scraped measurement against the unscraped one, ours.
func (sc *scraped) print(w io.Writer, r *report) {
	line(w, "scraped", r.headline(sc.Run), r.Unit)
	ours, with := r.headline(r.Ours), r.headline(sc.Run)
	if ours == nil || with == nil {
		return
	}
	fmt.Fprintf(w, "   scraped/unscraped: throughput ratio %s, p99 ratio %s, process CPU %.0fµs/%s against %.0fµs (%s)\n",
		ratio(with.Rate(), ours.Rate()), ratio(float64(with.Percentile(.99)), float64(ours.Percentile(.99))),
		float64(sc.cpuWith.Nanoseconds())/1e3, r.Op, float64(sc.cpuWithout.Nanoseconds())/1e3, sc.Note)
}

// metricsOptions are the in-process servers' figures on /metrics.
func (b *bench) metricsOptions() usagemetrics.Options {
	ttl := b.cfg.MetricsTTL
	if ttl == 0 {
		ttl = -1 // at every scrape
	}
	return usagemetrics.Options{TTL: ttl}
}
