package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
)

// buildBinary builds imagequota into a directory of the test with the extra
// go build arguments and returns its path.
func buildBinary(t *testing.T, args ...string) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "imagequota")
	cmd := exec.Command("go", append(append([]string{"build", "-o", bin}, args...), ".")...)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return bin
}

// runBinary runs a built binary and returns its stdout, failing on a non-zero exit.
func runBinary(t *testing.T, bin string, args ...string) string {
	t.Helper()
	out, err := exec.Command(bin, args...).Output()
	if err != nil {
		t.Fatalf("%s %s: %v", bin, strings.Join(args, " "), err)
	}
	return string(out)
}

// moduleRoot is the directory of go.mod, two levels up.
func moduleRoot(t *testing.T) string {
	t.Helper()
	root, err := filepath.Abs(filepath.Join("..", ".."))
	if err != nil {
		t.Fatal(err)
	}
	return root
}

// TestVersionFromLdflags: the version given at link time is the first line
// of "version" and "--version", followed by the build information.
func TestVersionFromLdflags(t *testing.T) {
	t.Parallel()
	bin := buildBinary(t, "-ldflags", "-X main.version=v9.8.7-rc.1")
	for _, arg := range []string{"version", "--version"} {
		out := runBinary(t, bin, arg)
		lines := strings.Split(out, "\n")
		if lines[0] != "imagequota v9.8.7-rc.1" {
			t.Errorf("%s: first line %q, want the version given at link time\n%s", arg, lines[0], out)
		}
		for _, want := range []string{"\n  module    github.com/imagequota/imagequota", "\n  go        " + runtime.Version() + "\n"} {
			if !strings.Contains(out, want) {
				t.Errorf("%s lacks %q:\n%s", arg, want, out)
			}
		}
	}
}

// TestVersionFromBuildInfo: without a version given at link time, the
// version is the module version of the build information, and the VCS
// revision is the checkout's when Go could stamp it (a clone; Go does not
// stamp from a git worktree, whose .git is a file).
func TestVersionFromBuildInfo(t *testing.T) {
	t.Parallel()
	bin := buildBinary(t, "-buildvcs=auto")
	out := runBinary(t, bin, "version")
	first, _, _ := strings.Cut(out, "\n")
	v := strings.TrimPrefix(first, "imagequota ")
	if v == first || v == "" {
		t.Fatalf("first line %q is not \"imagequota VERSION\"", first)
	}
	if !strings.Contains(out, "\n  module    github.com/imagequota/imagequota "+v+"\n") {
		t.Errorf("the version %q is not the module version of the build information:\n%s", v, out)
	}
	root := moduleRoot(t)
	info, err := os.Stat(filepath.Join(root, ".git"))
	if err != nil || !info.IsDir() {
		t.Logf("no .git directory at %s: Go stamps no VCS information", root)
		return
	}
	bin = buildBinary(t, "-buildvcs=true")
	out = runBinary(t, bin, "version")
	head, err := exec.Command("git", "-C", root, "rev-parse", "HEAD").Output()
	if err != nil {
		t.Fatalf("git rev-parse HEAD: %v", err)
	}
	for _, want := range []string{"\n  revision  " + strings.TrimSpace(string(head)) + "\n", "\n  time      ", "\n  modified  "} {
		if !strings.Contains(out, want) {
			t.Errorf("version lacks %q:\n%s", want, out)
		}
	}
}

// TestMakeBuildStampsTheVersion: make build gives the binary git describe's
// version of the checkout.
func TestMakeBuildStampsTheVersion(t *testing.T) {
	t.Parallel()
	if _, err := exec.LookPath("make"); err != nil {
		t.Skip("make is not installed")
	}
	root := moduleRoot(t)
	describe, err := exec.Command("git", "-C", root, "describe", "--tags", "--always", "--dirty").Output()
	if err != nil {
		t.Skipf("not a git checkout: %v", err)
	}
	dir := t.TempDir()
	cmd := exec.Command("make", "-C", root, "build", "BINDIR="+dir)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("make build: %v\n%s", err, out)
	}
	out := runBinary(t, filepath.Join(dir, "imagequota"), "version")
	want := "imagequota " + strings.TrimSpace(string(describe)) + "\n"
	if !strings.HasPrefix(out, want) {
		t.Errorf("make build's binary says %q, want first line %q", out, want)
	}
}
