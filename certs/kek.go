// Package certs generates Rolegate's signing keys and self-signed certificates, seals them under a
// key-encryption key (KEK) for storage in the database, opens them again, and rotates them.
//
// Every replica on one database must have the same KEK (env ROLEGATE_KEK or ROLEGATE_KEK_FILE);
// the embedded default creates one in the data dir.
package certs

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"strings"

	"rolegate/store"
)

// Environment variables LoadKEK reads.
const (
	EnvKEK     = "ROLEGATE_KEK"
	EnvKEKFile = "ROLEGATE_KEK_FILE"
)

// KEKFileName is the KEK's file in the data dir when neither variable is set.
const KEKFileName = "kek"

// ErrWrongKEK is wrapped by every error that comes from opening sealed data with another KEK than
// the one that sealed it (or from corrupted data): every replica needs the same ROLEGATE_KEK.
var ErrWrongKEK = errors.New("wrong key-encryption key or corrupted data")

const (
	kekLen      = 32 // AES-256
	sealVersion = 1
	nonceLen    = 12
	maxKEKFile  = 4096 // a KEK file holds some 45 bytes of text
)

// KEK is a key-encryption key: an AES-256 key that seals signing keys at rest.
// Its String and GoString methods never show the key.
type KEK struct {
	aead cipher.AEAD
	id   string
}

// newKEK builds a KEK from 32 bytes.
func newKEK(key []byte) (*KEK, error) {
	if len(key) != kekLen {
		return nil, store.Errorf(store.Invalid, "invalid key-encryption key: want %d bytes, got %d", kekLen, len(key))
	}
	b, err := aes.NewCipher(key)
	if err != nil {
		return nil, fmt.Errorf("certs: %w", err)
	}
	aead, err := cipher.NewGCM(b)
	if err != nil {
		return nil, fmt.Errorf("certs: %w", err)
	}
	// A labelled hash, so the ID reveals nothing useful about the key.
	sum := sha256.Sum256(append([]byte("rolegate-kek-id:"), key...))
	return &KEK{aead: aead, id: hex.EncodeToString(sum[:])[:16]}, nil
}

// ID identifies the KEK without revealing it: 16 hex digits of a SHA-256 of a label and the key.
func (k *KEK) ID() string { return k.id }

func (k *KEK) String() string   { return "KEK(" + k.id + ")" }
func (k *KEK) GoString() string { return k.String() }

// ParseKEK reads a KEK from base64 text (standard or URL alphabet, with or without padding)
// of exactly 32 bytes. Surrounding white space is ignored.
func ParseKEK(text string) (*KEK, error) {
	text = strings.TrimSpace(text)
	if text == "" {
		return nil, store.Errorf(store.Invalid, "key-encryption key is empty: want base64 of %d random bytes", kekLen)
	}
	for _, enc := range []*base64.Encoding{base64.StdEncoding, base64.RawStdEncoding, base64.URLEncoding, base64.RawURLEncoding} {
		key, err := enc.DecodeString(text)
		if err != nil {
			continue
		}
		if len(key) != kekLen {
			return nil, store.Errorf(store.Invalid, "invalid key-encryption key: want base64 of %d bytes, got %d bytes", kekLen, len(key))
		}
		return newKEK(key)
	}
	// Never echo the text: it may be a real key with a typo.
	return nil, store.Errorf(store.Invalid, "invalid key-encryption key: not base64 (want base64 of %d random bytes, e.g. from `openssl rand -base64 32`)", kekLen)
}

// GenerateKEK returns a new random KEK and its base64 text, for ParseKEK.
func GenerateKEK() (*KEK, string, error) {
	key := make([]byte, kekLen)
	if _, err := rand.Read(key); err != nil {
		return nil, "", fmt.Errorf("certs: generating key-encryption key: %w", err)
	}
	k, err := newKEK(key)
	if err != nil {
		return nil, "", err
	}
	return k, base64.StdEncoding.EncodeToString(key), nil
}

// LoadKEK finds the KEK: the value of ROLEGATE_KEK, else the file named by ROLEGATE_KEK_FILE,
// else <dataDir>/kek. When that last file is missing and allowCreate is set, LoadKEK creates it
// with a new random key and mode 0600. It refuses a <dataDir>/kek that group or others may read,
// and a ROLEGATE_KEK_FILE that others may read or group or others may write (group reading is
// allowed there, as a Kubernetes secret mounted with fsGroup needs it). source says where the key came from, for the log.
func LoadKEK(env func(string) string, dataDir string, allowCreate bool) (k *KEK, source string, err error) {
	if v := env(EnvKEK); v != "" {
		k, err := ParseKEK(v)
		if err != nil {
			return nil, "", fmt.Errorf("%s: %w", EnvKEK, err)
		}
		return k, "env " + EnvKEK, nil
	}
	if p := env(EnvKEKFile); p != "" {
		k, err := readKEK(p, 0o027)
		if err != nil {
			return nil, "", fmt.Errorf("%s: %w", EnvKEKFile, err)
		}
		return k, "file " + p + " (" + EnvKEKFile + ")", nil
	}
	if dataDir == "" {
		return nil, "", store.Errorf(store.Invalid, "no key-encryption key: set %s or %s", EnvKEK, EnvKEKFile)
	}
	p := filepath.Join(dataDir, KEKFileName)
	k, err = readKEK(p, 0o077)
	if err == nil {
		return k, "file " + p, nil
	}
	if !errors.Is(err, os.ErrNotExist) {
		return nil, "", err
	}
	if !allowCreate {
		return nil, "", store.Errorf(store.Invalid, "no key-encryption key: set %s or %s, or create %s", EnvKEK, EnvKEKFile, p)
	}
	k, err = createKEK(p)
	if errors.Is(err, os.ErrExist) {
		// Another process on the same data dir created it first.
		k, err = readKEK(p, 0o077)
		return k, "file " + p, err
	}
	if err != nil {
		return nil, "", err
	}
	return k, "file " + p + " (created)", nil
}

// readKEK reads a KEK file, refusing one whose mode has any of the bits in deny.
func readKEK(path string, deny os.FileMode) (*KEK, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("certs: reading key-encryption key: %w", err)
	}
	defer f.Close()
	fi, err := f.Stat() // of the open file, so it cannot be swapped between check and read
	if err != nil {
		return nil, fmt.Errorf("certs: reading key-encryption key: %w", err)
	}
	// Windows has no Unix permission bits to check.
	if runtime.GOOS != "windows" && fi.Mode().Perm()&deny != 0 {
		return nil, store.Errorf(store.Invalid, "key-encryption key file %s has mode %04o, open to others: run `chmod 600 %s`",
			path, fi.Mode().Perm(), path)
	}
	text, err := io.ReadAll(io.LimitReader(f, maxKEKFile+1))
	if err != nil {
		return nil, fmt.Errorf("certs: reading key-encryption key %s: %w", path, err)
	}
	if len(text) > maxKEKFile {
		return nil, store.Errorf(store.Invalid, "key-encryption key file %s is too large: want base64 of %d bytes", path, kekLen)
	}
	k, err := ParseKEK(string(text))
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return k, nil
}

// createKEK writes a new KEK to path, which must not exist, durably and with mode 0600.
func createKEK(path string) (*KEK, error) {
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return nil, fmt.Errorf("certs: creating key-encryption key: %w", err)
	}
	k, text, err := GenerateKEK()
	if err != nil {
		return nil, err
	}
	if err := WriteNewSecret(path, text+"\n"); err != nil {
		// A partial file would hold no usable key; WriteNewSecret removed it so the next start tries again.
		return nil, fmt.Errorf("certs: writing key-encryption key %s: %w", path, err)
	}
	syncDir(filepath.Dir(path))
	return k, nil
}

// syncDir makes a new directory entry durable; best effort, as not every platform supports it.
func syncDir(dir string) {
	if d, err := os.Open(dir); err == nil {
		d.Sync()
		d.Close()
	}
}

// Seal encrypts and authenticates plaintext, and authenticates aad, with AES-256-GCM.
// The result is a version byte, a random 12-byte nonce and the ciphertext with its tag.
func (k *KEK) Seal(plaintext, aad []byte) ([]byte, error) {
	out := make([]byte, 1+nonceLen, 1+nonceLen+len(plaintext)+k.aead.Overhead())
	out[0] = sealVersion
	if _, err := rand.Read(out[1:]); err != nil {
		return nil, fmt.Errorf("certs: reading random nonce: %w", err)
	}
	return k.aead.Seal(out, out[1:], plaintext, aad), nil
}

// Open reverses Seal with the same aad. Any failure, from a wrong KEK, a different aad or
// changed bytes, is an error wrapping ErrWrongKEK.
func (k *KEK) Open(sealed, aad []byte) ([]byte, error) {
	if len(sealed) < 1+nonceLen+k.aead.Overhead() || sealed[0] != sealVersion {
		return nil, fmt.Errorf("certs: sealed data is truncated or of an unknown version: %w", ErrWrongKEK)
	}
	pt, err := k.aead.Open(nil, sealed[1:1+nonceLen], sealed[1+nonceLen:], aad)
	if err != nil {
		return nil, fmt.Errorf("certs: cannot decrypt with key-encryption key %s: %w", k.id, ErrWrongKEK)
	}
	return pt, nil
}

// WriteNewSecret writes text to a new file at path, mode 0600, durably; it refuses a path that
// exists and leaves no partial file behind.
func WriteNewSecret(path, text string) error {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return err
	}
	_, err = f.WriteString(text)
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		os.Remove(path)
	}
	return err
}
