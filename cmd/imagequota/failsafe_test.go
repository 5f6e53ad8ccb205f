package main

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"net"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/imagequota/imagequota/internal/app"
	"github.com/imagequota/imagequota/internal/quota"
	"github.com/imagequota/imagequota/internal/store"
	"github.com/imagequota/imagequota/internal/testkit/pgtest"
	"github.com/imagequota/imagequota/vmapi"
)

// mustNotExist fails the test when path exists.
func mustNotExist(t *testing.T, path, what string) {
	t.Helper()
	if _, err := os.Stat(path); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("%s: %s exists (%v)", what, path, err)
	}
}

// TestConfigurationProblemsStopEveryCommand: a store URL of an unknown
// scheme, from a flag or the environment, stops serve, admin and migrate
// with the accepted schemes named, reported with every other problem at
// once, and nothing is created.
func TestConfigurationProblemsStopEveryCommand(t *testing.T) {
	t.Parallel()
	c := newCLI(t)
	schemes := []string{"postgres://", "sqlite:"}
	commands := [][]string{
		{"serve", "--addr", "127.0.0.1:0"},
		{"admin", "account", "list"},
		{"admin", "key", "create", "--account", "acc-x"},
		{"migrate"},
		{"migrate", "status"},
	}
	tests := []struct {
		name string
		env  []string
		args []string
		want []string
	}{
		{"--db mysql://", nil, []string{"--db", "mysql://foo"}, append([]string{`"mysql" is not supported`}, schemes...)},
		{"IMAGEQUOTA_DB=postgress://", []string{"IMAGEQUOTA_DB=postgress://db.internal/imagequota"}, nil,
			append([]string{`"postgress" is not supported`, "IMAGEQUOTA_DB"}, schemes...)},
	}
	for _, cmd := range commands {
		for _, tc := range tests {
			args := append(append(append([]string{}, cmd...), "--data-dir", c.dir), tc.args...)
			r := runWith(t, tc.env, args...)
			if r.code != 2 {
				t.Errorf("%v with %s: exit %d, want 2\nstderr: %s", cmd, tc.name, r.code, r.stderr)
			}
			for _, w := range tc.want {
				if !strings.Contains(r.stderr, w) {
					t.Errorf("%v with %s: stderr lacks %q:\n%s", cmd, tc.name, w, r.stderr)
				}
			}
			if strings.Contains(r.stdout, "listening") {
				t.Errorf("%v with %s listened:\n%s", cmd, tc.name, r.stdout)
			}
		}
	}

	// serve collects every problem, the address and the store included.
	r := runWith(t, []string{"IMAGEQUOTA_AUDIT_RETENTION=forever"}, "serve", "--data-dir", c.dir, "--addr", "nonsense",
		"--db", "mysql://foo", "--log-level", "loud", "--pprof-addr", "localhost:http-ish")
	if r.code != 2 {
		t.Errorf("serve with several problems: exit %d, want 2", r.code)
	}
	for _, w := range []string{`--addr "nonsense" is not a host:port`, `"mysql" is not supported`, `--log-level "loud"`,
		`--pprof-addr "localhost:http-ish"`, `IMAGEQUOTA_AUDIT_RETENTION="forever"`} {
		if !strings.Contains(r.stderr, w) {
			t.Errorf("serve with several problems: stderr lacks %q:\n%s", w, r.stderr)
		}
	}
	// A flag value of the wrong form is a usage error, as for every flag.
	r = runWith(t, nil, "serve", "--data-dir", c.dir, "--audit-retention", "-3d")
	if r.code != 2 || !strings.Contains(r.stderr, `invalid value "-3d" for flag --audit-retention`) {
		t.Errorf("serve --audit-retention -3d: exit %d, stderr %q", r.code, r.stderr)
	}
	mustNotExist(t, c.dir, "after commands with configuration problems")
}

// TestServeTakesNoAddressItCannotHave: an address already in use stops
// serve before the store, its directory or a master key is made.
func TestServeTakesNoAddressItCannotHave(t *testing.T) {
	t.Parallel()
	c := newCLI(t)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	r := runWith(t, nil, "serve", "--addr", ln.Addr().String(), "--data-dir", c.dir)
	if r.code != 1 || !strings.Contains(r.stderr, "--addr") {
		t.Errorf("serve on an address in use: exit %d, stderr %q", r.code, r.stderr)
	}
	mustNotExist(t, c.dir, "serve on an address in use")
}

// TestCommandsRefuseAStoreThatDoesNotExist: admin, migrate status and serve
// on a store named explicitly that does not exist refuse it, say how to
// create it, and create nothing; migrate creates it.
func TestCommandsRefuseAStoreThatDoesNotExist(t *testing.T) {
	t.Parallel()
	c := newCLI(t)
	for _, args := range [][]string{
		{"admin", "--data-dir", c.dir, "account", "list"},
		{"admin", "--data-dir", c.dir, "audit", "list"},
		{"admin", "--data-dir", c.dir, "quota", "set", "--max", "3"},
		{"admin", "--data-dir", c.dir, "key", "create", "--account", "acc-x"},
		{"admin", "--data-dir", c.dir, "master-key", "rotate", "--new-key-file", filepath.Join(c.dir, "new.key")},
		{"migrate", "--data-dir", c.dir, "status"},
		{"serve", "--data-dir", c.dir, "--addr", "127.0.0.1:0"},
	} {
		r := c.run(t, args...)
		if r.code != 1 || !strings.Contains(r.stderr, "there is no store at "+filepath.Join(c.dir, "imagequota.db")) ||
			!strings.Contains(r.stderr, `create it with "imagequota migrate --data-dir `+c.dir+`"`) {
			t.Errorf("%v on a store that does not exist: exit %d, stderr %q", args[:2], r.code, r.stderr)
		}
	}
	mustNotExist(t, c.dir, "commands on a store that does not exist")
	dbURL := "sqlite:" + filepath.Join(c.dir, "other.db")
	if r := c.run(t, "admin", "--db", dbURL, "account", "list"); r.code != 1 || !strings.Contains(r.stderr, "given the same --db") {
		t.Errorf("admin --db on a store that does not exist: exit %d, stderr %q", r.code, r.stderr)
	}

	if r := c.run(t, "migrate", "--data-dir", c.dir); r.code != 0 || !strings.Contains(r.stdout, "applied 0001_init") {
		t.Fatalf("migrate on a store that does not exist: exit %d, %s%s", r.code, r.stdout, r.stderr)
	}
	mustNotExist(t, filepath.Join(c.dir, "master.key"), "migrate without a master key file")
	if out := c.adminOK(t, "account", "list"); !strings.HasPrefix(out, "ACCOUNT ID") {
		t.Errorf("account list on the store migrate created: %q", out)
	}
}

// TestReadOnlyAdminCommandsNeverReadTheMasterKey: admin commands that seal
// and open no password neither read nor generate the master key file; the
// ones that do refuse a key file they cannot use.
func TestReadOnlyAdminCommandsNeverReadTheMasterKey(t *testing.T) {
	t.Parallel()
	c := setup(t)
	keyFile := filepath.Join(c.dir, "master.key")
	var acct struct{ AccountID string }
	c.adminJSON(t, &acct, "account", "create", "--name", "no-key")
	for _, args := range [][]string{
		{"account", "list"}, {"quota", "show", "--account", acct.AccountID}, {"quota", "set", "--max", "4"}, {"quota", "list"},
		{"audit", "list"}, {"instance", "list"}, {"location", "list"}, {"token", "create", "--account", acct.AccountID},
	} {
		c.adminOK(t, args...)
	}
	mustNotExist(t, keyFile, "admin commands that never seal a password")

	// A key file nobody could use (unreadable by its format, and readable by
	// others) is never looked at by them either.
	if err := os.WriteFile(keyFile, []byte("not a key"), 0o644); err != nil {
		t.Fatal(err)
	}
	c.adminOK(t, "account", "list")
	c.adminOK(t, "audit", "list")
	if r := c.admin(t, "key", "create", "--account", acct.AccountID); r.code != 1 || !strings.Contains(r.stderr, "master key") {
		t.Errorf("key create with an unusable master key file: exit %d, stderr %q", r.code, r.stderr)
	}
}

// TestServeRefusesAnotherMasterKey: on one store, a second server started
// with another master key file, or with none where the key file should be,
// refuses to start with what to do, and leaves no key file behind; one with
// the same key starts. On SQLite and on PostgreSQL.
func TestServeRefusesAnotherMasterKey(t *testing.T) {
	t.Parallel()
	for _, engine := range []string{"sqlite", "postgres"} {
		t.Run(engine, func(t *testing.T) {
			t.Parallel()
			c := setup(t)
			if engine == "postgres" {
				dbURL := pgtest.NewDatabase(t)
				c.env = []string{"IMAGEQUOTA_DB=" + dbURL}
				if r := c.run(t, "migrate"); r.code != 0 {
					t.Fatalf("migrate: exit %d: %s", r.code, r.stderr)
				}
			}
			first := c.serve(t)
			if !strings.Contains(first.stdout.String(), "Generated a new master key in "+filepath.Join(c.dir, "master.key")) {
				t.Errorf("the first server did not say it generated the key:\n%s", first.stdout.String())
			}
			absent := filepath.Join(t.TempDir(), "absent", "master.key")
			otherKey := filepath.Join(t.TempDir(), "other.key")
			writeKey(t, otherKey)
			for _, tc := range []struct {
				name, file, want string
			}{
				{"another key", otherKey, "is not this store's master key"},
				{"no key file", absent, "does not exist"},
			} {
				r := c.run(t, "serve", "--addr", "127.0.0.1:0", "--data-dir", c.dir, "--master-key-file", tc.file)
				if r.code != 1 {
					t.Errorf("%s: a second server exited %d, want 1\nstdout: %s", tc.name, r.code, r.stdout)
				}
				for _, w := range []string{tc.file, tc.want, "--master-key-file", "imagequota admin master-key rotate"} {
					if !strings.Contains(r.stderr, w) {
						t.Errorf("%s: stderr lacks %q:\n%s", tc.name, w, r.stderr)
					}
				}
				if strings.Contains(r.stdout, "listening") || strings.Contains(r.stdout, "Generated") {
					t.Errorf("%s: the refused server listened or generated a key:\n%s", tc.name, r.stdout)
				}
			}
			mustNotExist(t, filepath.Dir(absent), "a refused server")
			second := c.serve(t)
			if strings.Contains(second.stdout.String(), "Generated") {
				t.Errorf("a second server with the store's key generated one:\n%s", second.stdout.String())
			}
		})
	}
}

// writeKey writes a new master key to path.
func writeKey(t *testing.T, path string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(strings.Repeat("ab", 32)+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
}

// TestServeRecordsItsDefaultMaxCount: serve --default-max-count 7 makes 7 the
// default in effect for the API and for admin quota show alike, and a limit
// the admin sets afterwards is what the running server answers.
func TestServeRecordsItsDefaultMaxCount(t *testing.T) {
	t.Parallel()
	c := setup(t)
	acct, keyID, secret := c.newAccount(t, "seven")
	s := c.serve(t, "--default-max-count", "7")
	env := callEnv(s.url, keyID, secret)
	maxCounts := func() map[int]int {
		t.Helper()
		var q vmapi.DescribeImageQuotaResponse
		callOK(t, env, &q, "DescribeImageQuota")
		seen := map[int]int{}
		for _, r := range quotaByLocation(t, q) {
			seen[r.MaxCount]++
		}
		return seen
	}
	if got := maxCounts(); len(got) != 1 || got[7] != 21 {
		t.Errorf("DescribeImageQuota with --default-max-count 7: maxCounts %v; want 7 in all 21 locations", got)
	}
	var rows []struct {
		Location, Source string
		MaxCount         int
	}
	c.adminJSON(t, &rows, "quota", "show", "--account", acct)
	for _, r := range rows {
		if r.MaxCount != 7 || r.Source != quota.SourceDefault {
			t.Errorf("admin quota show: %+v; want 7 from %s, as the API says", r, quota.SourceDefault)
		}
	}
	var recs []auditEntry
	c.adminJSON(t, &recs, "audit", "list")
	found := false
	for _, r := range recs {
		found = found || (r.Action == "SetLimit" && r.Actor == "serve" && r.Target == "limit:*/*" && strings.Contains(string(r.After), "7"))
	}
	if !found {
		t.Errorf("no SetLimit of the default to 7 by serve in the audit trail: %+v", recs)
	}

	c.adminOK(t, "quota", "set", "--max", "3")
	if got := maxCounts(); len(got) != 1 || got[3] != 21 {
		t.Errorf("DescribeImageQuota after admin quota set --max 3: maxCounts %v; want 3 in all 21 locations", got)
	}
}

// TestServeHintsEachClientItsEndpoint: the hint serve prints gives
// imagequota call a URL, the Go SDK a scheme and a domain, and zeno a bare
// host:port over TLS only; imagequota call takes the bare form as HTTPS.
func TestServeHintsEachClientItsEndpoint(t *testing.T) {
	t.Parallel()
	c := setup(t)
	_, keyID, secret := c.newAccount(t, "hints")
	plain := c.serve(t)
	hostPort := strings.TrimPrefix(plain.url, "http://")
	for _, w := range []string{
		"Call it with: ZENLAYER_ENDPOINT=http://" + hostPort + " ZENLAYER_ACCESS_KEY_ID=… ZENLAYER_ACCESS_KEY_SECRET=… imagequota call DescribeImageQuota\n",
		`Go SDK: config := common.NewConfig(); config.Scheme = "http"; config.Domain = "` + hostPort + `"` + "\n",
		"zeno CLI: it speaks only HTTPS; serve with --tls-cert and --tls-key, then give it ZENLAYER_ENDPOINT=" + hostPort + " (host:port, no scheme)\n",
	} {
		if !strings.Contains(plain.stdout.String(), w) {
			t.Errorf("the hint of a plain HTTP server lacks %q:\n%s", w, plain.stdout.String())
		}
	}
	r := runWith(t, callEnv(hostPort, keyID, secret), "call", "DescribeImageQuota")
	if r.code != 1 || !strings.Contains(r.stderr, "use http://"+hostPort) {
		t.Errorf("call with a bare host:port on a plain HTTP server: exit %d, stderr %q", r.code, r.stderr)
	}

	certFile, keyFile := selfSigned(t)
	secure := c.serve(t, "--tls-cert", certFile, "--tls-key", keyFile)
	hostPort = strings.TrimPrefix(secure.url, "https://")
	for _, w := range []string{
		"Call it with: ZENLAYER_ENDPOINT=https://" + hostPort + " ",
		`config.Scheme = "https"; config.Domain = "` + hostPort + `"`,
		"zeno CLI: ZENLAYER_ENDPOINT=" + hostPort + " ZENLAYER_ACCESS_KEY_ID=… ZENLAYER_ACCESS_KEY_SECRET=… zeno vm describe-image-quota",
	} {
		if !strings.Contains(secure.stdout.String(), w) {
			t.Errorf("the hint of an HTTPS server lacks %q:\n%s", w, secure.stdout.String())
		}
	}
	// The form zeno takes works for imagequota call too.
	var q vmapi.DescribeImageQuotaResponse
	callOK(t, callEnv(hostPort, keyID, secret), &q, "DescribeImageQuota", "--insecure")
	if len(q.Images) != 21 {
		t.Errorf("call with a bare host:port over HTTPS: %+v", q.Images)
	}
}

func TestEndpointOfAnUnspecifiedAddress(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		addr net.Addr
		want string
	}{
		{&net.TCPAddr{IP: net.IPv4zero, Port: 8080}, "127.0.0.1:8080"},
		{&net.TCPAddr{IP: net.IPv6unspecified, Port: 8443}, "127.0.0.1:8443"},
		{&net.TCPAddr{IP: net.IPv4(10, 0, 0, 7), Port: 80}, "10.0.0.7:80"},
	} {
		if got := endpointOf(tc.addr, false).hostPort; got != tc.want {
			t.Errorf("endpointOf(%v) = %q, want %q", tc.addr, got, tc.want)
		}
	}
}

// TestServeAuditRetention: serve prunes audit records older than its
// --audit-retention as it starts, and logs what it removed.
func TestServeAuditRetention(t *testing.T) {
	t.Parallel()
	c := setup(t)
	u, err := store.ParseURL("sqlite:" + filepath.Join(c.dir, "imagequota.db"))
	if err != nil {
		t.Fatal(err)
	}
	old := time.Now().Add(-3 * time.Hour)
	db, err := app.OpenStore(context.Background(), app.StoreConfig{URL: u, Options: store.Options{Now: func() time.Time { return old }}})
	if err != nil {
		t.Fatal(err)
	}
	oldAcct, err := db.CreateAccountAs(context.Background(), "old", quota.AdminActor)
	db.Close()
	if err != nil {
		t.Fatal(err)
	}
	recent, _, _ := c.newAccount(t, "recent")

	s := c.serve(t, "--audit-retention", "1h")
	s.stderr.waitFor(t, regexp.MustCompile(`"msg":"audit retention: pruned audit records","retention":"1h0m0s","removed":1,`), s.done)
	var recs []auditEntry
	c.adminJSON(t, &recs, "audit", "list")
	var actions []string
	for _, r := range recs {
		if r.AccountID == oldAcct.ID {
			t.Errorf("a record older than the retention was kept: %+v", r)
		}
		actions = append(actions, fmt.Sprintf("%s/%s/%s", r.Action, r.Actor, r.AccountID))
	}
	for _, w := range []string{"CreateAccount/admin/" + recent, "PruneAudit/retention/"} {
		if !strings.Contains(strings.Join(actions, " "), w) {
			t.Errorf("audit trail %v lacks %s", actions, w)
		}
	}
}
