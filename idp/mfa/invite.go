package mfa

import (
	"crypto/rand"
	"crypto/sha256"
	"fmt"
	"strings"
)

// Enrolment invites: one code of 120 random bits, written as 24 base32 characters in groups of
// four, that lets its user add a first second factor once. Stored as a plain SHA-256, as recovery
// codes are, and for the same reason: nobody searches 2^120 values.
const (
	inviteBytes   = 15
	inviteChars   = 24
	inviteHashTag = "rolegate-enrolment-invite:"
)

// NewInvite returns a fresh invite code to hand to the user, and its hash to store.
func NewInvite() (code string, hash []byte, err error) {
	b := make([]byte, inviteBytes)
	if _, err := rand.Read(b); err != nil {
		return "", nil, fmt.Errorf("mfa: random invite: %w", err)
	}
	s := recoveryEncoding.EncodeToString(b)
	var groups []string
	for i := 0; i < len(s); i += 4 {
		groups = append(groups, s[i:i+4])
	}
	return strings.Join(groups, "-"), hashInvite(s), nil
}

// InviteHash normalises an invite code as a person may have typed it and returns the hash to look
// up, or false when it cannot be an invite code.
func InviteHash(input string) ([]byte, bool) {
	s := normalCode(input)
	if len(s) != inviteChars {
		return nil, false
	}
	if _, err := recoveryEncoding.DecodeString(s); err != nil {
		return nil, false
	}
	return hashInvite(s), true
}

func hashInvite(s string) []byte {
	h := sha256.Sum256([]byte(inviteHashTag + s))
	return h[:]
}
