// Package secrets seals access key passwords at rest with AES-256-GCM under a
// master key kept in a file outside the database.
package secrets

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
)

// KeySize is the master key's size in bytes.
const KeySize = 32

// Box seals and opens secrets under one master key.
type Box struct {
	aead cipher.AEAD
	id   string
	fp   string
}

// sealedPrefix starts every sealed value: version, then the master key's id.
const sealedPrefix = "aes256gcm:"

// New returns a box for a 32-byte master key.
func New(key []byte) (*Box, error) {
	if len(key) != KeySize {
		return nil, fmt.Errorf("secrets: the master key must be %d bytes; it is %d", KeySize, len(key))
	}
	block, err := aes.NewCipher(key)
	if err != nil {
		return nil, err
	}
	aead, err := cipher.NewGCM(block)
	if err != nil {
		return nil, err
	}
	sum := sha256.Sum256(append([]byte("imagequota master key id\x00"), key...))
	fp := sha256.Sum256(append([]byte("imagequota master key fingerprint\x00"), key...))
	return &Box{aead: aead, id: hex.EncodeToString(sum[:4]), fp: "sha256:" + hex.EncodeToString(fp[:])}, nil
}

// ID names the master key without revealing it: sealed values carry it, so a
// value sealed under another key is recognised as such.
func (b *Box) ID() string { return b.id }

// Fingerprint identifies the master key without revealing it, with more
// certainty than ID: a store records it to refuse any other key.
func (b *Box) Fingerprint() string { return b.fp }

// Seal encrypts plaintext; aad binds the result to its owner (the access key id).
func (b *Box) Seal(plaintext, aad string) string {
	nonce := make([]byte, b.aead.NonceSize())
	_, _ = rand.Read(nonce)
	ct := b.aead.Seal(nonce, nonce, []byte(plaintext), []byte(aad))
	return sealedPrefix + b.id + ":" + base64.RawStdEncoding.EncodeToString(ct)
}

// ErrOtherKey means a value was sealed under a different master key.
var ErrOtherKey = errors.New("secrets: sealed under a different master key")

// KeyIDOf returns the master key id a sealed value names, or "" if it is not sealed.
func KeyIDOf(sealed string) string {
	rest, ok := strings.CutPrefix(sealed, sealedPrefix)
	if !ok {
		return ""
	}
	id, _, _ := strings.Cut(rest, ":")
	return id
}

// Open decrypts a value made by Seal with the same aad.
func (b *Box) Open(sealed, aad string) (string, error) {
	rest, ok := strings.CutPrefix(sealed, sealedPrefix)
	if !ok {
		return "", errors.New("secrets: the value is not sealed")
	}
	id, data, ok := strings.Cut(rest, ":")
	if !ok {
		return "", errors.New("secrets: malformed sealed value")
	}
	if id != b.id {
		return "", fmt.Errorf("%w (%s, the loaded key is %s)", ErrOtherKey, id, b.id)
	}
	ct, err := base64.RawStdEncoding.DecodeString(data)
	if err != nil || len(ct) < b.aead.NonceSize() {
		return "", errors.New("secrets: malformed sealed value")
	}
	pt, err := b.aead.Open(nil, ct[:b.aead.NonceSize()], ct[b.aead.NonceSize():], []byte(aad))
	if err != nil {
		return "", errors.New("secrets: the sealed value does not authenticate")
	}
	return string(pt), nil
}

// Load reads a master key file: 64 hex characters (surrounding white space allowed).
func Load(path string) (*Box, error) {
	info, err := os.Stat(path)
	if err != nil {
		return nil, fmt.Errorf("master key: %w", err)
	}
	if info.Mode().Perm()&0o077 != 0 {
		return nil, fmt.Errorf("master key %s: mode %04o lets others read it; chmod 600 it", path, info.Mode().Perm())
	}
	raw, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("master key: %w", err)
	}
	key, err := hex.DecodeString(strings.TrimSpace(string(raw)))
	if err != nil || len(key) != KeySize {
		return nil, fmt.Errorf("master key %s: must hold %d hex characters (%d random bytes)", path, 2*KeySize, KeySize)
	}
	return New(key)
}

// Generate writes a new random master key to path with mode 0600; it fails if
// the file exists.
func Generate(path string) (*Box, error) {
	key := make([]byte, KeySize)
	if _, err := rand.Read(key); err != nil {
		return nil, err
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return nil, fmt.Errorf("master key: %w", err)
	}
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return nil, fmt.Errorf("master key: %w", err)
	}
	if _, err := f.WriteString(hex.EncodeToString(key) + "\n"); err != nil {
		f.Close()
		return nil, fmt.Errorf("master key: %w", err)
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return nil, fmt.Errorf("master key: %w", err)
	}
	if err := f.Close(); err != nil {
		return nil, fmt.Errorf("master key: %w", err)
	}
	return New(key)
}

// LoadOrGenerate loads the key at path, generating it when absent; created
// says whether it did.
func LoadOrGenerate(path string) (box *Box, created bool, err error) {
	if _, err := os.Stat(path); errors.Is(err, os.ErrNotExist) {
		box, err := Generate(path)
		return box, err == nil, err
	}
	box, err = Load(path)
	return box, false, err
}
