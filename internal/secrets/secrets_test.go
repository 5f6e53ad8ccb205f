package secrets

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func setup(t *testing.T) (*Box, string) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "master.key")
	b, created, err := LoadOrGenerate(path)
	if err != nil || !created {
		t.Fatalf("LoadOrGenerate: %v created=%v", err, created)
	}
	return b, path
}

func TestSealOpen(t *testing.T) {
	t.Parallel()
	b, path := setup(t)
	sealed := b.Seal("the password", "AK1")
	if strings.Contains(sealed, "the password") || KeyIDOf(sealed) != b.ID() {
		t.Fatalf("sealed value %q", sealed)
	}
	if got, err := b.Open(sealed, "AK1"); err != nil || got != "the password" {
		t.Fatalf("Open = %q, %v", got, err)
	}
	if b.Seal("x", "a") == b.Seal("x", "a") {
		t.Fatal("two seals of the same value are equal: the nonce is not random")
	}
	// Reloading the file gives the same key.
	again, created, err := LoadOrGenerate(path)
	if err != nil || created || again.ID() != b.ID() {
		t.Fatalf("reload: %v created=%v id %s vs %s", err, created, again.ID(), b.ID())
	}
	info, _ := os.Stat(path)
	if info.Mode().Perm() != 0o600 {
		t.Fatalf("mode %04o, want 0600", info.Mode().Perm())
	}
	tests := []struct {
		name, sealed, aad string
		other             bool
	}{
		{"wrong aad", sealed, "AK2", false},
		{"not sealed", "plain", "AK1", false},
		{"truncated", sealed[:len(sealed)-4], "AK1", false},
		{"flipped", sealed[:len(sealed)-2] + "AA", "AK1", false},
		{"other key", strings.Replace(sealed, b.ID(), "00000000", 1), "AK1", true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := b.Open(tc.sealed, tc.aad)
			if err == nil || errors.Is(err, ErrOtherKey) != tc.other {
				t.Fatalf("Open: %v", err)
			}
		})
	}
}

func TestLoadRefusesBadFiles(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	for name, tc := range map[string]struct {
		content string
		mode    os.FileMode
	}{
		"short":          {"abcd", 0o600},
		"not hex":        {strings.Repeat("zz", 32), 0o600},
		"world-readable": {strings.Repeat("ab", 32), 0o644},
	} {
		p := filepath.Join(dir, strings.ReplaceAll(name, " ", "-"))
		if err := os.WriteFile(p, []byte(tc.content), tc.mode); err != nil {
			t.Fatal(err)
		}
		if err := os.Chmod(p, tc.mode); err != nil {
			t.Fatal(err)
		}
		if _, err := Load(p); err == nil {
			t.Errorf("%s: Load accepted it", name)
		}
	}
	if _, err := Generate(filepath.Join(dir, "short")); err == nil {
		t.Error("Generate overwrote an existing file")
	}
}
