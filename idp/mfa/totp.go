// Package mfa holds the second factors' own rules: TOTP codes (RFC 6238) and recovery codes. It keeps
// no state: the caller stores secrets, last-used steps and code hashes, and supplies the clock.
package mfa

import (
	"bytes"
	"crypto/rand"
	"crypto/subtle"
	"encoding/base32"
	"fmt"
	"image/png"
	"strings"
	"time"

	"github.com/pquerna/otp"
	"github.com/pquerna/otp/hotp"
	"github.com/pquerna/otp/totp"
)

// TOTP parameters: what every authenticator app supports, and what the otpauth URI announces.
const (
	Digits     = 6
	Period     = 30 * time.Second
	Skew       = 1  // steps accepted either side of now
	SecretSize = 20 // bytes: 160 bits, RFC 4226's recommendation for HMAC-SHA-1
)

var b32 = base32.StdEncoding.WithPadding(base32.NoPadding)

// NewSecret returns a random TOTP secret.
func NewSecret() ([]byte, error) {
	b := make([]byte, SecretSize)
	if _, err := rand.Read(b); err != nil {
		return nil, fmt.Errorf("mfa: random secret: %w", err)
	}
	return b, nil
}

// SecretText is the secret as people type it into an app: base32 in groups of four.
func SecretText(secret []byte) string {
	s := b32.EncodeToString(secret)
	var groups []string
	for len(s) > 4 {
		groups = append(groups, s[:4])
		s = s[4:]
	}
	return strings.Join(append(groups, s), " ")
}

// URI is the otpauth:// URI of secret for account at issuer, as QR codes and apps carry it.
func URI(issuer, account string, secret []byte) (string, error) {
	key, err := totp.Generate(totp.GenerateOpts{Issuer: issuer, AccountName: account, Secret: secret,
		Digits: otp.DigitsSix, Algorithm: otp.AlgorithmSHA1, Period: uint(Period / time.Second)})
	if err != nil {
		return "", fmt.Errorf("mfa: otpauth URI: %w", err)
	}
	return key.URL(), nil
}

// QRCode renders an otpauth URI as a PNG QR code of size×size pixels.
func QRCode(uri string, size int) ([]byte, error) {
	key, err := otp.NewKeyFromURL(uri)
	if err != nil {
		return nil, fmt.Errorf("mfa: QR code: %w", err)
	}
	img, err := key.Image(size, size)
	if err != nil {
		return nil, fmt.Errorf("mfa: QR code: %w", err)
	}
	var buf bytes.Buffer
	if err := png.Encode(&buf, img); err != nil {
		return nil, fmt.Errorf("mfa: QR code: %w", err)
	}
	return buf.Bytes(), nil
}

// Step is the TOTP time step that t falls in.
func Step(t time.Time) int64 { return t.Unix() / int64(Period/time.Second) }

// Code is the HOTP value of secret at counter step with digits digits (RFC 4226 and 6238, SHA-1).
func Code(secret []byte, step int64, digits int) string {
	code, err := hotp.GenerateCodeCustom(b32.EncodeToString(secret), uint64(step),
		hotp.ValidateOpts{Digits: otp.Digits(digits), Algorithm: otp.AlgorithmSHA1})
	if err != nil {
		panic(fmt.Sprintf("mfa: a base32 we encoded did not decode: %v", err)) // programmer error
	}
	return code
}

// Verdict is what a TOTP code turned out to be.
type Verdict int

const (
	Wrong    Verdict = iota // no step within the skew has this code
	Valid                   // the code of a step after the last one used
	Replayed                // the code of a step already used (or before it)
)

// Check looks for code among the steps within Skew of now. It returns the step it matched and
// Valid when that step is after last (the last step this factor accepted), Replayed when it is not,
// and Wrong when no step matches. Every candidate is compared, in constant time.
func Check(secret []byte, code string, now time.Time, last int64) (int64, Verdict) {
	if !WellFormedCode(code) {
		return 0, Wrong
	}
	cur := Step(now)
	var step int64
	matched := 0
	for s := cur - Skew; s <= cur+Skew; s++ {
		if subtle.ConstantTimeCompare([]byte(Code(secret, s, Digits)), []byte(code)) == 1 && matched == 0 {
			step, matched = s, 1
		}
	}
	switch {
	case matched == 0:
		return 0, Wrong
	case step <= last:
		return step, Replayed
	default:
		return step, Valid
	}
}

// WellFormedCode reports whether s has the shape of a TOTP code: Digits ASCII digits.
func WellFormedCode(s string) bool {
	if len(s) != Digits {
		return false
	}
	for _, r := range s {
		if r < '0' || r > '9' {
			return false
		}
	}
	return true
}
