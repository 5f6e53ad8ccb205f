package main

import (
	"bufio"
	"context"
	"crypto/rand"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime/pprof"
	"strings"
	"time"

	"github.com/imagequota/imagequota/internal/app"
	"github.com/imagequota/imagequota/internal/gctune"
	"github.com/imagequota/imagequota/internal/logbuf"
	"github.com/imagequota/imagequota/internal/secrets"
	"github.com/imagequota/imagequota/internal/store"
	"github.com/imagequota/imagequota/internal/testkit/pgtest"
	"github.com/imagequota/imagequota/internal/usagemetrics"
	"github.com/imagequota/imagequota/vmapi"
)

// benchMasterKey seals the benchmark stores' access key passwords, as serve does.
var benchMasterKey = func() *secrets.Box {
	key := make([]byte, secrets.KeySize)
	_, _ = rand.Read(key)
	box, err := secrets.New(key)
	if err != nil {
		panic(err)
	}
	return box
}()

// openStore opens and migrates the store at url.
func openStore(ctx context.Context, url string) (*store.DB, error) {
	return openStoreWith(ctx, url, benchMasterKey)
}

// openStoreWith opens and migrates the store at url, sealing passwords with box.
func openStoreWith(ctx context.Context, url string, box *secrets.Box) (*store.DB, error) {
	u, err := store.ParseURL(url)
	if err != nil {
		return nil, err
	}
	return app.OpenStore(ctx, app.StoreConfig{URL: u, Options: store.Options{Secrets: box}, Migrate: true})
}

// isPostgres reports whether url names a PostgreSQL server.
func isPostgres(url string) bool {
	u, err := store.ParseURL(url)
	return err == nil && u.Engine == store.EnginePostgres
}

// freshStore makes an empty store for one scenario: a SQLite file in a new
// temporary directory, or a new database on the PostgreSQL server named by
// pgServer. The returned function removes it.
func freshStore(ctx context.Context, tempDir, pgServer string) (string, func(), error) {
	if pgServer == "" {
		dir, err := os.MkdirTemp(tempDir, "imagequota-bench-*")
		if err != nil {
			return "", nil, err
		}
		return "sqlite:" + filepath.Join(dir, "imagequota.db"), func() { os.RemoveAll(dir) }, nil
	}
	dbURL, drop, err := pgtest.Create(ctx, pgServer, "imagequota_bench")
	if err != nil {
		return "", nil, fmt.Errorf("postgres: %w", err)
	}
	return dbURL, func() {
		dctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if err := drop(dctx); err != nil {
			fmt.Fprintf(os.Stderr, "imagequota-bench: %v\n", err)
		}
	}, nil
}

// server is an imagequota server running in this process, assembled as
// "imagequota serve" assembles it, on a real listener on 127.0.0.1.
type server struct {
	*app.Server
	URL    string // base URL
	errc   chan error
	log    *logbuf.Writer
	remove func()
}

// startServer starts a server on a fresh store. Images are available at
// once (build time 0), so that they can be deleted right after creation.
// Its goroutines carry the profiler label side=server.
func startServer(ctx context.Context, tempDir, pgServer string) (*server, error) {
	return startServerWith(ctx, tempDir, pgServer, usagemetrics.Options{})
}

// startServerWith is startServer with the figures on /metrics tuned by mo.
func startServerWith(ctx context.Context, tempDir, pgServer string, mo usagemetrics.Options) (*server, error) {
	dbURL, remove, err := freshStore(ctx, tempDir, pgServer)
	if err != nil {
		return nil, err
	}
	return startServerOn(ctx, dbURL, remove, mo)
}

// startServerOn starts a server on the store at dbURL, with the figures on
// /metrics tuned by mo; closing the server calls remove.
func startServerOn(ctx context.Context, dbURL string, remove func(), mo usagemetrics.Options) (*server, error) {
	u, err := store.ParseURL(dbURL)
	if err != nil {
		remove()
		return nil, err
	}
	// The request log is formatted and buffered as in production but not
	// written anywhere.
	logOut := logbuf.New(io.Discard, logbuf.DefaultInterval)
	srv, err := app.New(ctx, app.Config{
		Store:          app.StoreConfig{URL: u, Options: store.Options{Secrets: benchMasterKey}, Migrate: true},
		BuildTime:      0,
		Logger:         slog.New(slog.NewJSONHandler(logOut, &slog.HandlerOptions{Level: slog.LevelInfo})),
		RequestTimeout: 10 * time.Second,
		Metrics:        mo,
	})
	if err != nil {
		logOut.Close()
		remove()
		return nil, err
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		srv.Close()
		logOut.Close()
		remove()
		return nil, err
	}
	s := &server{Server: srv, URL: srv.URL(ln), log: logOut, remove: remove, errc: make(chan error, 1)}
	serve(srv.HTTP, ln, "server", s.errc)
	return s, nil
}

// serve runs srv on ln in a goroutine labelled side=label for the profiler;
// the connections' goroutines inherit the label.
func serve(srv *http.Server, ln net.Listener, label string, errc chan<- error) {
	go pprof.Do(context.Background(), pprof.Labels("side", label), func(context.Context) {
		errc <- srv.Serve(ln)
	})
}

// shutdown stops srv, started by serve with errc, letting the requests in
// flight finish (for at most 10 s).
func shutdown(srv *http.Server, errc <-chan error) error {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	err := srv.Shutdown(ctx)
	if serr := <-errc; serr != nil && !errors.Is(serr, http.ErrServerClosed) {
		err = errors.Join(err, serr)
	}
	return err
}

// Close stops the server and removes its store.
func (s *server) Close() error {
	err := errors.Join(shutdown(s.HTTP, s.errc), s.Server.Close(), s.log.Close())
	s.remove()
	return err
}

// APIURL is the URL requests are posted to.
func (s *server) APIURL() string { return s.URL + vmapi.Path }

// baseline is a bare net/http server that answers every request with a fixed
// body per action: what the fastest possible server of the same answers
// would do on this machine, with the same client in front of it.
type baseline struct {
	URL   string
	close func() error
}

// baselineHandler answers each action's request with its fixed body.
func baselineHandler(answers map[string][]byte) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		body, ok := answers[r.Header.Get("X-ZC-Action")]
		if !ok {
			http.Error(w, "no answer for this action", http.StatusNotFound)
			return
		}
		w.Header()["Content-Type"] = []string{"application/json; charset=utf-8"}
		_, _ = w.Write(body)
	})
}

// startBaseline runs the baseline in this process.
func startBaseline(answers map[string][]byte) (*baseline, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	srv := &http.Server{Handler: baselineHandler(answers), ReadHeaderTimeout: 5 * time.Second, IdleTimeout: 120 * time.Second}
	errc := make(chan error, 1)
	serve(srv, ln, "baseline", errc)
	return &baseline{URL: "http://" + ln.Addr().String() + vmapi.Path, close: func() error { return shutdown(srv, errc) }}, nil
}

// baselineCommand is the hidden subcommand a baseline process runs.
const baselineCommand = "baseline-server"

// startBaselineProcess runs the baseline in a child process: this program
// again, as "imagequota-bench baseline-server", with the answers in a
// temporary file. The child prints its URL on its first line of output and
// stops when its standard input closes (so also when this process dies).
func startBaselineProcess(answers map[string][]byte) (*baseline, error) {
	exe, err := os.Executable()
	if err != nil {
		return nil, fmt.Errorf("baseline process: %w", err)
	}
	f, err := os.CreateTemp("", "imagequota-bench-answers-*.json")
	if err != nil {
		return nil, fmt.Errorf("baseline process: %w", err)
	}
	path := f.Name()
	cmd, stdin, stdout, err := startChild(exe, path, f, answers)
	if err != nil {
		os.Remove(path)
		return nil, fmt.Errorf("baseline process: %w", err)
	}
	stop := func() error {
		stdin.Close()
		done := make(chan error, 1)
		go func() { done <- cmd.Wait() }()
		var err error
		select {
		case err = <-done:
		case <-time.After(10 * time.Second):
			_ = cmd.Process.Kill()
			err = <-done
		}
		os.Remove(path)
		if err != nil {
			return fmt.Errorf("baseline process: %w", err)
		}
		return nil
	}
	first := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(stdout)
		line := ""
		if sc.Scan() {
			line = sc.Text()
		}
		first <- line
		_, _ = io.Copy(io.Discard, stdout)
	}()
	var line string
	select {
	case line = <-first:
	case <-time.After(10 * time.Second):
	}
	url, ok := strings.CutPrefix(line, "baseline listening on ")
	if !ok {
		return nil, errors.Join(fmt.Errorf("baseline process did not say where it listens (first line %q)", line), stop())
	}
	return &baseline{URL: url, close: stop}, nil
}

// startChild writes answers to f (at path) and starts the baseline process
// on it, with pipes to its standard input and output.
func startChild(exe, path string, f *os.File, answers map[string][]byte) (*exec.Cmd, io.WriteCloser, io.ReadCloser, error) {
	err := json.NewEncoder(f).Encode(answers)
	if err = errors.Join(err, f.Close()); err != nil {
		return nil, nil, nil, err
	}
	cmd := exec.Command(exe, baselineCommand, "--answers", path)
	cmd.Stderr = os.Stderr
	stdin, err := cmd.StdinPipe()
	if err != nil {
		return nil, nil, nil, err
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return nil, nil, nil, err
	}
	return cmd, stdin, stdout, cmd.Start()
}

// runBaselineServer is the baseline process: it serves the answers in the
// --answers file on 127.0.0.1 until its standard input closes.
func runBaselineServer(args []string, env map[string]string, stdin io.Reader, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("imagequota-bench "+baselineCommand, flag.ContinueOnError)
	fs.SetOutput(stderr)
	answersFile := fs.String("answers", "", "JSON object of action name to answer body (base64)")
	if err := fs.Parse(args); err != nil {
		return errUsage
	}
	raw, err := os.ReadFile(*answersFile)
	if err != nil {
		return err
	}
	var answers map[string][]byte
	if err := json.Unmarshal(raw, &answers); err != nil {
		return fmt.Errorf("--answers: %w", err)
	}
	// The same GC target as serve, as the in-process baseline shares it.
	_, restoreGC := gctune.ForServer(env)
	defer restoreGC()
	bl, err := startBaseline(answers)
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "baseline listening on %s\n", bl.URL)
	_, _ = io.Copy(io.Discard, stdin)
	return bl.Close()
}

func (b *baseline) Close() error { return b.close() }

// redactURL is url with any password hidden, for what the bench prints.
func redactURL(url string) string {
	u, err := store.ParseURL(url)
	if err != nil {
		return "(a database URL that does not parse)"
	}
	return u.Redacted()
}
