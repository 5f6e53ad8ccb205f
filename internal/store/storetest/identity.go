package storetest

import (
	"strings"
	"testing"
	"time"

	"github.com/imagequota/imagequota/internal/quota"
	"github.com/imagequota/imagequota/internal/store"
)

func testAccounts(t *testing.T, open func(t *testing.T) *store.DB) {
	db := open(t)
	ctx := t.Context()
	before := time.Now().Add(-time.Second)
	a := newAccount(t, db, "alpha")
	b := newAccount(t, db, "beta")
	if !strings.HasPrefix(a.ID, "acc-") || a.ID == b.ID {
		t.Fatalf("account ids %q and %q: want distinct acc-… ids", a.ID, b.ID)
	}
	if a.Name != "alpha" || a.Disabled || a.CreatedAt.Before(before) {
		t.Fatalf("CreateAccount = %+v", a)
	}

	got, err := db.GetAccount(ctx, a.ID)
	if err != nil {
		t.Fatalf("GetAccount: %v", err)
	}
	if got.ID != a.ID || got.Name != a.Name || got.Disabled || !got.CreatedAt.Equal(a.CreatedAt) {
		t.Fatalf("GetAccount = %+v, want %+v", got, a)
	}

	list, err := db.ListAccounts(ctx)
	if err != nil {
		t.Fatalf("ListAccounts: %v", err)
	}
	var ids []string
	for i, x := range list {
		ids = append(ids, x.ID)
		if i > 0 && (x.CreatedAt.Before(list[i-1].CreatedAt) || x.CreatedAt.Equal(list[i-1].CreatedAt) && x.ID < list[i-1].ID) {
			t.Fatalf("ListAccounts is not oldest first: %+v", list)
		}
	}
	if !sameSet(ids, []string{a.ID, b.ID}) {
		t.Fatalf("ListAccounts ids = %v, want %s and %s", ids, a.ID, b.ID)
	}

	for _, disabled := range []bool{true, false} {
		if err := db.SetAccountDisabled(ctx, a.ID, disabled); err != nil {
			t.Fatalf("SetAccountDisabled(%v): %v", disabled, err)
		}
		got, err := db.GetAccount(ctx, a.ID)
		if err != nil || got.Disabled != disabled {
			t.Fatalf("after SetAccountDisabled(%v): GetAccount = %+v, %v", disabled, got, err)
		}
		other, err := db.GetAccount(ctx, b.ID)
		if err != nil || other.Disabled {
			t.Fatalf("SetAccountDisabled changed another account: %+v, %v", other, err)
		}
	}

	for _, tc := range []struct {
		name string
		err  error
		code string
	}{
		{"get unknown", func() error { _, err := db.GetAccount(ctx, "acc-missing"); return err }(), quota.CodeAccountNotFound},
		{"disable unknown", db.SetAccountDisabled(ctx, "acc-missing", true), quota.CodeAccountNotFound},
	} {
		wantCode(t, tc.name, tc.err, tc.code)
	}
}

func testAccessKeys(t *testing.T, open func(t *testing.T) *store.DB) {
	db := open(t)
	ctx := t.Context()
	acct := newAccount(t, db, "keys")
	other := newAccount(t, db, "other")
	k1, err := db.CreateAccessKey(ctx, acct.ID)
	if err != nil {
		t.Fatalf("CreateAccessKey: %v", err)
	}
	k2, err := db.CreateAccessKey(ctx, acct.ID)
	if err != nil {
		t.Fatalf("CreateAccessKey: %v", err)
	}
	if !strings.HasPrefix(k1.ID, "AK") || k1.ID == k2.ID || k1.Secret == "" || k1.Secret == k2.Secret || k1.AccountID != acct.ID {
		t.Fatalf("CreateAccessKey = %+v and %+v: want distinct AK… ids and secrets", k1, k2)
	}

	keys, err := db.ListAccessKeys(ctx, acct.ID)
	if err != nil {
		t.Fatalf("ListAccessKeys: %v", err)
	}
	var ids []string
	for _, k := range keys {
		ids = append(ids, k.ID)
		if k.Secret != "" {
			t.Fatalf("ListAccessKeys returned a secret for %s", k.ID)
		}
		if k.AccountID != acct.ID || k.Disabled {
			t.Fatalf("ListAccessKeys entry %+v", k)
		}
	}
	if !sameSet(ids, []string{k1.ID, k2.ID}) {
		t.Fatalf("ListAccessKeys ids = %v, want %s and %s", ids, k1.ID, k2.ID)
	}
	if keys, err := db.ListAccessKeys(ctx, other.ID); err != nil || len(keys) != 0 {
		t.Fatalf("ListAccessKeys(other account) = %v, %v; want none", keys, err)
	}

	cred := func(id string) quota.Credential {
		t.Helper()
		c, err := db.AccessKeyCredential(ctx, id)
		if err != nil {
			t.Fatalf("AccessKeyCredential(%s): %v", id, err)
		}
		return c
	}
	if c := cred(k1.ID); c.AccountID != acct.ID || c.Secret != k1.Secret || c.Disabled || c.AccountDisabled {
		t.Fatalf("AccessKeyCredential = %+v", c)
	}

	if err := db.SetAccessKeyDisabled(ctx, k1.ID, true); err != nil {
		t.Fatalf("SetAccessKeyDisabled: %v", err)
	}
	if c := cred(k1.ID); !c.Disabled || c.AccountDisabled {
		t.Fatalf("disabled key: credential %+v, want Disabled only", c)
	}
	if c := cred(k2.ID); c.Disabled {
		t.Fatalf("disabling %s disabled %s too", k1.ID, k2.ID)
	}
	keys, _ = db.ListAccessKeys(ctx, acct.ID)
	for _, k := range keys {
		if k.Disabled != (k.ID == k1.ID) {
			t.Fatalf("ListAccessKeys after disabling %s: %+v", k1.ID, keys)
		}
	}

	if err := db.SetAccountDisabled(ctx, acct.ID, true); err != nil {
		t.Fatalf("SetAccountDisabled: %v", err)
	}
	if c := cred(k2.ID); !c.AccountDisabled || c.Disabled {
		t.Fatalf("disabled account: credential %+v, want AccountDisabled only", c)
	}
	if err := db.SetAccessKeyDisabled(ctx, k1.ID, false); err != nil {
		t.Fatalf("enable key: %v", err)
	}
	if c := cred(k1.ID); c.Disabled || !c.AccountDisabled {
		t.Fatalf("re-enabled key of a disabled account: credential %+v", c)
	}

	for _, tc := range []struct {
		name string
		err  error
		code string
	}{
		{"credential of unknown key", func() error { _, err := db.AccessKeyCredential(ctx, "AKNOSUCHKEY"); return err }(), quota.CodeSignatureFailure},
		{"key for unknown account", func() error { _, err := db.CreateAccessKey(ctx, "acc-missing"); return err }(), quota.CodeAccountNotFound},
		{"disable unknown key", db.SetAccessKeyDisabled(ctx, "AKNOSUCHKEY", true), quota.CodeAccessKeyNotFound},
	} {
		wantCode(t, tc.name, tc.err, tc.code)
	}
}

func testTokens(t *testing.T, open func(t *testing.T) *store.DB) {
	db := open(t)
	ctx := t.Context()
	acct := newAccount(t, db, "tokens")
	now := time.Now()
	tok, exp, err := db.CreateToken(ctx, acct.ID, time.Hour)
	if err != nil {
		t.Fatalf("CreateToken: %v", err)
	}
	if tok == "" || exp.Before(now.Add(59*time.Minute)) || exp.After(now.Add(61*time.Minute)) {
		t.Fatalf("CreateToken = %q expiring %v; want a token expiring in an hour", tok, exp)
	}
	c, err := db.TokenCredential(ctx, tok)
	if err != nil {
		t.Fatalf("TokenCredential: %v", err)
	}
	if c.AccountID != acct.ID || !c.ExpiresAt.Equal(exp) || c.AccountDisabled {
		t.Fatalf("TokenCredential = %+v, want account %s expiring %v", c, acct.ID, exp)
	}

	// Only the token's hash is kept: no column of any row holds the token.
	rows := 0
	for name, pool := range db.Pools() {
		if name == "db_write" {
			continue
		}
		rs, err := pool.QueryContext(ctx, `SELECT hash, account_id FROM tokens`)
		if err != nil {
			t.Fatalf("reading tokens: %v", err)
		}
		for rs.Next() {
			var hash, account string
			if err := rs.Scan(&hash, &account); err != nil {
				t.Fatalf("reading tokens: %v", err)
			}
			rows++
			if strings.Contains(hash, tok) || strings.Contains(account, tok) {
				t.Fatalf("the tokens table holds the token itself")
			}
			if hash != store.TokenHash(tok) {
				t.Fatalf("tokens.hash = %q, want TokenHash(token) %q", hash, store.TokenHash(tok))
			}
		}
		if err := rs.Err(); err != nil {
			t.Fatalf("reading tokens: %v", err)
		}
		rs.Close()
	}
	if rows != 1 {
		t.Fatalf("tokens table has %d rows, want 1", rows)
	}

	expired, exp2, err := db.CreateToken(ctx, acct.ID, -time.Minute)
	if err != nil {
		t.Fatalf("CreateToken(expired): %v", err)
	}
	if c, err := db.TokenCredential(ctx, expired); err != nil || !c.ExpiresAt.Equal(exp2) || !c.ExpiresAt.Before(time.Now()) {
		t.Fatalf("TokenCredential(expired) = %+v, %v; want its past expiry %v", c, err, exp2)
	}

	if err := db.SetAccountDisabled(ctx, acct.ID, true); err != nil {
		t.Fatalf("SetAccountDisabled: %v", err)
	}
	if c, err := db.TokenCredential(ctx, tok); err != nil || !c.AccountDisabled {
		t.Fatalf("TokenCredential after disabling the account = %+v, %v; want AccountDisabled", c, err)
	}

	for _, tc := range []struct {
		name string
		err  error
		code string
	}{
		{"unknown token", func() error { _, err := db.TokenCredential(ctx, "zqt_unknown"); return err }(), quota.CodeSignatureFailure},
		{"hash given as token", func() error { _, err := db.TokenCredential(ctx, store.TokenHash(tok)); return err }(), quota.CodeSignatureFailure},
		{"token for unknown account", func() error { _, _, err := db.CreateToken(ctx, "acc-missing", time.Hour); return err }(), quota.CodeAccountNotFound},
	} {
		wantCode(t, tc.name, tc.err, tc.code)
	}
}
