package storetest

import (
	"bytes"
	"testing"

	"imagequota/internal/quota"
	"imagequota/internal/secrets"
	"imagequota/internal/store"
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
		got, err := db.ClaimMasterKey(ctx, k.Fingerprint())
		if err != nil {
			t.Fatal(err)
		}
		if got != first.Fingerprint() {
			t.Fatalf("claim with %s: store says %s, want the first key's %s", k.Fingerprint(), got, first.Fingerprint())
		}
	}
	db.SetSecrets(first)
	if _, err := db.RotateSecrets(ctx, second, quota.AdminActor); err != nil {
		t.Fatal(err)
	}
	if fp, err := db.MasterKeyFingerprint(ctx); err != nil || fp != second.Fingerprint() {
		t.Fatalf("after rotation: fingerprint %q, %v; want %s", fp, err, second.Fingerprint())
	}
}
