package storetest

import (
	"testing"
	"time"

	"github.com/imagequota/imagequota/internal/quota"
	"github.com/imagequota/imagequota/internal/store"
)

// testOperatorWritesReplayed: the writes the operator API makes, sent twice
// under one request, are done once and answer the same both times, secrets
// included; sealed in the replay record when a master key is set.
func testOperatorWritesReplayed(t *testing.T, open func(t *testing.T, now func() time.Time) *store.DB) {
	for _, sealed := range []bool{false, true} {
		e := setupClocked(t, open)
		if sealed {
			e.db.SetSecrets(newBox(t))
		}
		ctx := t.Context()
		db := e.db
		later := e.clock.Now().Add(5 * time.Minute)
		actor := func(key, action string) quota.Actor {
			a := replayActor(key, action, later)
			a.Name = quota.OperatorActor("opr-test")
			return a
		}
		twice := func(what string, fn func() error) {
			t.Helper()
			for i := range 2 {
				if err := fn(); err != nil {
					t.Fatalf("%s (send %d): %v", what, i+1, err)
				}
			}
		}
		var accts [2]quota.Account
		i := 0
		twice("CreateAccountAs", func() (err error) {
			accts[i], err = db.CreateAccountAs(ctx, "replayed", actor("k-account", "CreateAccount"))
			i++
			return err
		})
		if accts[0].ID != accts[1].ID {
			t.Fatalf("CreateAccountAs sent twice made %s and %s", accts[0].ID, accts[1].ID)
		}
		acct := accts[0].ID
		var keys [2]quota.AccessKey
		i = 0
		twice("CreateAccessKeyAs", func() (err error) {
			keys[i], err = db.CreateAccessKeyAs(ctx, acct, actor("k-key", "CreateAccessKey"))
			i++
			return err
		})
		if keys[0].ID != keys[1].ID || keys[0].Secret != keys[1].Secret || keys[1].Secret == "" {
			t.Fatalf("CreateAccessKeyAs sent twice = %+v and %+v", keys[0], keys[1])
		}
		var toks [2]string
		var exps [2]time.Time
		i = 0
		twice("CreateTokenAs", func() (err error) {
			toks[i], exps[i], err = db.CreateTokenAs(ctx, acct, time.Hour, actor("k-token", "CreateToken"))
			i++
			return err
		})
		if toks[0] != toks[1] || !exps[0].Equal(exps[1]) {
			t.Fatalf("CreateTokenAs sent twice = %s %s and %s %s", toks[0], exps[0], toks[1], exps[1])
		}
		if c, err := db.TokenCredential(ctx, toks[1]); err != nil || c.AccountID != acct {
			t.Fatalf("the replayed token = %+v, %v", c, err)
		}
		var insts [2]quota.Instance
		i = 0
		twice("CreateInstanceAs", func() (err error) {
			insts[i], err = db.CreateInstanceAs(ctx, quota.Instance{AccountID: acct, LocationID: tokyo, DiskGB: 40, OSCategory: "Ubuntu", OSType: "linux", OSVersion: "22.04"},
				actor("k-instance", "CreateInstance"))
			i++
			return err
		})
		if insts[0].ID != insts[1].ID {
			t.Fatalf("CreateInstanceAs sent twice made %s and %s", insts[0].ID, insts[1].ID)
		}
		twice("SetLimit", func() error {
			_, err := db.SetLimit(ctx, quota.LimitOverride{AccountID: acct, MaxCount: 9}, actor("k-limit", "SetImageQuota"))
			return err
		})
		twice("UnsetLimit", func() error {
			_, err := db.UnsetLimit(ctx, acct, "", actor("k-unset", "UnsetImageQuota"))
			return err
		})
		twice("DeleteInstanceAs", func() error {
			return db.DeleteInstanceAs(ctx, insts[0].ID, actor("k-delete", "DeleteInstance"))
		})
		twice("SetAccessKeyDisabledAs", func() error {
			return db.SetAccessKeyDisabledAs(ctx, keys[0].ID, true, actor("k-disable-key", "DisableAccessKey"))
		})
		twice("SetAccountDisabledAs", func() error {
			return db.SetAccountDisabledAs(ctx, acct, true, actor("k-disable", "ModifyAccountStatus"))
		})
		counts := map[string]int{}
		for _, r := range audit(t, db, quota.AuditFilter{AccountID: acct}) {
			counts[r.Action]++
		}
		for _, a := range []string{"CreateAccount", "CreateAccessKey", "CreateToken", "CreateInstance", "SetLimit", "UnsetLimit",
			"DeleteInstance", "DisableAccessKey", "DisableAccount"} {
			if counts[a] != 1 {
				t.Errorf("sealed %v: %d %s records for one request sent twice, want 1 (%v)", sealed, counts[a], a, counts)
			}
		}
		// Under another action, the request is refused.
		_, err := db.CreateAccountAs(ctx, "other", actor("k-key", "CreateAccount"))
		wantCode(t, "a request's key under another action", err, quota.CodeSignatureReused)
	}
}
