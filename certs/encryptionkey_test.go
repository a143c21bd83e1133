package certs_test

import (
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"strings"
	"testing"

	"rolegate/certs"
	"rolegate/store"
)

func TestNewEncryptionKeyMakesAnRSA3072KeyForKeyEnciphermentThatOpens(t *testing.T) {
	kek := newKEK(t)
	ek, err := certs.NewEncryptionKey(kek, "123456789012", "rolegate encryption 123456789012", t0, rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	if ek.State != store.KeyNext || ek.AccountID != "123456789012" || ek.KEKID != kek.ID() || !ek.CreatedAt.Equal(t0) || ek.AWSKeyID != "" {
		t.Errorf("key = %+v", ek)
	}
	priv, cert, err := certs.OpenEncryptionKey(kek, ek)
	if err != nil {
		t.Fatal(err)
	}
	if priv.N.BitLen() != 3072 || cert.KeyUsage != x509.KeyUsageKeyEncipherment || cert.Subject.CommonName != "rolegate encryption 123456789012" {
		t.Errorf("key of %d bits, usage %v, CN %q", priv.N.BitLen(), cert.KeyUsage, cert.Subject.CommonName)
	}
	// What is encrypted to the certificate opens with the key.
	ct, err := rsa.EncryptOAEP(sha256.New(), rand.Reader, cert.PublicKey.(*rsa.PublicKey), []byte("content key"), nil)
	if err != nil {
		t.Fatal(err)
	}
	if pt, err := rsa.DecryptOAEP(sha256.New(), nil, priv, ct, nil); err != nil || string(pt) != "content key" {
		t.Errorf("round trip: %q %v", pt, err)
	}

	text, err := certs.EncryptionKeyPEM(kek, ek)
	if err != nil {
		t.Fatal(err)
	}
	block, rest := pem.Decode([]byte(text))
	if block == nil || block.Type != "PRIVATE KEY" || len(strings.TrimSpace(string(rest))) != 0 || len(text) > 16384 {
		t.Fatalf("PEM of %d characters: %q", len(text), text)
	}
	pk, err := x509.ParsePKCS8PrivateKey(block.Bytes)
	if err != nil || !priv.Equal(pk) {
		t.Errorf("PEM holds another key: %v", err)
	}
}

func TestSealedKeysDoNotOpenAsTheOtherKindOrForAnotherAccount(t *testing.T) {
	kek := newKEK(t)
	sk := newSigningKey(t, kek)
	ek, err := certs.NewEncryptionKey(kek, "123456789012", "enc", t0, nil)
	if err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name string
		open func() error
	}{
		{"a signing key's blob as an encryption key", func() error {
			_, _, err := certs.OpenEncryptionKey(kek, &store.EncryptionKey{ID: sk.ID, AccountID: "123456789012",
				Certificate: sk.Certificate, SealedKey: sk.SealedKey, KEKID: sk.KEKID})
			return err
		}},
		{"an encryption key's blob as a signing key", func() error {
			_, err := certs.Open(kek, &store.SigningKey{ID: ek.ID, Certificate: ek.Certificate, SealedKey: ek.SealedKey, KEKID: ek.KEKID})
			return err
		}},
		{"an encryption key moved to another account", func() error {
			moved := *ek
			moved.AccountID = "210987654321"
			_, _, err := certs.OpenEncryptionKey(kek, &moved)
			return err
		}},
		{"an encryption key under another KEK", func() error {
			_, _, err := certs.OpenEncryptionKey(newKEK(t), ek)
			return err
		}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if err := c.open(); !errors.Is(err, certs.ErrWrongKEK) {
				t.Errorf("opened, or failed otherwise: %v", err)
			}
		})
	}
	if _, _, err := certs.OpenEncryptionKey(kek, ek); err != nil {
		t.Errorf("the key itself no longer opens: %v", err)
	}
}

func TestNewEncryptionKeyRefusesMissingInputs(t *testing.T) {
	kek := newKEK(t)
	for _, c := range []struct{ name, acct, cn string }{{"no account", "", "cn"}, {"blank common name", "123456789012", " "}} {
		if _, err := certs.NewEncryptionKey(kek, c.acct, c.cn, t0, nil); !store.IsCode(err, store.Invalid) {
			t.Errorf("%s: %v", c.name, err)
		}
	}
	if _, err := certs.NewEncryptionKey(nil, "123456789012", "cn", t0, nil); err == nil {
		t.Error("no KEK: accepted")
	}
}
