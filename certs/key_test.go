package certs_test

import (
	"bytes"
	"crypto"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"errors"
	"fmt"
	"regexp"
	"strings"
	"testing"
	"time"

	"rolegate/certs"
	"rolegate/internal/opensslsign"
	"rolegate/store"
)

var t0 = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)

func newSigningKey(t *testing.T, kek *certs.KEK) *store.SigningKey {
	t.Helper()
	k, err := certs.NewSigningKey(kek, 2048, "idp.example.com", t0, time.Hour, nil)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

func TestNewSigningKeyMakesASelfSignedRSACertificateThatOpens(t *testing.T) {
	kek := newKEK(t)
	sk, err := certs.NewSigningKey(kek, 2048, "idp.example.com", t0, 24*time.Hour, rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	if !regexp.MustCompile(`^[0-9a-f]{32}$`).MatchString(sk.ID) {
		t.Errorf("ID = %q; want 32 hex digits", sk.ID)
	}
	if sk.State != store.KeyNext || sk.KEKID != kek.ID() || !sk.CreatedAt.Equal(t0) || !sk.ActivatedAt.IsZero() {
		t.Errorf("key = state %s, KEK %s, created %s, activated %s; want next, %s, %s, zero",
			sk.State, sk.KEKID, sk.CreatedAt, sk.ActivatedAt, kek.ID(), t0)
	}
	if len(sk.SealedKey) < 1000 || bytes.Contains(sk.SealedKey, []byte("BEGIN")) {
		t.Errorf("sealed key of %d bytes cannot hold a sealed 2048-bit key", len(sk.SealedKey))
	}

	cert, err := x509.ParseCertificate(sk.Certificate)
	if err != nil {
		t.Fatal(err)
	}
	pub, ok := cert.PublicKey.(*rsa.PublicKey)
	if !ok || pub.N.BitLen() < 2048 {
		t.Errorf("public key = %T of %d bits; want RSA of at least 2048", cert.PublicKey, pub.N.BitLen())
	}
	checks := []struct {
		name      string
		got, want any
	}{
		{"common name", cert.Subject.CommonName, "idp.example.com"},
		{"organization", fmt.Sprint(cert.Subject.Organization), "[Rolegate]"},
		{"issuer", cert.Issuer.String(), cert.Subject.String()},
		{"signature algorithm", cert.SignatureAlgorithm, x509.SHA256WithRSA},
		{"key usage", cert.KeyUsage, x509.KeyUsageDigitalSignature},
		{"is CA", cert.IsCA, false},
		{"not before", cert.NotBefore, t0.Add(-time.Hour)},
		{"not after", cert.NotAfter, t0.Add(24 * time.Hour)},
		{"serial bits at most", cert.SerialNumber.BitLen() <= 128, true},
	}
	for _, c := range checks {
		if c.got != c.want {
			t.Errorf("%s = %v; want %v", c.name, c.got, c.want)
		}
	}
	if err := cert.CheckSignature(cert.SignatureAlgorithm, cert.RawTBSCertificate, cert.Signature); err != nil {
		t.Errorf("certificate is not self-signed: %v", err)
	}

	k, err := certs.Open(kek, sk)
	if err != nil {
		t.Fatal(err)
	}
	if !pub.Equal(k.Signer.Public()) || k.ID != sk.ID || k.State != store.KeyNext {
		t.Errorf("Open = %T %s %s; want the certificate's key %s next", k.Signer, k.ID, k.State, sk.ID)
	}
	// The build's signer: libcrypto's with -tags openssl, crypto/rsa's without.
	if _, isGo := k.Signer.(*rsa.PrivateKey); isGo != (opensslsign.Name() == "go") {
		t.Errorf("Open's signer is a %T, but the build's signer is %s", k.Signer, opensslsign.Name())
	}
	digest := sha256.Sum256([]byte("a SAML response"))
	sig, err := k.Signer.Sign(rand.Reader, digest[:], crypto.SHA256)
	if err != nil {
		t.Fatal(err)
	}
	if err := rsa.VerifyPKCS1v15(pub, crypto.SHA256, digest[:], sig); err != nil {
		t.Errorf("a signature by the key does not verify with the certificate: %v", err)
	}
}

func TestNewSigningKeyRefusesBadInput(t *testing.T) {
	kek := newKEK(t)
	tests := []struct {
		name     string
		kek      *certs.KEK
		bits     int
		cn       string
		validFor time.Duration
		code     store.Code
	}{
		{"1024 bits are refused", kek, 1024, "idp", time.Hour, store.Invalid},
		{"2047 bits are refused", kek, 2047, "idp", time.Hour, store.Invalid},
		{"16384 bits are refused", kek, 16384, "idp", time.Hour, store.Invalid},
		{"an empty common name is refused", kek, 2048, " ", time.Hour, store.Invalid},
		{"a zero lifetime is refused", kek, 2048, "idp", 0, store.Invalid},
		{"a missing KEK is refused", nil, 2048, "idp", time.Hour, store.Internal},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := certs.NewSigningKey(tt.kek, tt.bits, tt.cn, t0, tt.validFor, nil)
			if err == nil || store.ErrorCode(err) != tt.code {
				t.Errorf("NewSigningKey error = %v; want code %s", err, tt.code)
			}
		})
	}
}

func TestOpenRefusesKeysItCannotTrust(t *testing.T) {
	kek := newKEK(t)
	a, b := newSigningKey(t, kek), newSigningKey(t, kek)
	other := newKEK(t)

	blankKEKID := *a
	blankKEKID.KEKID = ""
	swapped := *a
	swapped.SealedKey = b.SealedKey
	mismatch := *a
	mismatch.Certificate = b.Certificate
	badCert := *a
	badCert.Certificate = []byte("not DER")

	tests := []struct {
		name    string
		kek     *certs.KEK
		key     *store.SigningKey
		wrong   bool     // wraps ErrWrongKEK
		mention []string // in the error
	}{
		{"a key sealed by another KEK names both KEK ids", other, a, true, []string{a.KEKID, other.ID(), "ROLEGATE_KEK"}},
		{"a key with no KEK id and another KEK fails to decrypt", other, &blankKEKID, true, []string{a.ID}},
		{"a sealed key moved to another row fails to decrypt", kek, &swapped, true, []string{a.ID}},
		{"a certificate of another key is refused", kek, &mismatch, false, []string{"does not match"}},
		{"a certificate that does not parse is refused", kek, &badCert, false, []string{"certificate"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := certs.Open(tt.kek, tt.key)
			if err == nil {
				t.Fatal("Open succeeded")
			}
			if errors.Is(err, certs.ErrWrongKEK) != tt.wrong {
				t.Errorf("errors.Is(%v, ErrWrongKEK) = %v; want %v", err, !tt.wrong, tt.wrong)
			}
			for _, s := range tt.mention {
				if !strings.Contains(err.Error(), s) {
					t.Errorf("error %q does not mention %q", err, s)
				}
			}
		})
	}
}

func TestFingerprintIsTheUpperCaseSHA256OfTheCertificate(t *testing.T) {
	kek := newKEK(t)
	k, err := certs.Open(kek, newSigningKey(t, kek))
	if err != nil {
		t.Fatal(err)
	}
	fp := certs.Fingerprint(k.Cert)
	if !regexp.MustCompile(`^([0-9A-F]{2}:){31}[0-9A-F]{2}$`).MatchString(fp) {
		t.Fatalf("Fingerprint = %q; want 32 upper-case hex pairs joined by ':'", fp)
	}
	sum := sha256.Sum256(k.Cert.Raw)
	if got := strings.ReplaceAll(fp, ":", ""); got != fmt.Sprintf("%X", sum) {
		t.Errorf("Fingerprint = %s; want %X", got, sum)
	}
}
