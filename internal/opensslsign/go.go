//go:build !openssl || !cgo

// Package opensslsign chooses, per build, what makes the signing key's RSA signatures: Go's crypto/rsa
// (the default build, pure Go and static) or the system's OpenSSL libcrypto through cgo (built with
// -tags openssl). Callers do not care which: New returns a crypto.Signer either way, and both make the
// same bytes (PKCS#1 v1.5 is deterministic).
package opensslsign

import (
	"crypto"
	"crypto/rsa"
	"fmt"
)

// Name says which signer this build uses.
func Name() string { return "go" }

// New returns a crypto.Signer for priv: in this build priv itself.
func New(priv *rsa.PrivateKey) (crypto.Signer, error) {
	if priv == nil {
		return nil, fmt.Errorf("opensslsign: no key")
	}
	return priv, nil
}
