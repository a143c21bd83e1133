package store

import (
	"strings"
	"time"
	"unicode"
	"unicode/utf8"
)

// Favourite is a role a user starred on the portal, shown at the top of it.
type Favourite struct {
	UserID    int64
	AccountID string // the account's ID
	Role      string
	CreatedAt time.Time
}

// MaxFavourites bounds one user's favourites: the top of the portal stays short, the table small.
const MaxFavourites = 50

// MaxLabelLen bounds an account's label, in characters.
const MaxLabelLen = 40

// ValidateLabel checks an account's label (prod, staging, sandbox, "EU production"): empty, or
// 1-40 characters of text without surrounding spaces and without control or formatting
// characters (a right-to-left override could make one group read as another).
func ValidateLabel(l string) error {
	if l == "" {
		return nil
	}
	if !utf8.ValidString(l) || utf8.RuneCountInString(l) > MaxLabelLen || strings.TrimSpace(l) != l ||
		strings.IndexFunc(l, func(r rune) bool { return unicode.IsControl(r) || unicode.Is(unicode.Cf, r) }) >= 0 {
		return Errorf(Invalid, "invalid label %q: use 1-%d characters of text, without control or formatting characters or surrounding spaces", l, MaxLabelLen)
	}
	return nil
}

// Validate checks a favourite before it is stored.
func (f *Favourite) Validate() error {
	if err := ValidateAccountID(f.AccountID); err != nil {
		return err
	}
	return ValidateRoleName(f.Role)
}
