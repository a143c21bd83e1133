// Package text makes what a client sent safe to keep, log and show: the one implementation that
// the idp package and its flows (idp/cliauth, idp/sso) share.
package text

import (
	"strings"
	"unicode"
	"unicode/utf8"
)

// Bounded cuts s to at most n runes of valid UTF-8, with control characters replaced, so that what
// a client sent is safe to keep and to print in a terminal.
func Bounded(s string, n int) string {
	s = strings.ToValidUTF8(s, "\uFFFD")
	s = strings.Map(func(r rune) rune {
		if IsControl(r) {
			return '?'
		}
		return r
	}, s)
	if utf8.RuneCountInString(s) > n {
		s = string([]rune(s)[:n])
	}
	return s
}

// IsControl reports whether r is a C0 or C1 control character or DEL.
func IsControl(r rune) bool { return r < ' ' || (r >= 0x7f && r < 0xa0) }

// IsSpaceOrControl reports whether r is an ASCII space, control character or DEL.
func IsSpaceOrControl(r rune) bool { return r <= ' ' || r == 0x7f }

// Sentence capitalises a message for a page: "the password is too short" → "The password is too short."
func Sentence(msg string) string {
	r, n := utf8.DecodeRuneInString(msg)
	if n == 0 {
		return msg
	}
	msg = string(unicode.ToUpper(r)) + msg[n:]
	if strings.HasSuffix(msg, ".") {
		return msg
	}
	return msg + "."
}
