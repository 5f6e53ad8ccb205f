package main

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"slices"
	"strings"
	"testing"
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
	want := []struct{ action, target string }{
		{"CreateAccount", acct}, {"CreateAccessKey", key},
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
	for i, w := range want {
		r := recs[i]
		if r.Action != w.action || r.Target != w.target || r.Actor != "admin" || r.AccountID != acct {
			t.Errorf("record %d = %+v, want %s of %s by admin in %s", i, r, w.action, w.target, acct)
		}
	}
	for _, out := range []string{c.adminOK(t, "audit", "list", "--output", "json"), c.adminOK(t, "audit", "list")} {
		for _, s := range []string{secret, tok.Token, hex.EncodeToString(sum[:])} {
			if strings.Contains(out, s) {
				t.Errorf("audit list shows a secret %q:\n%s", s, out)
			}
		}
	}
	if got := c.auditList(t, "--account", acct); !slices.EqualFunc(got, recs, func(a, b auditEntry) bool { return a.ID == b.ID }) {
		t.Errorf("audit list --account %s = %+v, want every record", acct, got)
	}
}
