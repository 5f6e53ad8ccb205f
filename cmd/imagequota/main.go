// Command imagequota serves the Zenlayer Cloud API 2.0 "vm" image-quota API
// and administers its store.
package main

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"time"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, os.Args[1:], os.Environ(), os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

const usage = `imagequota serves the Zenlayer Cloud API 2.0 "vm" image-quota API.

Usage:
  imagequota serve   [flags]          run the server (SQLite in ./data by default)
  imagequota admin   [flags] COMMAND  manage accounts, keys, tokens, limits, instances, audit
  imagequota call    ACTION [flags]   call the API with a signed request
  imagequota migrate [up|status]      apply or show database migrations
  imagequota backup  --out FILE       copy the SQLite store, also while it serves
  imagequota restore --from FILE      put a backup in place as the SQLite store
  imagequota healthcheck [--url URL]  probe a server's /healthz (for containers)
  imagequota version                  print the version (also --version)

Run "imagequota COMMAND --help" for the flags of a command.
`

// errUsage is returned after a usage problem was already printed.
var errUsage = errors.New("usage")

// usageError is a command line or environment refused before anything was
// done: a missing argument, a value out of range, a flag's file that cannot
// be read. Each problem is printed on a line of its own, then where the help
// is, and the exit status is 2.
type usageError struct {
	// cmd is the command as it is typed after "imagequota": "serve", "admin key create".
	cmd      string
	problems []string
}

func (e *usageError) Error() string { return strings.Join(e.problems, "; ") }

// helpPointer says how to get the help of cmd ("" for imagequota itself).
func helpPointer(cmd string) string {
	if cmd == "" {
		return "Run \"imagequota --help\" for usage.\n"
	}
	return fmt.Sprintf("Run \"imagequota %s --help\" for usage.\n", cmd)
}

// run is main without the process: it is what the tests call.
func run(ctx context.Context, args, environ []string, stdout, stderr io.Writer) int {
	env := envMap(environ)
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return 2
	}
	var err error
	switch args[0] {
	case "serve":
		err = runServe(ctx, args[1:], env, stdout, stderr)
	case "admin":
		err = runAdmin(ctx, args[1:], env, stdout, stderr)
	case "call":
		err = runCall(ctx, args[1:], env, stdout, stderr)
	case "migrate":
		err = runMigrate(ctx, args[1:], env, stdout, stderr)
	case "backup":
		err = runBackup(ctx, args[1:], env, stdout, stderr)
	case "restore":
		err = runRestore(ctx, args[1:], env, stdout, stderr)
	case "healthcheck":
		err = runHealthcheck(ctx, args[1:], env, stdout, stderr)
	case "version", "--version", "-version":
		err = runVersion(args[1:], env, stdout, stderr)
	case "help", "--help", "-help", "-h":
		fmt.Fprint(stdout, usage)
	default:
		fmt.Fprintf(stderr, "imagequota: unknown command %q\n%s", args[0], helpPointer(""))
		return 2
	}
	var ue *usageError
	switch {
	case err == nil:
		return 0
	case errors.Is(err, flag.ErrHelp):
		return 0
	case errors.Is(err, errUsage):
		return 2
	case errors.As(err, &ue):
		for _, p := range ue.problems {
			fmt.Fprintf(stderr, "imagequota %s: %s\n", ue.cmd, p)
		}
		fmt.Fprint(stderr, helpPointer(ue.cmd))
		return 2
	case errors.Is(err, errCallFailed):
		return 1
	default:
		fmt.Fprintln(stderr, "imagequota:", err)
		return 1
	}
}

func envMap(environ []string) map[string]string {
	m := make(map[string]string, len(environ))
	for _, kv := range environ {
		if k, v, ok := strings.Cut(kv, "="); ok {
			m[k] = v
		}
	}
	return m
}

// config collects flag values whose defaults come from IMAGEQUOTA_* variables,
// and every problem with them, so that all are reported at once.
type config struct {
	fs             *flag.FlagSet
	env            map[string]string
	problems       []string
	stdout, stderr io.Writer
}

// newConfig returns a config whose usage text starts with summary. The usage
// goes to stdout when asked for with --help, to stderr after a usage error.
func newConfig(name, summary string, env map[string]string, stdout, stderr io.Writer) *config {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	c := &config{fs: fs, env: env, stdout: stdout, stderr: stderr}
	fs.Usage = func() { writeCommandUsage(fs.Output(), summary, fs) }
	return c
}

// parseFlags parses args with fs. For --help the usage goes to stdout and
// flag.ErrHelp is returned; for a usage error its first line (the problem)
// goes to stderr with a pointer to --help.
func parseFlags(fs *flag.FlagSet, args []string, stdout, stderr io.Writer) error {
	var buf bytes.Buffer
	fs.SetOutput(&buf)
	err := fs.Parse(args)
	switch {
	case errors.Is(err, flag.ErrHelp):
		_, _ = stdout.Write(buf.Bytes())
	case err != nil:
		problem, _, _ := strings.Cut(buf.String(), "\n")
		fmt.Fprintf(stderr, "imagequota %s: %s\n%s", fs.Name(), dashDash(problem), helpPointer(fs.Name()))
	}
	return err
}

// singleDash matches a flag name as the flag package writes it, -name.
var singleDash = regexp.MustCompile(`(^|[\s:])-([A-Za-z0-9])`)

// dashDash writes the flag names of a message of the flag package as the
// help writes them: --name.
func dashDash(msg string) string { return singleDash.ReplaceAllString(msg, "$1--$2") }

// writeCommandUsage writes summary, then the flags of fs as --name VALUE with
// their help in a column.
func writeCommandUsage(w io.Writer, summary string, fs *flag.FlagSet) {
	fmt.Fprintf(w, "%s\n\nFlags (each defaults from the variable in brackets, where one is named):\n", strings.TrimRight(summary, "\n"))
	writeFlags(w, fs, func(string) bool { return true })
}

func (c *config) envHelp(key, help string) string {
	if key == "" {
		return help
	}
	return help + " [" + key + "]"
}

func (c *config) String(p *string, name, key, def, help string) {
	if v, ok := c.env[key]; ok && key != "" {
		def = v
	}
	c.fs.StringVar(p, name, def, c.envHelp(key, help))
}

// Secret is String for a value that may be secret: when KEY is unset it is read
// from the file named by KEY_FILE.
func (c *config) Secret(p *string, name, key, help string) {
	def := c.env[key]
	if def == "" && c.env[key+"_FILE"] != "" {
		b, err := os.ReadFile(c.env[key+"_FILE"])
		if err != nil {
			c.problems = append(c.problems, fmt.Sprintf("%s_FILE: %v", key, err))
		}
		def = strings.TrimSpace(string(b))
	}
	c.fs.StringVar(p, name, def, c.envHelp(key, help)+" (or "+key+"_FILE)")
}

func (c *config) Int(p *int, name, key string, def int, help string) {
	if v, ok := c.env[key]; ok && key != "" {
		n, err := strconv.Atoi(v)
		if err != nil {
			c.problems = append(c.problems, fmt.Sprintf("%s=%q is not an integer", key, v))
		} else {
			def = n
		}
	}
	c.fs.IntVar(p, name, def, c.envHelp(key, help))
}

func (c *config) Float(p *float64, name, key string, def float64, help string) {
	if v, ok := c.env[key]; ok && key != "" {
		f, err := strconv.ParseFloat(v, 64)
		if err != nil {
			c.problems = append(c.problems, fmt.Sprintf("%s=%q is not a number", key, v))
		} else {
			def = f
		}
	}
	c.fs.Float64Var(p, name, def, c.envHelp(key, help))
}

func (c *config) Duration(p *time.Duration, name, key string, def time.Duration, help string) {
	if v, ok := c.env[key]; ok && key != "" {
		d, err := time.ParseDuration(v)
		if err != nil {
			c.problems = append(c.problems, fmt.Sprintf("%s=%q is not a duration (like 2s or 1m)", key, v))
		} else {
			def = d
		}
	}
	c.fs.DurationVar(p, name, def, c.envHelp(key, help))
}

func (c *config) Bool(p *bool, name, key string, def bool, help string) {
	if v, ok := c.env[key]; ok && key != "" {
		b, err := strconv.ParseBool(v)
		if err != nil {
			c.problems = append(c.problems, fmt.Sprintf("%s=%q is not a boolean", key, v))
		} else {
			def = b
		}
	}
	c.fs.BoolVar(p, name, def, c.envHelp(key, help))
}

// Var declares a flag of any flag.Value; the variable key, when set, is
// parsed by v as the flag would be.
func (c *config) Var(v flag.Value, name, key, help string) {
	if s, ok := c.env[key]; ok && key != "" {
		if err := v.Set(s); err != nil {
			c.problems = append(c.problems, fmt.Sprintf("%s=%q: %v", key, s, err))
		}
	}
	c.fs.Var(v, name, c.envHelp(key, help))
}

// given reports whether the flag name was given on the command line or its
// variable key in the environment: whether the value is the operator's
// choice rather than the default.
func (c *config) given(name, key string) bool {
	if _, ok := c.env[key]; ok && key != "" {
		return true
	}
	set := false
	c.fs.Visit(func(f *flag.Flag) { set = set || f.Name == name })
	return set
}

// Problem records a problem found while checking the values.
func (c *config) Problem(format string, args ...any) {
	c.problems = append(c.problems, fmt.Sprintf(format, args...))
}

// Parse parses args, allowing flags before and after positional arguments,
// and returns the positional ones.
func (c *config) Parse(args []string) ([]string, error) {
	var pos []string
	for {
		if err := parseFlags(c.fs, args, c.stdout, c.stderr); err != nil {
			if errors.Is(err, flag.ErrHelp) {
				return nil, err
			}
			return nil, errUsage
		}
		rest := c.fs.Args()
		if len(rest) == 0 {
			break
		}
		if rest[0] == "--" {
			pos = append(pos, rest[1:]...)
			break
		}
		pos = append(pos, rest[0])
		args = rest[1:]
	}
	return pos, nil
}

// Err reports every problem at once.
func (c *config) Err() error {
	if len(c.problems) == 0 {
		return nil
	}
	return &usageError{cmd: c.fs.Name(), problems: c.problems}
}
