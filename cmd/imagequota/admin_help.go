package main

import (
	"flag"
	"fmt"
	"io"
	"strings"
)

const adminSynopsis = "imagequota admin [--data-dir DIR | --db URL | --server URL]"

const adminFooter = `The commands work on a store that exists: "imagequota migrate" creates one
(and "imagequota serve" creates the default ./data on its first start). Only
key create, operator create, operator add-key and master-key rotate read the
master key file.

Every command takes --output table|json (default table) and --help.
"imagequota admin GROUP --help" lists a group's commands, and
"imagequota admin GROUP COMMAND --help" shows a command's flags.

With --server URL (and an operator key in IMAGEQUOTA_OPERATOR_KEY_ID and
IMAGEQUOTA_OPERATOR_KEY_SECRET) a command runs through the operator API of
that server instead, with the same output; it needs no database URL or
master key. audit prune, master-key rotate and the operator commands work
on the store only.

Exit status: 0 on success; 2 when the command line is refused before
anything is done (an unknown command or flag, a missing argument, a flag value
of the wrong type or out of range); 1 when the command fails after that (a
store or server that cannot be reached, a refusal of the store or server).
`

// writeAdminUsage writes the help of imagequota admin: every command, then
// the store flags of fs.
func writeAdminUsage(w io.Writer, fs *flag.FlagSet) {
	fmt.Fprintf(w, "imagequota admin: manage the store directly (also while a server runs on it), or through a server's operator API.\n\nUsage: %s COMMAND [flags]\n\nCommands:\n", adminSynopsis)
	writeCommandList(w, "")
	fmt.Fprint(w, "\n", adminFooter)
	writeStoreFlags(w, fs, "before or after the command")
}

// writeGroupUsage writes the help of one group of commands.
func writeGroupUsage(w io.Writer, g adminGroup) {
	fmt.Fprintf(w, "imagequota admin %s: %s.\n\nUsage: %s %s COMMAND [flags]\n\nCommands:\n", g.name, g.summary, adminSynopsis, g.name)
	writeCommandList(w, g.name)
	fmt.Fprintf(w, "\nRun \"imagequota admin %s COMMAND --help\" for a command's flags, and \"imagequota admin --help\" for every command.\n", g.name)
}

// writeUsage writes the help of one command from its flag set.
func (cmd *adminCommand) writeUsage(w io.Writer, fs *flag.FlagSet) {
	synopsis := cmd.synopsis
	if synopsis != "" {
		synopsis += " "
	}
	fmt.Fprintf(w, "imagequota admin %s: %s.\n\nUsage: %s %s %s[--output table|json]\n", cmd.name(), cmd.summary, adminSynopsis, cmd.name(), synopsis)
	if cmd.details != "" {
		fmt.Fprintf(w, "\n%s\n", strings.TrimSpace(cmd.details))
	}
	store := storeFlagNames()
	fmt.Fprint(w, "\nFlags:\n")
	writeFlags(w, fs, func(name string) bool { return !store[name] })
	writeStoreFlags(w, fs, "also before the command")
}

// writeCommandList writes a line for each command of group, or of every
// group when group is empty: its synopsis, then its summary in a column.
func writeCommandList(w io.Writer, group string) {
	const column, width = 40, 80
	for _, cmd := range adminTable {
		if group != "" && cmd.group != group {
			continue
		}
		lines := wrap("  "+cmd.name()+" "+cmd.synopsis, width, "           ")
		last := lines[len(lines)-1]
		if len(lines) == 1 && len(last) < column-1 {
			lines[0] = last + strings.Repeat(" ", column-len(last)) + cmd.summary
		} else {
			lines = append(lines, strings.Repeat(" ", column)+cmd.summary)
		}
		fmt.Fprintln(w, strings.Join(lines, "\n"))
	}
}

// wrap breaks s at spaces into lines of at most width bytes where it can;
// every line but the first starts with indent.
func wrap(s string, width int, indent string) []string {
	var lines []string
	line := ""
	for i, word := range strings.Fields(s) {
		switch {
		case i == 0:
			line = "  " + word
		case len(line)+1+len(word) > width:
			lines = append(lines, line)
			line = indent + word
		default:
			line += " " + word
		}
	}
	return append(lines, line)
}

// writeStoreFlags writes the store flags of fs under a heading saying where they go.
func writeStoreFlags(w io.Writer, fs *flag.FlagSet, where string) {
	store := storeFlagNames()
	fmt.Fprintf(w, "\nStore flags (%s; each defaults from the variable in brackets):\n", where)
	writeFlags(w, fs, func(name string) bool { return store[name] })
}

// writeFlags writes the flags of fs that keep selects, as --name VALUE and
// their help in a column, wrapped to 80 columns.
func writeFlags(w io.Writer, fs *flag.FlagSet, keep func(name string) bool) {
	const width, maxColumn = 80, 32
	type row struct{ left, help string }
	var rows []row
	column := 0
	fs.VisitAll(func(f *flag.Flag) {
		if !keep(f.Name) {
			return
		}
		value, help := flag.UnquoteUsage(f)
		if v, ok := storeFlagValues[f.Name]; ok {
			value = v
		}
		left := "  --" + f.Name
		if value != "" {
			left += " " + strings.ToUpper(value)
		}
		switch f.DefValue {
		case "", "0", "false", "0s":
		default:
			help += " (default " + f.DefValue + ")"
		}
		rows = append(rows, row{left, help})
		if len(left)+2 <= maxColumn {
			column = max(column, len(left)+2)
		}
	})
	indent := strings.Repeat(" ", column)
	for _, r := range rows {
		lines := wrap(r.help, width-column, "")
		for i := range lines {
			lines[i] = indent + strings.TrimSpace(lines[i])
		}
		if len(r.left)+2 <= column {
			lines[0] = r.left + lines[0][len(r.left):]
		} else {
			lines = append([]string{r.left}, lines...)
		}
		fmt.Fprintln(w, strings.Join(lines, "\n"))
	}
}

// storeFlagValues names the values of the store flags in the help, whose
// own help names none.
var storeFlagValues = map[string]string{
	"data-dir": "DIR", "db": "URL", "catalog": "FILE", "master-key-file": "FILE", "db-max-conns": "N", "server": "URL",
}

// storeFlagNames returns the names of the flags addStoreFlags declares.
func storeFlagNames() map[string]bool {
	c := newConfig("store", "", nil, io.Discard, io.Discard)
	addStoreFlags(c)
	addServerFlags(c)
	names := map[string]bool{}
	c.fs.VisitAll(func(f *flag.Flag) { names[f.Name] = true })
	return names
}

// adminHelp answers "imagequota admin help [GROUP [COMMAND]]".
func adminHelp(top *config, args []string, env map[string]string, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		writeAdminUsage(stdout, top.fs)
		return nil
	}
	g, ok := findGroup(args[0])
	if ok && len(args) == 1 {
		writeGroupUsage(stdout, g)
		return nil
	}
	if ok && len(args) == 2 {
		if cmd := findCommand(g.name, args[1]); cmd != nil {
			f, _, _, _, _ := cmd.commandFlags(top, env, stdout, stderr)
			cmd.writeUsage(stdout, f.c.fs)
			return nil
		}
	}
	fmt.Fprintf(stderr, "imagequota admin help: unknown command %q\n%s", strings.Join(args, " "), helpPointer("admin"))
	return errUsage
}
