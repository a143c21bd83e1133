package mfa

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/base32"
	"fmt"
	"strings"
)

// Recovery codes: RecoveryCodes of them, each 80 random bits written as 16 base32 characters in
// groups of four. With that much entropy a plain SHA-256 is a safe way to store them: no one can
// search 2^80 values, so the slow hash that passwords need would only slow sign-in down.
const (
	RecoveryCodes   = 10
	recoveryBytes   = 10 // 80 bits
	recoveryChars   = 16
	recoveryHashTag = "rolegate-recovery-code:"
)

var recoveryEncoding = base32.NewEncoding("abcdefghijklmnopqrstuvwxyz234567").WithPadding(base32.NoPadding)

// NewRecoveryCodes returns fresh codes to show the user once, and their hashes to store.
func NewRecoveryCodes() (codes []string, hashes [][]byte, err error) {
	for range RecoveryCodes {
		b := make([]byte, recoveryBytes)
		if _, err := rand.Read(b); err != nil {
			return nil, nil, fmt.Errorf("mfa: random recovery code: %w", err)
		}
		s := recoveryEncoding.EncodeToString(b)
		codes = append(codes, s[0:4]+"-"+s[4:8]+"-"+s[8:12]+"-"+s[12:16])
		hashes = append(hashes, hashRecovery(s))
	}
	return codes, hashes, nil
}

// RecoveryHash normalises what a person typed (any case, with or without dashes and spaces) and
// returns the hash to look up, or false when it cannot be a recovery code.
func RecoveryHash(input string) ([]byte, bool) {
	s := normalCode(input)
	if len(s) != recoveryChars {
		return nil, false
	}
	if _, err := recoveryEncoding.DecodeString(s); err != nil {
		return nil, false
	}
	return hashRecovery(s), true
}

func hashRecovery(s string) []byte {
	h := sha256.Sum256([]byte(recoveryHashTag + s))
	return h[:]
}

// normalCode is a typed code in lower case without its dashes and spaces.
func normalCode(input string) string {
	return strings.Map(func(r rune) rune {
		if r == '-' || r == ' ' {
			return -1
		}
		return r
	}, strings.ToLower(input))
}
