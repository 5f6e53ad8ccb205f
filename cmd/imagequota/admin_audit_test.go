package main

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"
)

// auditEntry is a record of "audit list --output json".
type auditEntry struct {
	ID        int64           `json:"id"`
	AccountID string          `json:"accountId"`
	Actor     string          `json:"actor"`
	RequestID string          `json:"requestId"`
	Action    string          `json:"action"`
	Target    string          `json:"target"`
	Before    json.RawMessage `json:"before"`
	After     json.RawMessage `json:"after"`
}

// auditList runs "audit list" with args and returns its records.
func (c *cli) auditList(t *testing.T, args ...string) []auditEntry {
	t.Helper()
	var recs []auditEntry
	c.adminJSON(t, &recs, append([]string{"audit", "list", "--limit", "0"}, args...)...)
	return recs
}

// TestAdminChangesAreAudited: every change an admin command makes is in the
// audit trail, by admin, and no record holds a key's password or a token.
func TestAdminChangesAreAudited(t *testing.T) {
	t.Parallel()
	c := setup(t)
	acct, key, secret := c.newAccount(t, "acme")
	c.adminOK(t, "key", "disable", key)
	c.adminOK(t, "key", "enable", key)
	c.adminOK(t, "account", "disable", acct)
	c.adminOK(t, "account", "enable", acct)
	var tok struct{ Token string }
	c.adminJSON(t, &tok, "token", "create", "--account", acct, "--ttl", "1h")
	c.adminOK(t, "instance", "create", "--account", acct, "--location", "jp-tokyo-1a", "--id", "ins-audited")
	c.adminOK(t, "instance", "delete", "ins-audited")
	c.adminOK(t, "quota", "set", "--account", acct, "--max", "3")
	// Refused changes leave no record.
	for _, args := range [][]string{
		{"key", "disable", "AKNOSUCHKEY"}, {"account", "disable", "acc-nope"}, {"instance", "delete", "ins-nope"},
		{"token", "create", "--account", "acc-nope"}, {"key", "create", "--account", "acc-nope"},
	} {
		if r := c.admin(t, args...); r.code != 1 {
			t.Fatalf("admin %q: exit %d, want 1", args, r.code)
		}
	}

	sum := sha256.Sum256([]byte(tok.Token))
	tokenRef := "token:" + hex.EncodeToString(sum[:4])
	// The first key created records the master key that seals it, store-wide.
	want := []struct{ action, target string }{
		{"CreateAccount", acct}, {"ClaimMasterKey", "master-key"}, {"CreateAccessKey", key},
		{"DisableAccessKey", key}, {"EnableAccessKey", key},
		{"DisableAccount", acct}, {"EnableAccount", acct},
		{"CreateToken", tokenRef},
		{"CreateInstance", "ins-audited"}, {"DeleteInstance", "ins-audited"},
		{"SetLimit", "limit:" + acct + "/*"},
	}
	recs := c.auditList(t)
	if len(recs) != len(want) {
		t.Fatalf("%d audit records, want %d: %+v", len(recs), len(want), recs)
	}
	var ofAccount []auditEntry
	for i, w := range want {
		r := recs[i]
		account := acct
		if w.action == "ClaimMasterKey" {
			account = ""
		} else {
			ofAccount = append(ofAccount, r)
		}
		if r.Action != w.action || r.Target != w.target || r.Actor != "admin" || r.AccountID != account {
			t.Errorf("record %d = %+v, want %s of %s by admin in %q", i, r, w.action, w.target, account)
		}
	}
	for _, out := range []string{c.adminOK(t, "audit", "list", "--output", "json"), c.adminOK(t, "audit", "list")} {
		for _, s := range []string{secret, tok.Token, hex.EncodeToString(sum[:])} {
			if strings.Contains(out, s) {
				t.Errorf("audit list shows a secret %q:\n%s", s, out)
			}
		}
	}
	if got := c.auditList(t, "--account", acct); !slices.EqualFunc(got, ofAccount, func(a, b auditEntry) bool { return a.ID == b.ID }) {
		t.Errorf("audit list --account %s = %+v, want every record of the account", acct, got)
	}
}

// TestAdminAuditPrune: "audit prune" never removes a record inside the
// window it is given, counts without removing with --dry-run, and leaves one
// PruneAudit record by admin when it removes anything.
func TestAdminAuditPrune(t *testing.T) {
	t.Parallel()
	c := setup(t)
	acct, _, _ := c.newAccount(t, "acme")
	for _, max := range []string{"1", "2", "3", "4"} {
		c.adminOK(t, "quota", "set", "--account", acct, "--max", max)
	}
	all := c.auditList(t) // CreateAccount, ClaimMasterKey, CreateAccessKey and four SetLimit
	n := len(all) - 2     // what --keep 2 removes
	ids := func(recs []auditEntry) []int64 {
		var out []int64
		for _, r := range recs {
			out = append(out, r.ID)
		}
		return out
	}
	type pruned struct {
		Removed   int
		DryRun    bool
		OlderThan *string
		Keep      int
	}

	// Every record is inside these windows.
	for _, args := range [][]string{{"--older-than", "1h"}, {"--older-than", "400d"}, {"--keep", fmt.Sprint(len(all))}, {"--older-than", "1d", "--keep", "100"}} {
		var p pruned
		c.adminJSON(t, &p, append([]string{"audit", "prune"}, args...)...)
		if p.Removed != 0 {
			t.Fatalf("audit prune %q removed %d records inside its window", args, p.Removed)
		}
	}
	if got := c.auditList(t); !slices.Equal(ids(got), ids(all)) {
		t.Fatalf("after prunes inside the window: %+v, want %+v", got, all)
	}

	var dry pruned
	c.adminJSON(t, &dry, "audit", "prune", "--keep", "2", "--dry-run")
	if dry.Removed != n || !dry.DryRun || dry.OlderThan != nil || dry.Keep != 2 {
		t.Fatalf("audit prune --keep 2 --dry-run = %+v, want %d to remove", dry, n)
	}
	if got := c.auditList(t); !slices.Equal(ids(got), ids(all)) {
		t.Fatalf("--dry-run removed records: %+v", got)
	}
	if out := c.adminOK(t, "audit", "prune", "--keep", "2", "--dry-run"); !regexp.MustCompile(fmt.Sprintf(`WOULD REMOVE +OLDER THAN +KEEP\n%d +- +2\n`, n)).MatchString(out) {
		t.Errorf("audit prune --dry-run table:\n%s", out)
	}

	out := c.adminOK(t, "audit", "prune", "--older-than", "400d", "--keep", "2")
	if !regexp.MustCompile(fmt.Sprintf(`REMOVED +OLDER THAN +KEEP\n%d +\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ +2\n`, n)).MatchString(out) {
		t.Errorf("audit prune table:\n%s", out)
	}
	got := c.auditList(t)
	if len(got) != 3 || !slices.Equal(ids(got[:2]), ids(all[len(all)-2:])) {
		t.Fatalf("after audit prune --keep 2: %+v, want the newest two and a PruneAudit record", got)
	}
	var after struct {
		Removed, Keep int
		OlderThan     time.Time
	}
	if r := got[2]; r.Action != "PruneAudit" || r.Actor != "admin" || r.AccountID != "" || r.Target != "audit" ||
		json.Unmarshal(r.After, &after) != nil || after.Removed != n || after.Keep != 2 ||
		time.Since(after.OlderThan) < 399*24*time.Hour || time.Since(after.OlderThan) > 401*24*time.Hour {
		t.Errorf("PruneAudit record = %+v (after %s)", r, r.After)
	}

	for _, tc := range []struct {
		args   []string
		code   int
		stderr string
	}{
		{[]string{"audit", "prune"}, 2, "--older-than AGE, --keep N or both are required"},
		{[]string{"audit", "prune", "--keep", "-1"}, 2, "--keep must be 0 or more"},
		{[]string{"audit", "prune", "--older-than", "lots"}, 2, `invalid value "lots" for flag --older-than`},
		{[]string{"audit", "prune", "--older-than", "-3d"}, 2, `invalid value "-3d" for flag --older-than`},
	} {
		if r := c.admin(t, tc.args...); r.code != tc.code || !strings.Contains(r.stderr, tc.stderr) {
			t.Errorf("admin %q: exit %d, stderr %q; want exit %d and %q", tc.args, r.code, r.stderr, tc.code, tc.stderr)
		}
	}
}
