package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/imagequota/imagequota/internal/quota"
	"github.com/imagequota/imagequota/internal/store"
	"github.com/imagequota/imagequota/internal/testkit"
)

// fixture is a data directory with one account, key, instance and limit.
type fixture struct {
	*cli
	account, key, instance string
}

func newFixture(t *testing.T) *fixture {
	t.Helper()
	c := setup(t)
	acct, key, _ := c.newAccount(t, "acme")
	var inst struct{ InstanceID string }
	c.adminJSON(t, &inst, "instance", "create", "--account", acct, "--location", "hk-hongkong-1a")
	c.adminOK(t, "quota", "set", "--account", acct, "--location", "hk-hongkong-1a", "--max", "3")
	return &fixture{cli: c, account: acct, key: key, instance: inst.InstanceID}
}

func TestAdminJSONOutput(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	a := f.account
	tests := []struct {
		name string
		args []string
		// want is the set of keys of the object, or of the union of the
		// objects of a list.
		want  []string
		check func(t *testing.T, raw json.RawMessage)
	}{
		{"account create", []string{"account", "create", "--name", "second"}, []string{"accountId", "name"}, func(t *testing.T, raw json.RawMessage) {
			var v struct{ AccountID, Name string }
			mustUnmarshal(t, raw, &v)
			if !strings.HasPrefix(v.AccountID, "acc-") || v.Name != "second" {
				t.Errorf("got %+v", v)
			}
		}},
		{"account list", []string{"account", "list"}, []string{"accountId", "createdAt", "disabled", "name"}, func(t *testing.T, raw json.RawMessage) {
			var v []struct{ AccountID, Name string }
			mustUnmarshal(t, raw, &v)
			if len(v) != 2 || v[0].AccountID == v[1].AccountID {
				t.Errorf("got %+v, want the two accounts", v)
			}
		}},
		{"account disable", []string{"account", "disable", a}, []string{"accountId", "disabled"}, wantField("disabled", true)},
		{"account enable", []string{"account", "enable", a}, []string{"accountId", "disabled"}, wantField("disabled", false)},
		{"key create", []string{"key", "create", "--account", a}, []string{"accessKeyId", "accessKeyPassword", "accountId"}, func(t *testing.T, raw json.RawMessage) {
			var v struct{ AccessKeyID, AccessKeyPassword, AccountID string }
			mustUnmarshal(t, raw, &v)
			if v.AccessKeyID == "" || len(v.AccessKeyPassword) < 16 || v.AccountID != a {
				t.Errorf("got %+v", v)
			}
		}},
		{"key list", []string{"key", "list", "--account", a}, []string{"accessKeyId", "accountId", "createdAt", "disabled"}, func(t *testing.T, raw json.RawMessage) {
			if strings.Contains(string(raw), "assword") || strings.Contains(string(raw), "ecret") {
				t.Errorf("key list shows a password: %s", raw)
			}
		}},
		{"key disable", []string{"key", "disable", f.key}, []string{"accessKeyId", "disabled"}, wantField("disabled", true)},
		{"key enable", []string{"key", "enable", f.key}, []string{"accessKeyId", "disabled"}, wantField("disabled", false)},
		{"token create", []string{"token", "create", "--account", a, "--ttl", "1h"}, []string{"accountId", "expiresAt", "token"}, func(t *testing.T, raw json.RawMessage) {
			var v struct{ Token, ExpiresAt string }
			mustUnmarshal(t, raw, &v)
			exp, err := time.Parse(time.RFC3339, v.ExpiresAt)
			if err != nil || v.Token == "" {
				t.Fatalf("got %+v (%v)", v, err)
			}
			if d := time.Until(exp); d < 50*time.Minute || d > 70*time.Minute {
				t.Errorf("expiresAt %s is not an hour from now", v.ExpiresAt)
			}
		}},
		{"quota set pair", []string{"quota", "set", "--account", a, "--location", "jp-tokyo-1a", "--max", "4"}, []string{"accountId", "expiresAt", "location", "maxCount", "overLimit", "previous", "reason"}, wantField("maxCount", 4.0)},
		{"quota set account", []string{"quota", "set", "--account", a, "--max", "8"}, []string{"accountId", "expiresAt", "location", "maxCount", "overLimit", "previous", "reason"}, wantField("previous", nil)},
		{"quota set location", []string{"quota", "set", "--location", "jp-tokyo-1a", "--max", "6"}, []string{"accountId", "expiresAt", "location", "maxCount", "overLimit", "previous", "reason"}, wantField("location", "jp-tokyo-1a")},
		{"quota set default", []string{"quota", "set", "--max", "7"}, []string{"accountId", "expiresAt", "location", "maxCount", "overLimit", "previous", "reason"}, wantField("accountId", "")},
		{"quota set again", []string{"quota", "set", "--max", "9"}, []string{"accountId", "expiresAt", "location", "maxCount", "overLimit", "previous", "reason"}, wantField("previous", 7.0)},
		{"quota list", []string{"quota", "list"}, []string{"accountId", "locationId", "maxCount"}, func(t *testing.T, raw json.RawMessage) {
			var v []quota.LimitOverride
			mustUnmarshal(t, raw, &v)
			if len(v) != 5 {
				t.Errorf("got %d limits, want 5: %s", len(v), raw)
			}
		}},
		{"quota unset", []string{"quota", "unset", "--location", "jp-tokyo-1a"}, []string{"accountId", "location", "previous", "removed"}, wantField("previous", 6.0)},
		{"quota show", []string{"quota", "show", "--account", a}, []string{"count", "location", "maxCount", "source"}, func(t *testing.T, raw json.RawMessage) {
			var v []struct {
				Location, Source string
				MaxCount, Count  int
			}
			mustUnmarshal(t, raw, &v)
			if len(v) != len(quota.DefaultCatalog().Enabled()) {
				t.Fatalf("got %d locations, want every enabled one", len(v))
			}
			for _, r := range v {
				if r.Location == "hk-hongkong-1a" && (r.MaxCount != 3 || r.Source != quota.SourceAccountLocation || r.Count != 0) {
					t.Errorf("hk-hongkong-1a: %+v", r)
				}
			}
		}},
		{"location list", []string{"location", "list"}, []string{"id", "name", "supportCpuPassThrough", "supportIpv6", "supportNetworkType", "supportSecurityGroup"}, nil},
		{"instance create", []string{"instance", "create", "--account", a, "--location", "jp-tokyo-1a", "--id", "ins-fixed", "--disk-gb", "80", "--os-category", "Windows", "--os-type", "windows", "--os-version", "2022"}, []string{"accountId", "instanceId", "location"}, wantField("instanceId", "ins-fixed")},
		{"instance list", []string{"instance", "list", "--account", a}, []string{"accountId", "createdAt", "diskGb", "instanceId", "location", "osCategory", "osType", "osVersion"}, func(t *testing.T, raw json.RawMessage) {
			var v []quota.Instance
			mustUnmarshal(t, raw, &v)
			if len(v) != 2 {
				t.Fatalf("got %d instances, want 2", len(v))
			}
			for _, in := range v {
				if in.ID == "ins-fixed" && (in.DiskGB != 80 || in.OSType != "windows" || in.OSCategory != "Windows" || in.OSVersion != "2022" || in.LocationID != "jp-tokyo-1a") {
					t.Errorf("ins-fixed: %+v", in)
				}
			}
		}},
		{"instance delete", []string{"instance", "delete", "ins-fixed"}, []string{"deleted", "instanceId"}, wantField("deleted", true)},
		{"audit list", []string{"audit", "list", "--account", a, "--since", time.Now().Add(-time.Hour).UTC().Format(time.RFC3339)}, []string{"accountId", "action", "actor", "after", "at", "before", "id", "requestId", "target"}, func(t *testing.T, raw json.RawMessage) {
			var v []quota.AuditRecord
			mustUnmarshal(t, raw, &v)
			if len(v) == 0 {
				t.Fatal("no audit records")
			}
			for _, r := range v {
				if r.AccountID != a || r.Actor != "admin" {
					t.Errorf("record %+v: want account %s, actor admin", r, a)
				}
			}
		}},
	}
	// The rows run in order: later rows see what earlier ones did.
	for _, tc := range tests {
		r := f.admin(t, append(tc.args, "--output", "json")...)
		if r.code != 0 {
			t.Fatalf("%s: exit %d: %s", tc.name, r.code, r.stderr)
		}
		raw := json.RawMessage(r.stdout)
		var keys []string
		if strings.HasPrefix(strings.TrimSpace(r.stdout), "[") {
			var list []json.RawMessage
			mustUnmarshal(t, raw, &list)
			if len(list) == 0 {
				t.Fatalf("%s: empty list", tc.name)
			}
			for _, e := range list {
				for _, k := range keysOf(t, e) {
					if !slices.Contains(keys, k) {
						keys = append(keys, k)
					}
				}
			}
			slices.Sort(keys)
		} else {
			keys = keysOf(t, raw)
		}
		if !slices.Equal(keys, tc.want) {
			t.Errorf("%s: keys %v, want %v\n%s", tc.name, keys, tc.want, r.stdout)
		}
		if tc.check != nil {
			tc.check(t, raw)
		}
	}
}

func mustUnmarshal(t *testing.T, raw []byte, v any) {
	t.Helper()
	if err := json.Unmarshal(raw, v); err != nil {
		t.Fatalf("%v\n%s", err, raw)
	}
}

// wantField checks one field of a JSON object.
func wantField(name string, want any) func(t *testing.T, raw json.RawMessage) {
	return func(t *testing.T, raw json.RawMessage) {
		t.Helper()
		var m map[string]any
		mustUnmarshal(t, raw, &m)
		if m[name] != want {
			t.Errorf("%s = %v, want %v", name, m[name], want)
		}
	}
}

func TestAdminTableOutput(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	a := f.account
	tests := []struct {
		name   string
		args   []string
		header []string
		cells  []string
	}{
		{"account create", []string{"account", "create", "--name", "table"}, []string{"ACCOUNT ID", "NAME"}, []string{"table"}},
		{"account list", []string{"account", "list"}, []string{"ACCOUNT ID", "NAME", "STATE", "CREATED"}, []string{a, "acme", "enabled"}},
		{"account disable", []string{"account", "disable", a}, []string{"ACCOUNT ID", "STATE"}, []string{a, "disabled"}},
		{"account enable", []string{"account", "enable", a}, []string{"ACCOUNT ID", "STATE"}, []string{a, "enabled"}},
		{"key create", []string{"key", "create", "--account", a}, []string{"ACCESS KEY ID", "ACCESS KEY PASSWORD", "ACCOUNT ID"}, []string{a}},
		{"key list", []string{"key", "list", "--account", a}, []string{"ACCESS KEY ID", "ACCOUNT ID", "STATE", "CREATED"}, []string{f.key, "enabled"}},
		{"key disable", []string{"key", "disable", f.key}, []string{"ACCESS KEY ID", "STATE"}, []string{f.key, "disabled"}},
		{"key enable", []string{"key", "enable", f.key}, []string{"ACCESS KEY ID", "STATE"}, []string{f.key, "enabled"}},
		{"token create", []string{"token", "create", "--account", a}, []string{"TOKEN", "EXPIRES AT"}, []string{"zqt_"}},
		{"quota set", []string{"quota", "set", "--location", "jp-tokyo-1a", "--max", "6"}, []string{"SCOPE", "MAX COUNT", "EXPIRES AT", "PREVIOUS"}, []string{"location jp-tokyo-1a", "6", "-"}},
		{"quota set pair", []string{"quota", "set", "--account", a, "--location", "hk-hongkong-1a", "--max", "2"}, []string{"SCOPE", "MAX COUNT", "EXPIRES AT", "PREVIOUS"}, []string{"account " + a + " in hk-hongkong-1a", "2", "3"}},
		{"quota list", []string{"quota", "list"}, []string{"ACCOUNT", "LOCATION", "MAX COUNT", "EXPIRES AT", "REASON"}, []string{"*", "jp-tokyo-1a", a, "hk-hongkong-1a"}},
		{"quota show", []string{"quota", "show", "--account", a}, []string{"LOCATION", "COUNT", "MAX COUNT", "SOURCE"}, []string{"hk-hongkong-1a", "account+location", "location", "server-default"}},
		{"quota unset", []string{"quota", "unset", "--location", "jp-tokyo-1a"}, []string{"SCOPE", "REMOVED", "PREVIOUS"}, []string{"location jp-tokyo-1a", "true", "6"}},
		{"location list", []string{"location", "list"}, []string{"LOCATION", "NAME", "STATE"}, []string{"hk-hongkong-1a", "Hong Kong", "enabled"}},
		{"instance create", []string{"instance", "create", "--account", a, "--location", "jp-tokyo-1a", "--id", "ins-table"}, []string{"INSTANCE ID", "ACCOUNT ID", "LOCATION"}, []string{"ins-table", a, "jp-tokyo-1a"}},
		{"instance list", []string{"instance", "list"}, []string{"INSTANCE ID", "ACCOUNT ID", "LOCATION", "DISK GB", "OS"}, []string{f.instance, "ins-table", "40", "Ubuntu 22.04 (linux)"}},
		{"instance delete", []string{"instance", "delete", "ins-table"}, []string{"INSTANCE ID", "DELETED"}, []string{"ins-table", "true"}},
		{"audit list", []string{"audit", "list"}, []string{"TIME", "ACCOUNT", "ACTOR", "REQUEST ID", "ACTION", "TARGET", "BEFORE", "AFTER"}, []string{"admin", "SetLimit", `{"maxCount":6}`}},
	}
	columns := regexp.MustCompile(`\s{2,}`)
	for _, tc := range tests {
		out := f.adminOK(t, tc.args...)
		lines := strings.Split(strings.TrimRight(out, "\n"), "\n")
		if got := columns.Split(strings.TrimSpace(lines[0]), -1); !slices.Equal(got, tc.header) {
			t.Errorf("%s: header %q, want %q", tc.name, got, tc.header)
		}
		if len(lines) < 2 {
			t.Errorf("%s: no rows:\n%s", tc.name, out)
		}
		for _, cell := range tc.cells {
			if !strings.Contains(strings.Join(lines[1:], "\n"), cell) {
				t.Errorf("%s: no %q in\n%s", tc.name, cell, out)
			}
		}
		if strings.HasPrefix(strings.TrimSpace(out), "{") || strings.HasPrefix(strings.TrimSpace(out), "[") {
			t.Errorf("%s: table output is JSON:\n%s", tc.name, out)
		}
	}
}

// snapshot is everything the admin commands can see in the store.
func (f *fixture) snapshot(t *testing.T) string {
	t.Helper()
	var b strings.Builder
	for _, args := range [][]string{
		{"account", "list"}, {"key", "list", "--account", f.account}, {"quota", "list"},
		{"instance", "list"}, {"audit", "list"}, {"quota", "show", "--account", f.account},
	} {
		b.WriteString(f.adminOK(t, append(args, "--output", "json")...))
	}
	return b.String()
}

func TestAdminErrors(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	a := f.account
	tests := []struct {
		name string
		args []string
		code int
		// stderr must contain each of these.
		stderr []string
	}{
		{"missing --account", []string{"key", "create"}, 2, []string{"--account is required"}},
		{"missing --account for quota show", []string{"quota", "show"}, 2, []string{"--account is required"}},
		{"missing --account for token", []string{"token", "create", "--ttl", "1h"}, 2, []string{"--account is required"}},
		{"missing --name", []string{"account", "create"}, 2, []string{"--name is required"}},
		{"unknown account for key create", []string{"key", "create", "--account", "acc-nope"}, 1, []string{`account "acc-nope" does not exist`}},
		{"unknown account for key list", []string{"key", "list", "--account", "acc-nope"}, 1, []string{`account "acc-nope" does not exist`}},
		{"unknown account for token", []string{"token", "create", "--account", "acc-nope"}, 1, []string{`account "acc-nope" does not exist`}},
		{"unknown account for quota set", []string{"quota", "set", "--account", "acc-nope", "--max", "3"}, 1, []string{`account "acc-nope" does not exist`}},
		{"unknown account for quota unset", []string{"quota", "unset", "--account", "acc-nope"}, 1, []string{`account "acc-nope" does not exist`}},
		{"unknown account for quota show", []string{"quota", "show", "--account", "acc-nope"}, 1, []string{`account "acc-nope" does not exist`}},
		{"unknown account for instance create", []string{"instance", "create", "--account", "acc-nope", "--location", "hk-hongkong-1a"}, 1, []string{`account "acc-nope" does not exist`}},
		{"unknown account for instance list", []string{"instance", "list", "--account", "acc-nope"}, 1, []string{`account "acc-nope" does not exist`}},
		{"unknown account for audit list", []string{"audit", "list", "--account", "acc-nope"}, 1, []string{`account "acc-nope" does not exist`}},
		{"unknown account to disable", []string{"account", "disable", "acc-nope"}, 1, []string{`account "acc-nope" does not exist`}},
		{"unknown key to disable", []string{"key", "disable", "AKNOPE"}, 1, []string{`access key "AKNOPE" does not exist`}},
		{"unknown instance to delete", []string{"instance", "delete", "ins-nope"}, 1, []string{`instance "ins-nope" does not exist`}},
		{"no id", []string{"account", "disable"}, 2, []string{"account disable takes exactly one id"}},
		{"two ids", []string{"instance", "delete", "ins-a", "ins-b"}, 2, []string{"instance delete takes exactly one id"}},
		{"bad --max", []string{"quota", "set", "--account", a, "--max", "abc"}, 2, []string{`invalid value "abc" for flag --max`}},
		{"negative --max", []string{"quota", "set", "--account", a, "--max", "-1"}, 1, []string{"--max must be 0-1000000; it is -1"}},
		{"huge --max", []string{"quota", "set", "--max", "1000001"}, 1, []string{"--max must be 0-1000000; it is 1000001"}},
		{"no --max", []string{"quota", "set", "--account", a}, 2, []string{"--max is required"}},
		{"unknown location for quota set", []string{"quota", "set", "--account", a, "--location", "mars-1a", "--max", "3"}, 1, []string{`location "mars-1a" is not in the catalogue`}},
		{"unknown location for quota unset", []string{"quota", "unset", "--location", "mars-1a"}, 1, []string{`location "mars-1a" is not in the catalogue`}},
		{"unknown location for instance create", []string{"instance", "create", "--account", a, "--location", "mars-1a"}, 1, []string{`location "mars-1a" is not in the catalogue`}},
		{"missing --location", []string{"instance", "create", "--account", a}, 2, []string{"--location is required"}},
		{"all instance problems at once", []string{"instance", "create", "--account", a, "--disk-gb", "0", "--os-type", "beos", "--id", "vm-1"}, 2, []string{"--location is required", "--disk-gb must be 1-65536", "--os-type must be linux or windows", "--id must start with ins-"}},
		{"duplicate instance id", []string{"instance", "create", "--account", a, "--location", "hk-hongkong-1a", "--id", f.instance}, 1, []string{"already exists"}},
		{"bad --since", []string{"audit", "list", "--since", "yesterday"}, 2, []string{`--since "yesterday" is not an RFC 3339 time`}},
		{"bad --ttl", []string{"token", "create", "--account", a, "--ttl", "-1h"}, 2, []string{"--ttl must be positive"}},
		{"bad --output", []string{"account", "list", "--output", "yaml"}, 2, []string{`--output must be table or json; it is "yaml"`}},
		{"unexpected argument", []string{"account", "list", "extra"}, 2, []string{"unexpected arguments: extra"}},
		{"unknown flag", []string{"account", "list", "--colour"}, 2, []string{"flag provided but not defined: --colour"}},
		{"unknown command", []string{"frob", "list"}, 2, []string{`unknown command "frob list"`, `Run "imagequota admin --help"`}},
		{"unknown verb", []string{"account", "frob"}, 2, []string{`unknown command "account frob"`, `Run "imagequota admin account --help"`}},
		{"no verb", []string{"account"}, 2, []string{`unknown command "account"`}},
		{"no command", nil, 2, []string{"Usage: imagequota admin"}},
	}
	before := f.snapshot(t)
	for _, tc := range tests {
		r := f.admin(t, tc.args...)
		if r.code != tc.code {
			t.Errorf("%s: exit %d, want %d\nstderr: %s", tc.name, r.code, tc.code, r.stderr)
		}
		for _, s := range tc.stderr {
			if !strings.Contains(r.stderr, s) {
				t.Errorf("%s: stderr lacks %q:\n%s", tc.name, s, r.stderr)
			}
		}
		if r.stdout != "" {
			t.Errorf("%s: printed on stdout:\n%s", tc.name, r.stdout)
		}
	}
	if after := f.snapshot(t); after != before {
		t.Errorf("failed commands changed the store:\nbefore: %s\nafter: %s", before, after)
	}
}

func TestAdminQuotaSetWarnsAboutExcess(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	const loc = "hk-hongkong-1a"
	db := testkit.OpenStore(t, "sqlite:"+filepath.Join(f.dir, "imagequota.db"), store.Options{})
	for i := range 3 {
		_, _, err := db.CreateImage(context.Background(), quota.CreateImageInput{
			AccountID: f.account, InstanceID: f.instance, Name: fmt.Sprintf("img-%d", i),
			DefaultMax: quota.DefaultMaxCount, Now: time.Now(), Actor: quota.AdminActor,
		})
		if err != nil {
			t.Fatalf("create image %d: %v", i, err)
		}
	}
	tests := []struct {
		name       string
		args       []string
		wantExcess int // 0: no warning
	}{
		{"at the count", []string{"--account", f.account, "--location", loc, "--max", "3"}, 0},
		{"below the count for the pair", []string{"--account", f.account, "--location", loc, "--max", "1"}, 2},
		// The pair limit stays the one in effect: nothing to warn about.
		{"location-wide, shadowed by the pair", []string{"--location", loc, "--max", "0"}, 0},
		{"default, shadowed by the pair", []string{"--max", "0"}, 0},
	}
	for _, tc := range tests {
		r := f.admin(t, append([]string{"quota", "set", "--output", "json"}, tc.args...)...)
		if r.code != 0 {
			t.Fatalf("%s: exit %d: %s", tc.name, r.code, r.stderr)
		}
		var out struct {
			OverLimit []struct {
				AccountID, Location     string
				Count, MaxCount, Excess int
			}
		}
		mustUnmarshal(t, []byte(r.stdout), &out)
		if tc.wantExcess == 0 {
			if len(out.OverLimit) != 0 || strings.Contains(r.stderr, "warning") {
				t.Errorf("%s: unexpected warning: %s %s", tc.name, r.stdout, r.stderr)
			}
			continue
		}
		if len(out.OverLimit) != 1 || out.OverLimit[0].Excess != tc.wantExcess || out.OverLimit[0].Count != 3 || out.OverLimit[0].Location != loc || out.OverLimit[0].AccountID != f.account {
			t.Errorf("%s: overLimit %+v, want an excess of %d in %s", tc.name, out.OverLimit, tc.wantExcess, loc)
		}
		want := fmt.Sprintf("warning: account %s has 3 images in %s, %d over the limit", f.account, loc, tc.wantExcess)
		if !strings.Contains(r.stderr, want) {
			t.Errorf("%s: stderr lacks %q:\n%s", tc.name, want, r.stderr)
		}
	}
	// Without the pair limit, the location-wide one applies.
	f.adminOK(t, "quota", "unset", "--account", f.account, "--location", loc)
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"--location", loc, "--max", "1"}, "2 over the limit of 1"},
		{[]string{"--account", f.account, "--max", "2"}, "1 over the limit of 2"},
	} {
		r := f.admin(t, append([]string{"quota", "set"}, tc.args...)...)
		if r.code != 0 || !strings.Contains(r.stderr, tc.want) {
			t.Errorf("quota set %v below the count: exit %d, stderr %q, want %q", tc.args, r.code, r.stderr, tc.want)
		}
	}
}

func TestAdminQuotaShowResolvesTheMostSpecificLimit(t *testing.T) {
	t.Parallel()
	f := newFixture(t) // the pair (account, hk-hongkong-1a) is limited to 3
	other, _, _ := f.newAccount(t, "other")
	f.adminOK(t, "quota", "set", "--max", "7")
	f.adminOK(t, "quota", "set", "--location", "jp-tokyo-1a", "--max", "6")
	f.adminOK(t, "quota", "set", "--account", f.account, "--max", "9")
	tests := []struct {
		name, account, location string
		wantMax                 int
		wantSource              string
	}{
		{"pair", f.account, "hk-hongkong-1a", 3, quota.SourceAccountLocation},
		{"account beats location", f.account, "jp-tokyo-1a", 9, quota.SourceAccount},
		{"account elsewhere", f.account, "sg-singapore-1a", 9, quota.SourceAccount},
		{"location", other, "jp-tokyo-1a", 6, quota.SourceLocation},
		{"stored default", other, "sg-singapore-1a", 7, quota.SourceDefault},
	}
	for _, tc := range tests {
		var rows []struct {
			Location, Source string
			MaxCount         int
		}
		f.adminJSON(t, &rows, "quota", "show", "--account", tc.account)
		i := slices.IndexFunc(rows, func(r struct {
			Location, Source string
			MaxCount         int
		}) bool {
			return r.Location == tc.location
		})
		if i < 0 {
			t.Fatalf("%s: no %s in %+v", tc.name, tc.location, rows)
		}
		if rows[i].MaxCount != tc.wantMax || rows[i].Source != tc.wantSource {
			t.Errorf("%s: %+v, want maxCount %d from %s", tc.name, rows[i], tc.wantMax, tc.wantSource)
		}
	}
	// Without a stored default the built-in one applies: the default in
	// effect is the store's, never a flag of the admin command.
	f.adminOK(t, "quota", "unset")
	var rows []struct {
		Location, Source string
		MaxCount         int
	}
	f.adminJSON(t, &rows, "quota", "show", "--account", other)
	for _, r := range rows {
		if r.Location == "sg-singapore-1a" && (r.MaxCount != quota.DefaultMaxCount || r.Source != quota.SourceServerDefault) {
			t.Errorf("built-in default: %+v, want %d from %s", r, quota.DefaultMaxCount, quota.SourceServerDefault)
		}
	}
	if r := f.admin(t, "quota", "show", "--account", other, "--default-max-count", "11"); r.code != 2 {
		t.Errorf("admin quota show --default-max-count: exit %d, want 2 (serve's flag, recorded in the store)", r.code)
	}
}

// TestHelp: the forms of asking for help beyond "COMMAND --help" (which
// TestEveryCommandExitCodes asks of every command) print the usage on
// stdout, exit 0 and create nothing.
func TestHelp(t *testing.T) {
	t.Parallel()
	c := newCLI(t)
	cmds := [][]string{
		{"--help"}, {"help"}, {"-h"},
		{"call", "DescribeImageQuota", "--help"}, {"migrate", "status", "--help"}, {"--version", "--help"},
		{"admin", "help"}, {"admin", "--data-dir", c.dir, "--help"}, {"backup", "--data-dir", c.dir, "--help"},
		{"restore", "--data-dir", c.dir, "--help"},
	}
	for _, args := range cmds {
		r := c.run(t, args...)
		if r.code != 0 {
			t.Errorf("%q: exit %d, want 0\nstderr: %s", args, r.code, r.stderr)
		}
		if !strings.Contains(r.stdout, "Usage") {
			t.Errorf("%q: no usage on stdout:\n%s", args, r.stdout)
		}
		if r.stderr != "" {
			t.Errorf("%q: printed on stderr:\n%s", args, r.stderr)
		}
	}
	if _, err := os.Stat(c.dir); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("--help created the data directory %s", c.dir)
	}
}

func TestUsageErrors(t *testing.T) {
	t.Parallel()
	c := newCLI(t)
	tests := []struct {
		name   string
		args   []string
		code   int
		stderr string
	}{
		{"no command", nil, 2, "Usage:"},
		{"unknown command", []string{"frob"}, 2, `unknown command "frob"`},
		{"unknown serve flag", []string{"serve", "--frob"}, 2, "flag provided but not defined: --frob"},
		{"serve argument", []string{"serve", "--data-dir", c.dir, "now"}, 2, "unexpected arguments: now"},
		{"call without action", []string{"call"}, 2, "give exactly one ACTION"},
		{"call with bad body", []string{"call", "DescribeImageQuota", "--body", "{"}, 2, "--body is not valid JSON"},
		{"call without credentials", []string{"call", "DescribeImageQuota"}, 2, "set ZENLAYER_ACCESS_KEY_ID and ZENLAYER_ACCESS_KEY_SECRET, or ZENLAYER_TOKEN"},
		{"migrate bad verb", []string{"migrate", "--data-dir", c.dir, "down"}, 2, "the subcommand is up or status"},
	}
	for _, tc := range tests {
		r := c.run(t, tc.args...)
		if r.code != tc.code || !strings.Contains(r.stderr, tc.stderr) {
			t.Errorf("%s: exit %d, stderr %q; want exit %d and %q", tc.name, r.code, r.stderr, tc.code, tc.stderr)
		}
	}
	if r := c.run(t, "version"); r.code != 0 || !strings.HasPrefix(r.stdout, "imagequota ") {
		t.Errorf("version: exit %d, %q", r.code, r.stdout)
	}
}
