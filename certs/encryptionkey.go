package certs

import (
	"crypto/rsa"
	"crypto/x509"
	"encoding/pem"
	"fmt"
	"io"
	"strings"
	"time"

	"rolegate/store"
)

// EncryptionBits is the size of an account's encryption key: RSA 3072 (NIST's 128-bit level,
// matching the AES-256-GCM content key it wraps better than 2048 would).
const EncryptionBits = 3072

// encAAD binds a sealed encryption key to its ID and account, under a label no signing key
// uses: a signing key's sealed blob does not open as an encryption key, nor the reverse.
func encAAD(accountID, id string) []byte {
	return []byte("rolegate-encryption-key:" + accountID + ":" + id)
}

// NewEncryptionKey makes a next encryption key pair for an account: an RSA 3072 key and a
// self-signed certificate for key encipherment, the key sealed under kek. rnd supplies the ID
// and the serial number; nil means crypto/rand.
func NewEncryptionKey(kek *KEK, accountID, commonName string, now time.Time, rnd io.Reader) (*store.EncryptionKey, error) {
	switch {
	case kek == nil:
		return nil, fmt.Errorf("certs: no key-encryption key")
	case accountID == "":
		return nil, store.Errorf(store.Invalid, "an encryption key belongs to an account")
	case strings.TrimSpace(commonName) == "":
		return nil, store.Errorf(store.Invalid, "encryption certificate needs a common name")
	}
	id, der, sealed, err := newSealedKey(kek, EncryptionBits, commonName, x509.KeyUsageKeyEncipherment, now, DefaultValidFor, rnd,
		func(id string) []byte { return encAAD(accountID, id) })
	if err != nil {
		return nil, err
	}
	return &store.EncryptionKey{ID: id, AccountID: accountID, State: store.KeyNext, Certificate: der, SealedKey: sealed,
		KEKID: kek.ID(), CreatedAt: now}, nil
}

// OpenEncryptionKey decrypts k's private key with kek and checks it against k's certificate.
func OpenEncryptionKey(kek *KEK, k *store.EncryptionKey) (*rsa.PrivateKey, *x509.Certificate, error) {
	if kek == nil || k == nil {
		return nil, nil, fmt.Errorf("certs: OpenEncryptionKey needs a key-encryption key and an encryption key")
	}
	return openSealed(kek, "encryption key", k.ID, k.KEKID, k.SealedKey, k.Certificate, encAAD(k.AccountID, k.ID))
}

// EncryptionKeyPEM returns k's private key as PKCS#8 PEM ("PRIVATE KEY"), the form IAM's
// UpdateSAMLProvider AddPrivateKey takes.
func EncryptionKeyPEM(kek *KEK, k *store.EncryptionKey) (string, error) {
	priv, _, err := OpenEncryptionKey(kek, k)
	if err != nil {
		return "", err
	}
	der, err := x509.MarshalPKCS8PrivateKey(priv)
	if err != nil {
		return "", fmt.Errorf("certs: encoding encryption key %s: %w", k.ID, err)
	}
	defer clear(der)
	return string(pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der})), nil
}
