package e2e

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/imagequota/imagequota/client"
	"github.com/imagequota/imagequota/vmapi"
)

// binRun runs the imagequota binary with env and args, bounded by a minute.
func binRun(t *testing.T, env []string, args ...string) pgResult {
	t.Helper()
	return runIn(t, "", env, args...)
}

// TestAdminServerMatchesLocal runs the admin commands against a running
// server's operator API (admin --server, with no store, database URL or
// master key) and on its store directly: the same output, the same errors.
func TestAdminServerMatchesLocal(t *testing.T) {
	parallel(t)
	dir := t.TempDir()
	env := pgCleanEnv()
	local := func(args ...string) pgResult {
		t.Helper()
		return binRun(t, env, append([]string{"admin", "--data-dir", dir}, args...)...)
	}
	decode := func(r pgResult, what string, out any) {
		t.Helper()
		if r.code != 0 {
			t.Fatalf("%s: exit %d\n%s", what, r.code, r.stderr)
		}
		if err := json.Unmarshal([]byte(r.stdout), out); err != nil {
			t.Fatalf("%s printed %q: %v", what, r.stdout, err)
		}
	}
	if r := binRun(t, env, "migrate", "--data-dir", dir); r.code != 0 {
		t.Fatalf("migrate: exit %d\n%s", r.code, r.stderr)
	}
	var op, ro struct{ OperatorID, AccessKeyID, AccessKeyPassword, Role string }
	decode(local("operator", "create", "--name", "ops", "--role", "admin", "--output", "json"), "operator create", &op)
	decode(local("operator", "create", "--name", "auditor", "--role", "readonly", "--output", "json"), "operator create", &ro)
	if !strings.HasPrefix(op.AccessKeyID, "OPK") || op.AccessKeyPassword == "" || op.Role != "admin" || !strings.HasPrefix(op.OperatorID, "opr-") {
		t.Fatalf("operator create printed %+v", op)
	}
	// Operator key passwords are sealed at rest, like tenants'.
	for _, name := range []string{"imagequota.db", "imagequota.db-wal"} {
		b, err := os.ReadFile(filepath.Join(dir, name))
		if err != nil && !os.IsNotExist(err) {
			t.Fatal(err)
		}
		if bytes.Contains(b, []byte(op.AccessKeyPassword)) || bytes.Contains(b, []byte(ro.AccessKeyPassword)) {
			t.Fatalf("%s holds an operator key's password", name)
		}
	}
	srv := startBinServer(t, env, []string{"serve", "--data-dir", dir, "--addr", "127.0.0.1:0", "--image-build-time", "0"}, time.Minute)
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("imagequota serve logged:\n%s", srv.stderr.String())
		}
	})

	// The operator's machine: no store, no master key; only the server and a key.
	nowhere := filepath.Join(t.TempDir(), "no-store-here")
	opEnv := []string{"PATH=" + os.Getenv("PATH"), "HOME=" + t.TempDir(),
		"IMAGEQUOTA_OPERATOR_KEY_ID=" + op.AccessKeyID, "IMAGEQUOTA_OPERATOR_KEY_SECRET=" + op.AccessKeyPassword}
	remoteAs := func(env []string, args ...string) pgResult {
		t.Helper()
		return binRun(t, env, append([]string{"admin", "--server", srv.URL, "--data-dir", nowhere}, args...)...)
	}
	remote := func(args ...string) pgResult { t.Helper(); return remoteAs(opEnv, args...) }

	// Writes through the API print what they print on the store.
	var acct, acct2 struct{ AccountID, Name string }
	decode(remote("account", "create", "--name", "acme", "--output", "json"), "remote account create", &acct)
	decode(local("account", "create", "--name", "beta", "--output", "json"), "local account create", &acct2)
	var key struct{ AccessKeyID, AccessKeyPassword, AccountID string }
	decode(remote("key", "create", "--account", acct.AccountID, "--output", "json"), "remote key create", &key)
	var inst struct{ InstanceID, AccountID, Location string }
	decode(remote("instance", "create", "--account", acct.AccountID, "--location", "jp-tokyo-1a", "--output", "json"), "remote instance create", &inst)
	if acct.Name != "acme" || key.AccountID != acct.AccountID || inst.Location != "jp-tokyo-1a" || !strings.HasPrefix(inst.InstanceID, "ins-") {
		t.Fatalf("remote writes printed %+v %+v %+v", acct, key, inst)
	}
	if r := remote("token", "create", "--account", acct.AccountID, "--ttl", "2h", "--output", "json"); r.code != 0 || !strings.Contains(r.stdout, `"token"`) {
		t.Fatalf("remote token create: exit %d %s %s", r.code, r.stdout, r.stderr)
	}
	tenant := client.New(srv.URL, key.AccessKeyID, key.AccessKeyPassword)
	for _, name := range []string{"one", "two", "three"} {
		if _, err := tenant.CreateImage(t.Context(), &vmapi.CreateImageRequest{InstanceID: &inst.InstanceID, ImageName: client.String(name)}); err != nil {
			t.Fatalf("the tenant's CreateImage with the key made through the server: %v", err)
		}
	}
	// quota set below the count warns the same way, local or remote.
	set := []string{"quota", "set", "--account", acct.AccountID, "--location", "jp-tokyo-1a", "--max", "1", "--reason", "trial", "--expires-at", "2099-01-01T00:00:00Z", "--output", "json"}
	l, r := local(set...), remote(set...)
	var ls, rs map[string]any
	decode(l, "local quota set", &ls)
	decode(r, "remote quota set", &rs)
	if rs["previous"] != 1.0 || ls["previous"] != nil {
		t.Fatalf("previous: local %v, remote %v", ls["previous"], rs["previous"])
	}
	delete(ls, "previous")
	delete(rs, "previous")
	if !reflect.DeepEqual(ls, rs) || l.stderr != r.stderr || !strings.Contains(r.stderr, "warning: account "+acct.AccountID+" has 3 images") {
		t.Fatalf("quota set: local %v (stderr %q), remote %v (stderr %q)", ls, l.stderr, rs, r.stderr)
	}

	// Reads print the same, as JSON and as tables, and what --server cannot
	// do is refused. None of it touches the store but to read it, so it runs
	// side by side: each is one or two starts of the binary.
	t.Run("change nothing", func(t *testing.T) {
		localT := func(t *testing.T, args ...string) pgResult {
			return binRun(t, env, append([]string{"admin", "--data-dir", dir}, args...)...)
		}
		remoteAsT := func(t *testing.T, env []string, args ...string) pgResult {
			return binRun(t, env, append([]string{"admin", "--server", srv.URL, "--data-dir", nowhere}, args...)...)
		}
		remoteT := func(t *testing.T, args ...string) pgResult { return remoteAsT(t, opEnv, args...) }
		for _, args := range [][]string{
			{"account", "list"}, {"key", "list", "--account", acct.AccountID}, {"quota", "list"}, {"quota", "show", "--account", acct.AccountID},
			{"instance", "list"}, {"instance", "list", "--account", acct.AccountID}, {"audit", "list", "--account", acct.AccountID}, {"location", "list"},
			{"audit", "list", "--action", "SetLimit", "--since", "2000-01-01T00:00:00Z", "--until", "2999-01-01T00:00:00Z"},
		} {
			for _, out := range []string{"json", "table"} {
				a := append(append([]string{}, args...), "--output", out)
				t.Run(strings.Join(a, " "), func(t *testing.T) {
					parallelSub(t)
					l, r := localT(t, a...), remoteT(t, a...)
					if l.code != 0 || r.code != 0 || l.stdout != r.stdout {
						t.Errorf("admin %s: local (exit %d)\n%s%s\nremote (exit %d)\n%s%s", strings.Join(a, " "), l.code, l.stdout, l.stderr, r.code, r.stdout, r.stderr)
					}
				})
			}
		}

		// What --server cannot do, or may not.
		roEnv := []string{"PATH=" + os.Getenv("PATH"), "IMAGEQUOTA_OPERATOR_KEY_ID=" + ro.AccessKeyID, "IMAGEQUOTA_OPERATOR_KEY_SECRET=" + ro.AccessKeyPassword}
		tenantEnv := []string{"PATH=" + os.Getenv("PATH"), "IMAGEQUOTA_OPERATOR_KEY_ID=" + key.AccessKeyID, "IMAGEQUOTA_OPERATOR_KEY_SECRET=" + key.AccessKeyPassword}
		for _, c := range []struct {
			name string
			env  []string
			args []string
			code int
			want string // in stderr
		}{
			{"audit prune --server", opEnv, []string{"audit", "prune", "--older-than", "1d"}, 1, "store only"},
			{"operator list --server", opEnv, []string{"operator", "list"}, 1, "store only"},
			{"--server without a key", []string{"PATH=" + os.Getenv("PATH")}, []string{"account", "list"}, 1, "IMAGEQUOTA_OPERATOR_KEY_ID"},
			{"readonly account list", roEnv, []string{"account", "list"}, 0, ""},
			{"readonly account create", roEnv, []string{"account", "create", "--name", "x"}, 1, "AUTHFAILURE_UNAUTHORIZED_OPERATION"},
			{"a tenant key as the operator key", tenantEnv, []string{"account", "list"}, 1, "AUTHFAILURE_UNAUTHORIZED_OPERATION"},
		} {
			t.Run(c.name, func(t *testing.T) {
				parallelSub(t)
				if r := remoteAsT(t, c.env, c.args...); r.code != c.code || !strings.Contains(r.stderr, c.want) {
					t.Errorf("%s: exit %d %q", c.name, r.code, r.stderr)
				}
			})
		}
	})
	for _, args := range [][]string{
		{"account", "disable", "acc-nobody"}, {"key", "disable", "AKNOBODY"}, {"instance", "delete", "ins-nobody"},
		{"quota", "show", "--account", "acc-nobody"}, {"quota", "set", "--account", acct.AccountID, "--max", "-1"},
	} {
		l, r := local(args...), remote(args...)
		if l.code != 1 || r.code != 1 || l.stderr != r.stderr {
			t.Errorf("admin %s: local exit %d %q, remote exit %d %q", strings.Join(args, " "), l.code, l.stderr, r.code, r.stderr)
		}
	}
	var recs []struct{ Action, Actor string }
	decode(local("audit", "list", "--account", acct.AccountID, "--output", "json"), "audit list", &recs)
	if len(recs) == 0 || recs[0].Action != "CreateAccount" || recs[0].Actor != "operator:"+op.OperatorID {
		t.Fatalf("audit records %+v; want CreateAccount by operator:%s first", recs, op.OperatorID)
	}
	if _, err := os.Stat(nowhere); !os.IsNotExist(err) {
		t.Fatalf("admin --server touched the local data directory: %v", err)
	}

}
