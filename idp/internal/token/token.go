// Package token makes and checks the random bearer tokens of the idp package and its flows
// (session cookies, one-time codes, handles): 256 bits in base64url, stored only as a hash.
package token

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"fmt"
)

const tokenBytes = 32 // 256 bits

// Encoding is the tokens' text form.
var Encoding = base64.RawURLEncoding

// New returns a fresh token.
func New() (string, error) {
	b := make([]byte, tokenBytes)
	if _, err := rand.Read(b); err != nil {
		return "", fmt.Errorf("idp: random token: %w", err)
	}
	return Encoding.EncodeToString(b), nil
}

// WellFormed reports whether tok could be a token New made, so junk never reaches the store.
func WellFormed(tok string) bool {
	b, err := Encoding.Strict().DecodeString(tok)
	return err == nil && len(b) == tokenBytes
}

// Hash is what the store keeps of tok.
func Hash(tok string) []byte {
	h := sha256.Sum256([]byte(tok))
	return h[:]
}
