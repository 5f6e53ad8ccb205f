package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"slices"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/imagequota/imagequota/internal/app"
	"github.com/imagequota/imagequota/internal/quota"
	"github.com/imagequota/imagequota/internal/store"
)

// adminCommand is one admin command, declared once: its name, its help and,
// in setup, its flags, the checks of their values and what it runs.
//
// The exit status follows from where a command stops: 2 when its command
// line is refused before anything is done (an unknown command or flag, a
// flag value of the wrong type: errUsage; a missing argument or a value the
// checks refuse: a usageError); 1 for every failure after that, a value the
// store refuses included.
type adminCommand struct {
	group, verb string
	// synopsis shows the arguments and the main flags, as in the command list.
	synopsis string
	// summary is the command's line in the command lists.
	summary string
	// details, when set, follows the summary in the command's own help.
	details string
	// setup declares the command's flags and checks on f and returns what
	// runs the command once they are parsed and checked.
	setup func(f *adminFlags) adminRun
	// key says the command seals or opens access key passwords, and so
	// needs the master key; keyGenerate that it may make the key when the
	// store has none yet. The other commands never read the key file.
	key, keyGenerate bool
	// local marks a command that works on the store only, not through the
	// operator API (--server): it uses adminCtx.local.
	local bool
}

// adminRun runs a command on the opened store.
type adminRun func(ctx context.Context, a *adminCtx) error

func (cmd *adminCommand) name() string { return cmd.group + " " + cmd.verb }

// adminGroup is the first word of some commands.
type adminGroup struct{ name, summary string }

var adminGroups = []adminGroup{
	{"account", "accounts: the tenants every key, token, instance, image and limit belongs to"},
	{"key", "access keys, the signing credentials of an account"},
	{"token", "bearer tokens of an account"},
	{"quota", "limits on custom images per account and location, and their use"},
	{"location", "the location catalogue"},
	{"instance", "instances, which images are made from"},
	{"audit", "the audit trail: a record of every change to the store"},
	{"master-key", "the key that seals access key passwords at rest"},
	{"operator", "operators, who run the service through the operator API, and their keys"},
}

// adminTable is every admin command, in the order of adminGroups.
var adminTable = slices.Concat(accountCommands, keyCommands, tokenCommands, quotaCommands,
	locationCommands, instanceCommands, auditCommands, masterKeyCommands, operatorCommands)

func findGroup(name string) (adminGroup, bool) {
	i := slices.IndexFunc(adminGroups, func(g adminGroup) bool { return g.name == name })
	if i < 0 {
		return adminGroup{}, false
	}
	return adminGroups[i], true
}

func findCommand(group, verb string) *adminCommand {
	for i := range adminTable {
		if adminTable[i].group == group && adminTable[i].verb == verb {
			return &adminTable[i]
		}
	}
	return nil
}

// adminCtx is what a command runs with.
type adminCtx struct {
	// db is the store, or the operator API with --server.
	db adminStore
	// local is the store itself, for the commands marked local; nil with --server.
	local  *store.DB
	cat    *quota.Catalog
	out    io.Writer
	stderr io.Writer
	json   bool
	// keyPath is the master key file the store flags name.
	keyPath string
}

func runAdmin(ctx context.Context, args []string, env map[string]string, stdout, stderr io.Writer) error {
	top := newConfig("admin", "", env, stdout, stderr)
	addStoreFlags(top)
	addServerFlags(top)
	top.fs.Usage = func() { writeAdminUsage(top.fs.Output(), top.fs) }
	if err := parseFlags(top.fs, args, stdout, stderr); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return err
		}
		return errUsage
	}
	rest := top.fs.Args()
	if len(rest) == 0 {
		writeAdminUsage(stderr, top.fs)
		return errUsage
	}
	if rest[0] == "help" {
		return adminHelp(top, rest[1:], env, stdout, stderr)
	}
	g, ok := findGroup(rest[0])
	if !ok {
		name := rest[0]
		if len(rest) > 1 && !isHelpFlag(rest[1]) {
			name += " " + rest[1]
		}
		fmt.Fprintf(stderr, "imagequota admin: unknown command %q\n%s", name, helpPointer("admin"))
		return errUsage
	}
	if len(rest) > 1 && isHelpFlag(rest[1]) {
		writeGroupUsage(stdout, g)
		return nil
	}
	var cmd *adminCommand
	if len(rest) > 1 {
		cmd = findCommand(g.name, rest[1])
	}
	if cmd == nil {
		fmt.Fprintf(stderr, "imagequota admin: unknown command %q\n%s", strings.Join(rest[:min(2, len(rest))], " "), helpPointer("admin "+g.name))
		return errUsage
	}
	return cmd.execute(ctx, top, rest[2:], env, stdout, stderr)
}

// adminFlags is what a command's setup declares its flags and checks on.
type adminFlags struct {
	c    *config
	name string
	// checks run after parsing, in the order declared; each records its
	// problems in c, so that all are reported at once.
	checks []func()
	// arg, when set, receives the command's one positional argument.
	arg *string
	// locations are flags naming a location, looked up in the catalogue.
	locations []*string
}

// commandFlags makes the flag set of cmd: the store flags (defaulting to
// those given before the command, in top), --output and the command's own.
func (cmd *adminCommand) commandFlags(top *config, env map[string]string, stdout, stderr io.Writer) (*adminFlags, *storeFlags, *serverFlags, *string, adminRun) {
	c := newConfig("admin "+cmd.name(), "", env, stdout, stderr)
	sf := addStoreFlags(c)
	srv := addServerFlags(c)
	// Flags given before the command are the defaults of the same flags after it.
	c.fs.VisitAll(func(f *flag.Flag) {
		if tf := top.fs.Lookup(f.Name); tf != nil {
			f.DefValue = tf.Value.String()
			_ = f.Value.Set(tf.Value.String())
		}
	})
	f := &adminFlags{c: c, name: cmd.name()}
	output := f.String("output", "table", "`FORMAT` of the output: table or json")
	run := cmd.setup(f)
	c.fs.Usage = func() { cmd.writeUsage(c.fs.Output(), c.fs) }
	return f, sf, srv, output, run
}

// execute parses the command's flags, checks them, opens the store (or,
// with --server, a client of the server's operator API) and runs the command.
func (cmd *adminCommand) execute(ctx context.Context, top *config, args []string, env map[string]string, stdout, stderr io.Writer) error {
	f, sf, srv, output, run := cmd.commandFlags(top, env, stdout, stderr)
	pos, err := f.c.Parse(args)
	if err != nil {
		return err
	}
	switch {
	case f.arg != nil && len(pos) == 1:
		*f.arg = pos[0]
	case f.arg != nil:
		f.Problem("%s takes exactly one id", f.name)
	case len(pos) > 0:
		f.Problem("unexpected arguments: %s", strings.Join(pos, " "))
	}
	if *output != "table" && *output != "json" {
		f.Problem("--output must be table or json; it is %q", *output)
	}
	for _, check := range f.checks {
		check()
	}
	sf.check(f.c)
	cat := sf.loadCatalog(f.c)
	if err := f.c.Err(); err != nil {
		return err
	}
	for _, loc := range f.locations {
		// Through --server, the server checks its own catalogue.
		if _, ok := cat.Lookup(*loc); *loc != "" && !ok && srv.url == "" {
			return fmt.Errorf("location %q is not in the catalogue (see: imagequota admin location list)", *loc)
		}
	}
	a := &adminCtx{cat: cat, out: stdout, stderr: stderr, json: *output == "json", keyPath: sf.keyPath()}
	if srv.url != "" {
		if cmd.local {
			return fmt.Errorf("admin %s works on the store only, not through --server: run it where the store and its master key are", cmd.name())
		}
		api, err := newAPIStore(srv, env)
		if err != nil {
			return err
		}
		a.db = api
		return run(ctx, a)
	}
	sf.notices = stderr
	var key *app.MasterKey
	if cmd.key {
		key = sf.masterKey(cmd.keyGenerate, quota.AdminActor)
	}
	db, err := sf.open(ctx, key)
	if err != nil {
		return err
	}
	defer db.Close()
	a.db, a.local = localStore{db}, db
	return run(ctx, a)
}

// String declares a string flag. A word of help in backquotes names its
// value in the help ("account `ID`").
func (f *adminFlags) String(name, def, help string) *string {
	p := new(string)
	f.c.String(p, name, "", def, help)
	return p
}

// Required declares a string flag that must be given.
func (f *adminFlags) Required(name, help string) *string {
	p := f.String(name, "", help+" (required)")
	f.Check(func() {
		if *p == "" {
			f.Problem("--%s is required", name)
		}
	})
	return p
}

// Location declares a flag naming a location of the catalogue.
func (f *adminFlags) Location(help string, required bool) *string {
	var p *string
	if required {
		p = f.Required("location", help)
	} else {
		p = f.String("location", "", help)
	}
	f.locations = append(f.locations, p)
	return p
}

func (f *adminFlags) Int(name string, def int, help string) *int {
	p := new(int)
	f.c.Int(p, name, "", def, help)
	return p
}

func (f *adminFlags) Duration(name string, def time.Duration, help string) *time.Duration {
	p := new(time.Duration)
	f.c.Duration(p, name, "", def, help)
	return p
}

func (f *adminFlags) Bool(name, help string) *bool {
	p := new(bool)
	f.c.Bool(p, name, "", false, help)
	return p
}

// Age declares a flag holding an age: a number of days ("400d") or a
// duration ("36h"); 0 when not given.
func (f *adminFlags) Age(name, help string) *time.Duration {
	p := new(time.Duration)
	f.c.fs.Var(ageValue{p}, name, help)
	return p
}

// ageValue is the flag.Value of an Age flag.
type ageValue struct{ d *time.Duration }

func (v ageValue) String() string {
	if v.d == nil || *v.d == 0 {
		return ""
	}
	return store.FormatAge(*v.d)
}

func (v ageValue) Set(s string) error {
	d, err := store.ParseAge(s)
	if err != nil {
		return err
	}
	*v.d = d
	return nil
}

// Arg declares that the command takes exactly one positional argument.
func (f *adminFlags) Arg() *string {
	f.arg = new(string)
	return f.arg
}

// Check adds a check of the values, run once they are parsed.
func (f *adminFlags) Check(fn func()) { f.checks = append(f.checks, fn) }

// Problem records a problem with the values.
func (f *adminFlags) Problem(format string, args ...any) { f.c.Problem(format, args...) }

// Fail reports a problem with the values found once the command ran (by the
// layer that checks them): the store refused them, exit status 1.
func (f *adminFlags) Fail(format string, args ...any) error {
	return fmt.Errorf(format, args...)
}

// IsSet reports whether the flag name was given on the command line.
func (f *adminFlags) IsSet(name string) bool {
	set := false
	f.c.fs.Visit(func(fl *flag.Flag) { set = set || fl.Name == name })
	return set
}

// checkAccount returns an error when account is given and does not exist:
// for reads, which the store answers with nothing for an unknown account.
func (a *adminCtx) checkAccount(ctx context.Context, account string) error {
	if account == "" {
		return nil
	}
	_, err := a.db.GetAccount(ctx, account)
	return err
}

// print writes v as JSON, or the rows as a table.
func (a *adminCtx) print(v any, header []string, rows [][]string) error {
	if a.json {
		enc := json.NewEncoder(a.out)
		enc.SetIndent("", "  ")
		return enc.Encode(v)
	}
	tw := tabwriter.NewWriter(a.out, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, strings.Join(header, "\t"))
	for _, r := range rows {
		fmt.Fprintln(tw, strings.Join(r, "\t"))
	}
	return tw.Flush()
}

// isHelpFlag reports whether arg asks for help.
func isHelpFlag(arg string) bool {
	switch arg {
	case "-h", "-help", "--help", "--h":
		return true
	}
	return false
}

func enabled(b bool) string {
	if b {
		return "enabled"
	}
	return "disabled"
}

func orStar(s string) string {
	if s == "" {
		return "*"
	}
	return s
}

func intOrDash(p *int) string {
	if p == nil {
		return "-"
	}
	return fmt.Sprint(*p)
}

func compact(v any) string {
	if v == nil {
		return "-"
	}
	b, _ := json.Marshal(v)
	return string(b)
}
