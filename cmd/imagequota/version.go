package main

import (
	"fmt"
	"io"
	"runtime"
	"runtime/debug"
	"strings"
)

// version is set at build time with -ldflags "-X main.version=…" (make build
// sets it from git describe). When it is not, it is the module version of the
// build information: "(devel)" for a binary built from a checkout by a Go that
// does not stamp one, a pseudo-version or tag for one built with go install.
var version string

func init() {
	if version == "" {
		version = buildVersion()
	}
}

// buildVersion is the main module's version in the build information.
func buildVersion() string {
	if bi, ok := debug.ReadBuildInfo(); ok && bi.Main.Version != "" {
		return bi.Main.Version
	}
	return "(devel)"
}

const versionUsage = `imagequota version: print the version and how the binary was built.

Usage: imagequota version (or imagequota --version)

The first line is "imagequota VERSION": the version given at build time
(make build sets it from git describe), else the module version of the build
information ("(devel)" when there is none). The lines after it come from the
build information: the module, the VCS revision and its time, whether the
working tree had changes, and the Go version.
`

func runVersion(args []string, env map[string]string, stdout, stderr io.Writer) error {
	c := newConfig("version", versionUsage, env, stdout, stderr)
	c.fs.Usage = func() { fmt.Fprint(c.fs.Output(), versionUsage) }
	pos, err := c.Parse(args)
	if err != nil {
		return err
	}
	if len(pos) > 0 {
		c.Problem("unexpected arguments: %s", strings.Join(pos, " "))
	}
	if err := c.Err(); err != nil {
		return err
	}
	writeVersion(stdout)
	return nil
}

// writeVersion prints the version and the build information.
func writeVersion(w io.Writer) {
	fmt.Fprintln(w, "imagequota", version)
	bi, ok := debug.ReadBuildInfo()
	if !ok {
		fmt.Fprintf(w, "  go        %s\n", runtime.Version())
		return
	}
	mod := bi.Main.Path
	if bi.Main.Version != "" {
		mod += " " + bi.Main.Version
	}
	fmt.Fprintf(w, "  module    %s\n", mod)
	settings := map[string]string{}
	for _, s := range bi.Settings {
		settings[s.Key] = s.Value
	}
	if rev := settings["vcs.revision"]; rev != "" {
		fmt.Fprintf(w, "  revision  %s\n", rev)
	}
	if t := settings["vcs.time"]; t != "" {
		fmt.Fprintf(w, "  time      %s\n", t)
	}
	if m := settings["vcs.modified"]; m != "" {
		fmt.Fprintf(w, "  modified  %s\n", m)
	}
	fmt.Fprintf(w, "  go        %s\n", bi.GoVersion)
}
