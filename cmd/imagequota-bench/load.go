package main

import (
	"bufio"
	"bytes"
	"context"
	"crypto/tls"
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

	"github.com/imagequota/imagequota/internal/signing"
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

// generator sends requests to one target. Each worker has its own
// keep-alive connection and writes its requests and reads the answers on it
// itself (no transport goroutines between the worker and the socket, unlike
// net/http's client), so the generator takes as little of the machine's CPU
// as it can: on a 2-core machine it shares the cores with the server it
// measures.
type generator struct {
	addr   string      // host:port to dial
	host   string      // the Host header as sent, which is signed
	path   string      // request path
	tlsCfg *tls.Config // set for https endpoints
}

func newGenerator(endpoint string) (*generator, error) {
	u, err := url.Parse(endpoint)
	if err != nil {
		return nil, err
	}
	if u.Host == "" {
		return nil, fmt.Errorf("endpoint %q has no host", endpoint)
	}
	g := &generator{addr: u.Host, host: u.Host, path: u.EscapedPath()}
	if g.path == "" {
		g.path = "/"
	}
	if u.RawQuery != "" {
		g.path += "?" + u.RawQuery
	}
	switch u.Scheme {
	case "http":
		if u.Port() == "" {
			g.addr = net.JoinHostPort(u.Hostname(), "80")
		}
	case "https":
		if u.Port() == "" {
			g.addr = net.JoinHostPort(u.Hostname(), "443")
		}
		g.tlsCfg = &tls.Config{ServerName: u.Hostname()}
	default:
		return nil, fmt.Errorf("endpoint %q: scheme must be http or https", endpoint)
	}
	return g, nil
}

// conn is one worker's keep-alive connection.
type conn struct {
	c    net.Conn
	br   *bufio.Reader
	bw   *bufio.Writer
	stop func() bool // stops the context watch
}

func (g *generator) dial(ctx context.Context) (*conn, error) {
	d := net.Dialer{Timeout: 5 * time.Second, KeepAlive: 30 * time.Second}
	var c net.Conn
	var err error
	if g.tlsCfg != nil {
		c, err = (&tls.Dialer{NetDialer: &d, Config: g.tlsCfg}).DialContext(ctx, "tcp", g.addr)
	} else {
		c, err = d.DialContext(ctx, "tcp", g.addr)
	}
	if err != nil {
		return nil, err
	}
	// The end of the run unblocks a request in flight, as net/http's client does.
	stop := context.AfterFunc(ctx, func() { _ = c.SetDeadline(time.Unix(1, 0)) })
	return &conn{c: c, br: bufio.NewReaderSize(c, 8<<10), bw: bufio.NewWriterSize(c, 4<<10), stop: stop}, nil
}

func (c *conn) close() {
	c.stop()
	_ = c.c.Close()
}

// requestTimeout bounds one request, answer included.
const requestTimeout = 30 * time.Second

// send posts body as action with c's credential, signed afresh (the
// timestamp is part of the signature), on w's connection, and reads the
// whole answer into w.buf.
func (g *generator) send(ctx context.Context, w *worker, action string, body []byte, c *credential, mode authMode) (int, error) {
	if w.conn == nil {
		cn, err := g.dial(ctx)
		if err != nil {
			return 0, err
		}
		w.conn = cn
	}
	status, keep, err := g.roundTrip(w.conn, action, body, c, mode, &w.buf)
	if err != nil || !keep {
		w.conn.close()
		w.conn = nil
	}
	return status, err
}

func (g *generator) roundTrip(cn *conn, action string, body []byte, c *credential, mode authMode, buf *bytes.Buffer) (int, bool, error) {
	if err := cn.c.SetDeadline(time.Now().Add(requestTimeout)); err != nil {
		return 0, false, err
	}
	bw := cn.bw
	bw.WriteString("POST ")
	bw.WriteString(g.path)
	bw.WriteString(" HTTP/1.1\r\nHost: ")
	bw.WriteString(g.host)
	bw.WriteString("\r\nContent-Type: " + contentType + "\r\nX-ZC-Action: ")
	bw.WriteString(action)
	bw.WriteString("\r\nX-ZC-Request-Client: imagequota-bench\r\nAuthorization: ")
	if mode == authBearer {
		bw.WriteString("Bearer ")
		bw.WriteString(c.token)
	} else {
		ts := strconv.FormatInt(time.Now().Unix(), 10)
		bw.WriteString(signing.AuthorizationHeader(c.keyID, signing.Sign(c.secret, ts, contentType, g.host, body)))
		bw.WriteString("\r\nX-ZC-Timestamp: ")
		bw.WriteString(ts)
	}
	bw.WriteString("\r\nContent-Length: ")
	bw.WriteString(strconv.Itoa(len(body)))
	bw.WriteString("\r\n\r\n")
	bw.Write(body)
	if err := bw.Flush(); err != nil {
		return 0, false, err
	}
	resp, err := http.ReadResponse(cn.br, nil)
	if err != nil {
		return 0, false, err
	}
	buf.Reset()
	_, err = buf.ReadFrom(resp.Body)
	resp.Body.Close()
	return resp.StatusCode, err == nil && !resp.Close, err
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
	id   int
	n    int // steps started
	g    *generator
	buf  bytes.Buffer
	conn *conn // nil until the first request, and after a failed one
	ops  map[string]*opRecord
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
	status, err := w.g.send(ctx, w, action, body, c, mode)
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
// elapsed runs until the last one is answered. Every worker does its step at
// least once, so that a run has figures however late its workers start on a
// busy machine.
func load(ctx context.Context, g *generator, concurrency int, d time.Duration, label string, s step) Run {
	return loadOn(ctx, []*generator{g}, concurrency, d, label, s)
}

// loadOn is load with the workers spread over several targets: worker i
// sends to gs[i mod len(gs)].
func loadOn(ctx context.Context, gs []*generator, concurrency int, d time.Duration, label string, s step) Run {
	workers := make([]*worker, concurrency)
	var wg sync.WaitGroup
	start := time.Now()
	end := start.Add(d)
	for i := range workers {
		w := &worker{id: i, g: gs[i%len(gs)], ops: map[string]*opRecord{}}
		workers[i] = w
		wg.Go(func() {
			pprof.Do(ctx, pprof.Labels("side", label), func(ctx context.Context) {
				for ctx.Err() == nil && (w.n == 0 || time.Now().Before(end)) {
					s(ctx, w)
					w.n++
				}
			})
		})
	}
	wg.Wait()
	elapsed := time.Since(start)
	for _, w := range workers {
		if w.conn != nil {
			w.conn.close()
		}
	}
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

// newTransport returns the transport of the probes that check a target
// before it is measured.
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
