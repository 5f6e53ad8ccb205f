package doccheck

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/imagequota/imagequota/internal/testkit/pgtest"
)

// TestRunPages runs every page that carries the run directive, each in a
// shell of its own in a fresh directory, and compares each console command's
// output with the page's.
func TestRunPages(t *testing.T) {
	if testing.Short() {
		t.Skip("runs the documented sessions: builds the binary and starts servers")
	}
	root := repoRoot(t)
	pages := docPages(t, root)
	ran := 0
	for _, rel := range pages {
		md := readFile(t, filepath.Join(root, rel))
		if !IsRunPage(md) {
			continue
		}
		ran++
		t.Run(rel, func(t *testing.T) {
			t.Parallel()
			runPage(t, root, rel, md)
		})
	}
	if ran == 0 {
		t.Fatal("no page carries " + RunDirective + ": docs/tutorial.md should")
	}
}

// commandTimeout bounds one command of a page; it is there only so that a
// page that hangs fails instead of holding the test run.
const commandTimeout = 3 * time.Minute

// examplePorts are the ports pages show (127.0.0.1:PORT); each is given a
// free port in the run, both ways: in commands and back in the output.
var examplePort = regexp.MustCompile(`127\.0\.0\.1:(\d{4,5})\b`)

// exampleDir is the scratch directory the tutorial works in; the run gives it
// a temporary directory instead.
const exampleDir = "/tmp/imagequota-example"

type page struct {
	t       *testing.T
	rel     string
	sh      *shell
	subst   [][2]string // page form → run form, applied to commands
	back    [][2]string // run form → page form, applied to output
	servers []*server
	scripts *scriptSet
	// recorded are the outputs that differ from the page's, by the line of
	// the first output line, when the run records (see recordEnv).
	recorded map[int]recording
	pgURL    string // the page's database, once a block asked for one
}

// recordEnv, when set to 1, makes a run write the outputs it got into the
// page, where they differ from the page's, instead of failing: for writing a
// new session. Review the diff; put back the "…" lines that cut long outputs.
// Set to "all", it also writes the real values into the outputs that match,
// keeping their "…" lines, so that a page shows one run's ids throughout.
const recordEnv = "DOCCHECK_RECORD"

type recording struct {
	n   int // lines of the page's output
	got []string
}

func runPage(t *testing.T, root, rel, md string) {
	tmp := t.TempDir()
	view := repoView(t, root, filepath.Join(tmp, "repo"))
	p := &page{t: t, rel: rel, scripts: loadScripts(t, root), recorded: map[int]recording{}}
	defer p.writeRecorded(filepath.Join(root, rel), md)

	ports := map[string]string{}
	for _, m := range examplePort.FindAllStringSubmatch(md, -1) {
		if _, ok := ports[m[1]]; !ok {
			ports[m[1]] = freePort(t)
		}
	}
	keys := make([]string, 0, len(ports))
	for k := range ports {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	work := filepath.Join(tmp, "example")
	p.subst = append(p.subst, [2]string{exampleDir, work})
	p.back = append(p.back, [2]string{work, exampleDir}, [2]string{view, "."})
	for _, k := range keys {
		p.subst = append(p.subst, [2]string{"127.0.0.1:" + k, "127.0.0.1:" + ports[k]})
		p.back = append(p.back, [2]string{"127.0.0.1:" + ports[k], "127.0.0.1:" + k})
	}
	env := withPath(cleanEnv(), filepath.Dir(binary(t, root)))
	if port, ok := ports["8080"]; ok {
		// serve's default address, for commands that do not name one.
		env = append(env, "IMAGEQUOTA_ADDR=127.0.0.1:"+port)
	}
	p.sh = startShell(t, view, env)
	defer p.stopServers()

	for _, b := range ParseBlocks(md) {
		if !b.IsShell() || b.Needs() != "" {
			continue
		}
		if b.Has(InterruptDirective) {
			p.interrupt(b)
			continue
		}
		if b.Has(PostgresDirective) && !p.postgres() {
			return
		}
		for _, s := range b.Steps() {
			if p.t.Failed() {
				return
			}
			if p.scripts.covers(s.Command) {
				t.Logf("%s:%d: not run here, %s runs it: %s", rel, s.Line, p.scripts.coveredBy(s.Command), OneLine(s.Command))
				continue
			}
			p.step(b, s)
		}
	}
}

// pagePostgresURL is the database URL the pages show, as imagequota prints
// it (password hidden); the real one of a run is shown as this.
const pagePostgresURL = "postgres://imagequota:xxxxx@db.internal:5432/imagequota?sslmode=verify-full"

// postgres gives the page's shell IMAGEQUOTA_DB, a fresh database, the first
// time a block asks for it. Without a PostgreSQL server for tests the rest of
// the page is skipped (or fails where one is required, as in CI).
func (p *page) postgres() bool {
	p.t.Helper()
	if p.pgURL != "" {
		return true
	}
	if os.Getenv(pgtest.ServerEnv) == "" && os.Getenv(pgtest.RequireEnv) == "" {
		p.t.Logf("%s: the rest of the page needs PostgreSQL: set %s", p.rel, pgtest.ServerEnv)
		return false
	}
	p.pgURL = pgtest.NewDatabase(p.t)
	p.back = append([][2]string{{p.pgURL, pagePostgresURL}}, p.back...)
	if _, code := p.sh.run(p.t, "export IMAGEQUOTA_DB='"+p.pgURL+"'"); code != 0 {
		p.t.Fatal("could not set IMAGEQUOTA_DB in the shell")
	}
	return true
}

func (p *page) toRun(cmd string) string {
	for _, s := range p.subst {
		cmd = strings.ReplaceAll(cmd, s[0], s[1])
	}
	return cmd
}

func (p *page) toPage(out string) []string {
	for _, s := range p.back {
		out = strings.ReplaceAll(out, s[0], s[1])
	}
	out = strings.TrimRight(out, "\n")
	if out == "" {
		return nil
	}
	return strings.Split(out, "\n")
}

var serveCommand = regexp.MustCompile(`(^|\s)(imagequota|go run \./cmd/imagequota) serve(\s|$)`)

func (p *page) step(b Block, s Step) {
	p.t.Helper()
	cmd := p.toRun(s.Command)
	if serveCommand.MatchString(s.Command) && !strings.Contains(s.Command, "--help") {
		if b.IsConsole() {
			p.serve(s, cmd)
		} else {
			p.serveQuietly(s, cmd)
		}
		return
	}
	out, code := p.sh.run(p.t, cmd)
	got := p.toPage(out)
	if b.IsScript() {
		if code != 0 {
			p.t.Errorf("%s:%d: %s\nexited %d:\n%s", p.rel, s.Line, s.Command, code, out)
		}
		return
	}
	if os.Getenv(recordEnv) == "all" {
		// Refresh the values of a matching output, keeping its cuts.
		if r := Refresh(s.Output, got); r != nil && len(s.Output) > 0 {
			p.recorded[s.Line+strings.Count(s.Command, "\n")+1] = recording{n: len(s.Output), got: r}
			return
		}
	}
	if !Match(s.Output, got, false) {
		if os.Getenv(recordEnv) != "" {
			p.recorded[s.Line+strings.Count(s.Command, "\n")+1] = recording{n: len(s.Output), got: got}
			return
		}
		p.t.Errorf("%s:%d: $ %s\n%s", p.rel, s.Line, s.Command, Diff(s.Output, got))
	}
}

// writeRecorded writes the recorded outputs into the page.
func (p *page) writeRecorded(path, md string) {
	if len(p.recorded) == 0 {
		return
	}
	lines := strings.Split(md, "\n")
	starts := make([]int, 0, len(p.recorded))
	for l := range p.recorded {
		starts = append(starts, l)
	}
	sort.Sort(sort.Reverse(sort.IntSlice(starts)))
	for _, l := range starts {
		r := p.recorded[l]
		i := l - 1
		lines = append(lines[:i], append(append([]string(nil), r.got...), lines[i+r.n:]...)...)
	}
	if err := os.WriteFile(path, []byte(strings.Join(lines, "\n")), 0o644); err != nil {
		p.t.Fatal(err)
	}
	p.t.Logf("%s: wrote %d recorded output(s)", p.rel, len(p.recorded))
}

// serve starts a server command apart from the shell, with the shell's
// directory and exported variables, and waits until what it printed matches
// the page (it may print more after) or it exits.
func (p *page) serve(s Step, cmd string) {
	p.t.Helper()
	dir, env := p.sh.state(p.t)
	srv := startServer(p.t, dir, env, cmd)
	deadline := time.Now().Add(commandTimeout)
	for {
		exited := srv.exited()
		got := p.toPage(srv.output())
		if exited {
			if !matchStreams(s.Output, got, false) && os.Getenv(recordEnv) != "" {
				p.recorded[s.Line+strings.Count(s.Command, "\n")+1] = recording{n: len(s.Output), got: got}
			} else if !matchStreams(s.Output, got, false) {
				p.t.Errorf("%s:%d: $ %s\n(it exited)\n%s", p.rel, s.Line, s.Command, Diff(s.Output, got))
			}
			return
		}
		if matchStreams(s.Output, got, true) {
			p.servers = append(p.servers, srv)
			return
		}
		// Every line but the last, which may be still being written, is
		// final: when they already differ, more output cannot help.
		if len(got) > 1 && !mayMatchStreams(s.Output, got[:len(got)-1]) {
			p.t.Errorf("%s:%d: $ %s\n%s", p.rel, s.Line, s.Command, Diff(s.Output, got))
			p.servers = append(p.servers, srv)
			return
		}
		if time.Now().After(deadline) {
			p.t.Errorf("%s:%d: $ %s\n(still running after %v)\n%s", p.rel, s.Line, s.Command, commandTimeout, Diff(s.Output, got))
			p.servers = append(p.servers, srv)
			return
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// A server writes its log (JSON lines) and its hints (text) to two streams,
// whose lines interleave differently from run to run; they are matched one
// stream at a time. A "…" line of the page stands in both.
func splitStreams(lines []string) (log, text []string) {
	for _, l := range lines {
		switch {
		case strings.TrimSpace(l) == Ellipsis:
			log, text = append(log, l), append(text, l)
		case strings.HasPrefix(strings.TrimSpace(l), `{"time":`):
			log = append(log, l)
		default:
			text = append(text, l)
		}
	}
	return log, text
}

func matchStreams(want, got []string, prefix bool) bool {
	wl, wt := splitStreams(want)
	gl, gt := splitStreams(got)
	return Match(wl, gl, prefix) && Match(wt, gt, prefix)
}

func mayMatchStreams(want, got []string) bool {
	wl, wt := splitStreams(want)
	gl, gt := splitStreams(got)
	return MayMatch(wl, gl) && MayMatch(wt, gt)
}

// serveQuietly starts a server command of a script block, whose output the
// page does not show, and waits until it listens.
func (p *page) serveQuietly(s Step, cmd string) {
	p.t.Helper()
	dir, env := p.sh.state(p.t)
	srv := startServer(p.t, dir, env, cmd)
	deadline := time.Now().Add(commandTimeout)
	for !strings.Contains(srv.output(), `"msg":"listening"`) {
		if srv.exited() {
			p.t.Errorf("%s:%d: %s\nexited before it listened:\n%s", p.rel, s.Line, s.Command, srv.output())
			return
		}
		if time.Now().After(deadline) {
			p.t.Errorf("%s:%d: %s\ndid not listen within %v:\n%s", p.rel, s.Line, s.Command, commandTimeout, srv.output())
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	p.servers = append(p.servers, srv)
}

// interrupt stops the server started last with SIGINT, as Ctrl-C does, and
// compares the last lines it printed with the block's.
func (p *page) interrupt(b Block) {
	p.t.Helper()
	if len(p.servers) == 0 {
		p.t.Errorf("%s:%d: an interrupt block with no server running", p.rel, b.Line)
		return
	}
	srv := p.servers[len(p.servers)-1]
	p.servers = p.servers[:len(p.servers)-1]
	code := srv.stop(p.t)
	want := append([]string{Ellipsis}, b.Lines...)
	got := p.toPage(srv.output())
	if !matchStreams(want, got, false) {
		p.t.Errorf("%s:%d: the server's last lines after SIGINT\n%s", p.rel, b.Line, Diff(want, got))
	}
	if code != 0 {
		p.t.Errorf("%s:%d: the server exited %d after SIGINT, not 0", p.rel, b.Line, code)
	}
}

func (p *page) stopServers() {
	for _, s := range p.servers {
		s.stop(p.t)
	}
}

// shell is one bash that runs a page's commands in turn, so that variables,
// functions and the directory carry from one command to the next.
type shell struct {
	cmd  *exec.Cmd
	in   io.WriteCloser
	out  *bufio.Reader
	n    int
	done chan struct{}
}

func startShell(t *testing.T, dir string, env []string) *shell {
	t.Helper()
	cmd := exec.Command("bash", "--noprofile", "--norc")
	cmd.Dir = dir
	cmd.Env = env
	in, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stdout, cmd.Stderr = w, w
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	w.Close()
	sh := &shell{cmd: cmd, in: in, out: bufio.NewReader(r), done: make(chan struct{})}
	go func() { cmd.Wait(); r.Close(); close(sh.done) }()
	t.Cleanup(func() {
		in.Close()
		select {
		case <-sh.done:
		case <-time.After(10 * time.Second):
			syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
			<-sh.done
		}
	})
	return sh
}

// run runs one command and returns what it printed (stdout and stderr as one
// stream, in order) and its exit status.
func (sh *shell) run(t *testing.T, command string) (string, int) {
	t.Helper()
	sh.n++
	mark := fmt.Sprintf("__doccheck_%d_%d__", os.Getpid(), sh.n)
	script := fmt.Sprintf("{\n%s\n} </dev/null 2>&1\nprintf '\\n%s %%d\\n' $?\n", command, mark)
	if _, err := io.WriteString(sh.in, script); err != nil {
		t.Fatalf("the shell is gone: %v", err)
	}
	type result struct {
		out  string
		code int
		err  error
	}
	ch := make(chan result, 1)
	go func() {
		var b strings.Builder
		for {
			line, err := sh.out.ReadString('\n')
			if strings.HasPrefix(line, mark+" ") {
				code, _ := strconv.Atoi(strings.TrimSpace(strings.TrimPrefix(line, mark+" ")))
				out := strings.TrimSuffix(b.String(), "\n")
				ch <- result{out: out, code: code}
				return
			}
			b.WriteString(line)
			if err != nil {
				ch <- result{out: b.String(), err: err}
				return
			}
		}
	}()
	select {
	case r := <-ch:
		if r.err != nil {
			t.Fatalf("the shell ended while running %q: %v\n%s", command, r.err, r.out)
		}
		return r.out, r.code
	case <-time.After(commandTimeout):
		t.Fatalf("%q did not finish within %v", command, commandTimeout)
		return "", -1
	}
}

// state returns the shell's directory and exported variables.
func (sh *shell) state(t *testing.T) (string, []string) {
	t.Helper()
	dir, _ := sh.run(t, "pwd")
	env, _ := sh.run(t, "env -0")
	var vars []string
	for _, v := range strings.Split(env, "\x00") {
		if strings.Contains(v, "=") {
			vars = append(vars, v)
		}
	}
	return strings.TrimSpace(dir), vars
}

// server is a long-running command of a page.
type server struct {
	cmd  *exec.Cmd
	mu   sync.Mutex
	buf  bytes.Buffer
	done chan struct{}
}

func startServer(t *testing.T, dir string, env []string, command string) *server {
	t.Helper()
	s := &server{done: make(chan struct{})}
	s.cmd = exec.Command("bash", "--noprofile", "--norc", "-c", command)
	s.cmd.Dir = dir
	s.cmd.Env = env
	s.cmd.Stdout = s
	s.cmd.Stderr = s
	s.cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := s.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { s.cmd.Wait(); close(s.done) }()
	return s
}

func (s *server) Write(b []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.buf.Write(b)
}

func (s *server) output() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.buf.String()
}

func (s *server) exited() bool {
	select {
	case <-s.done:
		return true
	default:
		return false
	}
}

// stop sends SIGINT to the server's process group, as Ctrl-C in its terminal
// would, and returns its exit status; it kills what is left after a while.
func (s *server) stop(t *testing.T) int {
	if !s.exited() {
		syscall.Kill(-s.cmd.Process.Pid, syscall.SIGINT)
		select {
		case <-s.done:
		case <-time.After(30 * time.Second):
			t.Errorf("the server did not stop within 30 s of SIGINT")
			syscall.Kill(-s.cmd.Process.Pid, syscall.SIGKILL)
			<-s.done
		}
	}
	return s.cmd.ProcessState.ExitCode()
}

var (
	binaryOnce sync.Once
	binaryDir  string
	binaryPath string
	binaryErr  error
)

// TestMain removes the binary the run pages use.
func TestMain(m *testing.M) {
	code := m.Run()
	if binaryDir != "" {
		os.RemoveAll(binaryDir)
	}
	os.Exit(code)
}

// binary builds the imagequota command once, for every run page to find on
// its PATH, and returns its path.
func binary(t *testing.T, root string) string {
	t.Helper()
	binaryOnce.Do(func() {
		binaryDir, binaryErr = os.MkdirTemp("", "imagequota-doccheck-")
		if binaryErr != nil {
			return
		}
		binaryPath = filepath.Join(binaryDir, "imagequota")
		cmd := exec.Command("go", "build", "-o", binaryPath, "./cmd/imagequota")
		cmd.Dir = root
		if out, err := cmd.CombinedOutput(); err != nil {
			binaryErr = fmt.Errorf("%v\n%s", err, out)
		}
	})
	if binaryErr != nil {
		t.Fatalf("building imagequota: %v", binaryErr)
	}
	return binaryPath
}

// withPath puts dir first on the PATH of env.
func withPath(env []string, dir string) []string {
	out := make([]string, 0, len(env)+1)
	path := dir
	for _, v := range env {
		if p, ok := strings.CutPrefix(v, "PATH="); ok {
			path = dir + string(os.PathListSeparator) + p
			continue
		}
		out = append(out, v)
	}
	return append(out, "PATH="+path)
}

// repoView makes a directory whose entries link to the repository's top
// level, so that a page's commands that name the repository's paths
// (go run ./cmd/imagequota) run as written while what they create (./data)
// lands in the temporary directory.
func repoView(t *testing.T, root, dir string) string {
	t.Helper()
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	entries, err := os.ReadDir(root)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		switch e.Name() {
		case ".git", "data", "bin":
			continue
		}
		if err := os.Symlink(filepath.Join(root, e.Name()), filepath.Join(dir, e.Name())); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

// cleanEnv is the test's environment without what would change the commands'
// behaviour: the IMAGEQUOTA_* and ZENLAYER_* variables a developer may have set.
func cleanEnv() []string {
	var env []string
	for _, v := range os.Environ() {
		if strings.HasPrefix(v, "IMAGEQUOTA_") || strings.HasPrefix(v, "ZENLAYER_") {
			continue
		}
		env = append(env, v)
	}
	return env
}

func freePort(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return strconv.Itoa(ln.Addr().(*net.TCPAddr).Port)
}
