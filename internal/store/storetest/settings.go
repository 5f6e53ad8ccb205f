package storetest

import (
	"bytes"
	"strings"
	"testing"

	"github.com/imagequota/imagequota/internal/quota"
	"github.com/imagequota/imagequota/internal/secrets"
	"github.com/imagequota/imagequota/internal/store"
)

// testMasterKeyClaimedOnce: the first master key brought to a store is
// recorded; another is told which one the store has; rotation records the
// new one.
func testMasterKeyClaimedOnce(t *testing.T, open func(t *testing.T) *store.DB) {
	db := open(t)
	ctx := t.Context()
	box := func(b byte) *secrets.Box {
		k, err := secrets.New(bytes.Repeat([]byte{b}, secrets.KeySize))
		if err != nil {
			t.Fatal(err)
		}
		return k
	}
	first, second := box(1), box(2)
	if fp, err := db.MasterKeyFingerprint(ctx); err != nil || fp != "" {
		t.Fatalf("new store: fingerprint %q, %v; want none", fp, err)
	}
	for _, k := range []*secrets.Box{first, second, first} {
		got, err := db.ClaimMasterKey(ctx, k.Fingerprint(), quota.AdminActor)
		if err != nil {
			t.Fatal(err)
		}
		if got != first.Fingerprint() {
			t.Fatalf("claim with %s: store says %s, want the first key's %s", k.Fingerprint(), got, first.Fingerprint())
		}
	}
	recs := audit(t, db, quota.AuditFilter{})
	claims := 0
	for _, r := range recs {
		if r.Action == "ClaimMasterKey" {
			claims++
			if !strings.Contains(jsonOf(t, r.After), first.Fingerprint()) {
				t.Fatalf("ClaimMasterKey record %s does not name the first key", r.After)
			}
		}
	}
	if claims != 1 {
		t.Fatalf("%d ClaimMasterKey records, want 1 (the first claim only)", claims)
	}
	db.SetSecrets(first)
	if _, err := db.RotateSecrets(ctx, second, quota.AdminActor); err != nil {
		t.Fatal(err)
	}
	if fp, err := db.MasterKeyFingerprint(ctx); err != nil || fp != second.Fingerprint() {
		t.Fatalf("after rotation: fingerprint %q, %v; want %s", fp, err, second.Fingerprint())
	}
}
