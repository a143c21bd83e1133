package certs

import (
	"crypto"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/hex"
	"fmt"
	"io"
	"math/big"
	"strings"
	"time"

	"rolegate/internal/opensslsign"
	"rolegate/store"
)

// Bounds on the RSA key size; more than 8192 bits only makes every signature slow.
const (
	DefaultBits = 2048
	MinBits     = 2048
	MaxBits     = 8192
)

// DefaultValidFor is how long a new signing certificate is valid. AWS does not check the
// expiry of a SAML provider's certificate, and rotation is deliberate, not forced by expiry.
const DefaultValidFor = 10 * 365 * 24 * time.Hour

// Key is an opened signing key.
type Key struct {
	ID     string
	State  store.KeyState
	Signer crypto.Signer // the RSA key, through Go or libcrypto as the build chose (opensslsign)
	Cert   *x509.Certificate
}

// aad binds a sealed key to its ID, so that sealed keys cannot be swapped between rows.
func aad(id string) []byte { return []byte("rolegate-signing-key:" + id) }

// NewSigningKey generates an RSA key of bits bits and a self-signed certificate for it,
// valid from an hour before now (to allow for clock skew) for validFor, and seals the key under kek.
// The key's State is store.KeyNext; the caller may change it before storing the key.
// rand supplies the ID and the serial number; nil means crypto/rand.
// (Since Go 1.26 the RSA key itself always comes from crypto/rand.)
func NewSigningKey(kek *KEK, bits int, commonName string, now time.Time, validFor time.Duration, rnd io.Reader) (*store.SigningKey, error) {
	switch {
	case kek == nil:
		return nil, fmt.Errorf("certs: no key-encryption key")
	case bits < MinBits || bits > MaxBits:
		return nil, store.Errorf(store.Invalid, "invalid signing key size %d bits: want %d to %d", bits, MinBits, MaxBits)
	case strings.TrimSpace(commonName) == "":
		return nil, store.Errorf(store.Invalid, "signing certificate needs a common name")
	case validFor <= 0:
		return nil, store.Errorf(store.Invalid, "invalid signing certificate lifetime %s", validFor)
	}
	id, der, sealed, err := newSealedKey(kek, bits, commonName, x509.KeyUsageDigitalSignature, now, validFor, rnd, aad)
	if err != nil {
		return nil, err
	}
	return &store.SigningKey{
		ID:          id,
		State:       store.KeyNext,
		Certificate: der,
		SealedKey:   sealed,
		KEKID:       kek.ID(),
		CreatedAt:   now,
	}, nil
}

// newSealedKey makes an ID, an RSA key of bits bits and a self-signed certificate for it with key
// usage usage, and seals the key under kek with the additional data label(id).
func newSealedKey(kek *KEK, bits int, commonName string, usage x509.KeyUsage, now time.Time, validFor time.Duration,
	rnd io.Reader, label func(id string) []byte) (id string, der, sealed []byte, err error) {
	if rnd == nil {
		rnd = rand.Reader
	}
	b := make([]byte, 32)
	if _, err := io.ReadFull(rnd, b); err != nil {
		return "", nil, nil, fmt.Errorf("certs: reading random bytes: %w", err)
	}
	id = hex.EncodeToString(b[:16])
	serial := new(big.Int).SetBytes(b[16:])
	if serial.Sign() == 0 {
		return "", nil, nil, fmt.Errorf("certs: random serial number is zero")
	}

	priv, err := rsa.GenerateKey(rnd, bits)
	if err != nil {
		return "", nil, nil, fmt.Errorf("certs: generating RSA key: %w", err)
	}
	tmpl := &x509.Certificate{
		SerialNumber:          serial,
		Subject:               pkix.Name{CommonName: commonName, Organization: []string{"Rolegate"}},
		NotBefore:             now.Add(-time.Hour),
		NotAfter:              now.Add(validFor),
		KeyUsage:              usage,
		BasicConstraintsValid: true,
		SignatureAlgorithm:    x509.SHA256WithRSA,
	}
	der, err = x509.CreateCertificate(rnd, tmpl, tmpl, &priv.PublicKey, priv)
	if err != nil {
		return "", nil, nil, fmt.Errorf("certs: creating certificate: %w", err)
	}
	pkcs8, err := x509.MarshalPKCS8PrivateKey(priv)
	if err != nil {
		return "", nil, nil, fmt.Errorf("certs: encoding private key: %w", err)
	}
	sealed, err = kek.Seal(pkcs8, label(id))
	clear(pkcs8) // the plaintext key should not linger; best effort
	if err != nil {
		return "", nil, nil, err
	}
	return id, der, sealed, nil
}

// Open decrypts k's private key with kek and checks it against k's certificate.
// A key sealed by another KEK gives an error wrapping ErrWrongKEK.
func Open(kek *KEK, k *store.SigningKey) (*Key, error) {
	if kek == nil || k == nil {
		return nil, fmt.Errorf("certs: Open needs a key-encryption key and a signing key")
	}
	priv, cert, err := openSealed(kek, "signing key", k.ID, k.KEKID, k.SealedKey, k.Certificate, aad(k.ID))
	if err != nil {
		return nil, err
	}
	signer, err := opensslsign.New(priv)
	if err != nil {
		return nil, fmt.Errorf("certs: signing key %s: %w", k.ID, err)
	}
	return &Key{ID: k.ID, State: k.State, Signer: signer, Cert: cert}, nil
}

// openSealed opens a sealed RSA key (what, id name it in errors) with kek and the additional data
// label, and checks it against its certificate.
func openSealed(kek *KEK, what, id, kekID string, sealed, certDER, label []byte) (*rsa.PrivateKey, *x509.Certificate, error) {
	if kekID != "" && kekID != kek.ID() {
		return nil, nil, fmt.Errorf("certs: %s %s was sealed by key-encryption key id %s, but this replica has key-encryption key id %s (every replica needs the same %s): %w",
			what, id, kekID, kek.ID(), EnvKEK, ErrWrongKEK)
	}
	pkcs8, err := kek.Open(sealed, label)
	if err != nil {
		return nil, nil, fmt.Errorf("certs: cannot decrypt %s %s: %w", what, id, err)
	}
	defer clear(pkcs8)
	pk, err := x509.ParsePKCS8PrivateKey(pkcs8)
	if err != nil {
		return nil, nil, fmt.Errorf("certs: %s %s: %w", what, id, err)
	}
	priv, ok := pk.(*rsa.PrivateKey)
	if !ok {
		return nil, nil, fmt.Errorf("certs: %s %s is a %T, not an RSA key", what, id, pk)
	}
	cert, err := x509.ParseCertificate(certDER)
	if err != nil {
		return nil, nil, fmt.Errorf("certs: certificate of %s %s: %w", what, id, err)
	}
	if !priv.PublicKey.Equal(cert.PublicKey) {
		return nil, nil, fmt.Errorf("certs: certificate of %s %s does not match its private key", what, id)
	}
	return priv, cert, nil
}

// Fingerprint returns the SHA-256 of cert's DER encoding as upper-case hex pairs joined by ':',
// as openssl x509 -fingerprint -sha256 shows it.
func Fingerprint(cert *x509.Certificate) string {
	sum := sha256.Sum256(cert.Raw)
	var b strings.Builder
	for i, c := range sum {
		if i > 0 {
			b.WriteByte(':')
		}
		fmt.Fprintf(&b, "%02X", c)
	}
	return b.String()
}
