package password

import (
	"strings"
	"unicode/utf8"

	"rolegate/store"
)

// Length rules for new passwords (NIST SP 800-63B: length matters, composition rules do not).
const (
	MinLength = 12
	MaxLength = 256
)

// CheckPolicy checks a new password before it is hashed.
func CheckPolicy(pw string) error {
	n := utf8.RuneCountInString(pw)
	switch {
	case !utf8.ValidString(pw):
		return store.Errorf(store.Invalid, "the password is not valid UTF-8")
	case n < MinLength:
		return store.Errorf(store.Invalid, "the password is too short: use at least %d characters", MinLength)
	case n > MaxLength:
		return store.Errorf(store.Invalid, "the password is too long: use at most %d characters", MaxLength)
	case strings.TrimSpace(pw) == "":
		return store.Errorf(store.Invalid, "the password is only white space")
	}
	return nil
}
