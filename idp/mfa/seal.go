package mfa

import "fmt"

// Issuer names Rolegate in authenticator apps; TOTPName is the name of a user's TOTP factor.
const (
	Issuer   = "Rolegate"
	TOTPName = "Authenticator app"
)

// Sealer encrypts secrets at rest: the key-encryption key (certs.KEK) is one.
type Sealer interface {
	Seal(plaintext, aad []byte) ([]byte, error)
	Open(sealed, aad []byte) ([]byte, error)
}

// secretAAD binds a sealed TOTP secret to its user, so a secret copied to another user's row
// does not open.
func secretAAD(subject string) []byte { return []byte("rolegate-totp-secret:" + subject) }

// SealSecret encrypts a TOTP secret for the user whose persistent subject is subject.
func SealSecret(k Sealer, subject string, secret []byte) ([]byte, error) {
	b, err := k.Seal(secret, secretAAD(subject))
	if err != nil {
		return nil, fmt.Errorf("mfa: sealing a TOTP secret: %w", err)
	}
	return b, nil
}

// OpenSecret decrypts what SealSecret sealed for the same subject.
func OpenSecret(k Sealer, subject string, sealed []byte) ([]byte, error) {
	b, err := k.Open(sealed, secretAAD(subject))
	if err != nil {
		return nil, fmt.Errorf("mfa: opening a TOTP secret: %w", err)
	}
	return b, nil
}
