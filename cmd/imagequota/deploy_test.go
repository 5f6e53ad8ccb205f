package main

import (
	"bufio"
	"encoding/json"
	"net"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/imagequota/imagequota/internal/testkit"
)

// instruction is one instruction of a Containerfile, continuation lines joined.
type instruction struct {
	op, args string
}

func parseContainerfile(t *testing.T, path string) []instruction {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var out []instruction
	var cur string
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if cur == "" && (line == "" || strings.HasPrefix(line, "#")) {
			continue
		}
		if strings.HasSuffix(line, "\\") {
			cur += strings.TrimSuffix(line, "\\") + " "
			continue
		}
		cur += line
		op, args, _ := strings.Cut(cur, " ")
		out = append(out, instruction{strings.ToUpper(op), strings.TrimSpace(args)})
		cur = ""
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	if cur != "" {
		t.Fatalf("%s ends in a continuation line", path)
	}
	return out
}

// execForm decodes the JSON array of an exec-form instruction.
func execForm(t *testing.T, what, args string) []string {
	t.Helper()
	var argv []string
	if err := json.Unmarshal([]byte(args), &argv); err != nil || len(argv) == 0 {
		t.Fatalf("%s %s is not in exec form (a JSON array): %v", what, args, err)
	}
	return argv
}

// checkCommandLine runs an imagequota command line of a deployment file with
// --help added: its command and flags must all exist.
func checkCommandLine(t *testing.T, what string, argv []string) {
	t.Helper()
	if filepath.Base(argv[0]) != "imagequota" {
		t.Fatalf("%s runs %s, not imagequota", what, argv[0])
	}
	if r := runWith(t, nil, append(append([]string{}, argv[1:]...), "--help")...); r.code != 0 {
		t.Errorf("%s: %q with --help: exit %d: %s", what, argv, r.code, r.stderr)
	}
}

// TestContainerfile: the container recipe builds a static binary in a
// golang:1.26 stage and runs it as a user that is not root on a small
// image, listening on every address on the port it exposes, with the store
// in a volume and imagequota healthcheck as its HEALTHCHECK. Docker cannot
// build it here (no daemon, no registry): its instructions are checked.
func TestContainerfile(t *testing.T) {
	t.Parallel()
	path := filepath.Join(moduleRoot(t), "deploy", "container", "Containerfile")
	ins := parseContainerfile(t, path)
	var froms []string
	last := map[string]string{}
	for _, in := range ins {
		if in.op == "FROM" {
			froms = append(froms, in.args)
			clear(last)
		}
		last[in.op] = in.args
		if in.op == "RUN" && strings.Contains(in.args, "go build") && !strings.Contains(in.args, "CGO_ENABLED=0 go build") {
			t.Errorf("the binary is not built with CGO_ENABLED=0: %s", in.args)
		}
	}
	if len(froms) != 2 || !regexp.MustCompile(`^golang:1\.26\S* AS build$`).MatchString(froms[0]) {
		t.Fatalf("want a golang:1.26 build stage and a runtime stage; FROM %q", froms)
	}
	if !strings.HasPrefix(froms[1], "gcr.io/distroless/static") || !strings.Contains(froms[1], "nonroot") {
		t.Errorf("the runtime stage is %q, want distroless static nonroot", froms[1])
	}
	// The instructions of the runtime stage.
	if u := last["USER"]; u == "" || u == "root" || strings.HasPrefix(u, "0") {
		t.Errorf("the runtime stage runs as %q, want a user that is not root", u)
	}
	if !strings.Contains(last["COPY"]+" ", "--from=build") {
		t.Errorf("the runtime stage copies nothing from the build stage")
	}
	addr, ok := strings.CutPrefix(last["ENV"], "IMAGEQUOTA_ADDR=")
	host, port, err := net.SplitHostPort(addr)
	if !ok || err != nil || host != "0.0.0.0" {
		t.Errorf("ENV %q: want IMAGEQUOTA_ADDR=0.0.0.0:PORT, listening on every address of the container", last["ENV"])
	}
	if last["EXPOSE"] != port {
		t.Errorf("EXPOSE %q, want the port of IMAGEQUOTA_ADDR, %s", last["EXPOSE"], port)
	}
	// The volume is ./data of the working directory, the store serve creates.
	if vol := execForm(t, "VOLUME", last["VOLUME"]); len(vol) != 1 || vol[0] != filepath.Join(last["WORKDIR"], defaultDataDir) {
		t.Errorf("VOLUME %q, WORKDIR %q: want the volume at WORKDIR/%s", last["VOLUME"], last["WORKDIR"], defaultDataDir)
	}
	_, cmd, found := strings.Cut(last["HEALTHCHECK"], "CMD ")
	if !found {
		t.Fatalf("no HEALTHCHECK ... CMD in the runtime stage")
	}
	probe := execForm(t, "HEALTHCHECK CMD", cmd)
	checkCommandLine(t, "HEALTHCHECK", probe)
	if len(probe) < 4 || probe[1] != "healthcheck" || probe[2] != "--url" {
		t.Fatalf("HEALTHCHECK runs %q, want imagequota healthcheck --url URL", probe)
	}
	if u, err := url.Parse(probe[3]); err != nil || u.Port() != port || u.Path != "/healthz" {
		t.Errorf("HEALTHCHECK probes %s, want /healthz on port %s", probe[3], port)
	}
	entry := execForm(t, "ENTRYPOINT", last["ENTRYPOINT"])
	checkCommandLine(t, "ENTRYPOINT and CMD", append(entry, execForm(t, "CMD", last["CMD"])...))

	if out, err := exec.Command("docker", "info").CombinedOutput(); err != nil {
		lines := strings.Split(strings.TrimSpace(string(out)), "\n")
		t.Logf("docker cannot build here (%v): %s", err, lines[len(lines)-1])
		return
	}
	if out, err := exec.Command("docker", "build", "--check", "-f", path, moduleRoot(t)).CombinedOutput(); err != nil {
		t.Errorf("docker build --check: %v\n%s", err, out)
	}
}

// unitFile is a systemd unit: its sections, each key's values in order.
type unitFile map[string]map[string][]string

func parseUnit(t *testing.T, path string) unitFile {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	u := unitFile{}
	section := ""
	for i, line := range strings.Split(string(b), "\n") {
		line = strings.TrimSpace(line)
		switch {
		case line == "" || strings.HasPrefix(line, "#") || strings.HasPrefix(line, ";"):
		case strings.HasPrefix(line, "[") && strings.HasSuffix(line, "]"):
			section = strings.Trim(line, "[]")
			u[section] = map[string][]string{}
		default:
			k, v, ok := strings.Cut(line, "=")
			if !ok || section == "" {
				t.Fatalf("%s:%d: %q is not KEY=VALUE in a section", path, i+1, line)
			}
			u[section][k] = append(u[section][k], v)
		}
	}
	return u
}

// TestSystemdUnit: the unit runs imagequota serve as a user of its own with a
// state directory, restarts it on failure, and confines it; systemd-analyze
// verify accepts it; the environment file sets only variables serve reads.
func TestSystemdUnit(t *testing.T) {
	t.Parallel()
	dir := filepath.Join(moduleRoot(t), "deploy", "systemd")
	path := filepath.Join(dir, "imagequota.service")
	u := parseUnit(t, path)
	svc := u["Service"]
	for key, want := range map[string]string{
		"DynamicUser": "yes", "StateDirectory": "imagequota", "WorkingDirectory": "%S/imagequota", "Restart": "on-failure",
		"NoNewPrivileges": "yes", "ProtectSystem": "strict", "ProtectHome": "yes", "PrivateTmp": "yes", "PrivateDevices": "yes",
		"CapabilityBoundingSet": "", "EnvironmentFile": "-/etc/imagequota/imagequota.env",
	} {
		if got := svc[key]; len(got) != 1 || got[0] != want {
			t.Errorf("[Service] %s=%q, want %q", key, got, want)
		}
	}
	if got := u["Install"]["WantedBy"]; len(got) != 1 || got[0] != "multi-user.target" {
		t.Errorf("[Install] WantedBy=%q", got)
	}
	execStart := strings.Fields(strings.Join(svc["ExecStart"], " "))
	checkCommandLine(t, "ExecStart", execStart)

	// The environment file: every variable is one serve --help names.
	help := runWith(t, nil, "serve", "--help").stdout
	b, err := os.ReadFile(filepath.Join(dir, "imagequota.env"))
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range strings.Split(string(b), "\n") {
		line = strings.TrimPrefix(strings.TrimSpace(line), "#")
		k, _, ok := strings.Cut(line, "=")
		if !ok || !regexp.MustCompile(`^IMAGEQUOTA_[A-Z_]+$`).MatchString(k) {
			continue
		}
		if !strings.Contains(help, "["+k+"]") {
			t.Errorf("imagequota.env sets %s, which serve --help does not name", k)
		}
	}

	if _, err := exec.LookPath("systemd-analyze"); err != nil {
		t.Logf("systemd-analyze is not installed: only parsed")
		return
	}
	// verify wants the binary of ExecStart to exist: the one built for the tests.
	b, err = os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	tmp := filepath.Join(t.TempDir(), "imagequota.service")
	if err := os.WriteFile(tmp, []byte(strings.ReplaceAll(string(b), execStart[0], testkit.Tool(t))), 0o644); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command("systemd-analyze", "verify", tmp).CombinedOutput()
	if err != nil || len(out) > 0 {
		t.Errorf("systemd-analyze verify: %v\n%s", err, out)
	}
}
