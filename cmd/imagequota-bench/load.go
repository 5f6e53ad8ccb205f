package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"runtime/pprof"
	"slices"
	"strconv"
	"sync"
	"syscall"
	"time"

	"imagequota/internal/signing"
)

// credential is what one simulated client authenticates with.
type credential struct {
	keyID    string
	secret   string
	token    string
	instance string // for CreateImage
}

// authMode says how requests are authenticated.
type authMode int

const (
	authSigned authMode = iota // ZC2-HMAC-SHA256
	authBearer                 // Authorization: Bearer
)

// contentType is what the generator sends (and signs), as the official Go SDK does.
const contentType = "application/json; charset=utf-8"

// generator sends requests to one target over a shared keep-alive transport.
type generator struct {
	hc   *http.Client
	url  string // full URL, path included
	host string // the Host header as sent, which is signed
}

// newTransport returns the one transport of a run: keep-alive connections,
// as many idle ones per host as there are workers.
func newTransport(concurrency int) *http.Transport {
	return &http.Transport{
		Proxy:               nil,
		DialContext:         (&net.Dialer{Timeout: 5 * time.Second, KeepAlive: 30 * time.Second}).DialContext,
		MaxIdleConns:        4 * concurrency,
		MaxIdleConnsPerHost: concurrency,
		IdleConnTimeout:     90 * time.Second,
		DisableCompression:  true,
		ForceAttemptHTTP2:   false,
	}
}

func newGenerator(hc *http.Client, endpoint string) (*generator, error) {
	u, err := url.Parse(endpoint)
	if err != nil {
		return nil, err
	}
	if u.Host == "" {
		return nil, fmt.Errorf("endpoint %q has no host", endpoint)
	}
	return &generator{hc: hc, url: u.String(), host: u.Host}, nil
}

// send posts body as action with c's credential, signed afresh (the
// timestamp is part of the signature), and reads the whole answer into buf.
func (g *generator) send(ctx context.Context, action string, body []byte, c *credential, mode authMode, buf *bytes.Buffer) (int, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, g.url, bytes.NewReader(body))
	if err != nil {
		return 0, err
	}
	h := make(http.Header, 6)
	h["Content-Type"] = []string{contentType}
	h["X-Zc-Action"] = []string{action}
	h["X-Zc-Request-Client"] = []string{"imagequota-bench"}
	if mode == authBearer {
		h["Authorization"] = []string{"Bearer " + c.token}
	} else {
		ts := strconv.FormatInt(time.Now().Unix(), 10)
		sig := signing.Sign(c.secret, ts, contentType, g.host, body)
		h["X-Zc-Timestamp"] = []string{ts}
		h["Authorization"] = []string{signing.AuthorizationHeader(c.keyID, sig)}
	}
	req.Header = h
	resp, err := g.hc.Do(req)
	if err != nil {
		return 0, err
	}
	buf.Reset()
	_, err = buf.ReadFrom(resp.Body)
	resp.Body.Close()
	return resp.StatusCode, err
}

// errorKey names a failed request for the error counts: the HTTP status and
// the API's error code, or the kind of transport failure.
func errorKey(status int, body []byte, err error) string {
	if err != nil {
		switch {
		case errors.Is(err, context.DeadlineExceeded), errors.Is(err, context.Canceled):
			return "transport: timeout or cancelled"
		case errors.Is(err, syscall.ECONNREFUSED):
			return "transport: connection refused"
		case errors.Is(err, syscall.ECONNRESET), errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF):
			return "transport: connection reset"
		case errors.Is(err, syscall.EADDRNOTAVAIL):
			return "transport: out of local ports"
		}
		return "transport: other"
	}
	var e struct {
		Code string `json:"code"`
	}
	if json.Unmarshal(body, &e) != nil || e.Code == "" {
		return strconv.Itoa(status) + " (not an API error envelope)"
	}
	return strconv.Itoa(status) + " " + e.Code
}

// opRecord is what one worker saw of one operation.
type opRecord struct {
	ok     int64
	lat    []time.Duration // every attempt, failures included
	errors map[string]int64
}

// worker is one simulated client: it runs steps one after the other.
type worker struct {
	id  int
	n   int // steps started
	g   *generator
	buf bytes.Buffer
	ops map[string]*opRecord
}

func (w *worker) op(name string) *opRecord {
	r := w.ops[name]
	if r == nil {
		r = &opRecord{lat: make([]time.Duration, 0, 1<<12), errors: map[string]int64{}}
		w.ops[name] = r
	}
	return r
}

// record notes one attempt of op: its latency and, when errKey is set, its failure.
func (w *worker) record(op string, d time.Duration, errKey string) {
	r := w.op(op)
	r.lat = append(r.lat, d)
	if errKey == "" {
		r.ok++
		return
	}
	r.errors[errKey]++
}

// call sends one request and records it under action. It returns whether
// it succeeded (the answer stays in w.buf), its latency, and the error key of
// a failure. A request cut short by the end of the run is not recorded and
// has an empty key.
func (w *worker) call(ctx context.Context, action string, body []byte, c *credential, mode authMode) (bool, time.Duration, string) {
	start := time.Now()
	status, err := w.g.send(ctx, action, body, c, mode, &w.buf)
	d := time.Since(start)
	if ctx.Err() != nil {
		return false, d, ""
	}
	if err == nil && status == http.StatusOK {
		w.record(action, d, "")
		return true, d, ""
	}
	key := errorKey(status, w.buf.Bytes(), err)
	w.record(action, d, key)
	return false, d, key
}

// step is one unit of work (a request, or a create/delete pair).
type step func(ctx context.Context, w *worker)

// OpResult is the outcome of one operation over a run.
type OpResult struct {
	OK      int64
	Errors  map[string]int64
	Lat     []time.Duration // sorted
	Elapsed time.Duration
}

// Rate is successful operations per second.
func (r *OpResult) Rate() float64 {
	if r == nil || r.Elapsed <= 0 {
		return 0
	}
	return float64(r.OK) / r.Elapsed.Seconds()
}

// ErrorCount is the number of failed operations.
func (r *OpResult) ErrorCount() int64 {
	var n int64
	if r != nil {
		for _, v := range r.Errors {
			n += v
		}
	}
	return n
}

// Percentile returns the p-th (0–1) latency, nearest rank; 0 without samples.
func (r *OpResult) Percentile(p float64) time.Duration {
	if r == nil || len(r.Lat) == 0 {
		return 0
	}
	i := int(float64(len(r.Lat))*p+0.999999) - 1
	return r.Lat[min(max(i, 0), len(r.Lat)-1)]
}

// Max returns the largest latency.
func (r *OpResult) Max() time.Duration {
	if r == nil || len(r.Lat) == 0 {
		return 0
	}
	return r.Lat[len(r.Lat)-1]
}

// Run is the outcome of a load run: per operation.
type Run map[string]*OpResult

// load runs concurrency workers doing step until d has passed, and merges
// what they recorded. Requests in flight at the end finish and count;
// elapsed runs until the last one is answered.
func load(ctx context.Context, g *generator, concurrency int, d time.Duration, label string, s step) Run {
	workers := make([]*worker, concurrency)
	var wg sync.WaitGroup
	start := time.Now()
	end := start.Add(d)
	for i := range workers {
		w := &worker{id: i, g: g, ops: map[string]*opRecord{}}
		workers[i] = w
		wg.Go(func() {
			pprof.Do(ctx, pprof.Labels("side", label), func(ctx context.Context) {
				for ctx.Err() == nil && time.Now().Before(end) {
					s(ctx, w)
					w.n++
				}
			})
		})
	}
	wg.Wait()
	elapsed := time.Since(start)
	out := Run{}
	for _, w := range workers {
		for name, r := range w.ops {
			o := out[name]
			if o == nil {
				o = &OpResult{Errors: map[string]int64{}, Elapsed: elapsed}
				out[name] = o
			}
			o.OK += r.ok
			o.Lat = append(o.Lat, r.lat...)
			for k, v := range r.errors {
				o.Errors[k] += v
			}
		}
	}
	for _, o := range out {
		slices.Sort(o.Lat)
	}
	return out
}
